"""Small-cell suppression is a rule per mart (pipelines/config/publishing.yaml `suppression`): the survey, whose
respondents are schools, is published from 3 respondents on, pupil-count marts from 10. Checked in the three
published copies of the small region (Parquet, the analysts' DuckDB file, a real PostgreSQL server) against
figures computed here from the raw questionnaire exports (csv and openpyxl, not the pipeline's readers), and the
configuration's checks at start-up."""

from __future__ import annotations

import csv
import shutil
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from statistics import mean

import duckdb
import openpyxl
import psycopg
import pyarrow.parquet as pq
import pytest
import yaml
from psycopg.rows import dict_row

from pipelines.lib.publish import (
    SUPPRESSED_COLUMN,
    MartSpec,
    build_analyst_database,
    publish_parquet,
    publishing_config,
    suppression_rule,
)
from pipelines.lib.publish_postgres import publish_to_postgres
from pipelines.settings import CONFIG_DIR
from tests.conftest import mart_files

SEED_YEAR = "2022-2023"  # the wave of the municipal monitoring report
SURVEY_MIN_N, PUPIL_MIN_N = 3, 10
PG_SCHEMA = "suppression_check"
MARTS = ("survey_results", "school_year_results", "school_flags")
ROLE_HEADERS = ("Роль респондента", "Должность")
LOGIN_HEADERS = ("Логин ОО", "Логин")


# --- the survey computed from the raw exports ---------------------------------------------------------------------


