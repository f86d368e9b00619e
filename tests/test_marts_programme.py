"""Survey, mentoring and programme-KPI marts against the generator's truth (monitoring-report figures, truth parquet files)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

CONFIG_DIR = Path(__file__).resolve().parents[1] / "pipelines" / "config"
SEED_YEAR = "2022-2023"


def _mart(region, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:
        return pl.from_arrow(con.sql(sql).arrow())


def _questionnaires() -> dict[str, dict]:
    """questionnaire code -> its survey section from pipelines/config/sources/survey_*.yaml."""
    out = {}
    for path in sorted((CONFIG_DIR / "sources").glob("survey_*.yaml")):
        survey = yaml.safe_load(path.read_text(encoding="utf-8"))["survey"]
        out[survey["questionnaire"]] = survey
    return out


def _question_codes() -> dict[str, tuple[str, str]]:
    """Every header text a question has had -> (questionnaire, question code)."""
    return {
        text: (q_code, question["code"])
        for q_code, survey in _questionnaires().items()
        for question in survey["questions"]
        for text in question["texts"]
    }


@pytest.fixture(scope="module")
def survey_results(loaded_region) -> pl.DataFrame:
    region, _, _ = loaded_region
    return _mart(region, "select * from marts.survey_results where respondent_group = 'all'")


@pytest.fixture(scope="module")
def survey_expected(loaded_region) -> dict:
    region, _, _ = loaded_region
    return json.loads((region.settings.truth_dir / "survey_expected.json").read_text(encoding="utf-8"))


def test_answer_options_in_the_warehouse_are_the_questionnaires_and_scales(loaded_region):
    """The options the marts use come from the questionnaire configs and survey_scales.yaml, read here as YAML:
    every closed question, in the form's order, with the scale's scores and its top-2 box."""
    region, _, _ = loaded_region
    options = _mart(region, "select * from staging.stg_surveys__answer_options order by all")
    scales = yaml.safe_load((CONFIG_DIR / "survey_scales.yaml").read_text(encoding="utf-8"))
    for q_code, survey in _questionnaires().items():
        for question in survey["questions"]:
            rows = options.filter(
                (pl.col("questionnaire") == q_code) & (pl.col("question_code") == question["code"])
            ).sort("option_order")
            where = f"{q_code}.{question['code']}"
            if question["type"] == "text":
                assert rows.height == 0, where
                continue
            assert set(rows["question_type"]) == {question["type"]}, where
            if question["type"] == "multi":
                assert rows["answer_text"].to_list() == question["options"], where
            if question["type"] == "scale":
                scale = scales[question["scale"]]
                assert rows["answer_text"].to_list() == [str(a) for a in scale["answers"]], where
                assert rows["answer_score"].to_list() == [float(v) for v in scale["answers"].values()], where
                top = rows.filter(pl.col("is_top_box"))["answer_text"].to_list()
                assert top == [str(a) for a in scale["top_box"]], where


def test_survey_results_reproduce_the_monitoring_report_figures(survey_results):
    """The municipal monitoring report's figures: ШНОР support 3.71, mentor effectiveness 3.67, comfort 3.33,
    satisfaction 3.67; satisfaction split 1 / 5 / 1."""
    year = survey_results.filter(pl.col("school_year") == SEED_YEAR)
    mean = {(q, c): m for q, c, m in year.select("questionnaire", "question_code", "mean_score").iter_rows()}
    assert mean[("shnor_mentoring", "mentor_support")] == 3.71
    assert mean[("mentor_schools", "project_effectiveness")] == 3.67
    assert mean[("mentor_schools", "comfort")] == 3.33
    assert mean[("mentor_schools", "satisfaction")] == 3.67
    satisfaction = year.filter(
        (pl.col("questionnaire") == "shnor_mentoring") & (pl.col("question_code") == "satisfaction")
    ).row(0, named=True)
    assert satisfaction["n_respondents"] == 7
    assert satisfaction["distribution"] == "Да: 1; Скорее да, чем нет: 5; Скорее нет, чем да: 1; Нет: 0"
    assert satisfaction["top_box_count"] == 6


def test_survey_results_match_every_wave_of_the_truth(survey_results, survey_expected):
    """n, mean, top-2 box, scale distributions and multi-choice shares of every truth wave, matched by header text."""
    codes = _question_codes()
    waves = [w for w in survey_expected.values() if isinstance(w, dict) and "questions" in w]
    assert len(waves) >= 2
    for wave in waves:
        for text, truth in wave["questions"].items():
            questionnaire, code = codes[text]
            rows = survey_results.filter(
                (pl.col("questionnaire") == questionnaire)
                & (pl.col("question_code") == code)
                & (pl.col("school_year") == wave["school_year"])
            )
            where = f"{wave['school_year']} {questionnaire}.{code}"
            assert rows.height == 1, where
            row = rows.row(0, named=True)
            assert row["n_respondents"] == wave["n"], where
            if "mean" in truth:
                assert row["mean_score"] == truth["mean"], where
            if "top2_share" in truth:
                assert row["top_box_pct"] == pytest.approx(100 * truth["top2_share"], abs=0.01), where
            shares = dict(part.rsplit(": ", 1) for part in row["distribution_pct"].split("; "))
            counts = truth.get("counts") or truth["distribution"]
            for option, count in counts.items():
                assert float(shares[option].rstrip("%")) == pytest.approx(100 * count / wave["n"], abs=0.05), where


@pytest.fixture(scope="module")
def truth_pairs(loaded_region) -> pl.DataFrame:
    region, _, _ = loaded_region
    return pl.read_parquet(region.settings.truth_dir / "mentoring_pairs.parquet")


def test_mentoring_coverage_reproduces_the_monitoring_report_subjects(loaded_region, truth_pairs):
    region, _, _ = loaded_region
    mart = _mart(
        region,
        f"select subject_name, sum(pairs_held) as held, sum(pairs_not_held) as not_held, "
        f"sum(pairs_planned) as planned from marts.mentoring_coverage where school_year = '{SEED_YEAR}' group by 1",
    )
    got = {s: (h, n, p) for s, h, n, p in mart.iter_rows()}
    monitoring_report = {
        "Русский язык": (7, 0, 0),
        "Физика": (3, 0, 0),
        "Математика": (6, 0, 0),
        "Биология": (3, 0, 0),
        "Обществознание": (5, 0, 0),
        "Химия": (0, 4, 0),
    }
    assert got == monitoring_report
    truth = (
        truth_pairs.filter(pl.col("school_year") == SEED_YEAR)
        .group_by("subject")
        .agg(held=(pl.col("status") == "проведено").sum(), not_held=(pl.col("status") == "не проведено").sum())
    )
    assert {s: (h, n, 0) for s, h, n in truth.iter_rows()} == monitoring_report


def test_mentoring_coverage_counts_every_pair_of_the_truth(loaded_region, truth_pairs):
    region, _, _ = loaded_region
    mart = _mart(
        region,
        "select school_year, school_login, subject_name, pairs_held, pairs_planned, pairs_not_held, "
        "has_network_partner from marts.mentoring_coverage",
    )
    truth = (
        truth_pairs.group_by("school_year", pl.col("mentee_login").alias("school_login"), "subject")
        .agg(
            pairs_held=(pl.col("status") == "проведено").sum(),
            pairs_planned=(pl.col("status") == "запланировано").sum(),
            pairs_not_held=(pl.col("status") == "не проведено").sum(),
        )
        .sort("school_year", "school_login", "subject")
    )
    key = ["school_year", "school_login", "subject_name"]
    got = mart.sort(key).select(*key, "pairs_held", "pairs_planned", "pairs_not_held")
    assert got.rows() == truth.rows()
    assert mart["has_network_partner"].all()


def _truth_kpis(region, survey_expected: dict) -> dict[tuple[str, str, str], float]:
    """Every KPI value (percent, 2 decimals) per (kpi, school year, territory), recomputed from the truth files."""
    truth_dir = region.settings.truth_dir
    municipality = region.truth.schools.select(pl.col("school_login").alias("first_login"), "municipality")
    diagnostics = pl.read_parquet(truth_dir / "teacher_diagnostics.parquet")
    olympiads = pl.read_parquet(truth_dir / "olympiads.parquet")
    programmes = pl.read_parquet(truth_dir / "network_programmes.parquet")
    pairs = pl.read_parquet(truth_dir / "mentoring_pairs.parquet").rename({"mentee_first_login": "first_login"})
    units = {
        "teachers_with_deficits": diagnostics.select("school_year", "first_login", n="with_deficits", d="diagnosed"),
        "olympiad_winners": olympiads.select(
            "school_year", "first_login", n=pl.col("winners") + pl.col("prize_winners"), d="participants"
        ),
        "network_programmes_schools": programmes.select(
            "school_year", "first_login", n=pl.col("uses_network_form").cast(pl.Int64), d=pl.lit(1)
        ),
        "mentoring_pairs_held": pairs.select(
            "school_year", "first_login", n=(pl.col("status") == "проведено").cast(pl.Int64), d=pl.lit(1)
        ),
    }
    values = {}
    for kpi, frame in units.items():
        frame = frame.join(municipality, on="first_login")
        for territory in ("municipality", None):
            keys = ["school_year", territory] if territory else ["school_year"]
            agg = frame.group_by(keys).agg(pl.col("n").sum(), pl.col("d").sum())
            for row in agg.iter_rows(named=True):
                name = row.get("municipality", "Регион")
                values[(kpi, row["school_year"], name)] = round(100 * row["n"] / row["d"], 2)
    # satisfaction: top-2 box of the satisfaction question of every questionnaire, over all respondents of a year
    satisfied: dict[str, list[int]] = {}
    for wave in (w for w in survey_expected.values() if isinstance(w, dict) and "questions" in w):
        for text, truth in wave["questions"].items():
            if _question_codes()[text][1] != "satisfaction":
                continue
            counts = truth.get("counts") or truth["distribution"]
            top = ["Да", "Скорее да, чем нет"] if "Да" in counts else ["4", "5"]
            acc = satisfied.setdefault(wave["school_year"], [0, 0])
            acc[0] += sum(counts[t] for t in top)
            acc[1] += sum(counts.values())
    for year, (n, d) in satisfied.items():
        values[("satisfied_participants", year, "Регион")] = round(100 * n / d, 2)
    return values


def _met(comparison: str, value: float, previous: float | None, target: float | None) -> bool | None:
    """The rule of programme_kpi_targets.comparison, written independently of the SQL."""
    if comparison == "at_least":
        return value >= target
    if comparison == "at_most":
        return value <= target
    if previous is None:
        return None
    return value > previous if comparison == "rising" else value < previous


def test_programme_kpis_agree_with_values_recomputed_from_the_truth(loaded_region, survey_expected):
    region, _, _ = loaded_region
    mart = _mart(
        region,
        "select kpi_code, school_year, territory_name, value_pct, previous_value_pct, comparison, target_pct, "
        "is_met from marts.programme_kpis",
    )
    truth = _truth_kpis(region, survey_expected)
    got = {(k, y, t): v for k, y, t, v in mart.select("kpi_code", "school_year", "territory_name", "value_pct").rows()}
    for key, value in truth.items():
        assert got.get(key) == pytest.approx(value, abs=0.011), key
    not_in_truth = {k for k in got if k not in truth and k[0] != "satisfied_participants"}
    assert not not_in_truth
    assert {k for k in got if k[0] == "satisfied_participants" and k[2] == "Регион"} == {
        k for k in truth if k[0] == "satisfied_participants"
    }
    # met / not met follows the rule of each KPI
    for row in mart.iter_rows(named=True):
        expected = _met(row["comparison"], row["value_pct"], row["previous_value_pct"], row["target_pct"])
        assert row["is_met"] == expected, row
    seed_year = {
        r["kpi_code"]: r["is_met"]
        for r in mart.filter((pl.col("school_year") == SEED_YEAR) & (pl.col("territory_name") == "Регион")).iter_rows(
            named=True
        )
    }
    # the monitoring report: 8 of 10 respondents satisfied (80% >= 75%); 24 of 28 pairs held (chemistry not held) < 100%
    assert seed_year["satisfied_participants"] is True
    assert seed_year["mentoring_pairs_held"] is False
