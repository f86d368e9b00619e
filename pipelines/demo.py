"""`make demo`: generate the sample region on first run, materialise everything, say where to look."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.lib.ingest import ingest_settings
from pipelines.lib.pseudonymise import KEY_ENV, KEY_FILE_ENV, create_key_file
from pipelines.runner import PipelineRunFailed, materialize_all
from pipelines.sample_region import RegionParams, generate_region
from pipelines.settings import PROJECT_ROOT, Settings

TRY_SQL = (
    "select municipality_name, school_year, max(municipal_participants) as participants, "
    "max(municipal_mark_2_pct) as mark_2_pct from '{marts}/school_year_results/*.parquet' "
    "where procedure_id = 'vpr-5-ma' group by all order by 1, 2"
)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _ensure_demo_key(settings: Settings) -> None:
    """The sample region's pupil codes are pseudonymised like real ones: make a key if there is none."""
    if os.environ.get(KEY_ENV) or os.environ.get(KEY_FILE_ENV):
        return
    path = Path(ingest_settings()["default_key_file"]).expanduser()
    if create_key_file(path, settings.data_dir):
        print(f"Pseudonymisation key created for the demo: {path} (keep it secret; it is outside the repository).")


def main() -> None:
    settings = Settings.from_env()
    started = time.perf_counter()
    if not any(settings.raw_dir.glob("*/*/*")):
        params = RegionParams()
        generate_region(params, settings.raw_dir, settings.truth_dir)
        print(f"Sample region generated into {settings.raw_dir} (seed {params.seed}, {params.schools} schools).")
    _ensure_demo_key(settings)
    from pipelines.definitions import defs

    # runs are recorded where the UI (`make ui`) looks, also when started without the Makefile
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    with dg.DagsterInstance.get() as instance:
        try:
            summary = materialize_all(defs, instance, settings, report=print)
        except PipelineRunFailed as exc:
            print(exc, file=sys.stderr)
            sys.exit(1)
    print(
        f"\nDone in {time.perf_counter() - started:.0f} s: school years {', '.join(summary.school_years)}.\n"
        f"  warehouse (DuckDB): {settings.warehouse_path}\n"
        f"  published marts:    {settings.marts_dir}/<mart>/*.parquet (one file per school year)\n"
        f"  analysts' database: {settings.marts_dir}/analyst.duckdb (open read-only with DuckDB {duckdb.__version__})\n"
        f"  quarantine:         {settings.quarantine_dir}\n"
        f'Try:\n  .venv/bin/python -m pipelines.query "{TRY_SQL.format(marts=_shown(settings.marts_dir))}"\n'
        f"UI: make ui  (then http://127.0.0.1:3000)"
    )


if __name__ == "__main__":
    main()
