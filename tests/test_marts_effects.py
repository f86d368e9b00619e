"""beating_the_odds and mentoring_effect recomputed here, independently, in polars from school_year_results,
school_context, the raw mentoring network pairs and the generator's official lists (small region).

mentoring_effect needs a mentoring cohort with a baseline year and the year before it (the placebo). The session's
small region has none (its only cohort starts in its first school year), so the recomputation of one cohort's estimate
and placebo runs on a region of this module: the default sample region of `make demo` (120 schools, 2020-2021 …
2024-2025, cohorts 2022-2023 and 2023-2024), with only the sources the mart reads (registry, ВПР pupil files, ИСБШ,
ФИС ОКО context, official lists, the mentoring register). Expected values come from staging and the generator's
truth, never from the mart."""

import datetime as dt
import math

import duckdb
import polars as pl
import pytest
import yaml
from scipy import stats  # pinned in constraints.txt (a dependency of great-expectations)

from pipelines.sample_region import RegionParams
from pipelines.settings import DBT_PROJECT_DIR

from .conftest import reduced_region

TOL = 0.011  # both sides round to 2 decimals


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


def test_mentoring_effect_has_no_row_without_a_baseline_year(tables):
    """The small region's treated cohort (first mentee year, on the official ШНОР list that year) is its first school
    year: there is no baseline year to compare with, so the mart has no row at all."""
    keys = tables["context"].select("school_login", "school_year", "school_key")
    mentees = tables["pairs"].join(
        keys, left_on=["mentee_school_login", "school_year"], right_on=["school_login", "school_year"]
    )
    first = mentees.group_by("school_key").agg(pl.col("school_year").min().alias("cohort"))
    treated = {(k, c) for k, c in first.iter_rows() if k in _shnor_keys_in(tables["lists"], c)}
    assert treated and {c for _, c in treated} == {tables["context"]["school_year"].min()}
    assert tables["effect"].is_empty()


# ---- one cohort recomputed on a region of five school years -------------------------------------------------------

EFFECT_REGION = RegionParams()  # the default sample region: 7 mentored ШНОР of 2022-2023 against 8 not yet mentored
EFFECT_FOLDERS = (
    "school_registry",
    "vpr_pupil_results",
    "isbsh_scores",
    "fisoko_school_context",
    "official_school_lists",
    "mentoring_register",
)
EFFECT_YML = DBT_PROJECT_DIR / "models" / "marts" / "_mentoring_effect__models.yml"


@pytest.fixture(scope="module")
def effect_region(tmp_path_factory: pytest.TempPathFactory):
    with reduced_region(tmp_path_factory.mktemp("effect_region"), EFFECT_REGION, EFFECT_FOLDERS) as region:
        yield region


@pytest.fixture(scope="module")
def effect_inputs(effect_region):
    """Per school (school_key) and year: the ВПР share of «2» over all its pupils who wrote (= the participant-weighted
    mean of its procedures), stratum, mentee years, ШНОР years (generator's truth); the mart's rows."""
    with duckdb.connect(str(effect_region.settings.warehouse_path), read_only=True) as con:
        values = con.sql(
            """
            select i.school_key, cast(substring(v.school_year, 1, 4) as integer) as y,
                100.0 * sum(case when v.mark = 2 then 1 else 0 end) / count(*) as v
            from staging.stg_fisoko__vpr_pupil_results as v
            join intermediate.int_school_identity as i using (school_login, school_year)
            where not v.is_absent
            group by all
            """
        ).pl()
        context = con.sql(
            "select school_key, school_login, school_year, cast(substring(school_year, 1, 4) as integer) as y,"
            " isbsh_category, settlement_type from marts.school_context"
        ).pl()
        pairs = con.sql(
            "select school_year, mentee_school_login, mentor_school_login from staging.stg_mentoring__network_pairs"
        ).pl()
        mart = con.sql("select * from marts.mentoring_effect where indicator = 'mark_2_pct'").pl()
    lists = pl.read_parquet(effect_region.settings.truth_dir / "official_lists.parquet")
    return values, context, pairs, lists, mart


