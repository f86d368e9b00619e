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


def test_dagster_dbt_is_told_the_version_dbt_reports(monkeypatch):
    """The resource does not ask `dbt --version` at every marts run: the version it is told is the one the dbt
    it runs reports."""
    import re

    import dagster_dbt.core.resource

    from pipelines.defs.dbt.assets import WarehouseDbtCliResource, dbt_executable, dbt_project

    reported = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    installed = re.search(r"installed: (\d+\.\d+\.\d+)", reported).group(1)

    def no_process(*args, **kwargs):
        raise AssertionError(f"dagster-dbt started a process: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_process)
    resource = WarehouseDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
    assert str(resource._cli_version) == installed
