"""Context and programme exports of the sample region: ИСБШ and social passports, ФИС ОКО context,
official lists and bias markers, monitoring surveys, mentoring register, teacher diagnostics,
olympiads, network programmes."""

from __future__ import annotations

from pathlib import Path

from pipelines.sample_region.model import RegionTruth


def write_programme_exports(truth: RegionTruth, raw_dir: Path, truth_dir: Path) -> list[Path]:
    """Write every context and programme family; return the files written."""
    return []
