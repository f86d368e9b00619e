"""The yearly справка (pipelines/reports/), read as a person would: the DOCX through python-docx, the PDF through
pdftotext and pdftoppm. The small region's 2022-2023 справки are built once, through the Dagster job
`build_reports`; every figure of their tables is recomputed here from the Parquet marts with DuckDB and this
file's own formatter; the monitoring report's survey figures (3,71; 3,67; 3,33; 3,67; the 1 / 5 / 1 split) are
the seed's, written down here."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from docx import Document
from PIL import Image

from tests.conftest import mart_files, mart_parquet

YEAR = "2022-2023"  # the wave of the municipal monitoring report
PUPIL_MIN_N, SURVEY_MIN_N = 10, 3  # pipelines/config/publishing.yaml
NNBSP = "\u202f"
REGION = "Регион"


# --- this file's own reading and formatting ---------------------------------------------------------------------


def ru(value, decimals: int = 2) -> str:
    """The Russian way: decimal comma, U+202F thousands, U+2212 minus; None as «—»."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, int):
        decimals = 0
    text = f"{abs(float(value)):,.{decimals}f}".replace(",", NNBSP).replace(".", ",")
    return ("−" if round(float(value), decimals) < 0 else "") + text


def hidden(min_n: int) -> str:
    return f"скрыто (менее {min_n})"


def cell(value, suppressed: bool, min_n: int, decimals: int = 2) -> str:
    return hidden(min_n) if value is None and suppressed else ru(value, decimals)


def sql(marts: Path, query: str, *params) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(query.replace("{m}", str(marts)), list(params)).fetchall()


def docx_tables(path: Path) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """header row -> body rows (cell texts, line breaks as \\n)."""
    out = {}
    for table in Document(str(path)).tables:
        rows = [tuple(c.text for c in row.cells) for row in table.rows]
        out[rows[0]] = rows[1:]
    return out


def docx_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    parts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join(parts)


def table(tables: dict, first: str, column: str | None = None) -> list[tuple[str, ...]]:
    """The body of the one table whose first header cell is `first` (and which has a header cell `column`)."""
    found = [rows for header, rows in tables.items() if header[0] == first and (column is None or column in header)]
    assert len(found) == 1, (first, column, list(tables))
    return found[0]


def rows_or_none(tables: dict, first: str, column: str) -> list[tuple[str, ...]]:
    """Like table(), but a section with nothing to list has no table (it says so in a sentence): []."""
    found = [rows for header, rows in tables.items() if header[0] == first and column in header]
    assert len(found) <= 1, (first, column)
    return found[0] if found else []


def headings(path: Path) -> list[str]:
    return [p.text for p in Document(str(path)).paragraphs if p.style.name.startswith("Heading")]


def flat(text: str) -> str:
    return " ".join(text.split())


# --- the справки, built once ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(loaded_region):
    region, defs, instance = loaded_region
    result = defs.resolve_job_def("build_reports").execute_in_process(
        partition_key=YEAR, instance=instance, raise_on_error=False
    )
    assert result.success
    directory = region.settings.data_dir / "reports" / YEAR
    return region, directory, result


@pytest.fixture(scope="module")
def marts(loaded_region) -> Path:
    return loaded_region[0].settings.marts_dir


@pytest.fixture(scope="module")
def municipalities(marts) -> list[str]:
    return [
        r[0]
        for r in sql(
            marts,
            "select distinct municipality_name from '{m}/municipality_summary/*.parquet' "
            "where school_year = ? order by 1",
            YEAR,
        )
    ]


def test_a_docx_and_a_pdf_per_municipality_and_the_region(reports, municipalities):
    _, directory, result = reports
    expected = {*municipalities, REGION}
    assert {p.stem for p in directory.glob("*.docx")} == expected
    assert {p.stem for p in directory.glob("*.pdf")} == expected
    assert not [p for p in directory.iterdir() if p.name.startswith(".")], "a partial file was left behind"
    materialized = result.asset_materializations_for_node("reports__spravka")
    assert materialized and materialized[0].asset_key == dg.AssetKey(["reports", "spravka"])


