"""Generate a small region, materialise everything, and check the published mart against figures computed
here, independently, from the generated export files (read with openpyxl and csv, not the pipeline's readers)."""

import csv
from collections import defaultdict

import duckdb
import openpyxl
import polars as pl
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.lib.publish import SUPPRESSED_COLUMN
from pipelines.lib.sources import load_sources
from pipelines.sample_region.model import PERSISTENTLY_LOW, STABLE
from pipelines.settings import DBT_PROJECT_DIR

from .conftest import SMALL_REGION, mart_files

SUBJECT_CODES = {"Русский язык": "ru", "Математика": "ma"}
MIN_CELL = 10


@pytest.fixture(scope="module")
def expected(loaded_region):
    """Mart rows computed from the raw files: {(login, year, procedure): {...}}."""
    region, _, _ = loaded_region
    raw = region.settings.raw_dir
    municipality = {}
    for year in SMALL_REGION.school_years:
        [path] = (raw / "school_registry" / year).glob("*.csv")
        with path.open(encoding="utf-8-sig") as f:
            for r in csv.DictReader(f, delimiter=";"):
                municipality[(r["Логин ОО"], year)] = r["Муниципальное образование"]
    rows = {}
    for year in SMALL_REGION.school_years:
        [path] = (raw / "vpr_mark_statistics" / year).glob("*.xlsx")
        for r in list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))[4:]:
            _, grade, subject, _, login, _, n, m2, m3, m4, m5 = r
            rows[(login, year, f"vpr-{grade}-{SUBJECT_CODES[subject]}")] = {
                "n": n,
                "m2": m2,
                "pass": m3 + m4 + m5,
                "quality": m4 + m5,
                "mun": municipality[(login, year)],
            }
    sums = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for (login, year, proc), r in rows.items():
        for key in ((year, proc, r["mun"]), (year, proc)):
            s = sums[key]
            s[0] += r["n"]
            s[1] += r["n"] * r["m2"]
            s[2] += r["n"] * r["pass"]
            s[3] += r["n"] * r["quality"]
    for (login, year, proc), r in rows.items():
        m, g = sums[(year, proc, r["mun"])], sums[(year, proc)]
        r.update(
            mun_n=m[0],
            mun_m2=m[1] / m[0],
            mun_quality=m[3] / m[0],
            reg_n=g[0],
            reg_m2=g[1] / g[0],
            reg_pass=g[2] / g[0],
        )
    return rows


@pytest.fixture(scope="module")
def published(loaded_region):
    """The published ВПР rows (ОГЭ and ЕГЭ rows are checked in test_marts_assessments.py)."""
    region, _, _ = loaded_region
    table = pq.read_table(region.settings.marts_dir / "school_year_results")
    return table.filter(pc.starts_with(table["procedure_id"], "vpr-"))


def test_published_mart_has_one_row_per_school_year_procedure_of_the_exports(published, expected):
    keys = list(
        zip(
            published["school_login"].to_pylist(),
            published["school_year"].to_pylist(),
            published["procedure_id"].to_pylist(),
            strict=True,
        )
    )
    assert len(keys) == len(set(keys)) == len(expected)
    assert set(keys) == set(expected)


