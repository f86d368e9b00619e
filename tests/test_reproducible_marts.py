"""The same inputs give the same published marts, byte for byte: the marts are built again by dbt in a copy of the
session's warehouse and published again; every Parquet part (data/marts/<mart>/<school year>.parquet) must equal the
one the pipeline published, and the analysts' database built from them must hold the same rows. Publishing once
more onto those parts rewrites none of them."""

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
    """Every mart table of an analysts' database and its parts' fingerprints, rows sorted (the file is updated by
    school year, so the stored order depends on its history), the publication time record aside."""
    with duckdb.connect(str(path), read_only=True) as con:
        query = "select table_name from duckdb_tables() where table_name <> '_publication'"
        names = [r[0] for r in con.execute(query).fetchall()]
        return {name: sorted(con.execute(f'select * from "{name}"').fetchall(), key=repr) for name in sorted(names)}


def _parts(marts_dir: Path) -> dict[str, str]:
    """{<mart>/<part>.parquet: sha256} of every published part."""
    return {f"{p.parent.name}/{p.name}": _sha256(p) for p in sorted(marts_dir.glob("*/*.parquet"))}


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

    first, second = _parts(published), _parts(again)
    assert set(first) == set(second), "not the same parts"
    differ = [p for p in first if first[p] != second[p]]
    assert not differ, f"published again with different bytes: {differ}"
    assert len(marts) >= 12
    assert len(first) > len(marts)  # marts with a school_year column are published per school year

    build_analyst_database([again / m.name for m in marts], tmp_path / "analyst.duckdb")
    assert _tables(tmp_path / "analyst.duckdb") == _tables(published / "analyst.duckdb")

    # published once more onto the same parts: every fingerprint matches, no file is touched
    stats = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in again.glob("*/*.parquet")}
    with duckdb.connect(str(copy / "warehouse.duckdb"), read_only=True) as con:
        results = [publish_parquet(con, mart, again) for mart in marts]
    assert sum(r["parts_written"] for r in results) == 0
    assert sum(r["parts_kept"] for r in results) == len(stats)
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in again.glob("*/*.parquet")} == stats
