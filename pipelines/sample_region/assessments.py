"""Assessment exports of the sample region beyond «Статистика по отметкам»: ВПР score distributions and
journal comparison, pupil-level ВПР / ОГЭ / ЕГЭ files, РЦОИ school-level ОГЭ / ЕГЭ workbooks.

Scores come from the scales kept as dbt seeds (dbt_project/seeds), so files and reference data agree:
a ВПР pupil's score is drawn inside the band of the mark the truth gave them, ОГЭ marks follow the year's
conversion with its part-score conditions, ЕГЭ minimums are the year's. Pupils of a school share its ability,
estimated from the school's ВПР marks of that year (the ordered-logit model of model.py), so low and declining
schools show here too. Every random draw comes from np.random.default_rng([seed, family, ...]).

Quirks, by position of the school year in RegionParams.school_years (index 0 = first year):
- ВПР pupil file: the header line is repeated as line 2 in year index 1.
- РЦОИ workbooks: the three-level header starts in row 4 (two title rows, an empty row) in even-index years and
  in row 3 (one title row, an empty row) in odd-index years.
- РЦОИ workbooks: «Средний балл» is text with a decimal comma ("63,4") in year index 2, numbers otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from pipelines.sample_region.model import DECLINING, MARK_CUTS, PERSISTENTLY_LOW, RegionTruth
from pipelines.sample_region.writers import spring_year

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project/seeds"

VPR_SUBJECT_CODES = {"Русский язык": "РУ", "Математика": "МА"}
VPR_PUPIL_HEADER = ["Учебный год", "Класс", "Код предмета", "ОО", "Код ученика", "Балл", "Отметка"]
VPR_ID_HEADER = ["Год", "Класс", "Предмет", "Муниципалитет", "Логин", "ОО", "Кол-во участников"]
JOURNAL_GROUPS = (
    "Понизили (Отметка < Отметка по журналу)",
    "Подтвердили (Отметка = Отметке по журналу)",
    "Повысили (Отметка > Отметка по журналу)",
)
OGE_PUPIL_HEADER = [
    "Год",
    "Логин ОО",
    "Код участника",
    "Предмет",
    "Первичный балл",
    "Баллы по геометрии",
    "Баллы за грамотность",
    "Отметка",
]
EGE_PUPIL_HEADER = ["Год", "Логин ОО", "Код участника", "Предмет", "Первичный балл", "Тестовый балл"]
RCOI_ID_HEADER = ["Муниципалитет", "Образовательная организация", "Логин ОО"]
OGE_METRICS = ("Приняли участие", "Получили «2»", "Получили «4» и «5»", "Средний балл")
EGE_METRICS = (
    "Приняли участие",
    "Не преодолели минимальный порог",
    "Высокобалльники (80–99)",
    "100 баллов",
    "Средний балл",
)
RCOI_SUBTOTAL = "Итого по муниципалитету"
RCOI_TOTAL = "Всего по региону"

OGE_SUBJECTS = ("Математика", "Русский язык")
OGE_PART_COLUMN = {"Математика": "Баллы по геометрии", "Русский язык": "Баллы за грамотность"}
OGE_PART_MAX = {"Математика": 11, "Русский язык": 10}  # geometry tasks; literacy criteria ГК1–ГК4
OGE_SUBJECT_SHIFT = {"Математика": -0.1, "Русский язык": 0.2}
EGE_SUBJECTS = ("Русский язык", "Математика профильная", "Физика", "Обществознание", "Информатика")
EGE_MAX_PRIMARY = {
    "Русский язык": 50,
    "Математика профильная": 32,
    "Физика": 45,
    "Обществознание": 58,
    "Информатика": 29,
}
EGE_TAKE_RATE = {
    "Русский язык": 1.0,
    "Математика профильная": 0.45,
    "Физика": 0.2,
    "Обществознание": 0.45,
    "Информатика": 0.2,
}
EGE_SUBJECT_SHIFT = {
    "Русский язык": 0.9,
    "Математика профильная": 0.0,
    "Физика": 0.1,
    "Обществознание": -0.3,
    "Информатика": 0.1,
}
# latent (logit scale) -> share of the maximum primary score; primary share -> test score / 100
EGE_LATENT_KNOTS = (np.array([-6.5, -3.0, 0.0, 3.0, 5.8]), np.array([0.0, 0.2, 0.55, 0.88, 1.0]))
EGE_TEST_KNOTS = (np.array([0.0, 0.15, 0.5, 0.85, 1.0]), np.array([0.0, 0.3, 0.62, 0.88, 1.0]))

VPR_ABSENT_RATE = 0.03
VPR_CHUNK_SCHOOLS = 500  # the pupil file is written this many schools at a time

_FROM = ("mark_3_from", "mark_4_from", "mark_5_from")

# quirk years, as an index into RegionParams.school_years
VPR_REPEATED_HEADER_YEAR = 1
RCOI_TEXT_MEAN_YEAR = 2

# random-stream families: np.random.default_rng([seed, family, year index, chunk])
_VPR_PUPILS, _JOURNAL, _OGE, _EGE = 101, 102, 103, 104


@dataclass(frozen=True)
class Scales:
    vpr: pl.DataFrame  # school_year, grade, subject_code -> max_primary_score, mark_3_from, mark_4_from, mark_5_from
    oge: pl.DataFrame  # exam_year, subject -> max, mark_k_from, part_name, part_min_for_k
    ege_minimum: pl.DataFrame  # exam_year, subject, purpose -> min_test_score

    def ege_threshold(self) -> pl.DataFrame:
        """exam_year, subject -> the minimum that counts as «не преодолели»: the certificate one where a subject
        has it (Russian, profile maths), the university one otherwise."""
        return (
            self.ege_minimum.with_columns(rank=pl.when(pl.col("purpose") == "attestat").then(0).otherwise(1))
            .sort("exam_year", "subject", "rank")
            .group_by("exam_year", "subject", maintain_order=True)
            .first()
            .select("exam_year", "subject", "min_test_score")
        )


def load_scales(seeds_dir: Path = SEEDS_DIR) -> Scales:
    strings = {"school_year": pl.String, "subject_code": pl.String, "subject": pl.String, "purpose": pl.String}

    def read(name: str) -> pl.DataFrame:
        frame = pl.read_csv(seeds_dir / f"{name}.csv", infer_schema_length=0)
        return frame.with_columns(pl.col(c).cast(strings.get(c, pl.Int64)) for c in frame.columns if c != "part_name")

    return Scales(read("vpr_mark_scales"), read("oge_mark_scales"), read("ege_minimum_scores"))


def _require(have: set, need: set, seed_file: str) -> None:
    missing = sorted(need - have)
    if missing:
        raise ValueError(f"dbt_project/seeds/{seed_file} has no rows for {missing}: add them before generating")


# ---------------------------------------------------------------------------------------------------------------
# shared pieces


def _school_context(truth: RegionTruth) -> pl.DataFrame:
    """school_login -> school_no (1-based, the registry order), municipality, school_type, profile."""
    base = truth.schools.select("school_login", "municipality", "school_type", "profile").with_row_index(
        "school_no", offset=1
    )
    # a renumbered school appears under each login it has had (truth.schools_by_login)
    logins = truth.schools_by_login().select("school_login", "first_login")
    return logins.join(base.rename({"school_login": "first_login"}), on="first_login").drop("first_login")


def school_ability(truth: RegionTruth) -> pl.DataFrame:
    """School x year ability on the logit scale of model.py, recovered from the school's pooled ВПР marks."""
    pooled = (
        truth.vpr_marks.group_by("school_login", "school_year")
        .agg(pl.col("mark_2", "mark_3", "mark_4", "mark_5").sum())
        .sort("school_login", "school_year")
    )
    counts = pooled.select("mark_2", "mark_3", "mark_4", "mark_5").to_numpy().astype(float) + 0.5
    cum = np.cumsum(counts, axis=1)[:, :3] / counts.sum(axis=1, keepdims=True)
    ability = (MARK_CUTS[None, :] - np.log(cum / (1 - cum))).mean(axis=1)
    return pooled.select("school_login", "school_year").with_columns(ability=pl.Series(ability))