def test_every_figure_agrees_with_the_raw_exports(published, expected):
    checked = 0
    for row in published.to_pylist():
        e = expected[(row["school_login"], row["school_year"], row["procedure_id"])]
        assert row["participants"] == e["n"]
        assert row["municipality_name"] == e["mun"]
        assert row["municipal_participants"] == e["mun_n"] and row["regional_participants"] == e["reg_n"]
        # expected from the report's rounded shares, the mart from pupil counts rounded once: 0.01 apart at most
        assert row["municipal_mark_2_pct"] == pytest.approx(e["mun_m2"], abs=0.0101)
        assert row["municipal_quality_rate_pct"] == pytest.approx(e["mun_quality"], abs=0.0151)
        assert row["regional_mark_2_pct"] == pytest.approx(e["reg_m2"], abs=0.0101)
        assert row["regional_pass_rate_pct"] == pytest.approx(e["reg_pass"], abs=0.0201)
        if e["n"] < MIN_CELL:
            assert row[SUPPRESSED_COLUMN] is True
            assert row["mark_2_pct"] is None and row["quality_rate_pct"] is None
        else:
            assert row[SUPPRESSED_COLUMN] is False
            # both are the same ratio rounded to 2 decimals, the report half to even, the mart half away from
            # zero (3.125 -> 3.12 / 3.13): one unit of the last place apart at most
            assert row["mark_2_pct"] == pytest.approx(e["m2"], abs=0.0101)
            # the report's shares of «3», «4», «5» are each rounded (±0.005), the mart's sum once more
            assert row["pass_rate_pct"] == pytest.approx(e["pass"], abs=0.0201)
            assert row["quality_rate_pct"] == pytest.approx(e["quality"], abs=0.0151)
            checked += 1
    assert checked > 0.8 * len(expected)


def test_small_cells_are_blanked_only_in_the_published_copy(loaded_region, expected):
    region, _, _ = loaded_region
    small = [k for k, e in expected.items() if e["n"] < MIN_CELL]
    assert small, "the small region should have some schools with fewer than 10 participants"
    login, year, proc = small[0]
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:
        value = con.execute(
            "select mark_2_pct from marts.school_year_results where school_login = ? and school_year = ? and procedure_id = ?",
            [login, year, proc],
        ).fetchone()[0]
    assert value == pytest.approx(expected[small[0]]["m2"], abs=0.0101)


def test_mart_finds_the_generators_low_and_stable_schools(loaded_region, published):
    region, _, _ = loaded_region
    mart = pl.from_arrow(published).join(region.truth.schools.select("school_login", "profile"), on="school_login")
    by_profile = mart.group_by("profile", "school_year").agg(
        (pl.col("mark_2_pct") * pl.col("participants")).sum()
        / pl.col("participants").filter(pl.col("mark_2_pct").is_not_null()).sum()
    )
    low = by_profile.filter(pl.col("profile") == PERSISTENTLY_LOW)["mark_2_pct"].to_list()
    stable = by_profile.filter(pl.col("profile") == STABLE)["mark_2_pct"].to_list()
    assert len(low) == len(SMALL_REGION.school_years) and min(low) >= 30
    assert max(stable) <= 20


def test_renamed_school_keeps_its_login_and_shows_each_years_name(loaded_region, published):
    region, _, _ = loaded_region
    login = region.truth.schools.filter(pl.col("renamed_in_year").is_not_null())["school_login"][0]
    names = (
        pl.from_arrow(published)
        .filter(pl.col("school_login") == login)
        .group_by("school_year")
        .agg(pl.col("school_name").unique())
    )
    truth = dict(
        region.truth.school_names.filter(pl.col("school_login") == login)
        .select("school_year", "school_name")
        .iter_rows()
    )
    assert {y: n[0] for y, n in names.iter_rows()} == truth
    assert len(set(truth.values())) == 2


def test_published_columns_carry_russian_labels(published):
    labels = {f.name: f.metadata[b"label_ru"].decode() for f in published.schema}
    assert labels["mark_2_pct"] == "Доля «2», %"
    assert labels["pass_rate_pct"] == "Успеваемость, %"
    assert labels["quality_rate_pct"] == "Качество, %"
    assert all(labels[c] != c for c in published.column_names), "every published column has a Russian label"
    assert published.schema.metadata[b"label_ru"].decode() == "Результаты ОО по процедурам"


