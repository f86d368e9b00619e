"""publish_to_postgres against a real PostgreSQL server (tests/postgres_server.py), from Parquet files made by the real
publish_parquet."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pipelines.lib.publish import SUPPRESSED_COLUMN, SUPPRESSED_LABEL, MartSpec, publish_parquet
from pipelines.lib.publish_postgres import PARTS_TABLE, PostgresPublishError, pg_type, publish_to_postgres
from pipelines.settings import CONFIG_DIR
from tests.postgres_server import free_port

MIN_CELL_SIZE = 5


@pytest.fixture(autouse=True)
def _suppression_of_five(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """These marts follow their own rule, set where a region sets it: publishing.yaml (a copy, minimum 5)."""
    config = tmp_path_factory.mktemp("config")
    shutil.copytree(CONFIG_DIR, config, dirs_exist_ok=True)
    path = config / "publishing.yaml"
    text = path.read_text(encoding="utf-8")
    assert "default: {min_n: 10}" in text
    path.write_text(text.replace("default: {min_n: 10}", f"default: {{min_n: {MIN_CELL_SIZE}}}"), encoding="utf-8")
    monkeypatch.setenv("EDUWH_CONFIG_DIR", str(config))


SCHOOLS = MartSpec(
    name="mart_school_results",
    relation="marts.school_results",
    description="Средний балл и доля успешных по школам и годам.",
    label_ru="Результаты школ",
    column_labels={
        "school_id": "Код школы",
        "school_name": "Название школы",
        "avg_score": "Средний балл",
        "success_share": "Доля успешных, %",
        "is_rural": "Сельская школа",
        "exam_date": "Дата экзамена",
        "n_pupils": "Число участников",
    },
    n_column="n_pupils",
    suppressed_columns=("avg_score", "success_share"),
)
PROGRAMMES = MartSpec(
    name="mart_programmes",
    relation="marts.programmes",
    description="Программы поддержки.",
    label_ru="Программы",
    column_labels={"programme_id": "Код программы", "title": "Название", "budget": "Бюджет, тыс. руб."},
)
BIG = MartSpec(
    name="mart_big",
    relation="marts.big",
    description="Большая витрина для проверки атомарной замены.",
    label_ru="Большая витрина",
    column_labels={"id": "Номер", "value": "Значение"},
)


def _parquet(tmp_path: Path, mart: MartSpec, create_sql: str) -> Path:
    """The mart's table made in an in-memory DuckDB with `create_sql`, published as Parquet by publish_parquet."""
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(f"create table {mart.relation} as {create_sql}")
    published = publish_parquet(con, mart, tmp_path / "marts")
    con.close()
    return Path(published["path"])


SCHOOLS_V1 = """
    select * from (values
        (1, 'Школа № 1, "Лицей"', 71.25::double, 45.50::decimal(5,2), true, date '2024-06-01', 30),
        (2, 'Школа № 2', null::double, null::decimal(5,2), false, null::date, 12),
        (3, null, 90.0::double, 100.00::decimal(5,2), null::boolean, date '2024-06-03', 3),
        (4, '', 55.5::double, 12.34::decimal(5,2), false, date '2024-06-04', 40)
    ) t(school_id, school_name, avg_score, success_share, is_rural, exam_date, n_pupils)
"""
SCHOOLS_V2 = """
    select * from (values
        (1, 'Школа № 1 (новая)', 72.0::double, 50.00::decimal(5,2), true, 31),
        (5, 'Школа № 5', 60.0::double, 33.33::decimal(5,2), false, 4)
    ) t(school_id, school_name, avg_score, success_share, is_rural, n_pupils)
"""  # new rows, and exam_date gone
PROGRAMMES_V1 = """
    select 10::bigint as programme_id, 'ШНОР' as title, 1500.5::decimal(12,1) as budget
    union all select 11::bigint, 'Строка
с переводом', null
"""


def _types(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, tuple[str, int | None, int | None]]:
    rows = conn.execute(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    ).fetchall()
    return {name: (data_type, precision, scale) for name, data_type, precision, scale in rows}


