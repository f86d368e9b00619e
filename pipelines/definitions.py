"""The Dagster code location: `dagster dev -w workspace.yaml`.

    data/raw/<source>/<school year>/  --ingest (contract = blocking check)-->  raw.<source>   [partitioned by school year]
        --dbt build (staging -> intermediate -> marts, dbt tests as checks)-->  marts.<mart>
        --publish-->  data/marts/<mart>.parquet

Runs execute in process and the instance runs one at a time (dagster_home/dagster.yaml), because DuckDB
allows one writer per file.
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.defs.dbt.assets import dbt_executable, dbt_project, warehouse_dbt_models
from pipelines.defs.ingest.assets import build_ingest_assets
from pipelines.defs.ingest.partitions import school_year_partitions
from pipelines.defs.publish.assets import build_publish_assets
from pipelines.defs.resources import WarehouseResource
from pipelines.settings import Settings

INGEST_JOB = "ingest_school_year"
MARTS_JOB = "build_and_publish_marts"


def build_definitions() -> dg.Definitions:
    ingest_assets = build_ingest_assets()
    publish_assets = build_publish_assets()
    ingest_job = dg.define_asset_job(
        INGEST_JOB,
        selection=dg.AssetSelection.assets(*ingest_assets),
        partitions_def=school_year_partitions,
        description="Load one school year's files of every source, each behind its contract.",
    )
    marts_job = dg.define_asset_job(
        MARTS_JOB,
        selection=dg.AssetSelection.assets(warehouse_dbt_models, *publish_assets),
        description="dbt build of every model and test, then publishing of the marts.",
    )
    return dg.Definitions(
        assets=[*ingest_assets, warehouse_dbt_models, *publish_assets],
        jobs=[ingest_job, marts_job],
        resources={
            "warehouse_files": WarehouseResource(data_dir=str(Settings.from_env().data_dir)),
            "dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable()),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions()