def _var(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def _pooled(strata: list[tuple[list[float], list[float]]]) -> tuple[float, float | None, float | None, int, int]:
    """DiD pooled over strata weighted by their treated schools, strata without both groups left out; within-stratum
    pooled variances; Welch–Satterthwaite df. Returns did, se, df, treated and comparison schools."""
    used = [(t, c) for t, c in strata if t and c]
    w = sum(len(t) for t, _ in used)
    did = sum(len(t) * (sum(t) / len(t) - sum(c) / len(c)) for t, c in used) / w
    df_t = sum(len(t) - 1 for t, _ in used)
    df_c = sum(len(c) - 1 for _, c in used)
    if not df_t or not df_c:
        return did, None, None, w, sum(len(c) for _, c in used)
    v_t = sum((len(t) - 1) * _var(t) for t, _ in used if len(t) > 1) / df_t
    v_c = sum((len(c) - 1) * _var(c) for _, c in used if len(c) > 1) / df_c
    a = v_t * sum(len(t) for t, _ in used) / w**2
    b = v_c * sum(len(t) ** 2 / len(c) for t, c in used) / w**2
    return did, math.sqrt(a + b), (a + b) ** 2 / (a**2 / df_t + b**2 / df_c), w, sum(len(c) for _, c in used)


def test_mentoring_effect_estimate_and_placebo_of_one_cohort_recomputed(effect_inputs):
    values, context, pairs, lists, mart = effect_inputs
    params = yaml.safe_load(EFFECT_YML.read_text())["models"][0]["config"]["meta"]["parameters"]
    assert params["comparison_rule"] == "eligible_not_yet_mentored" and not params["comparison_rule_sets"]
    value = {(k, y): v for k, y, v in values.iter_rows()}
    key_of = {
        (login, sy): k for k, login, sy in context.select("school_key", "school_login", "school_year").iter_rows()
    }
    stratum = {
        (k, y): (cat, "rural" if st.startswith("сельск") else "urban")
        for k, y, cat, st in context.select("school_key", "y", "isbsh_category", "settlement_type").iter_rows()
        if cat is not None and st is not None
    }
    first: dict[str, int] = {}
    for sy, mentee, _ in pairs.iter_rows():
        if (mentee, sy) in key_of:
            k = key_of[(mentee, sy)]
            first[k] = min(first.get(k, 9999), int(sy[:4]))
    mentors = {key_of.get((mentor, sy)) for sy, _, mentor in pairs.iter_rows()}
    shnor = {(k, y) for y in context["y"].unique() for k in _shnor_keys_in(lists, f"{y}-{y + 1}")}
    treated = {k: c for k, c in first.items() if (k, c) in shnor}

    def changes(keys: list[str], cohort: int, before: int, after: int) -> dict[tuple, list[float]]:
        """Changes before -> after by stratum of the baseline year (cohort − 1)."""
        out: dict[tuple, list[float]] = {}
        for k in keys:
            s = stratum.get((k, cohort - 1))
            if s and (k, before) in value and (k, after) in value:
                out.setdefault(s, []).append(value[(k, after)] - value[(k, before)])
        return out

    # the first cohort with comparison schools in its start year (2022-2023: the survey respondents against the ШНОР
    # of that year mentored only from 2023-2024): treated and comparison schools, their changes by stratum
    for cohort in sorted(set(treated.values())):
        t_keys = sorted(k for k, c in treated.items() if c == cohort)
        c_keys = sorted(
            k
            for k in set(context["school_key"])
            if (k, cohort) in shnor and first.get(k, 9999) > cohort and k not in mentors
        )
        est_t, est_c = changes(t_keys, cohort, cohort - 1, cohort), changes(c_keys, cohort, cohort - 1, cohort)
        if any(s in est_c for s in est_t):
            break
    else:
        pytest.fail("the region has no cohort with comparison schools")
    used = [s for s in est_t if s in est_c]  # the 'all' row pools the strata having comparison schools
    # the placebo: the same schools (those in the estimate), year before the baseline -> baseline
    in_estimate = [
        k
        for k in t_keys + c_keys
        if stratum.get((k, cohort - 1)) in used and (k, cohort - 1) in value and (k, cohort) in value
    ]
    pla_t = changes([k for k in t_keys if k in in_estimate], cohort, cohort - 2, cohort - 1)
    pla_c = changes([k for k in c_keys if k in in_estimate], cohort, cohort - 2, cohort - 1)

    did, se, df, n_t, n_c = _pooled([(est_t[s], est_c[s]) for s in used])
    placebo, placebo_se, _, p_t, p_c = _pooled([(pla_t.get(s, []), pla_c.get(s, [])) for s in used])
    assert se is not None, "the cohort needs an interval to compare"

    name = f"{cohort}-{cohort + 1}"
    [row] = mart.filter(
        (pl.col("cohort_school_year") == name) & (pl.col("school_year") == name) & (pl.col("isbsh_category") == "all")
    ).iter_rows(named=True)
    assert (row["treated_schools"], row["comparison_schools"]) == (n_t, n_c)
    assert (row["placebo_treated_schools"], row["placebo_comparison_schools"]) == (p_t, p_c)
    assert _close(row["did"], did) and _close(row["placebo_did"], placebo)
    assert abs(row["did_se"] - se) <= 0.0011 and abs(row["did_df"] - df) <= 0.051
    if placebo_se is not None:
        assert abs(row["placebo_se"] - placebo_se) <= 0.0011
    q = stats.t.ppf(1 - (1 - params["ci_level"] / 100) / 2, math.floor(df))
    assert _close(row["did_ci_low"], did - q * se) and _close(row["did_ci_high"], did + q * se)

    # the verdict, from the rule of docs/indicators.md
    base = {
        g: {
            s: [value[(k, cohort - 1)] for k in keys if k in in_estimate and stratum[(k, cohort - 1)] == s]
            for s in used
        }
        for g, keys in (("t", t_keys), ("c", c_keys))
    }
    mean_t = sum(sum(base["t"][s]) for s in used) / n_t
    mean_c = sum(len(base["t"][s]) * sum(base["c"][s]) / len(base["c"][s]) for s in used) / n_t
    low, high = min(min(base["c"][s]) for s in used), max(max(base["c"][s]) for s in used)
    credible = (
        min(n_t, p_t) >= params["min_treated_schools"]
        and min(n_c, p_c) >= params["min_comparison_schools"]
        and low <= mean_t <= high
        and abs(mean_t - mean_c) <= params["max_baseline_gap"]["mark_2_pct"]
        and abs(placebo) <= params["placebo_tolerance"]["mark_2_pct"]
    )
    assert _close(row["treated_mean_before"], mean_t) and _close(row["comparison_mean_before"], mean_c)
    assert row["is_credible"] == credible
    if credible:
        significant = did + q * se < 0 or did - q * se > 0
        assert row["conclusion_ru"].startswith("Эффект наставничества" if significant else "Различие по доле")
    else:
        assert row["conclusion_ru"].startswith("Оценка недостоверна: ")
        assert row["conclusion_en"].startswith("Estimate not credible: ")
