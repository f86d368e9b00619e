"""The dbt project as Dagster assets: staging, intermediate and mart models downstream of the ingest assets
(a dbt source in schema raw is a family's table; every source config of that family is upstream of the models
reading it). dbt tests run as asset checks."""

import os
import shutil
import sys
from collections.abc import Mapping
from functools import cache, cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version

from pipelines.defs.ingest.assets import asset_key_for
from pipelines.defs.resources import WarehouseResource
from pipelines.lib.ingest import ensure_source_tables
from pipelines.lib.sources import families, load_sources
from pipelines.settings import DBT_PROJECT_DIR, operations_config, operations_settings


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), whether or not it is on PATH."""
    beside = Path(sys.prefix) / "bin" / "dbt"
    return str(beside) if beside.exists() else "dbt"


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, told the version of the dbt it runs instead of asking `dbt --version` in a
    process of its own at every marts run (2 s): when that dbt is the one beside this Python, it is the dbt-core
    installed here."""

    @cached_property
    def _cli_version(self) -> Version:
        if self.dbt_executable == dbt_executable() != "dbt":
            return Version(version("dbt-core"))
        return super()._cli_version


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


FAMILY_KEY_PREFIX = "family"


def _family_of(props: Mapping[str, Any]) -> str | None:
    """A dbt source in schema raw is a family's table: raw.<family> (or a table that comes with the family
    named in its meta, e.g. the survey answer options with survey_answers)."""
    if props.get("resource_type") != "source" or props.get("schema") != "raw":
        return None
    return (props.get("meta") or {}).get("family") or props.get("identifier") or props["name"]


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups by layer; a model reading a family's raw table depends on every ingest asset of that family, so
    a new source config (any name) is upstream of the family's staging model with no edit of the dbt project."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        family = _family_of(dbt_resource_props)
        if family:  # never an asset of its own: replaced by the family's ingest assets in get_asset_spec
            return dg.AssetKey([FAMILY_KEY_PREFIX, family, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        members = _family_assets()
        if not any(d.asset_key.path[0] == FAMILY_KEY_PREFIX for d in spec.deps):
            return spec
        deps: dict[dg.AssetKey, dg.AssetDep] = {}
        for dep in spec.deps:
            if dep.asset_key.path[0] != FAMILY_KEY_PREFIX:
                deps[dep.asset_key] = dep
                continue
            for key in members.get(dep.asset_key.path[1], []):
                deps.setdefault(key, dg.AssetDep(key, partition_mapping=dep.partition_mapping))
        return spec.replace_attributes(deps=list(deps.values()))


@cache
def _family_assets() -> dict[str, list[dg.AssetKey]]:
    """family -> the ingest assets (one per source config) that load it."""
    return {family: [asset_key_for(s) for s in specs] for family, specs in families(load_sources()).items()}


@dbt_assets(
    manifest=dbt_project().manifest_path, project=dbt_project(), dagster_dbt_translator=WarehouseDbtTranslator()
)
def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse_files: WarehouseResource):
    """Seeds, models and their tests: `dbt build` (of the selected subset). A locked warehouse file is retried;
    a failed model or test is not (it fails the run, and what depends on it is not built)."""
    ensure_source_tables(warehouse_files.settings, load_sources())
    # Unit tests check the SQL, not the data: they run in `make test` (tests/test_dbt_unit_tests.py), not in every
    # build of the marts, as dbt advises for production runs.
    runs = operations_settings().dbt_runs
    invocation = dbt.cli(
        ["build", "--exclude-resource-type", "unit_test", "--log-level-file", runs.log_level_file],
        context=context,
        raise_on_error=False,
    )
    yield from invocation.stream()
    remove_old_run_folders(invocation.target_path.parent, f"{context.op_def.name}-", runs.keep_runs)
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


def remove_old_run_folders(target_dir: Path, prefix: str, keep: int) -> list[Path]:
    """dagster-dbt gives each dbt call a folder of its own in dbt's target directory (<prefix><run>-<id>): keep
    the newest `keep` of them (by modification time) and remove the others; returns the removed ones."""
    folders = sorted(
        (p for p in target_dir.glob(f"{prefix}*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return folders[keep:]
