"""Social context, low-result rule sets and list transitions against the generator's truth (small region)."""

import duckdb
import polars as pl
import pytest

from pipelines.sample_region.model import IMPROVING, PERSISTENTLY_LOW


@pytest.fixture(scope="module")
def marts(loaded_region):
    region, _, _ = loaded_region
    con = duckdb.connect(str(region.settings.warehouse_path), read_only=True)
    yield {
        name: con.sql(f"select * from marts.{name}").pl()
        for name in ("school_flags", "school_context", "list_transitions", "municipality_summary")
    }
    con.close()


@pytest.fixture(scope="module")
def truth(loaded_region):
    region, _, _ = loaded_region
    return {
        name: pl.read_parquet(region.settings.truth_dir / f"{name}.parquet")
        for name in ("schools", "official_list_status", "bias_markers")
    }


def test_persistently_low_schools_are_flagged_by_rosobrnadzor_risk_from_the_second_year(loaded_region, marts, truth):
    region, _, _ = loaded_region
    years = region.params.school_years
    low = set(truth["schools"].filter(pl.col("profile") == PERSISTENTLY_LOW)["school_login"])
    assert low
    flags = marts["school_flags"].filter(pl.col("rule_set") == "rosobrnadzor_risk")
    flagged = flags.filter(pl.col("school_key").is_in(list(low)))
    for year in years[1:]:
        in_year = flagged.filter(pl.col("school_year") == year)
        assert set(in_year.filter(pl.col("is_flagged"))["school_key"]) == low, year
        assert in_year["reason_details"].str.contains(year).all()
    # t − 1 is missing in the first year: nobody can be flagged
    assert not flags.filter(pl.col("school_year") == years[0])["is_flagged"].any()


def test_official_transitions_match_the_truth_and_exits_are_the_improving_schools(marts, truth):
    official = marts["list_transitions"].filter(
        (pl.col("list_type") == "official") & (pl.col("status") != "not_in_list")
    )
    got = official.select(
        "school_year",
        pl.col("school_key").alias("first_login"),
        pl.col("list_name").alias("list"),
        "status",
        pl.col("years_in_list").cast(pl.Int64),
    ).sort(pl.all())
    expected = (
        truth["official_list_status"]
        .select("school_year", "first_login", "list", "status", pl.col("years_in_list").cast(pl.Int64))
        .sort(pl.all())
    )
    assert got.to_dicts() == expected.to_dicts()
    exited = set(official.filter((pl.col("list_name") == "ШНОР") & pl.col("is_exited"))["school_key"])
    improving = set(truth["schools"].filter(pl.col("profile") == IMPROVING)["school_login"])
    assert exited <= improving
    summary = marts["municipality_summary"]
    assert summary["shnor_official_exited"].sum() == len(
        official.filter((pl.col("list_name") == "ШНОР") & pl.col("is_exited"))
    )


def test_socially_low_schools_have_low_isbsh_category(marts, truth):
    context = marts["school_context"].join(
        truth["schools"].select(pl.col("school_login").alias("school_key"), "social_level"), on="school_key"
    )
    low = context.filter(pl.col("social_level") == "low")
    assert len(low) > 0
    assert (low["isbsh_category"] == "low").mean() >= 0.9
    assert not context.filter(pl.col("social_level") == "high")["isbsh_category"].is_in(["low"]).any()
    # the risk zone only ever holds low-ИСБШ schools
    assert context.filter(pl.col("is_risk_zone"))["isbsh_category"].eq("low").all()


def test_bias_marked_schools_are_excluded_from_regional_percentile(marts, truth):
    regional = marts["school_flags"].filter(pl.col("rule_set") == "regional_percentile")
    marked = truth["bias_markers"].select("school_year", pl.col("first_login").alias("school_key"))
    hits = regional.join(marked, on=["school_year", "school_key"])
    ranked = hits.filter(pl.col("reason_codes").fill_null("") != "NOT_ENOUGH_DATA")
    assert len(ranked) > 0
    assert ranked["is_excluded"].all() and not ranked["is_flagged"].any()
    assert (ranked["reason_codes"] == "EXCLUDED_BIAS_MARKERS").all()
    others = regional.join(marked, on=["school_year", "school_key"], how="anti")
    assert not others["is_excluded"].any()


def test_isbsh_computed_from_the_social_passport_agrees_with_the_published_index(marts):
    """Both come from the generator's social level: the passport-based index (versioned weights, seed
    isbsh_weights) must rank schools like the published one."""
    ctx = marts["school_context"].filter(pl.col("isbsh_computed_from_passport").is_not_null())
    assert ctx.height > 0 and set(ctx["isbsh_source"].unique()) == {"published"}
    assert ctx.select(pl.corr("isbsh_score", "isbsh_computed_from_passport", method="spearman")).item() > 0.85