def _table_oid(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    return conn.execute("select %s::regclass::oid", (sql.Identifier(schema, table).as_string(conn),)).fetchone()[0]


def _comments(conn: psycopg.Connection[Any], schema: str, table: str) -> tuple[str | None, dict[str, str | None]]:
    oid = _table_oid(conn, schema, table)
    table_comment = conn.execute("select obj_description(%s, 'pg_class')", (oid,)).fetchone()[0]
    columns = conn.execute(
        "select attname, col_description(attrelid, attnum) from pg_attribute"
        " where attrelid = %s and attnum > 0 and not attisdropped order by attnum",
        (oid,),
    ).fetchall()
    return table_comment, dict(columns)


def _rows(conn: psycopg.Connection[Any], schema: str, table: str, order_by: str) -> list[tuple]:
    query = sql.SQL("select * from {} order by {}").format(sql.Identifier(schema, table), sql.Identifier(order_by))
    return conn.execute(query).fetchall()


def _tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """The schema's tables and views, the publication's own `_publication_parts` aside."""
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = %s", (schema,)
    ).fetchall()
    return sorted(r[0] for r in rows if r[0] != PARTS_TABLE)


def _parts(conn: psycopg.Connection[Any], schema: str) -> dict[tuple[str, str], int]:
    query = sql.SQL("select mart, part, rows from {}").format(sql.Identifier(schema, PARTS_TABLE))
    return {(m, p): n for m, p, n in conn.execute(query).fetchall()}


def _summary(result: list[dict]) -> list[dict]:
    return [{k: r[k] for k in ("mart", "table", "rows", "columns")} for r in result]


def test_publish_and_republish(postgres_conninfo: str, tmp_path: Path) -> None:
    schema = "Витрины ШНОР"  # needs quoting: Cyrillic, upper case, a space; created by the publish
    schools = _parquet(tmp_path / "v1", SCHOOLS, SCHOOLS_V1)
    programmes = _parquet(tmp_path / "v1", PROGRAMMES, PROGRAMMES_V1)

    result = publish_to_postgres(postgres_conninfo, schema, [schools, programmes])

    assert [(r["recreated"], r["parts_written"], r["rows_written"]) for r in result] == [(True, 1, 4), (True, 1, 2)]
    assert _summary(result) == [
        {"mart": "mart_school_results", "table": f"{schema}.mart_school_results", "rows": 4, "columns": 8},
        {"mart": "mart_programmes", "table": f"{schema}.mart_programmes", "rows": 2, "columns": 3},
    ]
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert _tables(conn, schema) == ["mart_programmes", "mart_school_results"]  # no __loading left
        assert _parts(conn, schema) == {("mart_school_results", "all"): 4, ("mart_programmes", "all"): 2}
        assert _types(conn, schema, "mart_school_results") == {
            "school_id": ("integer", 32, 0),
            "school_name": ("text", None, None),
            "avg_score": ("double precision", 53, None),
            "success_share": ("numeric", 5, 2),
            "is_rural": ("boolean", None, None),
            "exam_date": ("date", None, None),
            "n_pupils": ("integer", 32, 0),
            SUPPRESSED_COLUMN: ("boolean", None, None),
        }
        assert _types(conn, schema, "mart_programmes") == {
            "programme_id": ("bigint", 64, 0),
            "title": ("text", None, None),
            "budget": ("numeric", 12, 1),
        }

        table_comment, column_comments = _comments(conn, schema, "mart_school_results")
        assert table_comment == "Результаты школ\n\nСредний балл и доля успешных по школам и годам."
        assert column_comments == {**SCHOOLS.column_labels, SUPPRESSED_COLUMN: SUPPRESSED_LABEL}
        assert _comments(conn, schema, "mart_programmes") == (
            "Программы\n\nПрограммы поддержки.",
            PROGRAMMES.column_labels,
        )

        assert _rows(conn, schema, "mart_school_results", "school_id") == [
            (1, 'Школа № 1, "Лицей"', 71.25, Decimal("45.50"), True, dt.date(2024, 6, 1), 30, False),
            (2, "Школа № 2", None, None, False, None, 12, False),
            (3, None, None, None, None, dt.date(2024, 6, 3), 3, True),  # n < 5: scores blanked
            (4, "", 55.5, Decimal("12.34"), False, dt.date(2024, 6, 4), 40, False),  # '' stays '', not NULL
        ]
        assert _rows(conn, schema, "mart_programmes", "programme_id") == [
            (10, "ШНОР", Decimal("1500.5")),
            (11, "Строка\nс переводом", None),
        ]
        old_oid = _table_oid(conn, schema, "mart_school_results")

    # the same files again: the fingerprints match, nothing is loaded, the table is the same
    again = publish_to_postgres(postgres_conninfo, schema, [schools, programmes])
    assert [(r["recreated"], r["parts_written"], r["parts_kept"], r["rows_written"]) for r in again] == [
        (False, 0, 1, 0),
        (False, 0, 1, 0),
    ]
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert _table_oid(conn, schema, "mart_school_results") == old_oid
        assert len(_rows(conn, schema, "mart_school_results", "school_id")) == 4

    # new data, and a column gone: the table is rebuilt to the new file
    schools_v2 = _parquet(tmp_path / "v2", SCHOOLS, SCHOOLS_V2)
    assert _summary(publish_to_postgres(postgres_conninfo, schema, [schools_v2])) == [
        {"mart": "mart_school_results", "table": f"{schema}.mart_school_results", "rows": 2, "columns": 7}
    ]
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert _table_oid(conn, schema, "mart_school_results") != old_oid
        assert _tables(conn, schema) == ["mart_programmes", "mart_school_results"]
        assert "exam_date" not in _types(conn, schema, "mart_school_results")
        assert _rows(conn, schema, "mart_school_results", "school_id") == [
            (1, "Школа № 1 (новая)", 72.0, Decimal("50.00"), True, 31, False),
            (5, "Школа № 5", None, None, False, 4, True),
        ]
        assert _comments(conn, schema, "mart_school_results")[1]["n_pupils"] == "Число участников"
        assert _rows(conn, schema, "mart_programmes", "programme_id")[0] == (10, "ШНОР", Decimal("1500.5"))


