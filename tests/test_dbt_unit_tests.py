"""dbt unit tests (the SQL of the rule sets, rounding, dynamics and effects on hand-made rows). Production builds
of the marts leave them out (`--exclude-resource-type unit_test`); here they run once, on the session's
warehouse, and every one of them must pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
