"""Materialise the whole pipeline in this process: every school year found under data/raw/, then the marts.

Used by `make demo` and the tests; the same jobs run from the Dagster UI and from the sensor. The years and
sources come from the same scan the sensor makes (here with nothing seen before, so every file counts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from pipelines.defs.ingest.assets import asset_key_for
from pipelines.defs.ingest.partitions import school_year_partitions
from pipelines.defs.operations import INGEST_JOB, MARTS_JOB
from pipelines.defs.run_summary import RunSummary, summarise_run
from pipelines.lib.contracts import build_data_docs
from pipelines.lib.raw_files import scan_raw_files
from pipelines.lib.sources import load_sources
from pipelines.settings import Settings

# Dagster's console logger at INFO: loads, contract results and failures, without every engine event.
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


class PipelineRunFailed(RuntimeError):
    pass


@dataclass
class PipelineRuns:
    school_years: list[str]
    run_ids: list[str] = field(default_factory=list)
    summaries: list[RunSummary] = field(default_factory=list)


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            messages.append(error.message if error else event.message or "")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            messages.append(event.message or "")
    return "\n".join(messages) or "run failed"


def materialize_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    report: Callable[[str], None] | None = None,
) -> PipelineRuns:
    """Ingest every school year's files, then build and publish the marts. `report` receives each run's
    summary (files loaded, rows, rejected, quarantined, marts published)."""
    specs = load_sources()
    scan = scan_raw_files(settings, specs)
    if not scan.changed:
        raise PipelineRunFailed(f"no school-year folders with files under {settings.raw_dir}/<source>/")
    years = list(scan.changed)
    known = set(instance.get_dynamic_partitions(school_year_partitions.name))
    instance.add_dynamic_partitions(school_year_partitions.name, [y for y in years if y not in known])

    runs = PipelineRuns(years)

    def finished(result: dg.ExecuteInProcessResult) -> None:
        runs.run_ids.append(result.run_id)
        runs.summaries.append(summarise_run(instance, result.run_id))
        if report:
            report(runs.summaries[-1].message())

    for school_year, sources in scan.changed.items():
        result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
            partition_key=school_year,
            instance=instance,
            raise_on_error=False,
            run_config=RUN_CONFIG,
            asset_selection=[asset_key_for(specs[name]) for name in sources],
        )
        finished(result)
        if not result.success:
            build_data_docs(settings.data_dir)
            raise PipelineRunFailed(f"ingest of {school_year} failed:\n{_failure_message(result)}")
    build_data_docs(settings.data_dir)  # every year's validations, rebuilt once (a failed contract rebuilt them at once)
    result = defs.resolve_job_def(MARTS_JOB).execute_in_process(
        instance=instance, raise_on_error=False, run_config=RUN_CONFIG
    )
    finished(result)
    if not result.success:
        raise PipelineRunFailed(f"building the marts failed:\n{_failure_message(result)}")
    return runs
