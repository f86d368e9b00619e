"""Publication by school year: data/marts/<mart>/<school year>.parquet, and the analysts' DuckDB file and PostgreSQL
updated part by part.

Each test works on a copy of the session region's warehouse and published marts, changes the warehouse's rows of a
mart (one school year changed, a school year removed and one added, or the suppression rule changed) and publishes
again through the Dagster publishing assets (Parquet, the analysts' file, a real PostgreSQL server): only the parts
that changed are rewritten, and the three targets hold exactly the same rows afterwards."""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest

from pipelines.lib import publish
from pipelines.settings import CONFIG_DIR, Settings
from tests.conftest import mart_files, mart_parquet
from tests.test_analyst_file_compat import old_duckdb_python

PG_SCHEMA = "partitioned_check"
MART = "school_year_results"
MARKER = " (изменено)"
READ_CHANGED_ROWS = f"""
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select count(*) from {MART} where school_name like '%{MARKER}'").fetchone()[0])
"""


class Copy:
    """A copy of the session region's warehouse and published marts, with definitions that publish to it."""

    def __init__(self, data_dir: Path, postgres_conninfo: str):
        self.settings = Settings(data_dir)
        self.marts_dir = self.settings.marts_dir
        self.conninfo = postgres_conninfo
        from pipelines.definitions import build_definitions

        self.defs = build_definitions()
        self.keys = [k for k in self.defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "published"]

    def publish(self) -> dict[str, dict]:
        """Materialise every publishing asset (not dbt): {asset name: its materialisation metadata}."""
        from pipelines.defs.operations import MARTS_JOB

        with dg.DagsterInstance.ephemeral() as instance:
            result = self.defs.resolve_job_def(MARTS_JOB).execute_in_process(
                instance=instance, asset_selection=self.keys
            )
        assert result.success
        materialized = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()]
        return {m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items()} for m in materialized}

    def warehouse(self, statement: str) -> None:
        with duckdb.connect(str(self.settings.warehouse_path)) as con:
            con.execute(statement)

    def marts(self) -> list[str]:
        return sorted(p.name for p in self.marts_dir.iterdir() if p.is_dir())


@pytest.fixture
def copy(loaded_region, postgres_conninfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Copy]:
    region = loaded_region[0]
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy2(region.settings.warehouse_path, data / "warehouse.duckdb")
    shutil.copytree(region.settings.marts_dir, data / "marts")
    # the publishing settings of a region of its own: PostgreSQL on, in a schema of this test's
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    path = config / "publishing.yaml"
    text = path.read_text(encoding="utf-8")
    assert "schema: marts" in text
    path.write_text(text.replace("schema: marts", f"schema: {PG_SCHEMA}"), encoding="utf-8")
    monkeypatch.setenv("EDUWH_CONFIG_DIR", str(config))
    monkeypatch.setenv("EDUWH_DATA_DIR", str(data))
    monkeypatch.setenv("EDUWH_PUBLISH_TARGETS", "parquet,analyst_duckdb,postgres")
    monkeypatch.setenv("EDUWH_POSTGRES_CONNINFO", postgres_conninfo)
    with psycopg.connect(postgres_conninfo, autocommit=True) as pg:
        pg.execute(f"drop schema if exists {PG_SCHEMA} cascade")
    yield Copy(data, postgres_conninfo)


def _files(marts_dir: Path) -> dict[str, tuple[int, int, str]]:
    """{<mart>/<part>.parquet: (inode, mtime_ns, sha256)} of every published part."""
    out = {}
    for path in sorted(marts_dir.glob("*/*.parquet")):
        stat = path.stat()
        out[f"{path.parent.name}/{path.name}"] = (
            stat.st_ino,
            stat.st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
    return out


def _norm(value):
    """Numbers as Decimal text, so that a value compares equal whichever driver read it."""
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return "NaN" if math.isnan(value) else format(Decimal(value).normalize(), "f")
    return value


def _rows(rows) -> list[tuple]:
    return sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)