def _school_size(truth: RegionTruth) -> pl.DataFrame:
    """School x year: mean ВПР participants per grade and subject, the size of one year group."""
    return truth.vpr_marks.group_by("school_login", "school_year").agg(group_size=pl.col("participants").mean())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


_CUTS_EXT = np.concatenate([[-np.inf], MARK_CUTS, [np.inf]])


def _latent_in_band(rng: np.random.Generator, ability: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Latent values of pupils of the given ability, each conditioned to lie in its mark's band (0 = «2»)."""
    lo, hi = _sigmoid(_CUTS_EXT[band] - ability), _sigmoid(_CUTS_EXT[band + 1] - ability)
    u = np.clip(lo + rng.random(len(ability)) * (hi - lo), 1e-12, 1 - 1e-12)
    return ability + np.log(u / (1 - u))


def _score_edges(max_score, m3, m4, m5) -> np.ndarray:
    """(n, 5) score edges of the four mark bands of a scale: a mark-k score lies in [edge_k + 0.5, edge_(k+1) - 0.5]."""
    max_score, m3, m4, m5 = (np.asarray(v, dtype=float) for v in (max_score, m3, m4, m5))
    return np.column_stack([np.full_like(max_score, -0.5), m3 - 0.5, m4 - 0.5, m5 - 0.5, max_score + 0.5])


def _latent_to_score(latent: np.ndarray, band: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Primary scores of latent values lying in mark bands `band` (0 = «2»). The mark cuts go to the marks'
    lowest scores; inside the «3» and «4» bands the map is linear; the outer bands continue with their
    neighbour's slope and flatten towards 0 and the maximum (an exponential approach), so histograms have
    neither a cliff at the «3» and «5» boundaries nor a pile at 0 and the maximum."""
    c0, c1, c2 = MARK_CUTS
    rows = np.arange(len(band))
    e0, e1 = edges[rows, band], edges[rows, band + 1]
    y0 = np.where(band == 1, c0, c1)
    y1 = np.where(band == 1, c1, c2)
    middle = e0 + (np.clip(latent, y0, y1) - y0) / (y1 - y0) * (e1 - e0)
    low_width, high_width = edges[:, 1] - edges[:, 0], edges[:, 4] - edges[:, 3]
    low_slope = (edges[:, 2] - edges[:, 1]) / (c1 - c0)
    high_slope = (edges[:, 3] - edges[:, 2]) / (c2 - c1)
    low = edges[:, 1] - low_width * -np.expm1(-np.maximum(c0 - latent, 0) * low_slope / low_width)
    high = edges[:, 3] + high_width * -np.expm1(-np.maximum(latent - c2, 0) * high_slope / high_width)
    score = np.select([band == 0, band == 3], [low, high], middle)
    return np.clip(np.rint(score), e0 + 0.5, e1 - 0.5).astype(np.int64)


def _code_prefix(truth: RegionTruth, school_no: pl.Expr) -> pl.Expr:
    width = max(4, len(str(truth.schools.height)))
    return pl.concat_str(
        pl.lit(f"{truth.params.region_code}-"), school_no.cast(pl.String).str.zfill(width), pl.lit("-")
    )


def _prepare(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------------------------
# ВПР, pupil level (streamed)


def _vpr_year_procedures(truth: RegionTruth, scales: Scales, school_year: str) -> pl.DataFrame:
    """The year's procedures (school x grade x subject) with their marks, scale and school ability."""
    year = truth.vpr_marks.filter(pl.col("school_year") == school_year)
    _require(
        set(scales.vpr.filter(pl.col("school_year") == school_year)["grade"].to_list()),
        set(year["grade"].unique().to_list()),
        f"vpr_mark_scales.csv ({school_year}, grades)",
    )
    procs = (
        year.with_columns(
            subject_code=pl.col("subject").replace_strict(VPR_SUBJECT_CODES),
            subject_order=pl.col("subject").replace_strict({s: i for i, s in enumerate(VPR_SUBJECT_CODES)}),
        )
        .join(_school_context(truth).select("school_login", "school_no"), on="school_login")
        .join(school_ability(truth), on=["school_login", "school_year"])
        .join(scales.vpr, on=["school_year", "grade", "subject_code"], how="left")
        .sort("school_no", "grade", "subject_order")
    )
    if procs["max_primary_score"].null_count():
        raise ValueError(f"dbt_project/seeds/vpr_mark_scales.csv misses a grade x subject of {school_year}")
    return procs


def _vpr_pupil_chunk(
    rng: np.random.Generator, truth: RegionTruth, chunk: pl.DataFrame, histogram_width: int | None
) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray | None]:
    """Pupil rows of a chunk of schools (file columns), the chunk's procedure summary, and optionally the
    procedures' score histograms (procedures x histogram_width)."""
    n_proc = chunk.height
    counts = chunk.select("mark_2", "mark_3", "mark_4", "mark_5").to_numpy().astype(np.int64)
    participants = counts.sum(axis=1)
    absent = rng.binomial(participants, VPR_ABSENT_RATE)
    per_kind = np.column_stack([counts, absent])  # kinds 0..3 = marks 2..5, 4 = absent
    rows_per_proc = per_kind.sum(axis=1)
    proc = np.repeat(np.repeat(np.arange(n_proc), 5), per_kind.ravel())
    kind = np.repeat(np.tile(np.arange(5), n_proc), per_kind.ravel())

    band = np.minimum(kind, 3)
    latent = _latent_in_band(rng, chunk["ability"].to_numpy()[proc], band)
    edges = _score_edges(*(chunk[c].to_numpy() for c in ("max_primary_score", *_FROM)))
    score = np.where(kind == 4, -1, _latent_to_score(latent, band, edges[proc]))

    # pupils of a procedure in random order, numbered in that order; Russian and maths of a grade share the numbers
    order = np.lexsort((rng.random(len(proc)), proc))
    proc, kind, score = proc[order], kind[order], score[order]
    rank = np.arange(len(proc)) - (np.cumsum(rows_per_proc) - rows_per_proc)[proc]
    grade = chunk["grade"].to_numpy()
    _, group = np.unique(chunk["school_no"].to_numpy() * 100 + grade, return_inverse=True)
    base = rng.integers(1000, 90000, size=group.max() + 1)
    number = grade[proc] * 100_000 + base[group][proc] + rank
    latin_x = rng.random(len(proc)) < 0.3

    school_year = chunk["school_year"][0]
    info = chunk.select(
        pl.col("grade").alias("Класс"),
        pl.col("subject_code").alias("Код предмета"),
        pl.col("school_login").alias("ОО"),
        _code_prefix(truth, pl.col("school_no")).alias("prefix"),
    )[proc]
    rows = info.with_columns(
        pl.Series("number", number), pl.Series("kind", kind), pl.Series("score", score), pl.Series("latin", latin_x)
    ).select(
        pl.lit(school_year.replace("-", "/")).alias("Учебный год"),
        "Класс",
        "Код предмета",
        "ОО",
        pl.concat_str("prefix", pl.col("number").cast(pl.String).str.zfill(6)).alias("Код ученика"),
        pl.when(pl.col("kind") == 4)
        .then(pl.when(pl.col("latin")).then(pl.lit("X")).otherwise(pl.lit("х")))
        .otherwise(pl.col("score").cast(pl.String))
        .alias("Балл"),
        pl.when(pl.col("kind") == 4)
        .then(pl.lit("отсутствовал"))
        .otherwise((pl.col("kind") + 2).cast(pl.String))
        .alias("Отметка"),
    )

    wrote = kind < 4
    score_sum = np.bincount(proc[wrote], weights=score[wrote], minlength=n_proc)
    summary = chunk.select(
        "school_login", "school_year", "grade", "subject_code", "subject", "max_primary_score", "participants"
    ).with_columns(
        pl.Series("absent", absent),
        pl.Series("mean_score", score_sum / np.maximum(participants, 1)),
        *(pl.Series(f"mark_{k}", counts[:, k - 2]) for k in (2, 3, 4, 5)),
    )
    histogram = None
    if histogram_width is not None:
        flat = np.bincount(proc[wrote] * histogram_width + score[wrote], minlength=n_proc * histogram_width)
        histogram = flat.reshape(n_proc, histogram_width)
    return rows, summary, histogram


def _vpr_pupil_chunks(
    truth: RegionTruth, scales: Scales, year_index: int, histogram_width: int | None
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, np.ndarray | None]]:
    procs = _vpr_year_procedures(truth, scales, truth.params.school_years[year_index])
    school_no = procs["school_no"].to_numpy()
    starts = np.flatnonzero(np.r_[True, school_no[1:] != school_no[:-1]])  # first row of each school
    bounds = np.r_[starts[::VPR_CHUNK_SCHOOLS], len(school_no)]
    for k in range(len(bounds) - 1):
        rng = np.random.default_rng([truth.params.seed, _VPR_PUPILS, year_index, k])
        yield _vpr_pupil_chunk(rng, truth, procs.slice(bounds[k], bounds[k + 1] - bounds[k]), histogram_width)


