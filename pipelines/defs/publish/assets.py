"""Publishing assets, after dbt has built the marts:

    marts.<mart> (warehouse)  -->  published/<mart>            data/marts/<mart>.parquet, small cells suppressed
    published/<every mart>    -->  published/analyst_database  data/marts/analyst.duckdb (if enabled)
                              -->  published/postgres_marts     PostgreSQL schema `marts` (if enabled)

The targets are chosen in pipelines/config/publishing.yaml (or EDUWH_PUBLISH_TARGETS).
"""

import json
import os

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
        description=f"«{mart.label_ru}»: data/marts/{mart.name}.parquet, small cells suppressed.",
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
            f"({published['rows_suppressed']:,} скрыто/suppressed) → {published['path']}"
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
        "SQL (open it read-only). Replaced whole at each publication: an open session never blocks a load.",
    )
    def analyst_database(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource):
        marts_dir = warehouse_files.settings.marts_dir
        parquet = [marts_dir / f"{m.name}.parquet" for m in marts if (marts_dir / f"{m.name}.parquet").exists()]
        built = build_analyst_database(parquet, marts_dir / path, publishing_config().get("duckdb_memory_limit"))
        context.log.info(f"опубликовано / published {built['tables']} витрин/marts → {built['path']}")
        return dg.MaterializeResult(metadata=built)

    return analyst_database


def build_postgres_asset(marts: list[MartSpec], conninfo_env: str, schema: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([PUBLISHED, "postgres_marts"]),
        deps=[parquet_key(m) for m in marts],
        group_name=PUBLISHED,
        kinds={"postgres"},
        description=f"PostgreSQL schema `{schema}` (connection from ${conninfo_env}): every published mart as a "
        "table with Russian comments, for BI tools. Each table is loaded aside and swapped in one transaction.",
    )
    def postgres_marts(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource):
        from pipelines.lib.publish_postgres import publish_to_postgres

        conninfo = os.environ.get(conninfo_env)
        if not conninfo:
            raise dg.Failure(
                f"публикация в PostgreSQL включена, но переменная {conninfo_env} не задана / "
                f"publishing to PostgreSQL is enabled but {conninfo_env} is not set"
            )
        marts_dir = warehouse_files.settings.marts_dir
        parquet = [marts_dir / f"{m.name}.parquet" for m in marts if (marts_dir / f"{m.name}.parquet").exists()]
        tables = publish_to_postgres(conninfo, schema, parquet)
        rows = {t["table"]: t["rows"] for t in tables}
        context.log.info(f"опубликовано в PostgreSQL / published to PostgreSQL: {rows}")
        return dg.MaterializeResult(metadata={"schema": schema, "tables": len(tables), "rows": rows})

    return postgres_marts


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
