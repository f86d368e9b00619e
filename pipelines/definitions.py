"""The Dagster code location: `dagster dev -w workspace.yaml`.

    data/raw/<source>/<school year>/  --ingest (contract = blocking check)-->  raw.<family>   [partitioned by school year]
        --dbt build (staging -> intermediate -> marts, dbt tests as checks)-->  marts.<mart>
        --publish-->  data/marts/<mart>/*.parquet  -->  data/marts/analyst.duckdb, PostgreSQL (as configured)

raw_files_sensor starts ingest runs for new or changed files; after each ingest run the marts are rebuilt and
published (pipelines/defs/operations.py); daily_marts_refresh rebuilds them every morning regardless.
Runs execute in process and the instance runs one at a time (dagster_home/dagster.yaml), because DuckDB
allows one writer per file.
"""

from __future__ import annotations

import dagster as dg

from pipelines.defs.alerts import build_alert_sensors
from pipelines.defs.dbt.assets import WarehouseDbtCliResource, dbt_executable, dbt_project, warehouse_dbt_models
from pipelines.defs.ingest.assets import build_ingest_assets
from pipelines.defs.ingest.partitions import school_year_partitions
from pipelines.defs.operations import (
    INGEST_JOB,
    MARTS_JOB,
    build_daily_schedule,
    build_raw_files_sensor,
    build_run_status_sensors,
)
from pipelines.defs.publish.assets import build_publish_assets, published_marts
from pipelines.defs.reports.assets import build_report_definitions
from pipelines.defs.resources import WarehouseResource
from pipelines.settings import Settings

__all__ = ["INGEST_JOB", "MARTS_JOB", "build_definitions", "defs"]


def build_definitions() -> dg.Definitions:
    ingest_assets = build_ingest_assets()
    parquet_assets, database_assets = build_publish_assets()
    marts_assets = [warehouse_dbt_models, *parquet_assets, *database_assets]
    ingest_job = dg.define_asset_job(
        INGEST_JOB,
        selection=dg.AssetSelection.assets(*ingest_assets),
        partitions_def=school_year_partitions,
        description="Load one school year's files (all sources, or those the sensor found new or changed), "
        "each behind its contract.",
    )
    marts_job = dg.define_asset_job(
        MARTS_JOB,
        selection=dg.AssetSelection.assets(*marts_assets),
        description="dbt build of every model and test, then publishing of the marts to every enabled target.",
    )
    all_assets = [*ingest_assets, *marts_assets]
    # the yearly справка: its own job, started after each successful marts run (never blocks publishing)
    spravka, reports_job, reports_sensor = build_report_definitions(published_marts(), marts_job)
    return dg.Definitions(
        assets=[*all_assets, spravka],
        jobs=[ingest_job, marts_job, reports_job],
        sensors=[
            build_raw_files_sensor(ingest_job),
            *build_run_status_sensors(
                ingest_job,
                marts_job,
                marts_selection=dg.AssetSelection.assets(warehouse_dbt_models, *parquet_assets),
                always_selection=dg.AssetSelection.assets(*database_assets),
                all_assets=all_assets,
            ),
            *build_alert_sensors(ingest_job, marts_job),  # only when operations.yaml configures `alerts:`
            reports_sensor,
        ],
        schedules=[build_daily_schedule(marts_job)],
        resources={
            "warehouse_files": WarehouseResource(data_dir=str(Settings.from_env().data_dir)),
            "dbt": WarehouseDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable()),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions()
