"""The warehouse file: raw tables per source, the ingest log and the quarantine register.

A school year's rows of a source are replaced in one transaction: readers see either the previous rows or
the new ones, never a mixture, and a failure leaves the previous rows in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

INGEST_DDL = """
create schema if not exists raw;
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


def ensure_raw_table(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> None:
    """A family's raw table as its source configs describe it (so dbt can run before the first file arrives);
    columns a newer config adds are added. `_source` says which source config loaded a row (a family's table
    is shared by all its sources); rows loaded before it existed get it from their load id."""
    cols = [("school_year", "varchar"), *columns, *BOOKKEEPING]
    con.execute(f"create table if not exists {table} ({', '.join(f'{n} {t}' for n, t in cols)})")
    existing = {r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()}
    for name, sql_type in cols:
        if name not in existing:
            con.execute(f"alter table {table} add column {name} {sql_type}")
    if "_source" not in existing:
        con.execute(f"update {table} set _source = split_part(_load_id, ':', 1) where _source is null")


def replace_school_year(
    con: duckdb.DuckDBPyConnection,
    table: str,
    scope: dict[str, str],
    select_rows: str,
    rejected: str | None,
    log: dict,
    files: list[dict],
) -> None:
    """Swap a school year's rows of a raw table (for a shared table: the rows of this source's scope),
    keep the rejected rows, mark the previous load superseded and record the new one with its files: one
    transaction."""
    where = " and ".join(f"{k} = ?" for k in scope)
    with transaction(con):
        con.execute(f"delete from {table} where {where}", list(scope.values()))
        con.execute(f"insert into {table} by name {select_rows}")
        if rejected:
            con.execute(f"insert into ingest.rejected_rows by name {rejected}")
        for row in files:
            insert_row(con, "ingest.load_files", row)
        con.execute(
            "update ingest.load_log set status = 'superseded', superseded_by = ? "
            "where source = ? and school_year = ? and status = 'loaded'",
            [log["load_id"], log["source"], log["school_year"]],
        )
        insert_row(con, "ingest.load_log", log)


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
