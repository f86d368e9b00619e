"""Publishing assets, after dbt has built the marts:

    marts.<mart> (warehouse)  -->  published/<mart>            data/marts/<mart>/<school year>.parquet (or all.parquet)
    published/<every mart>    -->  published/analyst_database  data/marts/analyst.duckdb (if enabled)
                              -->  published/postgres_marts     PostgreSQL schema `marts` (if enabled)

A mart with a school_year column is published as one Parquet part per school year, one without as all.parquet;
read a mart as data/marts/<mart>/*.parquet. Each part carries a fingerprint of its published rows (after
suppression) and of the schema, labels and suppression rule: only parts whose fingerprint changed are rewritten,
and the analysts' file and PostgreSQL replace only those parts (publish.py, publish_postgres.py). Each asset's
materialisation says how many parts were written, kept and removed.

The targets are chosen in pipelines/config/publishing.yaml (or EDUWH_PUBLISH_TARGETS).
"""

import json
import os
from pathlib import Path

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from pipelines.defs.dbt.assets import dbt_project, warehouse_dbt_models
from pipelines.defs.resources import WarehouseResource
from pipelines.lib import warehouse
from pipelines.lib.publish import (
    MartSpec,
    build_analyst_database,
    marts_from_manifest,
    publish_parquet,
    publishing_config,
)

PUBLISHED = "published"


def parquet_key(mart: MartSpec) -> dg.AssetKey:
    return dg.AssetKey([PUBLISHED, mart.name])


def build_parquet_asset(mart: MartSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=parquet_key(mart),
        deps=[get_asset_key_for_model([warehouse_dbt_models], mart.name)],
        group_name=PUBLISHED,
        kinds={"parquet"},
        description=f"«{mart.label_ru}»: data/marts/{mart.name}/*.parquet (one part per school year, or all.parquet), "
        "small cells suppressed; only the parts whose content changed are rewritten.",
    )
    def _publish(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource) -> dg.MaterializeResult:
        settings = warehouse_files.settings
        config = publishing_config()
        with warehouse.connect(
            settings.warehouse_path, read_only=True, memory_limit=config.get("duckdb_memory_limit")
        ) as con:
            published = publish_parquet(con, mart, settings.marts_dir)
        context.log.info(
            f"опубликовано / published {mart.name}: {published['rows']:,} строк/rows "
            f"({published['rows_suppressed']:,} скрыто/suppressed) → {published['path']}; частей записано / parts "
            f"written {published['parts_written']} ({published['rows_written']:,} строк/rows), без изменений / kept "
            f"{published['parts_kept']}, удалено / removed {published['parts_removed']}"
        )
        return dg.MaterializeResult(metadata=published)

    return _publish


def build_analyst_database_asset(marts: list[MartSpec], path: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([PUBLISHED, "analyst_database"]),
        deps=[parquet_key(m) for m in marts],
        group_name=PUBLISHED,
        kinds={"duckdb"},
        description=f"data/marts/{path}: every published mart as a table with Russian comments, for analysts' "
        "SQL (open it read-only). Updated in a copy (only the changed school-year parts) renamed over the file at "
        "each publication: an open session never blocks a load.",
    )
    def analyst_database(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource):
        marts_dir = warehouse_files.settings.marts_dir
        built = build_analyst_database(
            published_dirs(marts_dir, marts), marts_dir / path, publishing_config().get("duckdb_memory_limit")
        )
        context.log.info(
            f"опубликовано / published {built['tables']} витрин/marts → {built['path']}; частей записано / parts "
            f"written {built['parts_written']} ({built['rows_written']:,} строк/rows), без изменений / kept "
            f"{built['parts_kept']}, удалено / removed {built['parts_removed']}"
        )
        return dg.MaterializeResult(metadata=built)

    return analyst_database


def build_postgres_asset(marts: list[MartSpec], conninfo_env: str, schema: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([PUBLISHED, "postgres_marts"]),
        deps=[parquet_key(m) for m in marts],
        group_name=PUBLISHED,
        kinds={"postgres"},
        description=f"PostgreSQL schema `{schema}` (connection from ${conninfo_env}): every published mart as a "
        "table with Russian comments, for BI tools. Per mart, in one transaction, only the changed school years are "
        "replaced (or the table is rebuilt aside and swapped in if its columns changed).",
    )
    def postgres_marts(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource):
        from pipelines.lib.publish_postgres import publish_to_postgres

        conninfo = os.environ.get(conninfo_env)
        if not conninfo:
            raise dg.Failure(
                f"публикация в PostgreSQL включена, но переменная {conninfo_env} не задана / "
                f"publishing to PostgreSQL is enabled but {conninfo_env} is not set"
            )
        tables = publish_to_postgres(conninfo, schema, published_dirs(warehouse_files.settings.marts_dir, marts))
        rows = {t["table"]: t["rows"] for t in tables}
        parts = {k: sum(t[k] for t in tables) for k in ("parts_written", "parts_kept", "parts_removed", "rows_written")}
        context.log.info(f"опубликовано в PostgreSQL / published to PostgreSQL: {rows}; {parts}")
        return dg.MaterializeResult(metadata={"schema": schema, "tables": len(tables), "rows": rows, **parts})

    return postgres_marts


def published_dirs(marts_dir: Path, marts: list[MartSpec]) -> list[Path]:
    """The directories data/marts/<mart>/ of the marts published so far."""
    return [marts_dir / m.name for m in marts if (marts_dir / m.name).is_dir()]


def published_marts() -> list[MartSpec]:
    manifest = json.loads(dbt_project().manifest_path.read_text(encoding="utf-8"))
    return marts_from_manifest(manifest)


def build_publish_assets() -> tuple[list[dg.AssetsDefinition], list[dg.AssetsDefinition]]:
    """The per-mart Parquet assets, and the assets of the other enabled targets (built from those files)."""
    marts = published_marts()
    targets = publishing_config()["targets"]
    database_targets = []
    if targets["analyst_duckdb"]["enabled"]:
        database_targets.append(build_analyst_database_asset(marts, targets["analyst_duckdb"]["path"]))
    if targets["postgres"]["enabled"]:
        database_targets.append(
            build_postgres_asset(marts, targets["postgres"]["conninfo_env"], targets["postgres"]["schema"])
        )
    return [build_parquet_asset(m) for m in marts], database_targets
