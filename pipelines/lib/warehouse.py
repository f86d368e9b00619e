"""The warehouse file: the rows of every load, the raw views over them, the ingest log and the quarantine register.

    raw_loads."<source>__staging"   a load's rows as they are read and checked (one per source at a time)
    raw_loads."<load id>"           the same table once its contract passed: renamed, never copied
    raw_loads."<family>__columns"   an empty table holding the family's columns and types
    raw.<family>                    a view: the columns table, then the rows of each current load
                                    (SELECTs kept in ingest.load_tables), `union all by name`

A load writes its rows once. Its school year is swapped in by one transaction (rename the staged table, record
the load, drop the superseded load's table, redefine the view): readers see either the previous rows or the
new ones, never a mixture, and a failure leaves the previous rows in place. A staged table left by a killed
load is never part of a view, and the next load of its source drops it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.lib.staging import lit, q

INGEST_DDL = """
create schema if not exists raw;
create schema if not exists raw_loads;
create schema if not exists ingest;
create table if not exists ingest.load_log (
    load_id varchar primary key,
    source varchar not null,
    school_year varchar not null,
    file_path varchar not null,
    file_sha256 varchar not null,
    file_size_bytes bigint not null,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    contract_version integer not null,
    status varchar not null,          -- loaded | quarantined | superseded (loaded, then replaced by a later file)
    started_at timestamp not null,
    finished_at timestamp not null
);
alter table ingest.load_log add column if not exists rows_dropped bigint;        -- subtotals, repeated headers, exact duplicates
alter table ingest.load_log add column if not exists match_rate double;          -- share of rows whose school is in the registry
alter table ingest.load_log add column if not exists superseded_by varchar;      -- the load that replaced this one's rows
alter table ingest.load_log add column if not exists message varchar;
alter table ingest.load_log add column if not exists registry_load_id varchar;   -- the registry load its schools were matched against
alter table ingest.load_log add column if not exists files integer;              -- files read by the load (ingest.load_files)
alter table ingest.load_log add column if not exists match_method varchar;       -- login | ogrn | inn | name
create table if not exists ingest.load_files (
    load_id varchar not null,          -- the load (ingest.load_log) the file was read by
    file_path varchar not null,
    file_sha256 varchar not null,
    file_size_bytes bigint not null,
    rows_read bigint
);
create table if not exists ingest.quarantine (
    load_id varchar primary key,
    source varchar not null,
    school_year varchar not null,
    file_path varchar not null,
    file_sha256 varchar not null,
    contract_version integer not null,
    reason varchar not null,
    violations json,
    quarantine_path varchar not null,
    quarantined_at timestamp not null
);
create table if not exists ingest.load_tables (
    load_id varchar not null,          -- a load (ingest.load_log) whose rows raw.<family> shows while it is loaded
    family varchar not null,           -- the view: raw.<family>
    table_name varchar not null,       -- the table holding the rows: raw_loads."<load id>" (qualified, quoted)
    select_sql varchar not null        -- the load's rows as the view shows them
);
create table if not exists ingest.rejected_rows (
    load_id varchar not null,
    source varchar not null,
    school_year varchar not null,
    file_path varchar not null,
    source_row bigint not null,
    column_name varchar not null,
    value varchar,
    reason varchar not null
);
"""


@contextmanager
def connect(
    path: Path, read_only: bool = False, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": memory_limit} if memory_limit else {}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    try:
        if not read_only:
            con.execute(INGEST_DDL)
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything inside is committed together or not at all."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def insert_row(con: duckdb.DuckDBPyConnection, table: str, row: dict) -> None:
    columns = ", ".join(f"? as {k}" for k in row)
    con.execute(f"insert into {table} by name select * from (select {columns})", list(row.values()))


BOOKKEEPING = [("_source_file", "varchar"), ("_source_row", "bigint"), ("_load_id", "varchar"), ("_source", "varchar")]
LOADS = "raw_loads"


def staging_table(source: str) -> str:
    """Where a load of the source writes and checks its rows."""
    return f"{LOADS}.{q(source + '__staging')}"


def load_table(load_id: str) -> str:
    """Where a load's rows stay once its contract passed."""
    return f"{LOADS}.{q(load_id)}"


def _columns_table(family: str) -> str:
    return f"{LOADS}.{q(family + '__columns')}"


def _is_base_table(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ? "
            "and table_type = 'BASE TABLE'",
            [schema, table],
        ).fetchone()[0]
    )


