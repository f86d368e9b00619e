"""The dbt project as Dagster assets: staging, intermediate and mart models downstream of the ingest assets
(each dbt source names its ingest asset in meta.dagster.asset_key). dbt tests run as asset checks."""

import os
import shutil
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines.defs.resources import WarehouseResource
from pipelines.lib.ingest import ensure_source_tables
from pipelines.lib.sources import load_sources
from pipelines.settings import DBT_PROJECT_DIR, operations_config


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), whether or not it is on PATH."""
    beside = Path(sys.prefix) / "bin" / "dbt"
    return str(beside) if beside.exists() else "dbt"


def _put_dbt_on_path() -> None:
    # Under `dagster dev`, DbtProject.prepare_if_dev() runs a plain `dbt parse`: make that find our dbt
    # when the virtualenv is not activated (e.g. `.venv/bin/dagster dev -w workspace.yaml`).
    if shutil.which("dbt") is None and dbt_executable() != "dbt":
        os.environ["PATH"] = f"{Path(dbt_executable()).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    _put_dbt_on_path()
    project.prepare_if_dev()  # re-parses only under `dagster dev`; `make setup` runs `dbt parse` otherwise
    return project


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"


@dbt_assets(
    manifest=dbt_project().manifest_path, project=dbt_project(), dagster_dbt_translator=WarehouseDbtTranslator()
)
def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse_files: WarehouseResource):
    """Seeds, models and their tests: `dbt build` (of the selected subset). A locked warehouse file is retried;
    a failed model or test is not (it fails the run, and what depends on it is not built)."""
    ensure_source_tables(warehouse_files.settings, load_sources())
    invocation = dbt.cli(["build"], context=context, raise_on_error=False)
    yield from invocation.stream()
    error = invocation.get_error()
    if error is None:
        return
    if "could not set lock" in str(error).lower():
        retries = operations_config()["retries"]
        context.log.warning("файл хранилища занят другим процессом, повтор / the warehouse file is locked, retrying")
        raise dg.RetryRequested(
            max_retries=int(retries["dbt_max_retries"]), seconds_to_wait=float(retries["dbt_delay_seconds"])
        ) from error
    raise error
