"""One publishing asset per published mart: data/marts/<mart>.parquet, written after dbt has built the mart."""

import json

import dagster as dg
import yaml
from dagster_dbt import get_asset_key_for_model

from pipelines.defs.dbt.assets import dbt_project, warehouse_dbt_models
from pipelines.defs.resources import WarehouseResource
from pipelines.lib import warehouse
from pipelines.lib.publish import MartSpec, marts_from_manifest, publish_parquet
from pipelines.settings import CONFIG_DIR


def publishing_config() -> dict:
    with (CONFIG_DIR / "publishing.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def build_publish_asset(mart: MartSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["published", mart.name]),
        deps=[get_asset_key_for_model([warehouse_dbt_models], mart.name)],
        group_name="published",
        kinds={"parquet"},
        description=f"«{mart.label_ru}»: data/marts/{mart.name}.parquet, small cells suppressed.",
    )
    def _publish(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource) -> dg.MaterializeResult:
        settings = warehouse_files.settings
        min_cell_size = int(publishing_config()["min_cell_size"])
        with warehouse.connect(settings.warehouse_path, read_only=True) as con:
            published = publish_parquet(con, mart, settings.marts_dir, min_cell_size)
        context.log.info(f"published {mart.name}: {published['rows']} rows to {published['path']}")
        return dg.MaterializeResult(metadata=published)

    return _publish


def build_publish_assets() -> list[dg.AssetsDefinition]:
    manifest = json.loads(dbt_project().manifest_path.read_text(encoding="utf-8"))
    return [build_publish_asset(m) for m in marts_from_manifest(manifest)]
