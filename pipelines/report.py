"""`make report` (after `make demo`): the справки of every school year in the published marts, DOCX and PDF.

Materialises the asset reports/spravka for each school year, in this process, recorded in the same Dagster
instance as `make demo` (dagster_home/), and prints where the files are:

    data/reports/<school year>/<municipality>.docx|.pdf and Регион.docx|.pdf

    .venv/bin/python -m pipelines.report [school year …]
    .venv/bin/python -m pipelines.report --images [school year]   # page images for docs/images/ (make report-images)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from pipelines.settings import PROJECT_ROOT, Settings

IMAGE_DPI = 60
CHART_MARK = "; диаграмма;"  # the source line under a chart says so


def page_images(settings: Settings, school_year: str, out_dir: Path) -> list[Path]:
    """PNGs of the regional справка of `school_year`: its first page and its first page with a chart."""
    pdf = settings.data_dir / "reports" / school_year / "Регион.pdf"
    if not pdf.exists():
        raise FileNotFoundError(f"{pdf}: нет файла, сначала make report / missing, run make report first")
    pages = int(re.search(r"Pages:\s+(\d+)", _run(["pdfinfo", str(pdf)])).group(1))
    chart_page = next(
        (
            n
            for n in range(1, pages + 1)
            if CHART_MARK in " ".join(_run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"]).split())
        ),
        min(2, pages),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"spravka-{school_year}-page-*.png"):
        old.unlink()  # pages of an earlier layout
    made = []
    for n in sorted({1, chart_page}):
        stem = out_dir / f"spravka-{school_year}-page-{n}"
        _run(["pdftoppm", "-r", str(IMAGE_DPI), "-png", "-f", str(n), "-l", str(n), "-singlefile", str(pdf), str(stem)])
        made.append(stem.with_suffix(".png"))
    return made


def _run(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = Settings.from_env()
    if argv[:1] == ["--images"]:
        year = argv[1] if len(argv) > 1 else "2022-2023"
        for path in page_images(settings, year, PROJECT_ROOT / "docs" / "images"):
            print(path.relative_to(PROJECT_ROOT))
        return 0
    from pipelines.definitions import defs
    from pipelines.defs.ingest.partitions import school_year_partitions
    from pipelines.defs.reports.assets import REPORTS_JOB
    from pipelines.reports.content import school_years_in_marts
    from pipelines.runner import RUN_CONFIG, _failure_message

    years = school_years_in_marts(settings.marts_dir)
    if not years:
        print(
            f"В {settings.marts_dir} нет опубликованных витрин: сначала make demo. / No published marts in "
            f"{settings.marts_dir}: run make demo first.",
            file=sys.stderr,
        )
        return 1
    if argv:
        unknown = sorted(set(argv) - set(years))
        if unknown:
            print(
                f"Нет в витринах / not in the marts: {', '.join(unknown)} (есть / present: {', '.join(years)})",
                file=sys.stderr,
            )
            return 1
        years = [y for y in years if y in argv]
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    started = time.perf_counter()
    failed = []
    with dg.DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions(school_year_partitions.name))
        instance.add_dynamic_partitions(school_year_partitions.name, [y for y in years if y not in known])
        job = defs.resolve_job_def(REPORTS_JOB)
        for year in years:
            result = job.execute_in_process(
                partition_key=year, instance=instance, raise_on_error=False, run_config=RUN_CONFIG
            )
            if not result.success:
                failed.append(year)
                print(f"{year}: справки не построены / reports failed:\n{_failure_message(result)}", file=sys.stderr)
    reports = settings.data_dir / "reports"
    print(f"\nСправки / reports ({time.perf_counter() - started:.0f} s):")
    for year in years:
        stems = sorted(p.stem for p in (reports / year).glob("*.docx"))
        pdfs = len(list((reports / year).glob("*.pdf")))
        print(f"  {reports / year}/: DOCX {len(stems)}, PDF {pdfs}: {', '.join(stems)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