def _parquet_rows(marts_dir: Path, mart: str) -> tuple[list[str], list[tuple]]:
    """The columns and rows of a mart's parts, read by pyarrow (not DuckDB)."""
    table = pq.read_table(marts_dir / mart)
    return table.column_names, _rows(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def _assert_targets_hold_the_parts(copy: Copy) -> None:
    """Every mart: the analysts' table and the PostgreSQL table hold exactly the rows of its Parquet parts, and
    both record the parts' fingerprints."""
    footers = {
        (m, p.stem): pq.read_metadata(p).metadata[b"fingerprint"].decode()
        for m in copy.marts()
        for p in mart_files(copy.marts_dir, m)
    }
    with (
        duckdb.connect(str(copy.marts_dir / "analyst.duckdb"), read_only=True) as db,
        psycopg.connect(copy.conninfo, autocommit=True) as pg,
    ):
        for mart in copy.marts():
            columns, expected = _parquet_rows(copy.marts_dir, mart)
            select = ", ".join(f'"{c}"' for c in columns)
            assert _rows(db.execute(f'select {select} from "{mart}"').fetchall()) == expected, mart
            assert _rows(pg.execute(f'select {select} from {PG_SCHEMA}."{mart}"').fetchall()) == expected, mart
        recorded_db = {
            (m, p): f for m, p, f in db.execute("select mart, part, fingerprint from _publication_parts").fetchall()
        }
        recorded_pg = {
            (m, p): f
            for m, p, f in pg.execute(f"select mart, part, fingerprint from {PG_SCHEMA}._publication_parts").fetchall()
        }
    assert recorded_db == footers
    assert recorded_pg == footers


def _changed(before: dict, after: dict) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def test_a_changed_school_year_rewrites_only_its_part(copy: Copy):
    first = copy.publish()
    assert all(first[m]["parts_written"] == 0 for m in copy.marts()), "the copied parts are current"
    assert first["analyst_database"]["parts_written"] == 0 and first["analyst_database"]["updated_in_place"]
    # an empty schema: every part loaded
    assert first["postgres_marts"]["parts_kept"] == 0 and first["postgres_marts"]["parts_written"] > 0
    _assert_targets_hold_the_parts(copy)
    before = _files(copy.marts_dir)
    years = [p.stem for p in mart_files(copy.marts_dir, MART)]
    assert len(years) == 3
    year = years[1]
    old_names = {
        r[0]
        for r in duckdb.sql(
            f"select school_name from read_parquet('{mart_parquet(copy.marts_dir, MART)}') where school_year = ?",
            params=[year],
        ).fetchall()
    }

    # an analyst's session open on the file published before: it keeps reading that version
    session = duckdb.connect(str(copy.marts_dir / "analyst.duckdb"), read_only=True)
    copy.warehouse(f"update marts.{MART} set school_name = school_name || '{MARKER}' where school_year = '{year}'")
    second = copy.publish()

    assert _changed(before, _files(copy.marts_dir)) == {f"{MART}/{year}.parquet"}
    assert (second[MART]["parts_written"], second[MART]["parts_kept"], second[MART]["parts_removed"]) == (1, 2, 0)
    assert second[MART]["written"] == year
    assert second[MART]["rows_written"] == pq.read_metadata(copy.marts_dir / MART / f"{year}.parquet").num_rows > 0
    assert all(second[m]["parts_written"] == 0 for m in copy.marts() if m != MART)
    for target in ("analyst_database", "postgres_marts"):
        assert second[target]["parts_written"] == 1, target
        assert second[target]["rows_written"] == second[MART]["rows_written"], target
    # the new part holds the changed rows, the others do not
    names = duckdb.sql(
        f"select school_year, school_name from read_parquet('{mart_parquet(copy.marts_dir, MART)}')"
    ).fetchall()
    assert {n for y, n in names if y == year} == {n + MARKER for n in old_names}
    assert not [n for y, n in names if y != year and n.endswith(MARKER)]
    # the open session still reads the version it opened (closed before the checks: in one process DuckDB would
    # hand the checks that session's database again)
    assert not session.execute(f"select count(*) from {MART} where school_name like '%{MARKER}'").fetchone()[0]
    assert session.execute(f"select count(*) from {MART}").fetchone()[0] == len(names)
    session.close()
    _assert_targets_hold_the_parts(copy)
    # the file updated in place (of a copy) still opens in the oldest DuckDB the README names
    out = subprocess.run(
        [
            str(old_duckdb_python()),
            "-c",
            READ_CHANGED_ROWS,
            str(copy.marts_dir / "analyst.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert int(out.stdout) == len([n for y, n in names if y == year])


def test_a_removed_school_year_disappears_and_a_new_one_appears(copy: Copy):
    copy.publish()
    before = _files(copy.marts_dir)
    first, *_, last = [p.stem for p in mart_files(copy.marts_dir, MART)]
    new_year = "2099-2100"
    copy.warehouse(f"delete from marts.{MART} where school_year = '{first}'")
    copy.warehouse(
        f"insert into marts.{MART} by name select * replace ('{new_year}' as school_year) from marts.{MART} "
        f"where school_year = '{last}'"
    )
    published = copy.publish()

    assert _changed(before, _files(copy.marts_dir)) == {f"{MART}/{first}.parquet", f"{MART}/{new_year}.parquet"}
    assert (published[MART]["parts_written"], published[MART]["parts_removed"]) == (1, 1)
    assert not (copy.marts_dir / MART / f"{first}.parquet").exists()
    assert not list((copy.marts_dir / MART).glob(".*")), "a partial file was left behind"
    assert (
        pq.read_metadata(copy.marts_dir / MART / f"{new_year}.parquet").num_rows
        == pq.read_metadata(copy.marts_dir / MART / f"{last}.parquet").num_rows
    )
    for target in ("analyst_database", "postgres_marts"):
        assert (published[target]["parts_written"], published[target]["parts_removed"]) == (1, 1), target
    _assert_targets_hold_the_parts(copy)
    with duckdb.connect(str(copy.marts_dir / "analyst.duckdb"), read_only=True) as db:
        years = {r[0] for r in db.execute(f"select distinct school_year from {MART}").fetchall()}
        assert first not in years and new_year in years
        parts = db.execute("select part from _publication_parts where mart = ?", [MART]).fetchall()
        assert sorted(r[0] for r in parts) == sorted(p.stem for p in mart_files(copy.marts_dir, MART))
        assert first not in {r[0] for r in parts} and new_year in {r[0] for r in parts}
    with psycopg.connect(copy.conninfo, autocommit=True) as pg:
        years = {r[0] for r in pg.execute(f"select distinct school_year from {PG_SCHEMA}.{MART}").fetchall()}
        assert first not in years and new_year in years


def test_a_changed_min_n_rewrites_every_part_of_the_marts_that_follow_it(copy: Copy, monkeypatch):
    copy.publish()
    before = _files(copy.marts_dir)
    config = Path(publish._publishing_yaml())
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("default: {min_n: 10}", "default: {min_n: 12}"), encoding="utf-8")
    published = copy.publish()

    changed = _changed(before, _files(copy.marts_dir))
    by_default = {m for m in copy.marts() if published[m].get("suppression_rule") == "suppression.default"}
    assert MART in by_default and "survey_results" not in by_default
    assert changed == {f for f in before if f.split("/")[0] in by_default}
    for mart in by_default:
        assert published[mart]["parts_kept"] == 0 and published[mart]["parts_written"] == len(
            mart_files(copy.marts_dir, mart)
        )
    assert published["survey_results"]["parts_written"] == 0  # its own rule, unchanged
    # the new rule, checked against the n column itself
    rows = pq.read_table(copy.marts_dir / MART).to_pylist()
    assert any(10 <= r["participants"] < 12 for r in rows)
    assert all(r[publish.SUPPRESSED_COLUMN] is (r["participants"] < 12) for r in rows)
    assert {pq.read_schema(p).metadata[b"suppression_min_n"] for p in mart_files(copy.marts_dir, MART)} == {b"12"}
    _assert_targets_hold_the_parts(copy)


def test_a_failure_while_writing_leaves_the_previous_publication(copy: Copy, monkeypatch):
    copy.publish()
    before = _files(copy.marts_dir)
    analyst = hashlib.sha256((copy.marts_dir / "analyst.duckdb").read_bytes()).hexdigest()
    copy.warehouse(f"update marts.{MART} set school_name = school_name || '{MARKER}'")  # every year changes
    written = []
    real = publish.pq.ParquetWriter

    class FailingOnTheSecondPart(real):
        def __init__(self, where, *args, **kwargs):
            written.append(where)
            if len(written) == 2:
                raise OSError("диск заполнен / disk full (test)")
            super().__init__(where, *args, **kwargs)

    monkeypatch.setattr(publish.pq, "ParquetWriter", FailingOnTheSecondPart)
    from pipelines.defs.operations import MARTS_JOB

    with dg.DagsterInstance.ephemeral() as instance:
        result = copy.defs.resolve_job_def(MARTS_JOB).execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(["published", MART])], raise_on_error=False
        )
    assert not result.success
    assert len(written) == 2
    assert _files(copy.marts_dir) == before  # no part replaced, not even the one written in full
    assert not [p for p in copy.marts_dir.rglob(".*")], "a partial file was left behind"
    assert hashlib.sha256((copy.marts_dir / "analyst.duckdb").read_bytes()).hexdigest() == analyst

    monkeypatch.setattr(publish.pq, "ParquetWriter", real)
    published = copy.publish()
    assert published[MART]["parts_written"] == len(mart_files(copy.marts_dir, MART))
    _assert_targets_hold_the_parts(copy)


def test_the_fingerprint_is_order_independent_and_counts_duplicates(tmp_path: Path):
    """Without the region: the same rows in another order give the same fingerprint (and file); a row twice, or
    two rows swapping a value, do not."""
    spec = publish.MartSpec("m", "marts.m", "", "Витрина", {"school_year": "Учебный год", "v": "Значение"})
    con = duckdb.connect()
    con.execute("create schema marts")

    def fingerprint(values: str) -> str:
        con.execute(f"create or replace table marts.m as select * from (values {values}) t(school_year, v)")
        publish.publish_parquet(con, spec, tmp_path)
        return pq.read_metadata(tmp_path / "m" / "2024-2025.parquet").metadata[b"fingerprint"].decode()

    base = fingerprint("('2024-2025', 1), ('2024-2025', 2), ('2024-2025', 3)")
    assert fingerprint("('2024-2025', 3), ('2024-2025', 1), ('2024-2025', 2)") == base
    assert fingerprint("('2024-2025', 1), ('2024-2025', 1), ('2024-2025', 2), ('2024-2025', 3)") != base
    assert fingerprint("('2024-2025', 1), ('2024-2025', 1), ('2024-2025', 2), ('2024-2025', 2), ('2024-2025', 3)") != (
        fingerprint("('2024-2025', 1), ('2024-2025', 2), ('2024-2025', 3), ('2024-2025', 3), ('2024-2025', 1)")
    )
    assert fingerprint("('2024-2025', 1), ('2024-2025', 2), ('2024-2025', 4)") != base

    # a part file that cannot be read (damaged on disk) is written again, and a stray file is removed
    part = tmp_path / "m" / "2024-2025.parquet"
    part.write_bytes(b"not parquet")
    (tmp_path / "m" / "stray.parquet").write_bytes(b"")
    published = publish.publish_parquet(con, spec, tmp_path)
    assert (published["parts_written"], published["parts_removed"]) == (1, 1)
    assert pq.read_table(part).num_rows == 3 and not (tmp_path / "m" / "stray.parquet").exists()