def test_the_regional_spravka_names_the_monitoring_report_figures(reports):
    _, directory, _ = reports
    tables = docx_tables(directory / f"{REGION}.docx")
    survey = table(tables, "Анкета")
    all_groups = [r for r in survey if r[2] == "все"]
    means = {r[1]: r[4] for r in all_groups}
    assert means["Оцените поддержку вашей школы школой-наставником в решении школьных проблем (от 1 до 5)"] == "3,71"
    assert Counter(means.values()) >= Counter(["3,71", "3,67", "3,33", "3,67"])
    split = "Да: 1; Скорее да, чем нет: 5; Скорее нет, чем да: 1; Нет: 0"
    assert split in [r[5] for r in all_groups]
    pdf_text = flat(
        subprocess.run(
            ["pdftotext", str(directory / f"{REGION}.pdf"), "-"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    for figure in ("3,71", "3,67", "3,33"):
        assert f"средний балл {figure};" in pdf_text, figure
    assert "ответы: «Да» — 1, «Скорее да, чем нет» — 5, «Скорее нет, чем да» — 1, «Нет» — 0." in pdf_text
    assert "[Выводы: заполняет методист]" in pdf_text and "[Рекомендации: заполняет методист]" in pdf_text
    assert "не является оценкой" in pdf_text or "а не оценка работы учителей" in pdf_text


def _participants(marts: Path, year: str, municipality: str | None) -> dict[str, str]:
    where = "school_year = ?" + (" and municipality_name = ?" if municipality else "")
    params = [year, municipality] if municipality else [year]
    cols = ["schools", "shnor_official", "shnor_rosobrnadzor_risk", "shnor_regional_percentile", "nsu_schools"]
    sums = sql(
        marts,
        "select "
        + ", ".join(f"case when count({c}) = count(*) then sum({c}) end" for c in cols)
        + " from '{m}/municipality_summary/*.parquet' where "
        + where,
        *params,
    )[0]
    mentees, pairs = sql(
        marts,
        "select count(distinct school_login), coalesce(sum(pairs_total), 0) "
        "from '{m}/mentoring_coverage/*.parquet' where " + where,
        *params,
    )[0]
    [[mentors]] = sql(
        marts,
        "select count(distinct trim(m)) from (select unnest(string_split(mentor_school_logins, "
        "',')) as m from '{m}/mentoring_coverage/*.parquet' where " + where + ") where trim(m) <> ''",
        *params,
    )
    labels = [
        "Общеобразовательных организаций",
        "ШНОР (официальный перечень)",
        "ШНОР по индикатору риска Рособрнадзора (расчёт)",
        "ШНОР по региональному правилу (расчёт)",
    ]
    out = {label: ru(v) for label, v in zip(labels, sums[:4], strict=True)}
    out["НСУ"] = ru(sums[4])
    out["наставническую"] = ru(mentees)
    out["Школ-наставников"] = ru(mentors)
    out["Пар наставничества"] = ru(pairs)
    return out


def _check_participants(rows, expected: dict[str, str]) -> None:
    got = dict(rows)
    for key, value in expected.items():
        [label] = [label for label in got if key in label]
        assert got[label] == value, (label, got[label], value)


def _results(marts: Path, year: str, municipality: str | None):
    """(label -> cells) of the ВПР/ОГЭ table and of the ЕГЭ table."""
    rows = sql(
        marts,
        """
        select assessment_name, grade, subject_name,
               any_value(regional_participants), any_value(municipal_participants) filter (where municipality_name = ?),
               any_value(regional_mark_2_pct), any_value(regional_pass_rate_pct), any_value(regional_quality_rate_pct),
               any_value(regional_mean_test_score), any_value(regional_below_minimum_pct),
               list(distinct [municipality_name, municipal_mark_2_pct::varchar, municipal_pass_rate_pct::varchar,
                     municipal_quality_rate_pct::varchar, municipal_mean_test_score::varchar,
                     municipal_below_minimum_pct::varchar])
        from '{m}/school_year_results/*.parquet' where school_year = ? group by all""",
        municipality or "",
        year,
    )
    main, ege = {}, {}
    for a, grade, subject, reg_n, mun_n, r2, rp, rq, rs, rb, per_mun in rows:

        def num(x):
            return None if x is None else float(x)

        muni = {m[0]: [num(x) for x in m[1:]] for m in per_mun}
        if municipality is None:

            def other(i, muni=muni):
                values = [v[i] for v in muni.values() if v[i] is not None]
                return f"{ru(min(values))}–{ru(max(values))}" if values else "—"

            here_n, here = reg_n, [r2, rp, rq, rs, rb]
            others = [other(i) for i in range(5)]
        else:
            if municipality not in muni:
                continue
            here_n, here = mun_n, muni[municipality]
            others = [ru(v) for v in (r2, rp, rq, rs, rb)]
        if a == "ЕГЭ":
            ege[subject] = (ru(here_n), ru(here[3]), others[3], ru(here[4]), others[4])
        else:
            main[f"{a} {grade} кл., {subject}"] = (
                ru(here_n),
                ru(here[0]),
                others[0],
                ru(here[1]),
                others[1],
                ru(here[2]),
                others[2],
            )
    return main, ege


def _kpis(marts: Path, year: str, municipality: str | None):
    level = "territory_level = 'municipality' and territory_name = ?" if municipality else "territory_level = 'region'"
    params = [year, municipality] if municipality else [year]
    return sorted(
        (name, cell(value, s, PUPIL_MIN_N), cell(previous, s, PUPIL_MIN_N), cell(met, s, PUPIL_MIN_N))
        for name, value, previous, met, s in sql(
            marts,
            "select kpi_name_ru, value_pct, previous_value_pct, is_met, is_suppressed "
            "from '{m}/programme_kpis/*.parquet' where school_year = ? and " + level,
            *params,
        )
    )


def _coverage(marts: Path, year: str, municipality: str | None):
    where = "school_year = ?" + (" and municipality_name = ?" if municipality else "")
    params = [year, municipality] if municipality else [year]
    out = []
    for subject, schools, total, held, planned, not_held in sql(
        marts,
        "select subject_name, count(distinct school_login), sum(pairs_total), sum(pairs_held), "
        "sum(pairs_planned), sum(pairs_not_held) from '{m}/mentoring_coverage/*.parquet' where "
        + where
        + " group by 1 order by 1",
        *params,
    ):
        pct = ru(round(100 * held / total, 2)) if total >= PUPIL_MIN_N else hidden(PUPIL_MIN_N)
        out.append((subject, ru(schools), ru(total), ru(held), ru(planned), ru(not_held), pct))
    return out


def _survey(marts: Path, year: str):
    return sorted(
        (
            "все" if g == "all" else g,
            ru(n),
            cell(mean, s, SURVEY_MIN_N),
            dist if dist is not None else hidden(SURVEY_MIN_N),
            cell(top, s, SURVEY_MIN_N),
        )
        for g, n, mean, dist, top, s in sql(
            marts,
            "select respondent_group, n_respondents, mean_score, distribution, top_box_pct, is_suppressed "
            "from '{m}/survey_results/*.parquet' where school_year = ? and question_type = 'scale'",
            year,
        )
    )


def _effect(marts: Path, year: str):
    return sorted(
        (cohort, f"{ru(t)} / {ru(c)}", ru(did), f"от {ru(lo)} до {ru(hi)}" if lo is not None else "—")
        for cohort, t, c, did, lo, hi in sql(
            marts,
            "select cohort_school_year, treated_schools, comparison_schools, did, did_ci_low, did_ci_high "
            "from '{m}/mentoring_effect/*.parquet' where school_year = ? and isbsh_category = 'all' "
            "and settlement_group = 'all'",
            year,
        )
    )


def _risk(marts: Path, year: str, municipality: str | None):
    where = "school_year = ? and is_risk_zone" + (" and municipality_name = ?" if municipality else "")
    params = [year, municipality] if municipality else [year]
    return sorted(
        (ru(i, 3), cat or "—", ru(m2), ru(ch))
        for i, cat, m2, ch in sql(
            marts,
            "select isbsh_score, isbsh_category, vpr_mark_2_pct, vpr_mark_2_change_pp "
            "from '{m}/school_context/*.parquet' where " + where,
            *params,
        )
    )


def _transitions(marts: Path, year: str, municipality: str | None) -> dict[str, str]:
    where = "school_year = ? and list_type = 'official' and list_name = 'ШНОР'" + (
        " and municipality_name = ?" if municipality else ""
    )
    params = [year, municipality] if municipality else [year]
    [(entered, stayed, exited)] = sql(
        marts,
        "select count(*) filter (where is_entered), count(*) filter (where is_stayed), "
        "count(*) filter (where is_exited) from '{m}/list_transitions/*.parquet' where " + where,
        *params,
    )
    return {
        "Вошли в перечень": ru(entered),
        "Остались в перечне": ru(stayed),
        "Вышли (переход в эффективный режим)": f"{ru(exited)} из {ru(stayed + exited)}",
    }


def _shnor_rows(marts: Path, year: str, municipality: str | None) -> tuple[int, int]:
    where = "school_year = ?" + (" and municipality_name = ?" if municipality else "")
    params = [year, municipality] if municipality else [year]
    [(schools, official)] = sql(
        marts,
        """
        select count(*), count(*) filter (where official) from (
            select school_login, bool_or(coalesce(is_in_official_list, false)) as official,
                   bool_or(coalesce(is_flagged, false)) as flagged
            from '{m}/school_flags/*.parquet' where """
        + where
        + """ group by 1) where official or flagged""",
        *params,
    )
    return schools, official


@pytest.fixture(scope="module")
def later_reports(reports, marts, tmp_path_factory) -> tuple[str, Path]:
    """The last school year's справки (DOCX only): figures in a year with previous ones (risk zone, dynamics)."""
    from pipelines.reports.render import build_year
    from pipelines.settings import Settings

    root = tmp_path_factory.mktemp("later")
    (root / "marts").symlink_to(marts)
    [[year]] = sql(marts, "select max(school_year) from '{m}/municipality_summary/*.parquet'")
    built = build_year(Settings(root), year, log=lambda _: None, pdf=False)
    return year, built.directory


@pytest.mark.parametrize("later", [False, True], ids=["first-year", "last-year"])
@pytest.mark.parametrize("who", ["region", "municipality"])
def test_every_number_in_the_tables_equals_the_marts(reports, later_reports, marts, municipalities, who, later):
    year, directory = later_reports if later else (YEAR, reports[1])
    municipality = None if who == "region" else municipalities[0]
    tables = docx_tables(directory / f"{municipality or REGION}.docx")
    if later and municipality is None:  # not a comparison of empty lists
        assert _risk(marts, year, None) and _coverage(marts, year, None)

    _check_participants(table(tables, "Показатель", "Значение"), _participants(marts, year, municipality))

    main, ege = _results(marts, year, municipality)
    assert {r[0]: r[1:] for r in table(tables, "Процедура")} == main
    assert {r[0]: r[1:] for r in table(tables, "Предмет ЕГЭ")} == ege

    schools, official = _shnor_rows(marts, year, municipality)
    shnor = table(tables, "ОО", "Официальный перечень ШНОР")
    assert (len(shnor), sum(r[1] == "да" for r in shnor)) == (schools, official)
    assert {r[0]: r[1] for r in table(tables, "Переход")} == _transitions(marts, year, municipality)

    assert sorted(r[1:5] for r in rows_or_none(tables, "ОО", "ИСБШ")) == _risk(marts, year, municipality)
    assert [r[:7] for r in rows_or_none(tables, "Предмет", "Пар всего")] == _coverage(marts, year, municipality)
    assert sorted((r[0], r[2], r[3], r[4]) for r in rows_or_none(tables, "Когорта", "Вывод")) == _effect(marts, year)
    assert sorted(r[2:] for r in rows_or_none(tables, "Анкета", "Группа")) == _survey(marts, year)
    assert sorted((r[0], r[2], r[3], r[4]) for r in table(tables, "Показатель", "Цель, %")) == _kpis(
        marts, year, municipality
    )

    if municipality is None:
        counts = {
            name: (ru(schools), ru(cases))
            for name, schools, cases in sql(
                marts,
                "select municipality_name, count(distinct school_key), count(*) from "
                "'{m}/school_dynamics/*.parquet' where school_year = ? and is_negative_dynamics group by 1",
                year,
            )
        }
        got = {r[0]: r[1:] for r in table(tables, "Муниципальное образование")}
        assert got == {m: counts.get(m, ("0", "0")) for m in municipalities}
        markers = sorted(
            (name, ru(schools), ru(cases))
            for name, schools, cases in sql(
                marts,
                "select marker_name_ru, count(distinct school_key), count(*) from "
                "'{m}/objectivity_markers/*.parquet' where school_year = ? and is_marked group by 1",
                year,
            )
        )
        assert sorted((r[0], r[2], r[3]) for r in table(tables, "Маркер")) == markers
    else:
        dynamics = sorted(
            (cell(p, s, PUPIL_MIN_N), cell(v, s, PUPIL_MIN_N), cell(c, s, PUPIL_MIN_N))
            for p, v, c, s in sql(
                marts,
                "select previous_value, indicator_value, change, is_suppressed from "
                "'{m}/school_dynamics/*.parquet' where school_year = ? and is_negative_dynamics "
                "and municipality_name = ?",
                year,
                municipality,
            )
        )
        assert sorted(r[3:] for r in rows_or_none(tables, "ОО", "Прошлый год")) == dynamics
        markers = sorted(
            (name, cell(v, s, PUPIL_MIN_N), ru(t, 1))
            for name, v, t, s in sql(
                marts,
                "select marker_name_ru, value, threshold, is_suppressed from "
                "'{m}/objectivity_markers/*.parquet' where school_year = ? and is_marked "
                "and municipality_name = ?",
                year,
                municipality,
            )
        )
        assert sorted((r[2], r[4], r[5]) for r in rows_or_none(tables, "ОО", "Порог")) == markers


def test_a_suppressed_cell_prints_the_rule_never_zero(reports, marts, municipalities):
    _, directory, _ = reports
    suppressed = sql(
        marts,
        "select territory_name, kpi_name_ru from '{m}/programme_kpis/*.parquet' where "
        "school_year = ? and territory_level = 'municipality' and is_suppressed",
        YEAR,
    )
    assert suppressed, "the small region should have KPIs over fewer than 10"
    for municipality, kpi in suppressed:
        rows = table(docx_tables(directory / f"{municipality}.docx"), "Показатель", "Цель, %")
        [row] = [r for r in rows if r[0] == kpi]
        assert row[2] == row[3] == row[4] == "скрыто (менее 10)", row
    pdf = directory / f"{suppressed[0][0]}.pdf"
    text = flat(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60).stdout
    )
    assert "скрыто (менее 10)" in text


def test_the_pdf_has_text_pages_and_charts(reports, tmp_path):
    _, directory, _ = reports
    docx = directory / f"{REGION}.docx"
    with zipfile.ZipFile(docx) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/") and n.endswith(".png")]
    assert len(media) == 2, media  # bar chart by procedure, survey chart (the first year has no line over years)
    pdf = directory / f"{REGION}.pdf"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3

    def coloured(path: Path) -> int:
        image = Image.open(path).convert("RGB")
        return sum(1 for r, g, b in image.getdata() if b - r > 60 and b - g > 20)  # the charts' blue bars

    assert max(coloured(p) for p in pages) > 400, "no chart drawn on any page"
    first = Image.open(pages[0]).convert("L")
    assert sum(1 for v in first.getdata() if v < 128) > 2000, "the first page is blank"


def test_a_later_year_has_the_line_chart_over_the_years(later_reports, marts):
    year, directory = later_reports
    region = directory / f"{REGION}.docx"
    with zipfile.ZipFile(region) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/") and n.endswith(".png")]
    [[survey]] = sql(marts, "select count(*) from '{m}/survey_results/*.parquet' where school_year = ?", year)
    # bar chart by procedure, line chart over the years, and the survey chart if there was a survey that year
    assert len(media) == 2 + (survey > 0), media
    assert "все муниципальные образования, доля «2» ВПР; опубликована" in docx_text(region)


def _write_mart(con: duckdb.DuckDBPyConnection, marts: Path, mart: str) -> None:
    """Table t as the mart's only part in a copy of the marts (its former parts removed)."""
    for part in mart_files(marts, mart):
        part.unlink()
    con.execute(f"copy t to '{marts / mart / 'all.parquet'}' (format parquet)")


def test_a_municipality_without_shnor_gets_the_short_spravka(reports, marts, municipalities, tmp_path):
    """The marts copied with one municipality's schools taken off every ШНОР list and rule."""
    from pipelines.reports.content import YearMarts, build_spravka
    from pipelines.reports.render import write_docx

    with_shnor = "2. Перечень ШНОР и переход в эффективный режим"
    quiet = next(m for m in municipalities if with_shnor in headings(reports[1] / f"{m}.docx"))
    copy = tmp_path / "marts"
    shutil.copytree(marts, copy, ignore=shutil.ignore_patterns("*.duckdb"))
    with duckdb.connect() as con:
        for mart, sets in {
            "school_flags": "is_flagged = case when is_flagged is null then null else false end, "
            "flag_status = case when flag_status = 'flagged' then 'not_flagged' else flag_status end, "
            "reason_codes = null, is_in_official_list = false",
            "list_transitions": "is_in_list = false, is_entered = false, is_stayed = false, is_exited = false, "
            "status = 'not_in_list'",
        }.items():
            con.execute(f"create table t as select * from read_parquet('{mart_parquet(copy, mart)}')")
            con.execute(f"update t set {sets} where municipality_name = ?", [quiet])
            _write_mart(con, copy, mart)
            con.execute("drop table t")
    spravka = build_spravka(YearMarts(copy, YEAR), quiet)
    docx = write_docx(spravka, tmp_path / "out")
    text = docx_text(docx)
    assert "нет школ с низкими образовательными результатами" in text
    assert headings(docx) == [
        "1. Участники программы",
        "2. Школы с низкими образовательными результатами",
        "3. Результаты оценочных процедур",
        "Школы с отрицательной динамикой",
        "4. Зона риска",
        "5. Маркеры необъективности (аналитика)",
        "6. Целевые показатели программы",
        "7. Выводы",
        "8. Рекомендации",
    ]
    tables = docx_tables(docx)
    assert all(rows for rows in tables.values()), "an empty table"
    assert not [h for h in tables if "Официальный перечень ШНОР" in h or "Пар всего" in h or h[0] == "Анкета"]


def test_without_libreoffice_the_docx_is_written_and_the_pdf_step_says_why(reports, marts, tmp_path, monkeypatch):
    from pipelines.reports import render
    from pipelines.settings import Settings

    (tmp_path / "marts").symlink_to(marts)
    monkeypatch.setattr(render, "soffice_path", lambda: None)
    with pytest.raises(render.ReportError, match="LibreOffice"):
        render.build_year(Settings(tmp_path), YEAR, log=lambda _: None)
    assert (tmp_path / "reports" / YEAR / f"{REGION}.docx").exists()
    assert not list((tmp_path / "reports" / YEAR).glob("*.pdf"))


def test_the_sensor_requests_a_report_run_per_school_year_after_the_marts(
    reports, loaded_region, loaded_region_history
):
    """After the marts run that built the region (from the instance that ran it)."""
    from pipelines.defs.operations import MARTS_JOB

    region, defs, _ = loaded_region
    instance = loaded_region_history
    [run] = instance.get_runs(filters=dg.RunsFilter(job_name=MARTS_JOB), limit=1)
    [record] = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    sensor = defs.get_sensor_def("reports_after_marts")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=record.event_log_entry.dagster_event,
    )
    requests = sensor(context)
    first = region.params.first_year
    assert sorted(r.partition_key for r in requests) == [
        f"{y}-{y + 1}" for y in range(first, first + region.params.years)
    ]
    assert len({r.run_key for r in requests}) == len(requests)
    assert sensor.job_name == "build_reports"


def test_the_mentoring_effect_prints_its_interval_and_its_sentence(marts, tmp_path):
    """The small region has too few schools for a mentoring-effect estimate: two are written into a copy of the
    mart, one with an interval away from zero and one not distinguishable from zero."""
    from pipelines.reports.content import REGION as REGION_NAME
    from pipelines.reports.content import YearMarts, build_spravka
    from pipelines.reports.render import write_docx

    copy = tmp_path / "marts"
    shutil.copytree(marts, copy, ignore=shutil.ignore_patterns("*.duckdb"))
    credible = "Эффект наставничества на долю «2»: −13,8 п.п. (95% ДИ от −18,8 до −8,7)"
    zero = "Эффект наставничества на средний первичный балл неотличим от нуля"
    with duckdb.connect() as con:
        con.execute(f"create table t as select * from read_parquet('{mart_parquet(copy, 'mentoring_effect')}') limit 0")
        con.execute(
            "insert into t (cohort_school_year, school_year, isbsh_category, settlement_group, indicator, "
            "treated_schools, comparison_schools, did, did_ci_low, did_ci_high, is_credible, conclusion_ru) values "
            "(?, ?, 'all', 'all', 'mark_2_pct', 7, 8, -13.77, -18.82, -8.72, true, ?), "
            "(?, ?, 'all', 'all', 'mean_primary_score', 7, 8, 0.4, -0.35, 1.15, true, ?)",
            [YEAR, YEAR, credible, YEAR, YEAR, zero],
        )
        _write_mart(con, copy, "mentoring_effect")
    docx = write_docx(build_spravka(YearMarts(copy, YEAR), REGION_NAME), tmp_path / "out")
    assert sorted(rows_or_none(docx_tables(docx), "Когорта", "Вывод")) == sorted(
        [
            (YEAR, "Доля «2», п.п.", "7 / 8", ru(-13.77), f"от {ru(-18.82)} до {ru(-8.72)}", credible),
            (YEAR, "Средний первичный балл", "7 / 8", ru(0.4), f"от {ru(-0.35)} до {ru(1.15)}", zero),
        ]
    )
    assert ru(-13.77) == "−13,77"
