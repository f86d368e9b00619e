"""school_year_results (ВПР, ОГЭ, ЕГЭ) and school_dynamics against the generator's truth for the small region."""

import csv
from collections import defaultdict

import duckdb
import polars as pl
import pytest

from pipelines.sample_region.model import DECLINING, PERSISTENTLY_LOW, STABLE
from pipelines.settings import DBT_PROJECT_DIR

from .conftest import SMALL_REGION

VPR_SUBJECT_CODES = {"РУ": "ru", "МА": "ma"}
EGE_SUBJECT_CODES = {
    "Русский язык": "ru",
    "Математика профильная": "map",
    "Физика": "ph",
    "Обществознание": "so",
    "Информатика": "in",
}
OGE_SUBJECT_CODES = {"Русский язык": "ru", "Математика": "ma"}


@pytest.fixture(scope="module")
def marts(loaded_region):
    region, _, _ = loaded_region
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:
        results = con.sql("select * from marts.school_year_results").pl()
        dynamics = con.sql("select * from marts.school_dynamics").pl()
    return results, dynamics


def _count(pct: float | None, n: int) -> int | None:
    return None if pct is None else round(pct * n / 100)


def _by_key(results: pl.DataFrame, prefix: str) -> dict:
    rows = results.filter(pl.col("procedure_id").str.starts_with(prefix)).to_dicts()
    return {(r["school_login"], r["school_year"], r["procedure_id"]): r for r in rows}


def test_oge_rows_equal_the_pupil_level_truth(loaded_region, marts):
    region, _, _ = loaded_region
    results, _ = marts
    truth = pl.read_parquet(region.settings.truth_dir / "oge_pupil_summary.parquet").to_dicts()
    mart = _by_key(results, "oge-")
    assert len(mart) == len(truth) > 0
    for t in truth:
        r = mart[(t["school_login"], t["school_year"], f"oge-9-{OGE_SUBJECT_CODES[t['subject']]}")]
        n = t["participants"]
        assert r["source_level"] == "pupil" and r["participants"] == n
        counts = [_count(r[f"mark_{k}_pct"], n) for k in (2, 3, 4, 5)]
        assert counts == [t["mark_2"], t["mark_3"], t["mark_4"], t["mark_5"]]
        assert _count(r["quality_rate_pct"], n) == t["mark_4_5"]
        assert r["below_minimum_pct"] == r["mark_2_pct"]
        assert r["mean_mark"] == pytest.approx(t["mean_mark"], abs=0.006)
        assert r["mean_primary_score"] == pytest.approx(t["mean_primary_score"], abs=0.006)


def test_ege_rows_equal_the_pupil_level_truth(loaded_region, marts):
    region, _, _ = loaded_region
    results, _ = marts
    truth = pl.read_parquet(region.settings.truth_dir / "ege_pupil_summary.parquet").to_dicts()
    mart = _by_key(results, "ege-")
    pupil_rows = {k: r for k, r in mart.items() if r["source_level"] == "pupil"}
    assert len(pupil_rows) == len(truth) > 0
    for t in truth:
        r = pupil_rows[(t["school_login"], t["school_year"], f"ege-11-{EGE_SUBJECT_CODES[t['subject']]}")]
        n = t["participants"]
        assert r["participants"] == n and r["min_test_score"] == t["min_test_score"]
        assert _count(r["below_minimum_pct"], n) == t["below_minimum"]
        assert (r["high_80_99_count"], r["score_100_count"]) == (t["high_80_99"], t["score_100"])
        assert r["mean_test_score"] == pytest.approx(t["mean_test_score"], abs=0.006)
        assert r["mark_2_pct"] is None
    # the РЦОИ report lists schools without participants in a subject: they give no row
    assert all(r["participants"] > 0 for r in mart.values())


