"""dbt unit tests (the SQL of the rule sets, rounding, dynamics and effects on hand-made rows). Production builds
of the marts leave them out (`--exclude-resource-type unit_test`); here they run once, on the session's
warehouse, and every one of them must pass. And the project's own generic test of not-null columns, made to fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.settings import DBT_PROJECT_DIR


def test_every_dbt_unit_test_passes(loaded_region):
    region, _, _ = loaded_region
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    declared = [u for u in manifest.get("unit_tests", {}) if u.startswith("unit_test.")]
    assert len(declared) >= 40, "the project's unit tests are missing from the manifest"
    dbt = Path(sys.executable).parent / "dbt"
    target = region.settings.data_dir / "dbt_unit_target"
    result = subprocess.run(
        [str(dbt), "test", "--select", "test_type:unit", "--profiles-dir", ".", "--target-path", str(target)],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "EDUWH_DATA_DIR": str(region.settings.data_dir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,  # the output is shown on failure
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    ran = {r["unique_id"]: r["status"] for r in results}
    assert sorted(ran) == sorted(declared)
    assert set(ran.values()) == {"pass"}


def test_not_null_columns_fails_and_names_each_empty_column(loaded_region, tmp_path: Path):
    """A model's not-null columns are one dbt test (tests/generic/not_null_columns.sql): on a copy of the region's
    warehouse with 3 empty rule sets and 2 empty flag statuses in school_flags, it fails with 5 failures and its
    stored failures name both columns with their counts."""
    region, _, _ = loaded_region
    shutil.copy(region.settings.warehouse_path, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        keys = con.sql("select rowid from marts.school_flags order by rowid limit 5").fetchall()
        con.execute("update marts.school_flags set rule_set = null where rowid in (?, ?, ?)", [k for (k,) in keys[:3]])
        con.execute("update marts.school_flags set flag_status = null where rowid in (?, ?)", [k for (k,) in keys[3:]])
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [str(dbt), "test", "--select", "not_null_school_flags", "--store-failures", "--profiles-dir", "."]
        + ["--target-path", str(tmp_path / "target")],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "EDUWH_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Failure in test not_null_school_flags" in result.stdout
    assert "Got 5 results" in result.stdout
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        failures = con.sql("select column_name, null_rows from dbt_test__audit.not_null_school_flags").fetchall()
    assert sorted(failures) == [("flag_status", 2), ("rule_set", 3)]