def test_warehouse_keeps_docs_and_the_load_log(loaded_region):
    region, _, _ = loaded_region
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:
        comment = con.execute(
            "select comment from duckdb_columns() "
            "where table_name = 'school_year_results' and column_name = 'quality_rate_pct'"
        ).fetchone()[0]
        log = {
            r[0]: r[1:]
            for r in con.execute(
                "select source, count(*), sum(rows_loaded), sum(rows_rejected) from ingest.load_log "
                "where status = 'loaded' group by 1"
            ).fetchall()
        }
        raw_rows = con.execute("select count(*) from raw.vpr_mark_statistics").fetchone()[0]
        pupils = con.execute("select count(*) from raw.vpr_pupil_results").fetchone()[0]
    assert comment.startswith("Качество")
    truth, years = region.truth, len(SMALL_REGION.school_years)
    # every family of every year is loaded, each file once
    assert set(log) == set(load_sources())
    assert log["school_registry"] == (years, truth.school_names.height, 0)
    assert log["vpr_mark_statistics"] == (years, truth.vpr_marks.height, 0)
    assert raw_rows == truth.vpr_marks.height
    vpr_pupils = pl.read_parquet(region.settings.truth_dir / "vpr_pupil_summary.parquet")
    expected_pupils = vpr_pupils["participants"].sum() + vpr_pupils["absent"].sum()
    assert log["vpr_pupil_results"] == (years, expected_pupils, 0) and pupils == expected_pupils
    # one unknown school code in one year's ИСБШ and olympiad files: rejected and kept, the rest loaded
    assert log["isbsh_scores"][2] == 1 and log["olympiad_results"][2] == 1


def test_the_monitoring_report_survey_figures_come_back_from_the_raw_answers(loaded_region):
    """The municipal monitoring report's figures: support 3.71, effectiveness 3.67, comfort 3.33, satisfaction 3.67,
    split 1 / 5 / 1 (docs/indicators.md, survey_results)."""
    region, _, _ = loaded_region
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:

        def mean(questionnaire: str, code: str) -> float:
            return con.execute(
                "select round(avg(answer_score), 2) from raw.survey_answers "
                "where school_year = '2022-2023' and questionnaire = ? and question_code = ?",
                [questionnaire, code],
            ).fetchone()[0]

        split = dict(
            con.execute(
                "select answer_text, count(*) from raw.survey_answers where school_year = '2022-2023' "
                "and questionnaire = 'shnor_mentoring' and question_code = 'satisfaction' group by 1"
            ).fetchall()
        )
        means = [
            mean("shnor_mentoring", "mentor_support"),
            mean("mentor_schools", "project_effectiveness"),
            mean("mentor_schools", "comfort"),
            mean("mentor_schools", "satisfaction"),
        ]
        motives = dict(
            con.execute(
                "select answer_text, count(*) from raw.survey_answers where school_year = '2022-2023' "
                "and question_code = 'motives' group by 1"
            ).fetchall()
        )
    assert means == [3.71, 3.67, 3.33, 3.67]
    assert split == {"Да": 1, "Скорее да, чем нет": 5, "Скорее нет, чем да": 1}
    assert sorted(motives.values()) == [1, 2, 3, 6]


def test_every_mart_is_published_with_russian_labels(loaded_region):
    """Each model in dbt_project/models/marts/ is in data/marts/ as Parquet, every column labelled in Russian."""
    region, _, _ = loaded_region
    marts = {p.stem for p in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")}
    published = {p.name: mart_files(p.parent, p.name) for p in region.settings.marts_dir.iterdir() if p.is_dir()}
    assert set(published) == marts
    assert all(published.values())
    for name, path in ((n, p) for n, paths in published.items() for p in paths):
        schema = pq.read_schema(path)
        unlabelled = [
            f.name
            for f in schema
            if not (f.metadata or {}).get(b"label_ru") or f.name == (f.metadata or {}).get(b"label_ru", b"").decode()
        ]
        assert not [c for c in unlabelled if c != SUPPRESSED_COLUMN], (name, unlabelled)
