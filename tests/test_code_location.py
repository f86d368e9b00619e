"""`dagster dev -w workspace.yaml` loads the code location, also when the virtualenv is not on PATH."""

import os
import subprocess
import sys
from pathlib import Path

from pipelines.settings import PROJECT_ROOT


def test_workspace_loads_as_under_dagster_dev(tmp_path: Path):
    env = {
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PATH": "/usr/bin:/bin",  # no virtualenv: dbt must still be found
        "DAGSTER_HOME": str(tmp_path),
        "DAGSTER_IS_DEV_CLI": "1",  # what `dagster dev` sets: dagster-dbt then re-parses the dbt project
    }
    dagster = Path(sys.prefix) / "bin" / "dagster"
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "All code locations passed validation" in done.stdout + done.stderr
