"""Objectivity markers against the generator's truth (small region): official markers exactly as the generator made
them; internal markers only where the generator guarantees something (see pipelines/sample_region/assessments.py)."""

import duckdb
import polars as pl
import pytest

from pipelines.sample_region.model import DECLINING, PERSISTENTLY_LOW

OFFICIAL_COLUMNS = {"m_4_ru": "vpr-4-ru", "m_4_ma": "vpr-4-ma", "m_5_ru": "vpr-5-ru", "m_5_ma": "vpr-5-ma"}


@pytest.fixture(scope="module")
def markers(loaded_region):
    region, _, _ = loaded_region
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:
        return con.sql("select * from marts.objectivity_markers").pl()


@pytest.fixture(scope="module")
def profiles(loaded_region):
    """Every login a school had (first and after re-numbering) -> the generator's profile."""
    region, _, _ = loaded_region
    schools = pl.read_parquet(region.settings.truth_dir / "schools.parquet")
    renumbered = schools.filter(pl.col("renumbered_login").is_not_null()).select(
        pl.col("renumbered_login").alias("school_login"), "profile"
    )
    return pl.concat([schools.select("school_login", "profile"), renumbered])


def _internal(markers: pl.DataFrame, code: str, profiles: pl.DataFrame) -> pl.DataFrame:
    return markers.filter(pl.col("marker_code") == code).join(profiles, on="school_login", how="left")


def test_official_markers_are_the_generators(loaded_region, markers):
    region, _, _ = loaded_region
    truth = pl.read_parquet(region.settings.truth_dir / "bias_markers.parquet")
    expected = {
        (r["school_year"], r["school_login"], procedure)
        for r in truth.iter_rows(named=True)
        for column, procedure in OFFICIAL_COLUMNS.items()
        if r[column] == 1
    }
    official = markers.filter(pl.col("source") == "official")
    assert set(official["marker_code"]) == {"official_vpr_bias"}
    marked = official.filter(pl.col("is_marked"))
    assert set(marked.select("school_year", "school_login", "procedure_id").iter_rows()) == expected
    # a school or year without a row in the truth has no official marker at all
    assert set(official.select("school_year", "school_login").unique().iter_rows()) == set(
        truth.select("school_year", "school_login").unique().iter_rows()
    )


def test_journal_raised_share_is_higher_in_low_and_declining_schools(markers, profiles):
    """The generator raises the ВПР mark over the journal mark for 13% of marks 3-5 in persistently low and
    declining schools and 5% elsewhere."""
    journal = _internal(markers, "vpr_journal_disagreement", profiles).filter(pl.col("profile").is_not_null())
    low = journal.filter(pl.col("profile").is_in([PERSISTENTLY_LOW, DECLINING]))
    other = journal.filter(~pl.col("profile").is_in([PERSISTENTLY_LOW, DECLINING]))
    assert low.height and other.height
    assert low["value"].mean() > 1.3 * other["value"].mean()
    assert low["is_marked"].mean() > other["is_marked"].mean()


def test_score_peaks_are_rare_since_the_generator_draws_none(markers):
    """Scores are drawn smoothly inside each mark's band: no boundary peaks are made, so a marked peak is chance
    and the z guard keeps it rare; below the minimum n nothing is marked."""
    peaks = markers.filter(pl.col("marker_code") == "score_peak_at_mark_boundary")
    assert peaks.height
    assert not peaks.filter(pl.col("participants") < 20)["is_marked"].any()
    eligible = peaks.filter(pl.col("participants") >= 20)
    assert eligible["is_marked"].mean() <= 0.10


def test_high_vpr_not_confirmed_never_marks_persistently_low_schools(markers, profiles):
    """Persistently low schools have ВПР results far below the region; ОГЭ ability follows ВПР, so the marker is
    rare everywhere."""
    high = _internal(markers, "high_vpr_not_confirmed", profiles)
    assert high.height
    assert not high.filter(pl.col("profile") == PERSISTENTLY_LOW)["is_marked"].any()
    assert high["is_marked"].mean() <= 0.05
    assert (high.filter(pl.col("is_marked"))["value"] >= 25).all()