def vpr_pupil_results_path(raw_dir: Path, school_year: str) -> Path:
    return raw_dir / "vpr_pupil_results" / school_year / f"ВПР {spring_year(school_year)} результаты участников.csv"


def _write_vpr_pupil_results(
    truth: RegionTruth, raw_dir: Path, scales: Scales, collect: bool
) -> tuple[list[Path], pl.DataFrame | None, list[np.ndarray]]:
    histogram_width = int(scales.vpr["max_primary_score"].max()) + 1 if collect else None
    written, summaries, histograms = [], [], []
    header = (";".join(VPR_PUPIL_HEADER) + "\r\n").encode("cp1251")
    for year_index, school_year in enumerate(truth.params.school_years):
        path = _prepare(vpr_pupil_results_path(raw_dir, school_year))
        with path.open("wb") as f:
            f.write(header * (2 if year_index == VPR_REPEATED_HEADER_YEAR else 1))
            for rows, summary, histogram in _vpr_pupil_chunks(truth, scales, year_index, histogram_width):
                text = rows.write_csv(include_header=False, separator=";", line_terminator="\r\n")
                f.write(text.encode("cp1251"))
                if collect:
                    summaries.append(summary)
                    histograms.append(histogram)
        written.append(path)
    return written, (pl.concat(summaries) if collect else None), histograms


