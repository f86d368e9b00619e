"""The assessment exports of the sample region: scales as seeds, pupil-level ВПР / ОГЭ / ЕГЭ files that
aggregate exactly to the truth, and the school-level workbooks (ВПР distributions and journal comparison,
РЦОИ ОГЭ / ЕГЭ) that agree with the pupil files of the same year."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import polars as pl
import pytest

from pipelines.sample_region import assessments as A
from pipelines.sample_region import simulate_region
from pipelines.sample_region.model import PERSISTENTLY_LOW, STABLE

from .conftest import SMALL_REGION

YEARS = SMALL_REGION.school_years  # 2022-2023 .. 2024-2025
KEYS = ["school_login", "school_year", "grade", "subject_code"]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("assessments")
    truth = simulate_region(SMALL_REGION)
    files = A.write_assessment_exports(truth, tmp / "raw", tmp / "truth")
    return SimpleNamespace(truth=truth, raw=tmp / "raw", truth_dir=tmp / "truth", files=files, scales=A.load_scales())


def _one(folder: Path) -> Path:
    (path,) = folder.iterdir()
    return path


def _vpr_pupils(region, school_year: str) -> pl.DataFrame:
    path = _one(region.raw / "vpr_pupil_results" / school_year)
    frame = pl.read_csv(path, separator=";", encoding="cp1251", infer_schema_length=0)
    return frame.filter(pl.col("Учебный год") != "Учебный год").with_columns(
        pl.lit(school_year).alias("school_year"), pl.col("Класс").cast(pl.Int64)
    )


def _mark_from_scale(score: pl.Expr) -> pl.Expr:
    return (
        pl.when(score >= pl.col("mark_5_from"))
        .then(5)
        .when(score >= pl.col("mark_4_from"))
        .then(4)
        .when(score >= pl.col("mark_3_from"))
        .then(3)
        .otherwise(2)
    )


# ---------------------------------------------------------------------------------------------------------------
# scales


def test_seeds_cover_the_years_and_change_between_them():
    scales = A.load_scales()
    vpr = scales.vpr
    assert vpr.height == 8 * 5 * 2 and vpr.select(KEYS[1:]).is_unique().all()
    assert sorted(vpr["school_year"].unique()) == [f"{y}-{y + 1}" for y in range(2019, 2027)]
    assert set(vpr["subject_code"]) == {"РУ", "МА"} and set(vpr["grade"]) == {4, 5, 6, 7, 8}
    assert (vpr["mark_3_from"] > 0).all() and (vpr["mark_3_from"] < vpr["mark_4_from"]).all()
    assert (vpr["mark_4_from"] < vpr["mark_5_from"]).all() and (vpr["mark_5_from"] <= vpr["max_primary_score"]).all()
    ru, ma = (vpr.filter(pl.col("subject_code") == c)["max_primary_score"] for c in ("РУ", "МА"))
    assert ru.min() >= 38 and ru.max() <= 51 and ma.min() >= 15 and ma.max() <= 20
    versions = vpr.group_by("grade", "subject_code").agg(pl.struct(pl.exclude("school_year", *KEYS[2:])).n_unique())
    assert versions.filter(pl.col("max_primary_score") > 1).height >= 5  # scales really change over the years

    oge = scales.oge
    assert oge.select("exam_year", "subject").is_unique().all() and set(oge["exam_year"]) == set(range(2020, 2028))
    cols = ["max_primary_score", "mark_3_from", "mark_4_from", "mark_5_from", "part_name"]
    cols += ["part_min_for_3", "part_min_for_4", "part_min_for_5"]
    got = {r[0]: r[1:] for r in oge.filter(pl.col("exam_year") == 2024).select("subject", *cols).iter_rows()}
    assert got == {
        "Математика": (31, 8, 15, 22, "геометрия", 2, 2, 2),
        "Русский язык": (33, 15, 23, 29, "грамотность", 0, 4, 6),
    }
    assert oge.select(pl.exclude("exam_year")).n_unique() > 2

    ege = scales.ege_minimum
    assert ege.select("exam_year", "subject", "purpose").is_unique().all()
    assert set(ege["exam_year"]) == set(range(2020, 2028)) and set(ege["purpose"]) == {"attestat", "university"}
    y2026 = {(s, p): v for _, s, p, v in ege.filter(pl.col("exam_year") == 2026).iter_rows()}
    assert y2026[("Русский язык", "attestat")] == 24 and y2026[("Русский язык", "university")] == 36
    expected = {"Математика профильная": 27, "Физика": 36, "Химия": 36, "Биология": 36, "Информатика": 40}
    expected |= {"История": 32, "Литература": 32, "География": 37, "Обществознание": 42, "Иностранный язык": 22}
    assert all(y2026[(s, "university")] == v for s, v in expected.items())
    assert ege.group_by("subject", "purpose").agg(pl.col("min_test_score").n_unique())["min_test_score"].max() > 1


# ---------------------------------------------------------------------------------------------------------------
# ВПР pupil level


def test_vpr_pupil_file_encoding_header_and_repeated_header_quirk(region):
    header = ";".join(A.VPR_PUPIL_HEADER).encode("cp1251") + b"\r\n"
    assert header.decode("cp1251") == "Учебный год;Класс;Код предмета;ОО;Код ученика;Балл;Отметка\r\n"
    for i, year in enumerate(YEARS):
        path = _one(region.raw / "vpr_pupil_results" / year)
        assert path.name == f"ВПР {year[-4:]} результаты участников.csv"
        data = path.read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n")  # CRLF everywhere
        assert data.startswith(header * 2) == (i == A.VPR_REPEATED_HEADER_YEAR)
        assert data.startswith(header) and data.count(header) == (2 if i == 1 else 1)


def test_vpr_pupil_marks_equal_truth_and_scores_lie_in_the_marks_band(region):
    absent_scores = set()
    for year in YEARS:
        pupils = _vpr_pupils(region, year)
        assert (pupils["Учебный год"] == year.replace("-", "/")).all()
        assert pupils["Код ученика"].str.contains(r"^47-\d{4}-\d{6}$").all()
        assert pupils.select("Код ученика", "Код предмета").is_unique().all()
        absent = pupils.filter(pl.col("Отметка") == "отсутствовал")
        absent_scores |= set(absent["Балл"])
        wrote = pupils.filter(pl.col("Отметка") != "отсутствовал")
        assert 0.015 < absent.height / wrote.height < 0.05

        counts = (
            wrote.group_by(pl.col("ОО").alias("school_login"), pl.col("Класс").alias("grade"), "Код предмета")
            .agg(*(((pl.col("Отметка") == str(k)).sum().cast(pl.Int64).alias(f"mark_{k}")) for k in (2, 3, 4, 5)))
            .with_columns(subject=pl.col("Код предмета").replace_strict({"РУ": "Русский язык", "МА": "Математика"}))
        )
        truth = region.truth.vpr_marks.filter(pl.col("school_year") == year)
        cols = ["school_login", "grade", "subject", "mark_2", "mark_3", "mark_4", "mark_5"]
        assert counts.select(cols).sort(cols[:3]).equals(truth.select(cols).sort(cols[:3]))

        scored = wrote.with_columns(pl.col("Балл").cast(pl.Int64), pl.col("Отметка").cast(pl.Int64)).join(
            region.scales.vpr.filter(pl.col("school_year") == year),
            left_on=["Класс", "Код предмета"],
            right_on=["grade", "subject_code"],
        )
        assert scored.height == wrote.height
        assert (scored["Балл"] >= 0).all() and (scored["Балл"] <= scored["max_primary_score"]).all()
        assert scored.select((_mark_from_scale(pl.col("Балл")) == pl.col("Отметка")).all()).item()
    assert absent_scores == {"х", "X"}  # Cyrillic in some rows, Latin in others


def test_vpr_pupil_summary_matches_the_file(region):
    summary = pl.read_parquet(region.truth_dir / "vpr_pupil_summary.parquet")
    assert summary.height == region.truth.vpr_marks.height
    for year in YEARS:
        got = (
            _vpr_pupils(region, year)
            .group_by(
                pl.col("ОО").alias("school_login"),
                "school_year",
                pl.col("Класс").alias("grade"),
                pl.col("Код предмета").alias("subject_code"),
            )
            .agg(
                participants=(pl.col("Отметка") != "отсутствовал").sum().cast(pl.Int64),
                absent=(pl.col("Отметка") == "отсутствовал").sum().cast(pl.Int64),
                mean_score=pl.col("Балл").cast(pl.Int64, strict=False).mean(),
            )
        )
        want = summary.filter(pl.col("school_year") == year).select(*KEYS, "participants", "absent", "mean_score")
        joined = want.join(got, on=KEYS, suffix="_file")
        assert joined.height == want.height == got.height
        assert (joined["participants"] == joined["participants_file"]).all()
        assert (joined["absent"] == joined["absent_file"]).all()
        assert np.allclose(joined["mean_score"], joined["mean_score_file"])


def test_vpr_pupil_writer_streams_and_is_deterministic(region, tmp_path, monkeypatch):
    calls = []
    original = A._vpr_pupil_chunk

    def spy(rng, truth, chunk, width):
        calls.append(chunk["school_login"].n_unique())
        return original(rng, truth, chunk, width)

    monkeypatch.setattr(A, "_vpr_pupil_chunk", spy)
    paths = A.write_vpr_pupil_results(region.truth, tmp_path / "a")
    assert max(calls) <= A.VPR_CHUNK_SCHOOLS
    for path, year in zip(paths, YEARS, strict=True):  # the public writer is the one behind the export
        assert path.read_bytes() == _one(region.raw / "vpr_pupil_results" / year).read_bytes()

    monkeypatch.setattr(A, "VPR_CHUNK_SCHOOLS", 5)  # many small chunks: still exactly the truth
    calls.clear()
    small = A.write_vpr_pupil_results(region.truth, tmp_path / "b")
    assert max(calls) == 5 and len(calls) == len(YEARS) * -(-SMALL_REGION.schools // 5)
    for path, year in zip(small, YEARS, strict=True):
        pupils = pl.read_csv(path, separator=";", encoding="cp1251", infer_schema_length=0)
        wrote = pupils.filter(~pl.col("Отметка").is_in(["отсутствовал", "Отметка"]))
        assert wrote.height == region.truth.vpr_marks.filter(pl.col("school_year") == year)["participants"].sum()


# ---------------------------------------------------------------------------------------------------------------
# ВПР school level


def _sheet_rows(path: Path) -> tuple[list[tuple], openpyxl.worksheet.worksheet.Worksheet]:
    ws = openpyxl.load_workbook(path).active
    return list(ws.iter_rows(values_only=True)), ws


def test_vpr_score_distribution_agrees_with_pupil_scores(region):
    for year in YEARS:
        path = _one(region.raw / "vpr_score_distribution" / year)
        assert path.name == f"ВПР {year[-4:]} Распределение первичных баллов.xlsx"
        rows, _ = _sheet_rows(path)
        assert rows[0][0] == "Распределение первичных баллов" and rows[2] == (None,) * len(rows[2])
        scales = region.scales.vpr.filter(pl.col("school_year") == year)
        top = scales["max_primary_score"].max()
        assert list(rows[3]) == A.VPR_ID_HEADER + [str(s) for s in range(top + 1)]
        pupils = _vpr_pupils(region, year).filter(pl.col("Отметка") != "отсутствовал")
        hist = {
            (r[0], r[1], r[2], int(r[3])): r[4]
            for r in pupils.group_by("ОО", "Класс", "Код предмета", "Балл").len().iter_rows()
        }
        names = dict(
            region.truth.school_names.filter(pl.col("school_year") == year)
            .select("school_login", "school_name")
            .iter_rows()
        )
        maxima = {(g, c): m for g, c, m in scales.select("grade", "subject_code", "max_primary_score").iter_rows()}
        data = rows[4:]
        assert len(data) == region.truth.vpr_marks.filter(pl.col("school_year") == year).height
        for row in data:
            spring, grade, subject, _, login, name, n = row[:7]
            code = A.VPR_SUBJECT_CODES[subject]
            own_max = maxima[(grade, code)]
            assert spring == int(year[-4:]) and name == names[login]
            assert all(v is None for v in row[7 + own_max + 1 :])
            shares = row[7 : 7 + own_max + 1]
            assert shares == tuple(round(100 * hist.get((login, grade, code, s), 0) / n, 2) for s in range(own_max + 1))
            assert abs(sum(shares) - 100) < 0.01 * (own_max + 1)


def test_vpr_journal_comparison_layout_and_counts(region):
    summary = pl.read_parquet(region.truth_dir / "vpr_pupil_summary.parquet")
    for year in YEARS:
        rows, ws = _sheet_rows(_one(region.raw / "vpr_journal_comparison" / year))
        merged = {str(m) for m in ws.merged_cells.ranges}
        assert merged == {f"{c}4:{c}5" for c in "ABCDEFG"} | {"H4:I4", "J4:K4", "L4:M4"}
        assert list(rows[3][:8]) == A.VPR_ID_HEADER + ["Понизили (Отметка < Отметка по журналу)"]
        assert rows[3][9] == "Подтвердили (Отметка = Отметке по журналу)"
        assert rows[3][11] == "Повысили (Отметка > Отметка по журналу)"
        assert rows[4][7:] == ("Кол-во", "%") * 3
        truth = {
            (r["school_login"], r["grade"], r["subject"]): r
            for r in summary.filter(pl.col("school_year") == year).iter_rows(named=True)
        }
        assert len(rows) - 5 == len(truth)
        for row in rows[5:]:
            t = truth[(row[4], row[1], row[2])]
            n = row[6]
            counts = row[7::2]
            assert n == t["participants"] and sum(counts) == n
            assert counts == (t["journal_lowered"], t["journal_confirmed"], t["journal_raised"])
            assert row[8::2] == tuple(round(100 * c / n, 2) for c in counts)
    # a ВПР «2» cannot be above the journal mark, a ВПР «5» cannot be below it
    assert (summary["journal_raised"] <= summary["participants"] - summary["mark_2"]).all()
    assert (summary["journal_lowered"] <= summary["participants"] - summary["mark_5"]).all()
    by_profile = (
        summary.join(region.truth.schools, on="school_login")
        .group_by("profile")
        .agg(raised=pl.col("journal_raised").sum() / pl.col("participants").sum())
    )
    raised = dict(by_profile.iter_rows())
    assert raised[PERSISTENTLY_LOW] > raised[STABLE]


# ---------------------------------------------------------------------------------------------------------------
# ОГЭ and ЕГЭ pupil level


def _oge(region, year: str) -> pl.DataFrame:
    return pl.read_csv(_one(region.raw / "oge_pupil_results" / year), separator=";", encoding="utf8")


def _ege(region, year: str) -> pl.DataFrame:
    return pl.read_csv(_one(region.raw / "ege_pupil_results" / year), separator=";", encoding="cp1251")


def test_oge_pupil_marks_follow_the_scale_with_part_conditions(region):
    summary = pl.read_parquet(region.truth_dir / "oge_pupil_summary.parquet")
    part_failures = 0
    for year in YEARS:
        path = _one(region.raw / "oge_pupil_results" / year)
        raw = path.read_bytes()
        assert raw.startswith("\ufeff".encode() + ";".join(A.OGE_PUPIL_HEADER).encode() + b"\n")
        pupils = _oge(region, year)
        assert pupils.columns == A.OGE_PUPIL_HEADER and (pupils["Год"] == int(year[-4:])).all()
        assert pupils.select("Код участника", "Предмет").is_unique().all()
        assert pupils.group_by("Код участника").len()["len"].eq(2).all()  # every pupil sits maths and Russian
        maths = pupils.filter(pl.col("Предмет") == "Математика")
        russian = pupils.filter(pl.col("Предмет") == "Русский язык")
        assert (
            maths["Баллы по геометрии"].null_count() == 0 and maths["Баллы за грамотность"].null_count() == maths.height
        )
        assert (
            russian["Баллы за грамотность"].null_count() == 0
            and russian["Баллы по геометрии"].null_count() == russian.height
        )
        scored = pupils.with_columns(part=pl.coalesce("Баллы по геометрии", "Баллы за грамотность")).join(
            region.scales.oge, left_on=["Год", "Предмет"], right_on=["exam_year", "subject"]
        )
        assert (scored["part"] <= scored["Первичный балл"]).all()
        assert (scored["Первичный балл"] <= scored["max_primary_score"]).all()
        p, part = pl.col("Первичный балл"), pl.col("part")
        expected = (
            pl.when((p >= pl.col("mark_5_from")) & (part >= pl.col("part_min_for_5")))
            .then(5)
            .when((p >= pl.col("mark_4_from")) & (part >= pl.col("part_min_for_4")))
            .then(4)
            .when((p >= pl.col("mark_3_from")) & (part >= pl.col("part_min_for_3")))
            .then(3)
            .otherwise(2)
        )
        assert scored.select((expected == pl.col("Отметка")).all()).item()
        part_failures += scored.filter(_mark_from_scale(p) != pl.col("Отметка")).height
        got = (
            pupils.group_by(pl.col("Логин ОО").alias("school_login"), pl.col("Предмет").alias("subject"))
            .agg(
                participants=pl.len().cast(pl.Int64),
                mark_2=(pl.col("Отметка") == 2).sum().cast(pl.Int64),
                mark_4_5=(pl.col("Отметка") >= 4).sum().cast(pl.Int64),
                mean_mark=pl.col("Отметка").mean(),
            )
            .sort("school_login", "subject")
        )
        want = summary.filter(pl.col("school_year") == year).sort("school_login", "subject")
        assert got.select("school_login", "subject", "participants", "mark_2", "mark_4_5").equals(
            want.select("school_login", "subject", "participants", "mark_2", "mark_4_5")
        )
        assert np.allclose(got["mean_mark"], want["mean_mark"])
    assert part_failures > 0  # the part conditions lower some marks
    share_2 = dict(
        summary.join(region.truth.schools, on="school_login")
        .group_by("profile")
        .agg(pl.col("mark_2").sum() / pl.col("participants").sum())
        .iter_rows()
    )
    assert share_2[PERSISTENTLY_LOW] > 2 * share_2[STABLE]


def test_ege_pupil_scores_and_summary(region):
    summary = pl.read_parquet(region.truth_dir / "ege_pupil_summary.parquet")
    assert set(summary.columns) >= {"participants", "below_minimum", "high_80_99", "score_100", "mean_test_score"}
    basic = region.truth.schools.filter(pl.col("school_type") == "ООШ")["school_login"]
    totals = np.zeros(3, dtype=int)
    for year in YEARS:
        path = _one(region.raw / "ege_pupil_results" / year)
        assert path.read_bytes().startswith((";".join(A.EGE_PUPIL_HEADER) + "\r\n").encode("cp1251"))
        pupils = _ege(region, year)
        assert pupils.columns == A.EGE_PUPIL_HEADER and set(pupils["Предмет"]) == set(A.EGE_SUBJECTS)
        assert pupils.select("Код участника", "Предмет").is_unique().all()
        assert not pupils["Логин ОО"].is_in(basic.implode()).any()  # basic schools have no grade 11
        assert pupils["Тестовый балл"].is_between(0, 100).all()
        top = pupils["Предмет"].replace_strict(A.EGE_MAX_PRIMARY)
        assert ((pupils["Тестовый балл"] == 100) == (pupils["Первичный балл"] == top)).all()
        threshold = region.scales.ege_threshold().filter(pl.col("exam_year") == int(year[-4:]))
        got = (
            pupils.join(threshold, left_on=["Год", "Предмет"], right_on=["exam_year", "subject"])
            .group_by(pl.col("Логин ОО").alias("school_login"), pl.col("Предмет").alias("subject"))
            .agg(
                participants=pl.len().cast(pl.Int64),
                below_minimum=(pl.col("Тестовый балл") < pl.col("min_test_score")).sum().cast(pl.Int64),
                high_80_99=pl.col("Тестовый балл").is_between(80, 99).sum().cast(pl.Int64),
                score_100=(pl.col("Тестовый балл") == 100).sum().cast(pl.Int64),
                mean_test_score=pl.col("Тестовый балл").mean(),
            )
            .sort("school_login", "subject")
        )
        want = summary.filter(pl.col("school_year") == year).sort("school_login", "subject")
        counts = ["school_login", "subject", "participants", "below_minimum", "high_80_99", "score_100"]
        assert got.select(counts).equals(want.select(counts))
        assert np.allclose(got["mean_test_score"], want["mean_test_score"])
        totals += got.select("below_minimum", "high_80_99", "score_100").sum().row(0)
    assert totals[0] > 0 and totals[1] > 0  # some below the minimum, some high scorers
    russian = summary.filter(pl.col("subject") == "Русский язык", pl.col("exam_year") == 2024)
    assert (russian["min_test_score"] == 24).all()  # the certificate minimum, not the university one


# ---------------------------------------------------------------------------------------------------------------
# РЦОИ school level


def _rcoi_table(path: Path) -> tuple[int, dict, list[tuple], openpyxl.worksheet.worksheet.Worksheet]:
    """Header row (1-based), column -> (subject, metric), data rows, sheet."""
    rows, ws = _sheet_rows(path)
    h = next(i for i, r in enumerate(rows) if r[0] == "Муниципалитет")
    subjects, subject = {}, None
    for c in range(3, len(rows[h])):
        subject = rows[h + 1][c] or subject
        subjects[c] = (subject, rows[h + 2][c])
    return h + 1, subjects, rows[h + 3 :], ws


RCOI = {
    "oge": ("ОГЭ", A.OGE_SUBJECTS, A.OGE_METRICS, 2),
    "ege": ("ЕГЭ", A.EGE_SUBJECTS, A.EGE_METRICS, 1),
}


def _rcoi_expected_sums(region, exam: str, year: str) -> dict[tuple[str, str], np.ndarray]:
    """(login, subject) -> the counted metrics and the sum of marks / test scores, from the pupil file."""
    if exam == "oge":
        pupils, m = _oge(region, year), pl.col("Отметка")
        aggs = [pl.len(), (m == 2).sum(), (m >= 4).sum(), m.sum()]
    else:
        threshold = region.scales.ege_threshold().filter(pl.col("exam_year") == int(year[-4:]))
        pupils = _ege(region, year).join(threshold, left_on=["Год", "Предмет"], right_on=["exam_year", "subject"])
        t = pl.col("Тестовый балл")
        aggs = [pl.len(), (t < pl.col("min_test_score")).sum(), t.is_between(80, 99).sum(), (t == 100).sum(), t.sum()]
    grouped = pupils.group_by("Логин ОО", "Предмет").agg(*(a.alias(f"a{k}") for k, a in enumerate(aggs)))
    return {(r[0], r[1]): np.array(r[2:], dtype=float) for r in grouped.iter_rows()}


def _rcoi_expected(sums: dict, subjects: tuple[str, ...], decimals: int, logins: list[str]) -> list:
    out = []
    width = len(next(iter(sums.values())))
    for s in subjects:
        total = sum((sums[(lg, s)] for lg in logins if (lg, s) in sums), np.zeros(width))
        out += [int(v) for v in total[:-1]] + [round(float(total[-1] / total[0]), decimals) if total[0] else None]
    return out


def _rcoi_observed(row: tuple, n_metrics: int, text_mean: bool) -> list:
    values = list(row[3:])
    for c in range(n_metrics - 1, len(values), n_metrics):
        if values[c] is None:
            continue
        if text_mean:  # «Средний балл» as text with a decimal comma
            assert isinstance(values[c], str) and "," in values[c]
            values[c] = float(values[c].replace(",", "."))
        else:
            assert isinstance(values[c], (int, float))
    return values


@pytest.mark.parametrize("exam", ["oge", "ege"])
def test_rcoi_workbooks_layout_and_values(region, exam):
    label, subjects, metrics, decimals = RCOI[exam]
    municipalities = dict(region.truth.schools.select("school_login", "municipality").iter_rows())
    for i, year in enumerate(YEARS):
        path = _one(region.raw / f"rcoi_{exam}_school_results" / year)
        assert path.name == f"{label} {year[-4:]} результаты по ОО (РЦОИ).xlsx"
        h, columns, data, ws = _rcoi_table(path)
        assert h == (4 if i % 2 == 0 else 3)  # the header starts in row 4 in some years, row 3 in others
        last = openpyxl.utils.get_column_letter(3 + len(subjects) * len(metrics))
        merged = {str(m) for m in ws.merged_cells.ranges}
        assert {f"A{h}:A{h + 2}", f"B{h}:B{h + 2}", f"C{h}:C{h + 2}", f"D{h}:{last}{h}"} <= merged
        assert [ws.cell(h, c).value for c in (1, 2, 3, 4)] == A.RCOI_ID_HEADER + ["Из них"]
        assert list(columns.values()) == [(s, m) for s in subjects for m in metrics]
        for j in range(len(subjects)):
            first = 4 + j * len(metrics)
            span = [openpyxl.utils.get_column_letter(c) for c in (first, first + len(metrics) - 1)]
            assert f"{span[0]}{h + 1}:{span[1]}{h + 1}" in merged

        sums = _rcoi_expected_sums(region, exam, year)
        text_mean = i == A.RCOI_TEXT_MEAN_YEAR
        municipality, block, seen, n_blocks = None, [], [], 0
        for r, row in enumerate(data, start=h + 3):  # r: 1-based sheet row
            observed = _rcoi_observed(row, len(metrics), text_mean)
            if row[0] == A.RCOI_TOTAL:
                assert r == h + 2 + len(data) and row[1] is None
                assert observed == _rcoi_expected(sums, subjects, decimals, seen)
            elif row[1] == A.RCOI_SUBTOTAL:
                assert row[0] is None and observed == _rcoi_expected(sums, subjects, decimals, block)
                if len(block) > 1:  # the municipality cell is merged over its block's school rows
                    assert f"A{r - len(block)}:A{r - 1}" in merged
                n_blocks, block = n_blocks + 1, []
            else:
                assert (row[0] is not None) == (not block)  # the name only in the block's first row
                municipality = row[0] or municipality
                assert municipalities[row[2]] == municipality
                assert observed == _rcoi_expected(sums, subjects, decimals, [row[2]])
                block.append(row[2])
                seen.append(row[2])
        assert n_blocks == SMALL_REGION.municipalities
        assert sorted(seen) == sorted({login for login, _ in sums})


def test_every_family_is_written_for_every_year(region):
    folders = [
        "vpr_pupil_results",
        "oge_pupil_results",
        "ege_pupil_results",
        "vpr_score_distribution",
        "vpr_journal_comparison",
        "rcoi_oge_school_results",
        "rcoi_ege_school_results",
    ]
    assert len(region.files) == len(folders) * len(YEARS)
    for folder in folders:
        for year in YEARS:
            assert re.search(rf"{year[-4:]}", _one(region.raw / folder / year).name)