BY_YEAR = MartSpec(
    name="mart_by_year",
    relation="marts.by_year",
    description="Результаты по учебным годам.",
    label_ru="По годам",
    column_labels={"school_year": "Учебный год", "school_id": "Код школы", "n_pupils": "Участников", "score": "Балл"},
    n_column="n_pupils",
    suppressed_columns=("score",),
)


def test_only_the_changed_school_years_are_replaced(postgres_conninfo: str, tmp_path: Path) -> None:
    """A mart published by school year: a changed year is replaced, a year gone deleted, a new year added, the
    other year left alone, in the same table (a view on it stays); then a new column rebuilds the table."""
    schema, marts = "by_year", tmp_path / "marts"
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.by_year as select (2020 + i % 3)::varchar || '-' || (2021 + i % 3)::varchar as school_year,"
        " i as school_id, 3 + i % 10 as n_pupils, i * 0.5 as score from range(60) t(i)"
    )
    publish_parquet(con, BY_YEAR, marts)
    assert sorted(p.name for p in (marts / BY_YEAR.name).iterdir()) == [
        "2020-2021.parquet",
        "2021-2022.parquet",
        "2022-2023.parquet",
    ]
    [first] = publish_to_postgres(postgres_conninfo, schema, [marts / BY_YEAR.name])
    assert (first["recreated"], first["parts_written"], first["rows"]) == (True, 3, 60)
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        conn.execute(
            "create view by_year.per_year as select school_year, count(*) from by_year.mart_by_year group by 1"
        )
        oid = _table_oid(conn, schema, BY_YEAR.name)

    con.execute("update marts.by_year set score = score + 1 where school_year = '2021-2022'")
    con.execute("delete from marts.by_year where school_year = '2020-2021'")
    # a new year, with two identical rows: they count twice, in the fingerprint as in the table
    con.execute("insert into marts.by_year values ('2023-2024', 100, 20, 7.5), ('2023-2024', 100, 20, 7.5)")
    published = publish_parquet(con, BY_YEAR, marts)
    assert (published["parts_written"], published["parts_kept"], published["parts_removed"]) == (2, 1, 1)
    [second] = publish_to_postgres(postgres_conninfo, schema, [marts / BY_YEAR.name])
    assert {k: second[k] for k in ("recreated", "parts_written", "parts_kept", "parts_removed", "rows_written")} == {
        "recreated": False,
        "parts_written": 2,
        "parts_kept": 1,
        "parts_removed": 1,
        "rows_written": 22,
    }
    # the table's rows are the warehouse's, suppressed here independently of publish_parquet
    expected = con.execute(
        f"select school_year, school_id, n_pupils, case when n_pupils < {MIN_CELL_SIZE} then null else score end,"
        f" n_pupils < {MIN_CELL_SIZE} from marts.by_year"
    ).fetchall()
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert _table_oid(conn, schema, BY_YEAR.name) == oid  # updated in place, the view kept
        assert sorted(_rows(conn, schema, BY_YEAR.name, "school_id")) == sorted(expected)
        assert dict(conn.execute("select * from by_year.per_year").fetchall()) == {
            "2021-2022": 20,
            "2022-2023": 20,
            "2023-2024": 2,
        }
        assert _parts(conn, schema) == {
            (BY_YEAR.name, "2021-2022"): 20,
            (BY_YEAR.name, "2022-2023"): 20,
            (BY_YEAR.name, "2023-2024"): 2,
        }
        assert _comments(conn, schema, BY_YEAR.name)[1]["score"] == "Балл"
        conn.execute("drop view by_year.per_year")

    # a new column: every part changes and the table is rebuilt with it
    con.execute("alter table marts.by_year add column region varchar default 'Регион'")
    assert publish_parquet(con, BY_YEAR, marts)["parts_written"] == 3
    [third] = publish_to_postgres(postgres_conninfo, schema, [marts / BY_YEAR.name])
    assert (third["recreated"], third["parts_written"], third["rows"]) == (True, 3, 42)
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert "region" in _types(conn, schema, BY_YEAR.name)
        assert _table_oid(conn, schema, BY_YEAR.name) != oid