def test_vpr_rows_come_from_the_pupil_files(loaded_region, marts):
    region, _, _ = loaded_region
    results, _ = marts
    truth = pl.read_parquet(region.settings.truth_dir / "vpr_pupil_summary.parquet").to_dicts()
    mart = _by_key(results, "vpr-")
    assert len(mart) == len(truth) > 0
    for t in truth:
        r = mart[(t["school_login"], t["school_year"], f"vpr-{t['grade']}-{VPR_SUBJECT_CODES[t['subject_code']]}")]
        n = t["participants"]
        assert r["source_level"] == "pupil" and r["participants"] == n
        assert [_count(r[f"mark_{k}_pct"], n) for k in (2, 3, 4, 5)] == [t[f"mark_{k}"] for k in (2, 3, 4, 5)]
        assert r["mean_primary_score"] == pytest.approx(t["mean_score"], abs=0.006)


def test_regional_values_are_shares_among_all_participants(marts):
    results, _ = marts
    ege = results.filter(pl.col("mean_test_score").is_not_null())
    for (year, proc), group in ege.group_by("school_year", "procedure_id"):
        expected = (group["mean_test_score"] * group["participants"]).sum() / group["participants"].sum()
        assert group["regional_mean_test_score"][0] == pytest.approx(expected, abs=0.01), (year, proc)


def test_persistently_low_schools_have_a_third_of_marks_2_in_vpr(loaded_region, marts):
    region, _, _ = loaded_region
    results, _ = marts
    vpr = (
        results.filter(pl.col("assessment_name") == "ВПР")
        .join(region.truth.schools.select("school_login", "profile"), on="school_login")
        .group_by("profile", "school_login", "school_year")
        .agg(((pl.col("mark_2_pct") * pl.col("participants")).sum() / pl.col("participants").sum()).alias("m2"))
    )
    low = vpr.filter(pl.col("profile") == PERSISTENTLY_LOW)
    assert low.height == low["school_login"].n_unique() * len(SMALL_REGION.school_years) > 0
    assert low["m2"].min() >= 30
    assert vpr.filter(pl.col("profile") == STABLE)["m2"].median() < 20


def test_declining_schools_get_the_negative_dynamics_flag_in_the_last_year(loaded_region, marts):
    region, _, _ = loaded_region
    _, dynamics = marts
    last_year = SMALL_REGION.school_years[-1]
    rows = (
        dynamics.filter(
            (pl.col("indicator") == "mark_2_pct")
            & (pl.col("assessment_name") == "ВПР")
            & (pl.col("school_year") == last_year)
            & pl.col("comparable")
        )
        .join(region.truth.schools.select("school_login", "profile"), on="school_login")
        .group_by("profile", "school_login")
        .agg(pl.col("is_negative_dynamics").mean().alias("rate"))
    )
    declining = rows.filter(pl.col("profile") == DECLINING)
    stable = rows.filter(pl.col("profile") == STABLE)
    assert declining.height > 0 and declining["rate"].min() >= 0.5
    assert stable["rate"].mean() < 0.25
    # no flag in the first year: nothing to compare with
    first = dynamics.filter(pl.col("school_year") == SMALL_REGION.school_years[0])
    assert first["previous_value"].null_count() == first.height and not first["is_negative_dynamics"].any()


def test_vpr_years_with_different_scales_are_not_compared(marts):
    _, dynamics = marts
    maxima = {}
    with (DBT_PROJECT_DIR / "seeds" / "vpr_mark_scales.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            code = VPR_SUBJECT_CODES[r["subject_code"]]
            maxima[(r["school_year"], f"vpr-{r['grade']}-{code}")] = int(r["max_primary_score"])
    seen = defaultdict(int)
    rows = dynamics.filter(
        pl.col("procedure_id").str.starts_with("vpr-") & pl.col("previous_school_year").is_not_null()
    ).to_dicts()
    for r in rows:
        same = maxima[(r["school_year"], r["procedure_id"])] == maxima[(r["previous_school_year"], r["procedure_id"])]
        assert r["comparable"] is same
        assert (r["previous_value"] is None) is (not same)
        if not same:
            assert r["change"] is None and r["trend_3y"] is None and r["is_negative_dynamics"] is False
        seen[same] += 1
    assert seen[True] > 0 and seen[False] > 0, "the sample years should include a change of scale"
