"""The generator is deterministic, writes the real export shapes, and its truth has the promised groups."""

from pathlib import Path

import openpyxl
import polars as pl

from pipelines.sample_region import RegionParams, simulate_region
from pipelines.sample_region.model import DECLINING, IMPROVING, PERSISTENTLY_LOW, STABLE

from .conftest import SMALL_REGION, Region


def test_same_seed_same_region_other_seed_other_region():
    a, b = simulate_region(SMALL_REGION), simulate_region(SMALL_REGION)
    assert a.vpr_marks.equals(b.vpr_marks) and a.schools.equals(b.schools)
    c = simulate_region(RegionParams(**{**SMALL_REGION.__dict__, "seed": 8}))
    assert not a.vpr_marks.equals(c.vpr_marks)


def test_default_region_has_every_trajectory_and_one_rename():
    truth = simulate_region(RegionParams())
    assert truth.schools.height == 120
    assert truth.schools["municipality"].n_unique() == 6
    profiles = dict(truth.schools.group_by("profile").len().iter_rows())
    assert profiles[STABLE] > truth.schools.height / 2
    assert profiles[PERSISTENTLY_LOW] >= 3 and profiles[IMPROVING] >= 2 and profiles[DECLINING] >= 2
    renamed = truth.schools.filter(pl.col("renamed_in_year").is_not_null())
    assert renamed.height == 1
    names = truth.school_names.filter(pl.col("school_login") == renamed["school_login"][0])
    assert names["school_name"].n_unique() == 2


def _share_of_2(truth, profile: str) -> dict[str, float]:
    marks = truth.vpr_marks.join(truth.schools, on="school_login").filter(pl.col("profile") == profile)
    per_year = marks.group_by("school_year").agg(pl.col("mark_2").sum() / pl.col("participants").sum() * 100)
    return dict(per_year.sort("school_year").iter_rows())


def test_trajectories_show_in_the_marks():
    truth = simulate_region(RegionParams())
    years = RegionParams().school_years
    low, up, down, stable = (_share_of_2(truth, p) for p in (PERSISTENTLY_LOW, IMPROVING, DECLINING, STABLE))
    assert all(low[y] >= 35 for y in years)
    assert up[years[0]] >= 30 and up[years[-1]] <= 20
    assert down[years[0]] <= 20 and down[years[-1]] >= 35
    assert all(stable[y] <= 15 for y in years)


def test_results_follow_social_context():
    truth = simulate_region(RegionParams())
    stable = truth.vpr_marks.join(truth.schools, on="school_login").filter(pl.col("profile") == STABLE)
    by_level = dict(
        stable.group_by("social_level").agg(pl.col("mark_2").sum() / pl.col("participants").sum()).iter_rows()
    )
    assert by_level["low"] > by_level["medium"] > by_level["high"]


def test_vpr_export_matches_truth(tmp_path: Path):
    region = Region(tmp_path, SMALL_REGION)
    year = SMALL_REGION.school_years[1]
    path = next((region.settings.raw_dir / "vpr_mark_statistics" / year).glob("*.xlsx"))
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "Статистика по отметкам"  # title rows above the header, as ФИС ОКО has them
    header = rows[3]
    assert header[:7] == ("Год", "Класс", "Предмет", "Муниципалитет", "Логин", "ОО", "Кол-во участников")
    data = rows[4:]
    truth = region.truth.vpr_marks.filter(pl.col("school_year") == year)
    assert len(data) == truth.height
    by_key = {(r["school_login"], r["grade"], r["subject"]): r for r in truth.iter_rows(named=True)}
    for row in data:
        t = by_key[(row[4], row[1], row[2])]
        assert row[0] == int(year[-4:]) and row[6] == t["participants"]
        assert abs(row[7] - 100 * t["mark_2"] / t["participants"]) <= 0.005
