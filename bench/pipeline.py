"""(P) The pipeline, end to end, as the sensor runs it: an ingest run per new school year (every file behind its
contract, pupil codes pseudonymised), then `build_and_publish_marts` (dbt build, publishing to Parquet and the
analysts' DuckDB file). Dagster's definitions are loaded in this process and the runs execute in it, exactly as
`make demo` does; dbt runs as its subprocess.

    python -m bench.pipeline --data DIR [--years 2025-2026,...]     # prints a JSON line of timings

`--years` (default: every school year under DIR/raw) are the years whose files are new: the others are taken
as already loaded (the sensor would not request them).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _seconds(instance, run_id: str) -> float:
    stats = instance.get_run_stats(run_id)
    return float(stats.end_time - stats.start_time)


def run(data_dir: Path, school_years: list[str] | None = None, targets: str = "parquet,analyst_duckdb") -> dict:
    os.environ["EDUWH_DATA_DIR"] = str(data_dir)
    os.environ["EDUWH_PUBLISH_TARGETS"] = targets
    started = time.perf_counter()
    import dagster as dg

    from pipelines.definitions import INGEST_JOB, MARTS_JOB, build_definitions
    from pipelines.defs.ingest.assets import asset_key_for
    from pipelines.defs.ingest.partitions import school_year_partitions
    from pipelines.lib.ingest import export_files
    from pipelines.lib.raw_files import scan_raw_files
    from pipelines.lib.sources import load_sources
    from pipelines.runner import RUN_CONFIG
    from pipelines.settings import Settings

    settings = Settings(data_dir)
    specs = load_sources()
    defs = build_definitions()
    startup = time.perf_counter() - started
    if school_years:  # the sensor's cursor knows the older files: only these years' files are looked at
        sources = {y: [s.name for s in specs.values() if export_files(s, settings, y)] for y in school_years}
    else:
        sources = scan_raw_files(settings, specs).changed
    years = list(sources)
    out: dict = {"school_years": years, "startup_seconds": round(startup, 2), "ingest_runs": [], "loads": []}
    validation = read = load = 0.0
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(school_year_partitions.name, years)
        for year in years:
            result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
                partition_key=year,
                instance=instance,
                run_config=RUN_CONFIG,
                asset_selection=[asset_key_for(specs[name]) for name in sources[year]],
            )
            for event in result.get_asset_materialization_events():
                metadata = event.materialization.metadata
                seconds = {
                    phase: float(metadata[f"seconds_{phase}"].value) if f"seconds_{phase}" in metadata else 0.0
                    for phase in ("read", "validate", "load")
                }
                read, validation, load = read + seconds["read"], validation + seconds["validate"], load + seconds["load"]
                out["loads"].append(
                    {"asset": event.asset_key.to_user_string(), "school_year": year}
                    | {k: round(v, 2) for k, v in seconds.items()}
                )
            out["ingest_runs"].append({"school_year": year, "seconds": round(_seconds(instance, result.run_id), 2)})
        result = defs.resolve_job_def(MARTS_JOB).execute_in_process(instance=instance, run_config=RUN_CONFIG)
        marts_seconds = _seconds(instance, result.run_id)
        dbt_seconds = sum(
            float(e.event_specific_data.duration_ms or 0) / 1000
            for e in result.all_events
            if e.event_type_value == "STEP_SUCCESS" and e.step_key == "warehouse_dbt_models"
        )
        # what the Parquet publication wrote and kept (parts are school years of a mart)
        parquet = {"parts_written": 0, "parts_kept": 0, "rows_written": 0}
        for event in result.get_asset_materialization_events():
            metadata = event.materialization.metadata
            databases = ("analyst_database", "postgres_marts")
            if event.asset_key.path[0] == "published" and event.asset_key.path[-1] not in databases:
                for key in parquet:
                    parquet[key] += int(metadata[key].value)
        out["parquet_published"] = parquet
    ingest_seconds = sum(r["seconds"] for r in out["ingest_runs"])
    out |= {
        "ingest_seconds": round(ingest_seconds, 2),
        "read_seconds": round(read, 2),
        "validation_seconds": round(validation, 2),
        "swap_seconds": round(load, 2),
        "marts_seconds": round(marts_seconds, 2),
        "dbt_seconds": round(dbt_seconds, 2),
        "publish_seconds": round(marts_seconds - dbt_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="data directory (its raw/ holds the files)")
    parser.add_argument("--years", default="", help="comma-separated school years to load (default: all)")
    args = parser.parse_args()
    years = [y for y in args.years.split(",") if y] or None
    print(json.dumps(run(args.data.resolve(), years)))


if __name__ == "__main__":
    main()
