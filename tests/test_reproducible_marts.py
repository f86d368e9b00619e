"""The same inputs give the same published marts, byte for byte: the marts are built again by dbt in a copy of the
session's warehouse and published again; every Parquet file must equal the one the pipeline published, and the
analysts' database built from them must hold the same rows."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.lib.publish import build_analyst_database, marts_from_manifest, publish_parquet
from pipelines.settings import DBT_PROJECT_DIR


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(path: Path) -> dict[str, list[tuple]]:
    """Every mart table of an analysts' database, rows in stored order (the publication record aside)."""
    with duckdb.connect(str(path), read_only=True) as con:
        query = "select table_name from duckdb_tables() where table_name <> '_publication'"
        names = [r[0] for r in con.execute(query).fetchall()]
        return {name: con.execute(f'select * from "{name}"').fetchall() for name in sorted(names)}


def test_marts_built_and_published_again_are_byte_identical(loaded_region, tmp_path: Path):
    region, _, _ = loaded_region
    published = region.settings.marts_dir
    copy = tmp_path / "data"
    copy.mkdir()
    shutil.copy2(region.settings.warehouse_path, copy / "warehouse.duckdb")

    dbt = Path(sys.executable).parent / "dbt"
    target = tmp_path / "dbt-target"
    subprocess.run(
        [str(dbt), "build", "--quiet", "--profiles-dir", ".", "--target-path", str(target)],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "EDUWH_DATA_DIR": str(copy)},
        check=True,
    )
    marts = marts_from_manifest(json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text()))
    again = tmp_path / "marts"
    with duckdb.connect(str(copy / "warehouse.duckdb"), read_only=True) as con:
        for mart in marts:
            publish_parquet(con, mart, again)

    differ = [m.name for m in marts if _sha256(again / f"{m.name}.parquet") != _sha256(published / f"{m.name}.parquet")]
    assert not differ, f"published again with different bytes: {differ}"
    assert len(marts) >= 12

    build_analyst_database(sorted(again.glob("*.parquet")), tmp_path / "analyst.duckdb")
    assert _tables(tmp_path / "analyst.duckdb") == _tables(published / "analyst.duckdb")
