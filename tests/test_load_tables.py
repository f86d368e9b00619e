"""The tables of loads behind the raw views (pipelines/lib/warehouse.py), on a warehouse of their own."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pipelines.lib import warehouse

YEAR = "2024-2025"


def _load(con, load_id: str, family: str, value: int) -> None:
    """A load of source `src` with one row, swapped in as the ingest does it: staged, then renamed."""
    staged = warehouse.staging_table("src")
    con.execute(f"create table {staged} as select '{YEAR}' as school_year, {value} as value, 2 as _source_row")
    select = (
        f"select school_year, value, 'f.csv' as _source_file, _source_row, '{load_id}' as _load_id, 'src' as _source "
        f"from {warehouse.load_table(load_id)}"
    )
    now = datetime(2026, 11, 27)
    log = {
        "load_id": load_id, "source": "src", "school_year": YEAR, "file_path": "f.csv", "file_sha256": load_id,
        "file_size_bytes": 1, "contract_version": 1, "status": "loaded", "started_at": now, "finished_at": now,
    }
    warehouse.swap_in_load(con, family, staged, select, None, log, [])


def test_a_source_moved_to_another_family_leaves_its_old_view_readable(tmp_path: Path):
    with warehouse.connect(tmp_path / "warehouse.duckdb") as con:
        for family in ("family_a", "family_b"):
            warehouse.ensure_raw_table(con, f"raw.{family}", [("value", "bigint")])
        _load(con, "src:1", "family_a", 1)
        assert con.execute("select value, _load_id from raw.family_a").fetchall() == [(1, "src:1")]

        # the source's config now names family_b: its next load supersedes the one shown by family_a
        _load(con, "src:2", "family_b", 2)
        assert con.execute("select value from raw.family_a").fetchall() == []
        assert con.execute("select value from raw.family_b").fetchall() == [(2,)]
        tables = con.execute("select table_name from duckdb_tables() where schema_name = 'raw_loads'").fetchall()
        assert {t for (t,) in tables} == {"family_a__columns", "family_b__columns", "src:2"}
        statuses = con.execute("select load_id, status from ingest.load_log order by 1").fetchall()
        assert statuses == [("src:1", "superseded"), ("src:2", "loaded")]