def write_vpr_pupil_results(truth: RegionTruth, raw_dir: Path) -> list[Path]:
    """ВПР pupil-level results, one cp1251 `;` CRLF file per school year, written a chunk of schools at a time
    so that a national year (about 11 million rows) never sits in memory."""
    return _write_vpr_pupil_results(truth, raw_dir, load_scales(), collect=False)[0]


# ---------------------------------------------------------------------------------------------------------------
# ВПР, school level: score distribution and journal comparison


def _journal_comparison(truth: RegionTruth, summary: pl.DataFrame) -> pl.DataFrame:
    """Per procedure: pupils whose ВПР mark is below / equal to / above their journal mark, drawn per mark
    (a «2» cannot be raised from the journal, a «5» cannot be lowered). Low and declining schools raise more."""
    rng = np.random.default_rng([truth.params.seed, _JOURNAL])
    profile = dict(truth.schools_by_login().select("school_login", "profile").iter_rows())
    low = summary["school_login"].replace_strict(profile).is_in([PERSISTENTLY_LOW, DECLINING]).to_numpy()
    n = summary.height
    lowered = np.where(low, 0.14, 0.2) * np.exp(rng.normal(0, 0.3, n))
    raised = np.where(low, 0.13, 0.05) * np.exp(rng.normal(0, 0.3, n))
    totals = np.zeros((n, 3), dtype=np.int64)
    for k, (pl_, pr_) in enumerate(
        ((np.minimum(2 * lowered, 0.6), 0), (lowered, raised), (lowered, raised), (0, raised))
    ):
        p_low, p_raise = np.broadcast_to(pl_, n), np.broadcast_to(pr_, n)
        probs = np.column_stack([p_low, 1 - p_low - p_raise, p_raise])
        totals += rng.multinomial(summary[f"mark_{k + 2}"].to_numpy(), probs)
    return summary.select("school_login", "school_year", "grade", "subject_code").with_columns(
        journal_lowered=totals[:, 0], journal_confirmed=totals[:, 1], journal_raised=totals[:, 2]
    )


