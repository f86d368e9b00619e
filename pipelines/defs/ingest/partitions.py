"""School years as Dagster partitions. A school year exists once a folder for it appears under data/raw/."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{4})$")

school_year_partitions = dg.DynamicPartitionsDefinition(name="school_year")


def is_school_year(name: str) -> bool:
    m = SCHOOL_YEAR.match(name)
    return bool(m) and int(m.group(2)) == int(m.group(1)) + 1


def discover_school_years(raw_dir: Path, folders: list[str]) -> list[str]:
    """School years that have a folder under any source's folder in raw_dir, oldest first."""
    years = {
        p.name for folder in folders for p in (raw_dir / folder).glob("*") if p.is_dir() and is_school_year(p.name)
    }
    return sorted(years)