def ensure_raw_table(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> None:
    """A family's raw view as its source configs describe it (so dbt can run before the first file arrives);
    columns a newer config adds are added. `_source` says which source config loaded a row (a family's view
    shows all its sources). A raw table of a warehouse written before loads kept their own tables becomes the
    table of the loads it holds."""
    family = table.split(".")[1]
    with transaction(con):
        if _is_base_table(con, table):
            _adopt_raw_table(con, table, family)
        cols = [("school_year", "varchar"), *columns, *BOOKKEEPING]
        shape = _columns_table(family)
        con.execute(f"create table if not exists {shape} ({', '.join(f'{n} {t}' for n, t in cols)})")
        existing = {r[0] for r in con.execute(f"select column_name from (describe {shape})").fetchall()}
        added = [(n, t) for n, t in cols if n not in existing]
        for name, sql_type in added:
            con.execute(f"alter table {shape} add column {name} {sql_type}")
        if added or not table_exists(con, table):
            define_raw_view(con, family)


def _adopt_raw_table(con: duckdb.DuckDBPyConnection, table: str, family: str) -> None:
    """Turn a raw table (a warehouse from before) into the table of the loads whose rows it holds: renamed, not
    copied, it stays in `raw` beside the view."""
    names = {r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()}
    if "_source" not in names:
        con.execute(f"alter table {table} add column _source varchar")
    con.execute(f"update {table} set _source = split_part(_load_id, ':', 1) where _source is null")
    con.execute(f"alter table {table} rename to {q(family + '__before_load_tables')}")
    adopted = f"raw.{q(family + '__before_load_tables')}"
    for (load_id,) in con.execute(f"select distinct _load_id from {adopted}").fetchall():
        row = {
            "load_id": load_id,
            "family": family,
            "table_name": adopted,
            "select_sql": f"select * from {adopted} where _load_id = {lit(load_id)}",
        }
        insert_row(con, "ingest.load_tables", row)


def define_raw_view(con: duckdb.DuckDBPyConnection, family: str) -> None:
    """raw.<family>: the family's columns, then the rows of every load of it that is loaded now."""
    selects = con.execute(
        "select t.select_sql from ingest.load_tables t join ingest.load_log l using (load_id) "
        "where t.family = ? and l.status = 'loaded' order by l.source, l.school_year",
        [family],
    ).fetchall()
    parts = [f"select * from {_columns_table(family)}", *(f"({sql})" for (sql,) in selects)]
    con.execute(f"create or replace view raw.{family} as " + " union all by name ".join(parts))


def swap_in_load(
    con: duckdb.DuckDBPyConnection,
    family: str,
    staged: str,
    select_rows: str,
    rejected: str | None,
    log: dict,
    files: list[dict],
) -> None:
    """Make a load's staged rows its school year's rows of the source (one transaction): keep the rejected rows,
    rename the staged table to the load's, mark the previous load superseded and drop its table, record the new
    load with its files and redefine the family's view. `select_rows` reads the load's table."""
    with transaction(con):
        if rejected:
            con.execute(f"insert into ingest.rejected_rows by name {rejected}")
        con.execute(f"alter table {staged} rename to {q(log['load_id'])}")
        previous = [
            r[0]
            for r in con.execute(
                "select load_id from ingest.load_log where source = ? and school_year = ? and status = 'loaded'",
                [log["source"], log["school_year"]],
            ).fetchall()
        ]
        for row in files:
            insert_row(con, "ingest.load_files", row)
        con.execute(
            "update ingest.load_log set status = 'superseded', superseded_by = ? "
            "where source = ? and school_year = ? and status = 'loaded'",
            [log["load_id"], log["source"], log["school_year"]],
        )
        insert_row(con, "ingest.load_log", log)
        insert_row(
            con,
            "ingest.load_tables",
            {
                "load_id": log["load_id"],
                "family": family,
                "table_name": load_table(log["load_id"]),
                "select_sql": select_rows,
            },
        )
        families = {family}
        if previous:
            marks = ", ".join("?" * len(previous))
            superseded = con.execute(
                f"select distinct table_name, family from ingest.load_tables where load_id in ({marks})", previous
            ).fetchall()
            con.execute(f"delete from ingest.load_tables where load_id in ({marks})", previous)
            for name, old_family in superseded:
                families.add(old_family)  # a source moved to another family leaves its old one
                # a table adopted from an old raw table holds several loads: it goes with the last of them
                users = con.execute("select count(*) from ingest.load_tables where table_name = ?", [name])
                if not users.fetchone()[0]:
                    con.execute(f"drop table if exists {name}")
        for name in sorted(families):
            define_raw_view(con, name)


def record_quarantine(con: duckdb.DuckDBPyConnection, record: dict, log: dict, files: list[dict]) -> None:
    with transaction(con):
        violations = json.dumps(record["violations"], ensure_ascii=False, default=str)
        insert_row(con, "ingest.quarantine", {**record, "violations": violations})
        insert_row(con, "ingest.load_log", log)
        for row in files:
            insert_row(con, "ingest.load_files", row)


def current_load(con: duckdb.DuckDBPyConnection, source: str, school_year: str) -> tuple[str, str, int, str] | None:
    """(load_id, file_sha256, contract_version, registry_load_id) of the load whose rows the source's school
    year holds now."""
    return con.execute(
        "select load_id, file_sha256, contract_version, registry_load_id from ingest.load_log "
        "where source = ? and school_year = ? and status = 'loaded' order by finished_at desc, started_at desc limit 1",
        [source, school_year],
    ).fetchone()


def now() -> datetime:
    return datetime.now().replace(microsecond=0)
