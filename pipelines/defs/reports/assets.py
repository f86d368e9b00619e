"""The yearly справка (pipelines/reports/), as a Dagster asset downstream of the published marts it reads:

    published/<mart> (data/marts/<mart>/*.parquet)  -->  reports/spravka [school year]
        data/reports/<school year>/<municipality>.docx|.pdf and Регион.docx|.pdf

Its own job, `build_reports`, started by the sensor `reports_after_marts` after every successful
`build_and_publish_marts` run, one run per school year in the marts: a failure here never blocks publishing.
"""

import dagster as dg

from pipelines.defs.ingest.partitions import school_year_partitions
from pipelines.defs.resources import WarehouseResource
from pipelines.lib.publish import MartSpec
from pipelines.reports.content import MARTS_READ, school_years_in_marts
from pipelines.reports.render import ReportError, build_year
from pipelines.settings import Settings, operations_config

REPORTS_JOB = "build_reports"
SPRAVKA_KEY = dg.AssetKey(["reports", "spravka"])


def build_spravka_asset(marts: list[MartSpec]) -> dg.AssetsDefinition:
    from pipelines.defs.publish.assets import parquet_key

    read = [parquet_key(m) for m in marts if m.name in MARTS_READ]

    @dg.asset(
        key=SPRAVKA_KEY,
        deps=read,
        partitions_def=school_year_partitions,
        group_name="reports",
        kinds={"docx", "pdf"},
        description="Справка по итогам мониторинга за учебный год: data/reports/<год>/<МО>.docx|.pdf и "
        "Регион.docx|.pdf, из опубликованных витрин (скрытые ячейки остаются скрытыми). Шаблон: "
        "pipelines/reports/templates/spravka.docx.",
    )
    def spravka(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource) -> dg.MaterializeResult:
        settings = warehouse_files.settings
        school_year = context.partition_key
        try:
            built = build_year(settings, school_year, log=context.log.info)
        except ReportError as exc:
            raise dg.Failure(str(exc)) from exc
        return dg.MaterializeResult(
            metadata={
                "school_year": school_year,
                "directory": str(built.directory),
                "docx": len(built.docx),
                "pdf": len(built.pdf),
                "files": [p.name for p in [*built.docx, *built.pdf]],
                "seconds": round(built.seconds, 1),
            }
        )

    return spravka


def build_report_definitions(
    marts: list[MartSpec], marts_job: "dg.UnresolvedAssetJobDefinition"
) -> "tuple[dg.AssetsDefinition, dg.UnresolvedAssetJobDefinition, dg.SensorDefinition]":
    spravka = build_spravka_asset(marts)
    job = dg.define_asset_job(
        REPORTS_JOB,
        selection=dg.AssetSelection.assets(spravka),
        partitions_def=school_year_partitions,
        description="Справки за учебный год (DOCX и PDF) из опубликованных витрин.",
    )
    running = operations_config()["raw_files_sensor"].get("running", True)

    @dg.run_status_sensor(
        name="reports_after_marts",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[marts_job],
        request_job=job,
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description="After a successful build_and_publish_marts run: a build_reports run per school year in the "
        "marts (a failed report never blocks publishing).",
    )
    def reports_after_marts(context: dg.RunStatusSensorContext):
        known = set(context.instance.get_dynamic_partitions(school_year_partitions.name))
        years = [y for y in school_years_in_marts(Settings.from_env().marts_dir) if y in known]
        if not years:
            return dg.SkipReason("в витринах нет учебных годов / no school years in the marts")
        run_id = context.dagster_run.run_id
        return [
            dg.RunRequest(run_key=f"reports-{run_id}-{year}", partition_key=year, tags={"eduwh/trigger": run_id})
            for year in years
        ]

    return spravka, job, reports_after_marts
