"""beating_the_odds and mentoring_effect recomputed here, independently, in polars from school_year_results,
school_context, the raw mentoring network pairs and the generator's official lists (small region)."""

import datetime as dt
import math

import duckdb
import polars as pl
import pytest

TOL = 0.011  # both sides round to 2 decimals
Z = 1.96


@pytest.fixture(scope="module")
def tables(loaded_region):
    region, _, _ = loaded_region
    con = duckdb.connect(str(region.settings.warehouse_path), read_only=True)
    out = {
        "results": con.sql("select * from marts.school_year_results").pl(),
        "context": con.sql("select * from marts.school_context").pl(),
        "pairs": con.sql(
            "select school_year, mentee_school_login, mentor_school_login from raw.mentoring_network_pairs"
        ).pl(),
        "beating": con.sql("select * from marts.beating_the_odds").pl(),
        "effect": con.sql("select * from marts.mentoring_effect").pl(),
    }
    con.close()
    out["lists"] = pl.read_parquet(region.settings.truth_dir / "official_lists.parquet")
    return out


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOL


def test_beating_the_odds_matches_band_means_recomputed(tables):
    ctx = tables["context"].select("school_login", "school_year", "isbsh_category")
    rows = (
        tables["results"]
        .filter(pl.col("procedure_id").str.starts_with("vpr-") | pl.col("procedure_id").str.starts_with("oge-"))
        .filter(pl.col("participants") >= 10)
        .join(ctx, on=["school_login", "school_year"])
        .filter(pl.col("isbsh_category").is_not_null())
    )
    band = ["school_year", "procedure_id", "isbsh_category"]
    bands = rows.group_by(band).agg(
        pl.len().alias("band_schools"),
        ((pl.col("participants") * pl.col("mark_2_pct")).sum() / pl.col("participants").sum()).alias("exp_m2"),
        ((pl.col("participants") * pl.col("quality_rate_pct")).sum() / pl.col("participants").sum()).alias("exp_q"),
    )
    expected = rows.join(bands, on=band).with_columns(
        (pl.col("mark_2_pct") - pl.col("exp_m2")).alias("res_m2"),
        (pl.col("quality_rate_pct") - pl.col("exp_q")).alias("res_q"),
    )
    mart = tables["beating"]
    assert mart.height == expected.height > 0
    joined = expected.join(mart, on=["school_login", "school_year", "procedure_id"], how="inner")
    assert joined.height == expected.height
    # one row in full: the school with the best residual on «2» among those with enough participants
    row = joined.filter(pl.col("participants") >= 20).sort("res_m2").row(0, named=True)
    assert row["band_schools"] == row["band_schools_right"]
    assert _close(row["expected_mark_2_pct"], row["exp_m2"])
    assert _close(row["residual_mark_2_pp"], row["res_m2"])
    assert _close(row["expected_quality_rate_pct"], row["exp_q"])
    assert _close(row["residual_quality_rate_pp"], row["res_q"])
    # and every row: expected values, residuals and the flag
    assert (joined["expected_mark_2_pct"] - joined["exp_m2"]).abs().max() <= TOL
    assert (joined["residual_quality_rate_pp"] - joined["res_q"]).abs().max() <= TOL
    flag = (
        (pl.col("participants") >= 20)
        & (pl.col("band_schools") >= 3)
        & ((pl.col("res_m2") <= -10) | (pl.col("res_q") >= 10))
    )
    far_from_cut = ((pl.col("res_m2") + 10).abs() > TOL) & ((pl.col("res_q") - 10).abs() > TOL)
    checked = joined.filter(far_from_cut).with_columns(flag.alias("flag"))
    assert (checked["flag"] == checked["beats_the_odds"]).all()


def _shnor_keys_in(lists: pl.DataFrame, school_year: str) -> set[str]:
    starts, ends = dt.date(int(school_year[:4]), 9, 1), dt.date(int(school_year[-4:]), 8, 31)
    on = lists.filter(
        (pl.col("list") == "ШНОР")
        & (pl.col("date_in") <= ends)
        & (pl.col("date_out").is_null() | (pl.col("date_out") > starts))
    )
    return set(on["first_login"])