def _questionnaires() -> dict[str, dict]:
    """folder -> its source config (the questionnaire: question codes, header texts, scales)."""
    out = {}
    for path in sorted((CONFIG_DIR / "sources").glob("survey_*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[source["folder"]] = source
    return out


def _read_csv(path: Path) -> list[dict]:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = path.read_text(encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
    delimiter = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;").delimiter
    return list(csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter))


def _read_xlsx(path: Path) -> list[dict]:
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def _first(row: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        if row.get(name) not in (None, ""):
            return str(row[name]).strip()
    return None


@pytest.fixture(scope="module")
def survey_truth(loaded_region) -> dict[tuple[str, str, str, str], dict]:
    """{(questionnaire, school year, question code, group): {"n", "mean", "counts"}} for the scale questions of every
    wave, group = each respondent role and "all", from the raw files in data/raw/survey_*/<year>/."""
    region, _, _ = loaded_region
    scales = yaml.safe_load((CONFIG_DIR / "survey_scales.yaml").read_text(encoding="utf-8"))
    answers: dict[tuple[str, str, str, str], list[tuple[str, float]]] = defaultdict(list)
    for folder, source in _questionnaires().items():
        questionnaire = source["survey"]["questionnaire"]
        scale_questions = {
            " ".join(text.split()).lower(): q
            for q in source["survey"]["questions"]
            if q["type"] == "scale"
            for text in q["texts"]
        }
        for year_dir in sorted((region.settings.raw_dir / folder).iterdir()):
            [path] = [p for p in year_dir.iterdir() if p.suffix in {".csv", ".xlsx"}]
            rows = _read_csv(path) if path.suffix == ".csv" else _read_xlsx(path)
            assert rows, path
            for row in rows:
                if not _first(row, LOGIN_HEADERS):
                    continue
                role = _first(row, ROLE_HEADERS)
                for header, value in row.items():
                    question = scale_questions.get(" ".join(str(header).split()).lower())
                    if question is None or value in (None, ""):
                        continue
                    text = str(value).strip()
                    options = {str(k).lower(): (str(k), v) for k, v in scales[question["scale"]]["answers"].items()}
                    option, score = options[text.lower()]
                    for group in ("all", role) if role else ("all",):
                        answers[(questionnaire, year_dir.name, question["code"], group)].append((option, score))
    return {
        key: {"n": len(a), "mean": mean(s for _, s in a), "counts": Counter(o for o, _ in a)}
        for key, a in answers.items()
    }


def test_the_raw_answers_hold_the_monitoring_report_figures(survey_truth):
    """The monitoring report's figures, from the raw answers alone: n = 7 ШНОР and 3 mentor schools; support 3.71, effectiveness
    3.67, comfort 3.33, satisfaction 3.67; satisfaction split 1 / 5 / 1."""
    figures = [
        ("shnor_mentoring", "mentor_support"),
        ("mentor_schools", "project_effectiveness"),
        ("mentor_schools", "comfort"),
        ("mentor_schools", "satisfaction"),
    ]
    truth = [survey_truth[(q, SEED_YEAR, code, "all")] for q, code in figures]
    assert [t["n"] for t in truth] == [7, 3, 3, 3]
    assert [round(t["mean"], 2) for t in truth] == [3.71, 3.67, 3.33, 3.67]
    split = survey_truth[("shnor_mentoring", SEED_YEAR, "satisfaction", "all")]["counts"]
    assert split == {"Да": 1, "Скорее да, чем нет": 5, "Скорее нет, чем да": 1}


# --- the three published copies ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published(loaded_region, postgres_conninfo) -> dict[str, dict[str, list[dict]]]:
    """{target: {mart: rows}} of the small region's published marts: the Parquet files and the analysts' DuckDB
    file made by the pipeline, and the Parquet files published to PostgreSQL as the postgres asset does."""
    region, _, _ = loaded_region
    marts_dir = region.settings.marts_dir
    parquet = {m: marts_dir / m for m in MARTS}
    out: dict[str, dict[str, list[dict]]] = {"parquet": {}, "analyst_duckdb": {}, "postgres": {}}
    for mart, path in parquet.items():
        out["parquet"][mart] = pq.read_table(path).to_pylist()
    with duckdb.connect(str(marts_dir / "analyst.duckdb"), read_only=True) as con:
        for mart in MARTS:
            cursor = con.execute(f'select * from "{mart}"')
            names = [d[0] for d in cursor.description]
            out["analyst_duckdb"][mart] = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    publish_to_postgres(postgres_conninfo, PG_SCHEMA, list(parquet.values()))
    with psycopg.connect(postgres_conninfo, row_factory=dict_row) as pg:
        for mart in MARTS:
            out["postgres"][mart] = pg.execute(f'select * from "{PG_SCHEMA}"."{mart}"').fetchall()
    return out


def _float(value) -> float | None:
    return float(value) if isinstance(value, Decimal | int | float) else value


def _distribution(text: str) -> dict[str, int]:
    """«Да: 1; Скорее да, чем нет: 5; …» -> {"Да": 1, …}."""
    return {k.strip(): int(v) for k, v in (part.rsplit(":", 1) for part in text.split(";"))}


@pytest.mark.parametrize("target", ["parquet", "analyst_duckdb", "postgres"])
def test_survey_shows_the_monitoring_report_figures(published, survey_truth, target):
    rows = {
        (r["questionnaire"], r["question_code"]): r
        for r in published[target]["survey_results"]
        if r["school_year"] == SEED_YEAR and r["respondent_group"] == "all"
    }
    for key in [
        ("shnor_mentoring", "mentor_support"),
        ("mentor_schools", "project_effectiveness"),
        ("mentor_schools", "comfort"),
        ("mentor_schools", "satisfaction"),
    ]:
        row, truth = rows[key], survey_truth[(key[0], SEED_YEAR, key[1], "all")]
        assert row["n_respondents"] == truth["n"] >= SURVEY_MIN_N, key
        assert row[SUPPRESSED_COLUMN] is False, key
        # the mart rounds once to 2 decimals; the raw answers' mean is exact
        assert _float(row["mean_score"]) == pytest.approx(truth["mean"], abs=0.0051), key
        assert _float(row["mean_score"]) == round(truth["mean"], 2), key
    split = _distribution(rows[("shnor_mentoring", "satisfaction")]["distribution"])
    assert split == {"Да": 1, "Скорее да, чем нет": 5, "Скорее нет, чем да": 1, "Нет": 0}
    assert {k: v for k, v in split.items() if v} == survey_truth[("shnor_mentoring", SEED_YEAR, "satisfaction", "all")][
        "counts"
    ]


@pytest.mark.parametrize("target", ["parquet", "analyst_duckdb", "postgres"])
def test_survey_groups_of_one_or_two_schools_are_blanked(published, survey_truth, target):
    """Every scale row of every wave: shown with its figures from 3 respondents on, blanked below."""
    rows = {
        (r["questionnaire"], r["school_year"], r["question_code"], r["respondent_group"]): r
        for r in published[target]["survey_results"]
    }
    assert set(survey_truth) <= set(rows)
    small = Counter()
    for key, truth in survey_truth.items():
        row = rows[key]
        assert row["n_respondents"] == truth["n"], key
        if truth["n"] < SURVEY_MIN_N:
            small[truth["n"]] += 1
            assert row[SUPPRESSED_COLUMN] is True, key
            assert [
                row[c] for c in ("mean_score", "distribution", "distribution_pct", "top_box_count", "top_box_pct")
            ] == [None] * 5, key
        else:
            assert row[SUPPRESSED_COLUMN] is False, key
            assert _float(row["mean_score"]) == pytest.approx(truth["mean"], abs=0.0051), key
            assert {k: v for k, v in _distribution(row["distribution"]).items() if v} == truth["counts"], key
    assert small[1] and small[2], f"the small region should have groups of 1 and of 2 respondents: {small}"
    # the survey's own rule does not unblank anything else of it: every published row follows n < 3
    for row in rows.values():
        assert row[SUPPRESSED_COLUMN] is (row["n_respondents"] < SURVEY_MIN_N)


@pytest.mark.parametrize("target", ["parquet", "analyst_duckdb", "postgres"])
def test_pupil_count_mart_still_blanks_below_10(published, target):
    rows = published[target]["school_year_results"]
    between = [r for r in rows if SURVEY_MIN_N <= r["participants"] < PUPIL_MIN_N]
    assert between, "the small region should have schools with 3 to 9 participants"
    for row in rows:
        small = row["participants"] < PUPIL_MIN_N
        assert row[SUPPRESSED_COLUMN] is small, row
        if small:
            assert row["mark_2_pct"] is None and row["quality_rate_pct"] is None and row["mean_mark"] is None, row
    assert any(r["mark_2_pct"] is not None for r in rows if r["participants"] >= PUPIL_MIN_N)


def test_the_rule_of_each_mart_is_recorded(loaded_region):
    """Parquet file and `is_suppressed` field metadata, and the analysts' `_publication` table."""
    region, _, _ = loaded_region
    marts_dir = region.settings.marts_dir
    expected = {
        "survey_results": ("n_respondents", SURVEY_MIN_N, "suppression.marts.survey_results"),
        "school_year_results": ("participants", PUPIL_MIN_N, "suppression.default"),
        "school_flags": (None, None, None),  # no n column: nothing suppressed
    }
    for mart, (n_column, min_n, rule) in expected.items():
        parts = mart_files(marts_dir, mart)
        assert len(parts) > 1 and "all" not in {p.stem for p in parts}  # one part per school year
        for path in parts:  # every part says it
            schema = pq.read_schema(path)
            meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
            assert "min_cell_size" not in meta
            if n_column is None:
                assert not {"suppression_n_column", "suppression_min_n", "suppression_rule"} & set(meta)
                assert SUPPRESSED_COLUMN not in schema.names
                continue
            assert (meta["suppression_n_column"], int(meta["suppression_min_n"]), meta["suppression_rule"]) == (
                n_column,
                min_n,
                rule,
            )
            field_meta = schema.field(SUPPRESSED_COLUMN).metadata
            assert int(field_meta[b"suppression_min_n"]) == min_n and field_meta[b"suppression_rule"].decode() == rule
    with duckdb.connect(str(marts_dir / "analyst.duckdb"), read_only=True) as con:
        recorded = {
            r[0]: r[1:]
            for r in con.execute(
                "select mart, suppression_n_column, suppression_min_n, suppression_rule from _publication"
            ).fetchall()
        }
        comment = con.execute(
            "select comment from duckdb_columns() where table_name = '_publication' and column_name = 'suppression_min_n'"
        ).fetchone()[0]
    assert {m: recorded[m] for m in expected} == expected
    assert comment.startswith("Строки с n меньше")
    # every published mart with an n column says which rule it follows
    with_n = {m for m, (n_column, _, _) in recorded.items() if n_column}
    assert {"school_year_results", "school_dynamics", "survey_results", "programme_kpis"} <= with_n
    assert all(recorded[m][1] == (SURVEY_MIN_N if m == "survey_results" else PUPIL_MIN_N) for m in with_n)


def test_publish_parquet_applies_the_rule_of_each_mart(tmp_path):
    """Without the region: the same n from 1 to 12 in a survey-like and a pupil-like mart, published by
    publish_parquet with the shipped rules (the default passed as the old caller does), then the analysts' file."""
    survey = MartSpec(
        "survey_results", "marts.s", "", "Анкеты", {}, n_column="n_respondents", suppressed_columns=("mean_score",)
    )
    pupils = MartSpec(
        "school_year_results", "marts.p", "", "Результаты", {}, n_column="participants", suppressed_columns=("pct",)
    )
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.s as select i as n_respondents, i * 0.25 as mean_score from range(1, 13) t(i)")
    con.execute("create table marts.p as select i as participants, i * 1.5 as pct from range(1, 13) t(i)")
    paths = []
    for mart, value, min_n in ((survey, "mean_score", SURVEY_MIN_N), (pupils, "pct", PUPIL_MIN_N)):
        published = publish_parquet(con, mart, tmp_path)
        assert published["suppression_min_n"] == min_n
        assert published["rows_suppressed"] == min_n - 1
        rows = pq.read_table(published["path"]).to_pylist()
        assert [r[SUPPRESSED_COLUMN] for r in rows] == [n < min_n for n in range(1, 13)]
        assert [r[value] is None for r in rows] == [n < min_n for n in range(1, 13)]
        paths.append(Path(published["path"]))
    build_analyst_database(paths, tmp_path / "analyst.duckdb")
    with duckdb.connect(str(tmp_path / "analyst.duckdb"), read_only=True) as db:
        assert db.execute("select mart, suppression_min_n from _publication order by 1").fetchall() == [
            ("school_year_results", PUPIL_MIN_N),
            ("survey_results", SURVEY_MIN_N),
        ]
        assert db.execute("select count(*) from survey_results where mean_score is not null").fetchone()[0] == 10


# --- the configuration ---------------------------------------------------------------------------------------------


def test_shipped_rules():
    config = publishing_config()
    assert config["suppression"] == {"default": {"min_n": 10}, "marts": {"survey_results": {"min_n": 3}}}
    assert suppression_rule("survey_results", config) == (3, "suppression.marts.survey_results")
    assert suppression_rule("school_year_results", config) == (10, "suppression.default")


def _config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> Path:
    """A region's own copy of pipelines/config/ (EDUWH_CONFIG_DIR) whose publishing.yaml has `old` replaced by `new`."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    path = config / "publishing.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.setenv("EDUWH_CONFIG_DIR", str(config))
    return path.resolve()


def test_a_mart_that_is_not_published_fails_at_start_up(tmp_path, monkeypatch):
    path = _config_copy(tmp_path, monkeypatch, "survey_results: {min_n: 3}", "survey_result: {min_n: 3}")
    from pipelines.defs.publish.assets import build_publish_assets

    with pytest.raises(ValueError) as error:
        build_publish_assets()  # what build_definitions() calls when the code location loads
    message = str(error.value)
    assert str(path) in message
    assert "suppression.marts.survey_result:" in message
    assert "not a published mart" in message and "nearest: survey_results" in message


def test_a_mart_without_an_n_column_fails_at_start_up(tmp_path, monkeypatch):
    path = _config_copy(tmp_path, monkeypatch, "survey_results: {min_n: 3}", "school_flags: {min_n: 3}")
    from pipelines.defs.publish.assets import build_publish_assets

    with pytest.raises(ValueError, match=r"suppression\.marts\.school_flags: .*no n column") as error:
        build_publish_assets()
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            "suppression:\n  default: {min_n: 10}",
            "min_cell_size: 10\nsuppression:\n  default: {min_n: 10}",
            "key 'min_cell_size' was replaced by 'suppression.default.min_n'",
        ),
        (
            "survey_results: {min_n: 3}",
            "survey_results: {min_n: 0}",
            r"'suppression\.marts\.survey_results\.min_n': .*must be at least 1, not 0",
        ),
        (
            "survey_results: {min_n: 3}",
            "survey_results: {min: 3}",
            r"unknown key 'suppression\.marts\.survey_results\.min' — did you mean 'min_n'",
        ),
        ("default: {min_n: 10}", "default: 10", r"'suppression\.default': .*expected a mapping of keys, not 10"),
    ],
)
def test_malformed_suppression_config_is_refused(tmp_path, monkeypatch, old, new, match):
    path = _config_copy(tmp_path, monkeypatch, old, new)
    with pytest.raises(ValueError, match=match) as error:
        publishing_config()
    assert str(error.value).startswith(str(path))
