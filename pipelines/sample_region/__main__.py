"""Command line of the sample region generator: python -m pipelines.sample_region --help"""

import argparse
import time
from pathlib import Path

from pipelines.sample_region import RegionParams, generate_region
from pipelines.settings import Settings


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_env()
    d = RegionParams()
    p = argparse.ArgumentParser(
        prog="python -m pipelines.sample_region",
        description="Generate a sample region's raw exports (real export shapes, docs/sources.md) and its known truth.",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--municipalities", type=int, default=d.municipalities)
    p.add_argument("--schools", type=int, default=d.schools)
    p.add_argument("--years", type=int, default=d.years, help="number of school years")
    p.add_argument("--first-year", type=int, default=d.first_year, help="2020 means the first school year is 2020-2021")
    p.add_argument("--pupils-per-grade", type=int, default=d.pupils_per_grade)
    p.add_argument("--region-code", default=d.region_code)
    p.add_argument("--raw-dir", type=Path, default=settings.raw_dir)
    p.add_argument("--truth-dir", type=Path, default=settings.truth_dir)
    a = p.parse_args(argv)
    params = RegionParams(a.seed, a.municipalities, a.schools, a.years, a.first_year, a.pupils_per_grade, a.region_code)
    started = time.perf_counter()
    truth = generate_region(params, a.raw_dir, a.truth_dir)
    print(
        f"Sample region written to {a.raw_dir} in {time.perf_counter() - started:.1f} s: "
        f"{truth.schools.height} schools, {len(params.school_years)} school years, "
        f"{truth.vpr_marks.height} ВПР school x grade x subject rows; truth in {a.truth_dir}"
    )


if __name__ == "__main__":
    main()