def test_mentoring_effect_stratum_rows_match_a_recomputed_difference_in_differences(tables):
    ctx = tables["context"].with_columns(
        pl.col("school_year").str.slice(0, 4).cast(pl.Int32).alias("y"),
        pl.when(pl.col("settlement_type").str.starts_with("сельск"))
        .then(pl.lit("rural"))
        .otherwise(pl.lit("urban"))
        .alias("settlement_group"),
    )
    keys = ctx.select("school_login", "school_year", "school_key", "y")
    vpr = (
        tables["results"]
        .filter(pl.col("procedure_id").str.starts_with("vpr-"))
        .join(keys, on=["school_login", "school_year"])
    )
    values = vpr.group_by("school_key", "y").agg(
        ((pl.col("participants") * pl.col("mark_2_pct")).sum() / pl.col("participants").sum()).alias("v"),
        pl.col("participants").sum().alias("n"),
    )
    pairs = tables["pairs"]
    mentees = pairs.join(keys, left_on=["mentee_school_login", "school_year"], right_on=["school_login", "school_year"])
    mentors = pairs.join(keys, left_on=["mentor_school_login", "school_year"], right_on=["school_login", "school_year"])
    first = mentees.group_by("school_key").agg(pl.col("y").min().alias("cohort"))
    year_name = dict(keys.select("y", "school_year").unique().iter_rows())
    treated = {(k, c) for k, c in first.iter_rows() if k in _shnor_keys_in(tables["lists"], year_name[c])}
    excluded = set(mentees["school_key"]) | set(mentors["school_key"])
    comparison = set(ctx["school_key"]) - excluded
    value = {(k, y): (v, n) for k, y, v, n in values.iter_rows()}
    stratum = {
        (k, y): (cat, sg)
        for k, y, cat, sg in ctx.select("school_key", "y", "isbsh_category", "settlement_group").iter_rows()
        if cat is not None
    }

    mart = tables["effect"].filter((pl.col("indicator") == "mark_2_pct") & (pl.col("isbsh_category") != "all"))
    expected = {}
    for cohort in sorted({c for _, c in treated}):
        for year in sorted({y for _, y in value if y >= cohort}):
            groups: dict[tuple, dict[str, list]] = {}
            for group, members in (("t", [k for k, c in treated if c == cohort]), ("c", sorted(comparison))):
                for k in members:
                    s = stratum.get((k, cohort - 1))
                    if s is None or (k, cohort - 1) not in value or (k, year) not in value:
                        continue
                    before, after = value[(k, cohort - 1)][0], value[(k, year)]
                    groups.setdefault(s, {"t": [], "c": []})[group].append((after[0] - before, after[1]))
            for s, g in groups.items():
                if not g["t"]:
                    continue
                t, c = [x for x, _ in g["t"]], [x for x, _ in g["c"]]
                did = sum(t) / len(t) - sum(c) / len(c) if c else None
                se = None
                if len(t) >= 2 and len(c) >= 2:

                    def var(xs):
                        m = sum(xs) / len(xs)
                        return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)

                    se = math.sqrt(var(t) / len(t) + var(c) / len(c))
                expected[(year_name[cohort], year_name[year], *s)] = (
                    len(t),
                    len(c),
                    sum(n for _, n in g["t"]),
                    did,
                    se,
                )

    got = {
        (r["cohort_school_year"], r["school_year"], r["isbsh_category"], r["settlement_group"]): r
        for r in mart.iter_rows(named=True)
    }
    assert set(got) == set(expected)
    if not expected:
        # The small region's pairs start in its first school year (the monitoring report's survey year): no baseline year, so
        # no row at all, and every treated cohort is that first year. On longer regions the rows are compared.
        assert tables["effect"].is_empty()
        assert treated and {c for _, c in treated} == {min(year_name)}
    for key, (n_t, n_c, participants, did, se) in expected.items():
        r = got[key]
        assert (r["treated_schools"], r["comparison_schools"], r["treated_participants"]) == (n_t, n_c, participants)
        assert _close(r["did"], did), key
        if se is None:
            assert r["did_ci_low"] is None and r["did_ci_high"] is None
        else:
            assert _close(r["did_ci_low"], did - Z * se) and _close(r["did_ci_high"], did + Z * se), key
