"""Benchmark inputs, written with the project's own generator (pipelines.sample_region) in the layout the
pipeline reads (raw_dir/<source folder>/<school year>/<file>), for the school registry and the three
pupil-level sources only:

    school_registry/      UTF-8 with BOM, `;`                      one row per school
    vpr_pupil_results/    cp1251, `;`, CRLF (header repeated as line 2 in the second school year)
    oge_pupil_results/    UTF-8 with BOM, `;`
    ege_pupil_results/    cp1251, `;`, CRLF

Sizes:
- `tiny`: one municipality, one school year, ten schools (2,812 ВПР, 554 ОГЭ, 307 ЕГЭ rows) — for the test.
- `region`: the demo's sample region (6 municipalities, 120 schools, five school years) — a middle size.
- `national`: 40,000 schools in 2,000 municipalities, six school years 2020-2021 … 2025-2026, the generator's
  default 40 pupils per grade. Per year (measured for 2020-2021): 12.2 million ВПР rows (grades 4–8, Russian
  and maths), 2.45 million ОГЭ rows (1.22 million grade-9 pupils × Russian and maths), 1.40 million ЕГЭ rows
  (about 0.61 million participants × 2.3 subjects); 824 MB of files, about 15 s to generate.

The ВПР pupil file is streamed a chunk of schools at a time; the ОГЭ and ЕГЭ frames of all the requested
years are simulated together in memory (as the generator does), then written one year at a time and freed.
Peak memory: 1.2 GB for one national year, about 5–6 GB for six (extrapolated).

    python -m bench.data tiny /tmp/bench_helper/tiny/raw
    python -m bench.data national /tmp/bench_helper/national/raw [--years 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import asdict, replace
from pathlib import Path

from bench.common import FOLDERS
from pipelines.sample_region import RegionParams, simulate_region
from pipelines.sample_region.assessments import (
    _simulate_ege,
    _simulate_oge,
    _write_ege_pupil_results,
    _write_oge_pupil_results,
    load_scales,
    write_vpr_pupil_results,
)
from pipelines.sample_region.writers import write_school_registry

SIZES: dict[str, RegionParams] = {
    "tiny": RegionParams(seed=11, municipalities=1, schools=10, years=1, first_year=2024, pupils_per_grade=30),
    "region": RegionParams(),  # the demo's sample region: 6 municipalities, 120 schools, 2020-2021 … 2024-2025
    "national": RegionParams(seed=20240, municipalities=2000, schools=40_000, years=6, first_year=2020),
}


def _data_rows(path: Path) -> int:
    """Lines of a CSV other than its header line, and other than a copy of it on line 2 (a generator quirk)."""
    with path.open("rb") as f:
        header = f.readline()
        second = f.readline()
        rows = int(bool(second)) - int(second == header)
        while block := f.read(1 << 24):
            rows += block.count(b"\n")
    return rows


def generate(size: str, raw_dir: Path, years: int | None = None) -> dict:
    """Write the registry and the ВПР / ОГЭ / ЕГЭ pupil files of `size` (`tiny` or `national`; `years` school
    years instead of the size's own, from its first year) under raw_dir. Returns the parameters, the row counts
    and file sizes per source and school year, the seconds taken and the peak RSS of this process."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    params = SIZES[size] if years is None else replace(SIZES[size], years=years)
    raw_dir = Path(raw_dir)
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(step: str, t0: float) -> float:
        now = time.perf_counter()
        seconds[step] = round(now - t0, 2)
        return now

    t = time.perf_counter()
    truth = simulate_region(params)
    t = lap("simulate", t)
    write_school_registry(truth, raw_dir)
    t = lap("registry", t)
    write_vpr_pupil_results(truth, raw_dir)
    t = lap("vpr", t)
    scales = load_scales()
    rows: dict[str, dict[str, int]] = {}
    oge = _simulate_oge(truth, scales)
    _write_oge_pupil_results(truth, raw_dir, oge)
    rows["oge"] = dict(oge.group_by("school_year").len().sort("school_year").iter_rows())
    del oge
    t = lap("oge", t)
    ege = _simulate_ege(truth, scales)
    _write_ege_pupil_results(truth, raw_dir, ege)
    rows["ege"] = dict(ege.group_by("school_year").len().sort("school_year").iter_rows())
    del ege
    t = lap("ege", t)

    rows["registry"] = dict(truth.school_names.group_by("school_year").len().sort("school_year").iter_rows())
    rows["vpr"] = {}
    sizes: dict[str, dict[str, int]] = {source: {} for source in FOLDERS}
    for source, folder in FOLDERS.items():
        for school_year in params.school_years:
            (path,) = (raw_dir / folder / school_year).glob("*.csv")
            sizes[source][school_year] = path.stat().st_size
            if source == "vpr":
                rows["vpr"][school_year] = _data_rows(path)
    lap("count", t)
    seconds["total"] = round(time.perf_counter() - started, 2)
    return {
        "size": size,
        "params": asdict(params),
        "school_years": params.school_years,
        "schools": truth.schools.height,
        "municipalities": truth.schools["municipality"].n_unique(),
        "rows": {source: rows[source] for source in FOLDERS},
        "bytes": sizes,
        "total_bytes": sum(sum(v.values()) for v in sizes.values()),
        "seconds": seconds,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.data", description=__doc__.split("\n\n")[0])
    p.add_argument("size", choices=sorted(SIZES))
    p.add_argument("raw_dir", type=Path)
    p.add_argument("--years", type=int, default=None, help="number of school years (default: the size's)")
    a = p.parse_args(argv)
    print(json.dumps(generate(a.size, a.raw_dir, a.years), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
