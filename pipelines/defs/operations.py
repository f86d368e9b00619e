"""Running unattended: the sensor on data/raw/, the daily schedule, and what happens after each run.

    new or changed file in data/raw/<source>/<year>/  --raw_files_sensor-->  partition <year> added (if new),
        ingest run for <year> with exactly the changed sources (and, after a registry change, the files
        matched against it)
    ingest run ends  --marts_after_ingest / marts_after_partial_ingest-->  run summary in the run's log, the
        GE Data Docs rebuilt with the run's validations;
        if it loaded anything: dbt build + publishing of every mart except those downstream of a quarantined
        file (they keep their last good version until the file is fixed)
    06:00 every day  --daily_marts_refresh-->  dbt build + publishing of everything

Settings are in pipelines/config/operations.yaml.
"""

from __future__ import annotations

import json

import dagster as dg

from pipelines.defs.ingest.assets import asset_key_for
from pipelines.defs.ingest.partitions import school_year_partitions
from pipelines.defs.resources import WarehouseResource
from pipelines.defs.run_summary import summarise_run
from pipelines.lib.contracts import build_data_docs
from pipelines.lib.raw_files import scan_raw_files
from pipelines.lib.sources import load_sources
from pipelines.settings import Settings, operations_config, operations_settings

INGEST_JOB = "ingest_school_year"
MARTS_JOB = "build_and_publish_marts"


def _status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def build_raw_files_sensor(ingest_job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    config = operations_config()["raw_files_sensor"]

    @dg.sensor(
        name="raw_files_sensor",
        job=ingest_job,
        minimum_interval_seconds=int(config["minimum_interval_seconds"]),
        default_status=_status(config.get("running", True)),
        description="New or changed files in data/raw/ (by SHA-256) → an ingest run per school year for "
        "exactly those sources; a new school year becomes a new partition.",
    )
    def raw_files_sensor(context: dg.SensorEvaluationContext, warehouse_files: WarehouseResource):
        specs = load_sources()
        previous = json.loads(context.cursor) if context.cursor else {}
        scan = scan_raw_files(warehouse_files.settings, specs, previous, float(config["settle_seconds"]))
        for path in scan.settling:
            context.log.info(f"{path}: файл ещё записывается, ждём / still being written, waiting")
        if not scan.changed:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    f"нет новых или изменённых файлов / no new or changed files "
                    f"({len(scan.seen)} known, {scan.hashed} hashed)"
                ),
                cursor=json.dumps(scan.seen, sort_keys=True),
            )
        known = set(context.instance.get_dynamic_partitions(school_year_partitions.name))
        new_years = [year for year in scan.changed if year not in known]
        requests = []
        for school_year, sources in scan.changed.items():
            context.log.info(f"{school_year}: новые или изменённые файлы / new or changed files: {', '.join(sources)}")
            requests.append(
                dg.RunRequest(
                    run_key=scan.fingerprint(school_year),
                    partition_key=school_year,
                    asset_selection=[asset_key_for(specs[name]) for name in sources],
                    tags={"eduwh/trigger": "raw_files_sensor", "eduwh/sources": ",".join(sources)},
                )
            )
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[school_year_partitions.build_add_request(new_years)] if new_years else [],
            cursor=json.dumps(scan.seen, sort_keys=True),
        )

    return raw_files_sensor


def marts_after(
    context: dg.RunStatusSensorContext,
    marts_selection: dg.AssetSelection,
    always_selection: dg.AssetSelection,
    defs_assets: list,
) -> dg.RunRequest | dg.SkipReason:
    """Log the ingest run's summary in its own log; if it loaded anything, refresh the marts that do not
    depend on a file quarantined in that run. The database targets (always_selection) are rebuilt from the
    Parquet files: the refreshed marts, and the last good version of the others."""
    run = context.dagster_run
    summary = summarise_run(context.instance, run.run_id)
    context.instance.report_engine_event(summary.message(), run)
    build_data_docs(Settings.from_env().data_dir)  # the run's validations in the Data Docs: once per run
    if not summary.loaded_anything:
        return dg.SkipReason(f"run {run.run_id[:8]} loaded nothing new: marts are current")
    selection = marts_selection
    if summary.failed_assets:
        selection = marts_selection - dg.AssetSelection.assets(*summary.failed_assets).downstream()
    if not selection.resolve(defs_assets):
        return dg.SkipReason("every mart depends on a quarantined file: nothing to refresh")
    keys = (selection | always_selection).resolve(defs_assets)
    return dg.RunRequest(
        run_key=f"marts-after-{run.run_id}",
        asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
        tags={"eduwh/trigger": f"ingest run {run.run_id}"},
    )


def build_run_status_sensors(
    ingest_job: dg.UnresolvedAssetJobDefinition,
    marts_job: dg.UnresolvedAssetJobDefinition,
    marts_selection: dg.AssetSelection,
    always_selection: dg.AssetSelection,
    all_assets: list,
) -> list[dg.SensorDefinition]:
    running = _status(operations_config()["raw_files_sensor"].get("running", True))
    interval = operations_settings().run_end_sensors.minimum_interval_seconds

    @dg.run_status_sensor(
        name="marts_after_ingest",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[ingest_job],
        request_job=marts_job,
        default_status=running,
        minimum_interval_seconds=interval,
        description="After an ingest run: its summary, then the marts rebuilt and published if it loaded anything.",
    )
    def marts_after_ingest(context: dg.RunStatusSensorContext):
        return marts_after(context, marts_selection, always_selection, all_assets)

    @dg.run_status_sensor(
        name="marts_after_partial_ingest",
        run_status=dg.DagsterRunStatus.FAILURE,
        monitored_jobs=[ingest_job],
        request_job=marts_job,
        default_status=running,
        minimum_interval_seconds=interval,
        description="After an ingest run in which a file was quarantined: its summary, then the marts that do "
        "not depend on that file rebuilt and published.",
    )
    def marts_after_partial_ingest(context: dg.RunStatusSensorContext):
        return marts_after(context, marts_selection, always_selection, all_assets)

    def log_summary(context: dg.RunStatusSensorContext) -> None:
        summary = summarise_run(context.instance, context.dagster_run.run_id)
        context.instance.report_engine_event(summary.message(), context.dagster_run)

    @dg.run_status_sensor(
        name="marts_run_summary",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[marts_job],
        default_status=running,
        minimum_interval_seconds=interval,
        description="After a marts run: models built and marts published, in the run's log.",
    )
    def marts_run_summary(context: dg.RunStatusSensorContext):
        log_summary(context)

    @dg.run_status_sensor(
        name="marts_failed_run_summary",
        run_status=dg.DagsterRunStatus.FAILURE,
        monitored_jobs=[marts_job],
        default_status=running,
        minimum_interval_seconds=interval,
        description="After a failed marts run: what was built and published before it stopped, in the run's log.",
    )
    def marts_failed_run_summary(context: dg.RunStatusSensorContext):
        log_summary(context)

    return [marts_after_ingest, marts_after_partial_ingest, marts_run_summary, marts_failed_run_summary]


def build_daily_schedule(marts_job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    config = operations_config()["daily_marts_refresh"]
    return dg.ScheduleDefinition(
        name="daily_marts_refresh",
        job=marts_job,
        cron_schedule=config["cron"],
        execution_timezone=config["timezone"],
        default_status=dg.DefaultScheduleStatus.RUNNING
        if config.get("running", True)
        else dg.DefaultScheduleStatus.STOPPED,
        description="Every day: dbt build of every model and test, then publishing of every mart.",
    )