def _vpr_school_rows(truth: RegionTruth, summary: pl.DataFrame) -> pl.DataFrame:
    return (
        summary.join(truth.school_names, on=["school_login", "school_year"])
        .join(_school_context(truth).select("school_login", "municipality"), on="school_login")
        .sort("municipality", "school_login", "grade", "subject")
    )


def _write_vpr_score_distribution(
    truth: RegionTruth, raw_dir: Path, summary: pl.DataFrame, histogram: np.ndarray
) -> list[Path]:
    rows = _vpr_school_rows(truth, summary)
    written = []
    for school_year in truth.params.school_years:
        year = rows.filter(pl.col("school_year") == school_year)
        spring = spring_year(school_year)
        top = int(year["max_primary_score"].max())
        path = _prepare(
            raw_dir / "vpr_score_distribution" / school_year / f"ВПР {spring} Распределение первичных баллов.xlsx"
        )
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        ws = wb.add_worksheet("Распределение первичных баллов")
        ws.write_row(0, 0, ["Распределение первичных баллов"])
        ws.write_row(1, 0, [f"Всероссийские проверочные работы {spring}"])
        ws.write_row(3, 0, VPR_ID_HEADER + [str(s) for s in range(top + 1)])
        for i, r in enumerate(year.iter_rows(named=True), start=4):
            p = r["participants"]
            counts = histogram[r["row"], : r["max_primary_score"] + 1]
            ident = [spring, r["grade"], r["subject"], r["municipality"], r["school_login"], r["school_name"], p]
            ws.write_row(i, 0, ident + [round(100 * c / p, 2) for c in counts.tolist()])
        wb.close()
        written.append(path)
    return written


