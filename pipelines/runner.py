"""Materialise the whole pipeline: every school year found under data/raw/, then the marts.

Used by `make demo` and the end-to-end tests; the same jobs run from the Dagster UI.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from pipelines.definitions import INGEST_JOB, MARTS_JOB
from pipelines.defs.ingest.assets import asset_key_for
from pipelines.defs.ingest.partitions import discover_school_years, school_year_partitions
from pipelines.lib.ingest import export_files
from pipelines.lib.sources import load_sources
from pipelines.settings import Settings

# Dagster's console logger at INFO: loads, contract results and failures, without every engine event.
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


class PipelineRunFailed(RuntimeError):
    pass


@dataclass
class RunSummary:
    school_years: list[str]
    run_ids: list[str]


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            messages.append(error.message if error else event.message or "")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            messages.append(event.message or "")
    return "\n".join(messages) or "run failed"


def materialize_all(defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings) -> RunSummary:
    specs = load_sources()
    folders = sorted({spec.folder for spec in specs.values()})
    years = discover_school_years(settings.raw_dir, folders)
    if not years:
        raise PipelineRunFailed(f"no school-year folders under {settings.raw_dir}/<source>/")
    known = set(instance.get_dynamic_partitions(school_year_partitions.name))
    instance.add_dynamic_partitions(school_year_partitions.name, [y for y in years if y not in known])

    run_ids = []
    for school_year in years:
        # the sources that have a file for this school year (not every family arrives every year)
        present = [asset_key_for(s) for s in specs.values() if export_files(s, settings, school_year)]
        if not present:
            continue
        result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
            partition_key=school_year,
            instance=instance,
            raise_on_error=False,
            run_config=RUN_CONFIG,
            asset_selection=present,
        )
        run_ids.append(result.run_id)
        if not result.success:
            raise PipelineRunFailed(f"ingest of {school_year} failed:\n{_failure_message(result)}")
    result = defs.resolve_job_def(MARTS_JOB).execute_in_process(
        instance=instance, raise_on_error=False, run_config=RUN_CONFIG
    )
    run_ids.append(result.run_id)
    if not result.success:
        raise PipelineRunFailed(f"building the marts failed:\n{_failure_message(result)}")
    return RunSummary(years, run_ids)