def test_readers_see_old_or_new_table_during_republish(postgres_conninfo: str, tmp_path: Path) -> None:
    schema, table = "atomic", BIG.name
    old_rows, new_rows = 200_000, 150_000
    make = "select i::bigint as id, i * 0.5 as value from range({n}) t(i)"
    old = _parquet(tmp_path / "old", BIG, make.format(n=old_rows))
    new = _parquet(tmp_path / "new", BIG, make.format(n=new_rows))
    publish_to_postgres(postgres_conninfo, schema, [old])

    counts: list[tuple[float, int]] = []  # (when, count)
    first_count, stop = threading.Event(), threading.Event()

    def read() -> None:
        query = sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
        try:
            with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
                while not stop.is_set():
                    counts.append((time.monotonic(), conn.execute(query).fetchone()[0]))
                    first_count.set()
        finally:
            first_count.set()

    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(read)
        try:
            assert first_count.wait(10)
            if reading.done():
                reading.result()  # the reader failed at once: raise its error
            started = time.monotonic()
            result = publish_to_postgres(postgres_conninfo, schema, [new])
            finished = time.monotonic()
            while not reading.done() and counts[-1][0] <= finished:  # one more read after the publish
                time.sleep(0.01)
        finally:
            stop.set()
        reading.result()  # raises whatever the reader hit (e.g. a missing table)

    assert result[0]["rows"] == new_rows
    seen = [n for _, n in counts]
    assert set(seen) <= {old_rows, new_rows}
    assert seen[0] == old_rows and seen[-1] == new_rows
    switch = seen.index(new_rows)
    assert seen[switch:] == [new_rows] * (len(seen) - switch)  # never back to the old table
    assert any(started <= at <= finished for at, _ in counts)  # the reader did read while the publish ran


def test_failed_republish_leaves_old_table(postgres_conninfo: str, tmp_path: Path) -> None:
    """A view on the mart makes the DROP fail: the whole transaction rolls back, old table and data stay."""
    schema = "rollback"
    publish_to_postgres(postgres_conninfo, schema, [_parquet(tmp_path / "v1", SCHOOLS, SCHOOLS_V1)])
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        conn.execute("create view rollback.v as select school_id from rollback.mart_school_results")

    with pytest.raises(PostgresPublishError, match="could not publish mart mart_school_results") as caught:
        publish_to_postgres(postgres_conninfo, schema, [_parquet(tmp_path / "v2", SCHOOLS, SCHOOLS_V2)])
    assert "не удалось опубликовать витрину mart_school_results" in str(caught.value)
    assert isinstance(caught.value.__cause__, psycopg.errors.DependentObjectsStillExist)
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert _tables(conn, schema) == ["mart_school_results", "v"]
        assert [r[0] for r in _rows(conn, schema, "mart_school_results", "school_id")] == [1, 2, 3, 4]