def _write_vpr_journal_comparison(truth: RegionTruth, raw_dir: Path, summary: pl.DataFrame) -> list[Path]:
    rows = _vpr_school_rows(truth, summary)
    written = []
    for school_year in truth.params.school_years:
        year = rows.filter(pl.col("school_year") == school_year)
        spring = spring_year(school_year)
        path = _prepare(
            raw_dir
            / "vpr_journal_comparison"
            / school_year
            / f"ВПР {spring} Сравнение отметок с отметками по журналу.xlsx"
        )
        wb = xlsxwriter.Workbook(str(path))
        head = wb.add_format({"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True})
        ws = wb.add_worksheet("Сравнение отметок")
        ws.write(0, 0, "Сравнение отметок с отметками по журналу")
        ws.write(1, 0, f"Всероссийские проверочные работы {spring}")
        for c, name in enumerate(VPR_ID_HEADER):
            ws.merge_range(3, c, 4, c, name, head)
        for j, name in enumerate(JOURNAL_GROUPS):
            c = len(VPR_ID_HEADER) + 2 * j
            ws.merge_range(3, c, 3, c + 1, name, head)
            ws.write_row(4, c, ["Кол-во", "%"], head)
        for i, r in enumerate(year.iter_rows(named=True), start=5):
            p = r["participants"]
            values = [spring, r["grade"], r["subject"], r["municipality"], r["school_login"], r["school_name"], p]
            for key in ("journal_lowered", "journal_confirmed", "journal_raised"):
                values += [r[key], round(100 * r[key] / p, 2)]
            ws.write_row(i, 0, values)
        wb.close()
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------------------------
# ОГЭ and ЕГЭ, pupil level


def _year_schools(truth: RegionTruth, school_year: str) -> pl.DataFrame:
    return (
        _school_context(truth)
        .join(school_ability(truth).filter(pl.col("school_year") == school_year), on="school_login")
        .join(_school_size(truth).filter(pl.col("school_year") == school_year), on=["school_login", "school_year"])
        .sort("school_no")
    )


def _participant_codes(truth: RegionTruth, rng: np.random.Generator, schools: pl.DataFrame, n: np.ndarray, lead: str):
    """Codes like 47-0123-9XXXXX: school, then `lead` and a number unique within the school and year."""
    school = np.repeat(np.arange(schools.height), n)
    rank = np.arange(len(school)) - (np.cumsum(n) - n)[school]
    digits = 6 - len(lead)
    number = rng.integers(1, 10 ** (digits - 1) * 8, size=schools.height)[school] + rank
    prefix = schools.select(_code_prefix(truth, pl.col("school_no")).alias("p"))["p"].to_numpy()
    codes = pl.DataFrame({"p": prefix[school], "n": number}).select(
        pl.concat_str("p", pl.lit(lead), pl.col("n").cast(pl.String).str.zfill(digits))
    )
    return school, codes.to_series()


def _simulate_oge(truth: RegionTruth, scales: Scales) -> pl.DataFrame:
    """Grade-9 pupils' ОГЭ in maths and Russian: primary score, part score, mark by the year's scale."""
    frames = []
    for year_index, school_year in enumerate(truth.params.school_years):
        rng = np.random.default_rng([truth.params.seed, _OGE, year_index])
        exam_year = spring_year(school_year)
        scale = scales.oge.filter(pl.col("exam_year") == exam_year)
        _require(set(scale["subject"].to_list()), set(OGE_SUBJECTS), f"oge_mark_scales.csv ({exam_year})")
        schools = _year_schools(truth, school_year)
        n = rng.binomial(np.round(schools["group_size"].to_numpy() / 0.92).astype(np.int64), 0.95)
        school, codes = _participant_codes(truth, rng, schools, n, "9")
        ability = (schools["ability"].to_numpy() + rng.normal(0, 0.15, schools.height))[school]
        common = rng.logistic(size=len(school))
        for subject in OGE_SUBJECTS:
            s = scale.filter(pl.col("subject") == subject).row(0, named=True)
            latent = ability + OGE_SUBJECT_SHIFT[subject] + 0.6 * common + 0.8 * rng.logistic(size=len(school))
            band = np.searchsorted(MARK_CUTS, latent)
            primary = _latent_to_score(
                latent, band, _score_edges(*(np.full(len(school), s[k]) for k in ("max_primary_score", *_FROM)))
            )
            top, part_top = s["max_primary_score"], OGE_PART_MAX[subject]
            part = rng.binomial(part_top, np.clip(primary / top, 0.02, 0.98))
            part = np.clip(part, np.maximum(0, primary - (top - part_top)), np.minimum(part_top, primary))
            mark = np.full(len(school), 2)
            for k in (3, 4, 5):
                mark = np.where((primary >= s[f"mark_{k}_from"]) & (part >= s[f"part_min_for_{k}"]), k, mark)
            frames.append(
                pl.DataFrame(
                    {
                        "school_no": schools["school_no"].to_numpy()[school],
                        "school_login": schools["school_login"].to_numpy()[school],
                        "school_year": school_year,
                        "exam_year": exam_year,
                        "participant_code": codes,
                        "subject": subject,
                        "primary_score": primary,
                        "part_score": part,
                        "mark": mark,
                    }
                )
            )
    order = {s: i for i, s in enumerate(OGE_SUBJECTS)}
    return (
        pl.concat(frames)
        .with_columns(o=pl.col("subject").replace_strict(order))
        .sort("exam_year", "school_no", "o", "participant_code")
        .drop("o")
    )


def _simulate_ege(truth: RegionTruth, scales: Scales) -> pl.DataFrame:
    """Grade-11 pupils' ЕГЭ (schools other than ООШ): each pupil takes Russian and a choice of other subjects."""
    threshold = scales.ege_threshold()
    frames = []
    for year_index, school_year in enumerate(truth.params.school_years):
        rng = np.random.default_rng([truth.params.seed, _EGE, year_index])
        exam_year = spring_year(school_year)
        _require(
            set(threshold.filter(pl.col("exam_year") == exam_year)["subject"].to_list()),
            set(EGE_SUBJECTS),
            f"ege_minimum_scores.csv ({exam_year})",
        )
        schools = _year_schools(truth, school_year)
        has_11 = (schools["school_type"] != "ООШ").to_numpy()
        n = np.where(has_11, rng.binomial(np.round(schools["group_size"].to_numpy() * 0.6).astype(np.int64), 0.95), 0)
        school, codes = _participant_codes(truth, rng, schools, n, "11")
        ability = (schools["ability"].to_numpy() + rng.normal(0, 0.15, schools.height))[school]
        common = rng.logistic(size=len(school))
        for subject in EGE_SUBJECTS:
            takes = rng.random(len(school)) < EGE_TAKE_RATE[subject]
            latent = ability + EGE_SUBJECT_SHIFT[subject] + 0.6 * common + 0.8 * rng.logistic(size=len(school))
            top = EGE_MAX_PRIMARY[subject]
            primary = np.rint(np.interp(latent, *EGE_LATENT_KNOTS) * top).astype(np.int64)
            test = np.rint(100 * np.interp(primary / top, *EGE_TEST_KNOTS)).astype(np.int64)
            frames.append(
                pl.DataFrame(
                    {
                        "school_no": schools["school_no"].to_numpy()[school],
                        "school_login": schools["school_login"].to_numpy()[school],
                        "school_year": school_year,
                        "exam_year": exam_year,
                        "participant_code": codes,
                        "subject": subject,
                        "primary_score": primary,
                        "test_score": test,
                    }
                ).filter(pl.Series(takes))
            )
    order = {s: i for i, s in enumerate(EGE_SUBJECTS)}
    return (
        pl.concat(frames)
        .join(threshold, on=["exam_year", "subject"], how="left")
        .with_columns(o=pl.col("subject").replace_strict(order))
        .sort("exam_year", "school_no", "o", "participant_code")
        .drop("o")
    )


def _write_oge_pupil_results(truth: RegionTruth, raw_dir: Path, oge: pl.DataFrame) -> list[Path]:
    written = []
    for school_year in truth.params.school_years:
        spring = spring_year(school_year)
        rows = oge.filter(pl.col("school_year") == school_year).select(
            pl.col("exam_year").alias("Год"),
            pl.col("school_login").alias("Логин ОО"),
            pl.col("participant_code").alias("Код участника"),
            pl.col("subject").alias("Предмет"),
            pl.col("primary_score").alias("Первичный балл"),
            *(
                pl.when(pl.col("subject") == subject).then(pl.col("part_score")).alias(column)
                for subject, column in OGE_PART_COLUMN.items()
            ),
            pl.col("mark").alias("Отметка"),
        )
        assert rows.columns == OGE_PUPIL_HEADER
        path = _prepare(raw_dir / "oge_pupil_results" / school_year / f"ОГЭ {spring} результаты участников.csv")
        path.write_bytes(rows.write_csv(separator=";").encode("utf-8-sig"))
        written.append(path)
    return written


def _write_ege_pupil_results(truth: RegionTruth, raw_dir: Path, ege: pl.DataFrame) -> list[Path]:
    written = []
    for school_year in truth.params.school_years:
        spring = spring_year(school_year)
        rows = ege.filter(pl.col("school_year") == school_year).select(
            pl.col("exam_year").alias("Год"),
            pl.col("school_login").alias("Логин ОО"),
            pl.col("participant_code").alias("Код участника"),
            pl.col("subject").alias("Предмет"),
            pl.col("primary_score").alias("Первичный балл"),
            pl.col("test_score").alias("Тестовый балл"),
        )
        path = _prepare(raw_dir / "ege_pupil_results" / school_year / f"ЕГЭ {spring} результаты участников.csv")
        path.write_bytes(rows.write_csv(separator=";", line_terminator="\r\n").encode("cp1251"))
        written.append(path)
    return written


def oge_summary(oge: pl.DataFrame) -> pl.DataFrame:
    return (
        oge.group_by("school_login", "school_year", "exam_year", "subject")
        .agg(
            participants=pl.len(),
            **{f"mark_{k}": (pl.col("mark") == k).sum() for k in (2, 3, 4, 5)},
            mark_4_5=(pl.col("mark") >= 4).sum(),
            mark_sum=pl.col("mark").sum(),
            mean_mark=pl.col("mark").mean(),
            mean_primary_score=pl.col("primary_score").mean(),
        )
        .with_columns(pl.col(pl.UInt32, pl.Int32).cast(pl.Int64))
        .sort("school_login", "school_year", "subject")
    )


def ege_summary(ege: pl.DataFrame) -> pl.DataFrame:
    return (
        ege.group_by("school_login", "school_year", "exam_year", "subject")
        .agg(
            participants=pl.len(),
            min_test_score=pl.col("min_test_score").first(),
            below_minimum=(pl.col("test_score") < pl.col("min_test_score")).sum(),
            high_80_99=pl.col("test_score").is_between(80, 99).sum(),
            score_100=(pl.col("test_score") == 100).sum(),
            score_sum=pl.col("test_score").sum(),
            mean_test_score=pl.col("test_score").mean(),
        )
        .with_columns(pl.col(pl.UInt32, pl.Int32).cast(pl.Int64))
        .sort("school_login", "school_year", "subject")
    )


# ---------------------------------------------------------------------------------------------------------------
# РЦОИ school-level workbooks


def _write_rcoi(
    truth: RegionTruth,
    path: Path,
    year_index: int,
    titles: list[str],
    subjects: tuple[str, ...],
    metrics: tuple[str, ...],
    summary: pl.DataFrame,
    counts: tuple[str, ...],
    score_sum: str,
    decimals: int,
) -> Path:
    """One РЦОИ workbook: title row(s), an empty row, a three-level header, municipality blocks with merged
    municipality cells and a subtotal after each, a regional total at the end."""
    school_year = truth.params.school_years[year_index]
    names = truth.school_names.filter(pl.col("school_year") == school_year)
    schools = (
        _school_context(truth)
        .join(names, on="school_login")
        .filter(pl.col("school_login").is_in(summary["school_login"].implode()))
        .sort("school_no")
    )
    cells = {(r["school_login"], r["subject"]): r for r in summary.iter_rows(named=True)}
    width = len(counts) + 1
    text_mean = year_index == RCOI_TEXT_MEAN_YEAR

    def values(logins: list[str]) -> list:
        out = []
        for subject in subjects:
            got = [cells[(lg, subject)] for lg in logins if (lg, subject) in cells]
            sums = [sum(r[c] for r in got) for c in counts]
            n = sums[0]
            mean = sum(r[score_sum] for r in got) / n if n else None
            if mean is None:
                out += sums + [None]
            elif text_mean:
                out += sums + [f"{mean:.{decimals}f}".replace(".", ",")]
            else:
                out += sums + [round(mean, decimals)]
        return out

    wb = xlsxwriter.Workbook(str(path))
    head = wb.add_format({"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True})
    top = wb.add_format({"valign": "top"})
    ws = wb.add_worksheet("Результаты по ОО")
    h = 3 if year_index % 2 == 0 else 2
    for i, title in enumerate(titles[: h - 1]):
        ws.write(i, 0, title)
    for c, name in enumerate(RCOI_ID_HEADER):
        ws.merge_range(h, c, h + 2, c, name, head)
    first = len(RCOI_ID_HEADER)
    ws.merge_range(h, first, h, first + width * len(subjects) - 1, "Из них", head)
    for j, subject in enumerate(subjects):
        c = first + width * j
        ws.merge_range(h + 1, c, h + 1, c + width - 1, subject, head)
        ws.write_row(h + 2, c, metrics, head)

    def put(row: int, ident: list, vals: list) -> None:
        ws.write_row(row, 0, ident)
        for c, v in enumerate(vals, start=first):
            if v is not None:
                ws.write(row, c, v)

    row = h + 3
    for (municipality,), block in schools.group_by("municipality", maintain_order=True):
        start = row
        for r in block.iter_rows(named=True):
            put(row, [None, r["school_short_name"], r["school_login"]], values([r["school_login"]]))
            row += 1
        if row - 1 > start:
            ws.merge_range(start, 0, row - 1, 0, municipality, top)
        else:
            ws.write(start, 0, municipality, top)
        put(row, [None, RCOI_SUBTOTAL, None], values(block["school_login"].to_list()))
        row += 1
    put(row, [RCOI_TOTAL, None, None], values(schools["school_login"].to_list()))
    wb.close()
    return path


def _write_rcoi_workbooks(
    truth: RegionTruth, raw_dir: Path, oge_sum: pl.DataFrame, ege_sum: pl.DataFrame
) -> list[Path]:
    written = []
    for year_index, school_year in enumerate(truth.params.school_years):
        spring = spring_year(school_year)
        rcoi = "Региональный центр обработки информации"
        oge_path = _prepare(
            raw_dir / "rcoi_oge_school_results" / school_year / f"ОГЭ {spring} результаты по ОО (РЦОИ).xlsx"
        )
        written.append(
            _write_rcoi(
                truth,
                oge_path,
                year_index,
                [f"Результаты ОГЭ {spring} года по образовательным организациям", rcoi],
                OGE_SUBJECTS,
                OGE_METRICS,
                oge_sum.filter(pl.col("school_year") == school_year),
                ("participants", "mark_2", "mark_4_5"),
                "mark_sum",
                2,
            )
        )
        ege_path = _prepare(
            raw_dir / "rcoi_ege_school_results" / school_year / f"ЕГЭ {spring} результаты по ОО (РЦОИ).xlsx"
        )
        written.append(
            _write_rcoi(
                truth,
                ege_path,
                year_index,
                [f"Результаты ЕГЭ {spring} года по образовательным организациям", rcoi],
                EGE_SUBJECTS,
                EGE_METRICS,
                ege_sum.filter(pl.col("school_year") == school_year),
                ("participants", "below_minimum", "high_80_99", "score_100"),
                "score_sum",
                1,
            )
        )
    return written


# ---------------------------------------------------------------------------------------------------------------


def write_assessment_exports(truth: RegionTruth, raw_dir: Path, truth_dir: Path) -> list[Path]:
    """Write every assessment family and its truth summaries; return the files written."""
    scales = load_scales()
    written, vpr_summary, histograms = _write_vpr_pupil_results(truth, raw_dir, scales, collect=True)
    histogram = np.concatenate(histograms)  # row i belongs to vpr_summary's row i
    vpr_summary = vpr_summary.with_row_index("row").join(
        _journal_comparison(truth, vpr_summary), on=["school_login", "school_year", "grade", "subject_code"]
    )
    written += _write_vpr_score_distribution(truth, raw_dir, vpr_summary, histogram)
    written += _write_vpr_journal_comparison(truth, raw_dir, vpr_summary)

    oge, ege = _simulate_oge(truth, scales), _simulate_ege(truth, scales)
    written += _write_oge_pupil_results(truth, raw_dir, oge)
    written += _write_ege_pupil_results(truth, raw_dir, ege)
    oge_sum, ege_sum = oge_summary(oge), ege_summary(ege)
    written += _write_rcoi_workbooks(truth, raw_dir, oge_sum, ege_sum)

    truth_dir.mkdir(parents=True, exist_ok=True)
    vpr_summary.drop("row").sort("school_login", "school_year", "grade", "subject_code").write_parquet(
        truth_dir / "vpr_pupil_summary.parquet"
    )
    oge_sum.drop("mark_sum").write_parquet(truth_dir / "oge_pupil_summary.parquet")
    ege_sum.drop("score_sum").write_parquet(truth_dir / "ege_pupil_summary.parquet")
    return written
