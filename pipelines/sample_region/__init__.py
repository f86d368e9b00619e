"""Deterministic generator of a sample region's raw exports, with its known truth."""

from pathlib import Path

from pipelines.sample_region.assessments import write_assessment_exports
from pipelines.sample_region.model import RegionParams, RegionTruth, simulate_region
from pipelines.sample_region.programme import write_programme_exports
from pipelines.sample_region.writers import write_school_registry, write_truth, write_vpr_mark_statistics


def generate_region(params: RegionParams, raw_dir: Path, truth_dir: Path) -> RegionTruth:
    """Simulate the region and write its exports into raw_dir and its truth into truth_dir."""
    truth = simulate_region(params)
    write_school_registry(truth, raw_dir)
    write_vpr_mark_statistics(truth, raw_dir)
    write_truth(truth, truth_dir)
    write_assessment_exports(truth, raw_dir, truth_dir)
    write_programme_exports(truth, raw_dir, truth_dir)
    return truth


__all__ = ["RegionParams", "RegionTruth", "generate_region", "simulate_region"]