def test_connection_error_names_host_and_port_not_password(postgres_conninfo: str, tmp_path: Path) -> None:
    params = conninfo_to_dict(postgres_conninfo)
    password = str(params["password"])
    port = free_port()
    wrong = make_conninfo(postgres_conninfo, port=port)
    with pytest.raises(PostgresPublishError) as caught:
        publish_to_postgres(wrong, "marts", [])
    message = str(caught.value)
    assert "не удалось подключиться к PostgreSQL" in message
    assert "could not connect to PostgreSQL" in message
    assert "host=127.0.0.1" in message and f"port={port}" in message and "dbname=postgres" in message
    assert password not in message and password not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_wrong_password_is_not_shown(postgres_conninfo: str) -> None:
    wrong = make_conninfo(postgres_conninfo, password="not-the-password-1234")
    with pytest.raises(PostgresPublishError, match="could not connect to PostgreSQL") as caught:
        publish_to_postgres(wrong, "marts", [])
    assert "not-the-password-1234" not in str(caught.value)
    assert "password authentication failed" in str(caught.value)


def test_other_arrow_types_and_file_without_metadata(postgres_conninfo: str, tmp_path: Path) -> None:
    """A Parquet file not made by publish_parquet: no metadata (table named after the file), less common types."""
    utc = dt.UTC
    table = pa.table(
        {
            "view": pa.array(["a", None, ""], pa.string_view()),
            "large": pa.array(["б", "x,y", None], pa.large_string()),
            "category": pa.array(["x", "y", None]).dictionary_encode(),
            "at": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None, None], pa.timestamp("us")),
            "at_tz": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc), None, None], pa.timestamp("us", "UTC")),
            "ratio": pa.array([float("nan"), float("inf"), None], pa.float64()),
            "small": pa.array([1, None, -3], pa.int16()),
            "tags": pa.array([[1, 2], None, []], pa.list_(pa.int32())),
        }
    )
    path = tmp_path / "raw_table.parquet"
    pq.write_table(table, path)

    assert _summary(publish_to_postgres(postgres_conninfo, "other", [path])) == [
        {"mart": "raw_table", "table": "other.raw_table", "rows": 3, "columns": 8}
    ]
    with psycopg.connect(postgres_conninfo, autocommit=True) as conn:
        assert {k: v[0] for k, v in _types(conn, "other", "raw_table").items()} == {
            "view": "text",
            "large": "text",
            "category": "text",
            "at": "timestamp without time zone",
            "at_tz": "timestamp with time zone",
            "ratio": "double precision",
            "small": "smallint",
            "tags": "text",
        }
        rows = _rows(conn, "other", "raw_table", "small")
        assert _comments(conn, "other", "raw_table") == (None, dict.fromkeys(table.column_names))
    first, second, third = rows  # ordered by small: -3, 1, NULL
    assert first == ("", None, None, None, None, None, -3, "[]")
    at, at_tz = dt.datetime(2024, 1, 2, 3, 4, 5, 123456), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc)
    assert second[:5] == ("a", "б", "x", at, at_tz)
    assert second[5] != second[5] and second[6:] == (1, "[1, 2]")  # NaN
    assert third == (None, "x,y", "y", None, None, float("inf"), None, None)


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int16(), "smallint"),
        (pa.int32(), "integer"),
        (pa.int64(), "bigint"),
        (pa.float64(), "double precision"),
        (pa.decimal128(18, 3), "numeric(18,3)"),
        (pa.string(), "text"),
        (pa.large_string(), "text"),
        (pa.string_view(), "text"),
        (pa.dictionary(pa.int8(), pa.string()), "text"),
        (pa.bool_(), "boolean"),
        (pa.date32(), "date"),
        (pa.timestamp("us"), "timestamp without time zone"),
        (pa.timestamp("us", tz="UTC"), "timestamp with time zone"),
        (pa.list_(pa.int32()), "text"),
    ],
)
def test_pg_type(arrow_type: pa.DataType, expected: str) -> None:
    assert pg_type(arrow_type) == expected
