"""Assessment exports of the sample region beyond «Статистика по отметкам»: ВПР score distributions and
journal comparison, pupil-level ВПР / ОГЭ / ЕГЭ files, РЦОИ school-level ОГЭ / ЕГЭ workbooks."""

from __future__ import annotations

from pathlib import Path

from pipelines.sample_region.model import RegionTruth


def write_assessment_exports(truth: RegionTruth, raw_dir: Path, truth_dir: Path) -> list[Path]:
    """Write every assessment family; return the files written."""
    return []
