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
import pyarrow as pa

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
    status varchar not null,          -- loaded | quarantined
    started_at timestamp not null,
    finished_at timestamp not null
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
"""


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
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


def replace_school_year(
    con: duckdb.DuckDBPyConnection, table: str, school_year: str, rows: pa.Table, log: dict
) -> None:
    """Swap a school year's rows of a raw table and record the load, all in one transaction."""
    con.register("incoming_rows", rows)
    try:
        with transaction(con):
            con.execute(f"create table if not exists {table} as select * from incoming_rows limit 0")
            con.execute(f"delete from {table} where school_year = ?", [school_year])
            con.execute(f"insert into {table} by name select * from incoming_rows")
            insert_row(con, "ingest.load_log", log)
    finally:
        con.unregister("incoming_rows")


def record_quarantine(con: duckdb.DuckDBPyConnection, record: dict, log: dict) -> None:
    with transaction(con):
        violations = json.dumps(record["violations"], ensure_ascii=False, default=str)
        insert_row(con, "ingest.quarantine", {**record, "violations": violations})
        insert_row(con, "ingest.load_log", log)


def current_load(con: duckdb.DuckDBPyConnection, source: str, school_year: str) -> tuple[str, str, int] | None:
    """(load_id, file_sha256, contract_version) of the load whose rows the source's school year holds now."""
    return con.execute(
        "select load_id, file_sha256, contract_version from ingest.load_log "
        "where source = ? and school_year = ? and status = 'loaded' order by finished_at desc, started_at desc limit 1",
        [source, school_year],
    ).fetchone()


def now() -> datetime:
    return datetime.now().replace(microsecond=0)
