"""Other programme indicators: teacher diagnostics, olympiads, network forms of programmes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.sample_region.model import RegionTruth
from pipelines.sample_region.programme_common import (
    RNG_DIAGNOSTICS,
    RNG_NETWORK,
    RNG_OLYMPIADS,
    family_rng,
    out_path,
    unknown_login,
    write_csv,
    write_xlsx,
)

DIAGNOSTICS_HEADER = ["Логин ОО", "Предмет", "Продиагностировано педагогов", "Выявлены профессиональные дефициты"]
DIAGNOSTICS_SUBJECTS = ("Русский язык", "Математика", "Физика", "Химия", "Биология", "История", "Обществознание")
OLYMPIAD_HEADER = ["Логин ОО", "Предмет", "Этап", "Участников", "Победителей", "Призёров"]
OLYMPIAD_SUBJECTS = ("Математика", "Русский язык", "Физика", "Биология", "История", "Английский язык")
STAGES = ("школьный", "муниципальный", "региональный")
NETWORK_HEADER = ["Логин ОО", "Реализует образовательные программы в сетевой форме", "Число сетевых программ"]
LEVEL = {"low": 0, "medium": 1, "high": 2}


def _level(truth: RegionTruth) -> np.ndarray:
    return truth.schools["social_level"].replace_strict(LEVEL).to_numpy()


def simulate_diagnostics(
    truth: RegionTruth, context: pl.DataFrame, shnor: np.ndarray, mentored: np.ndarray
) -> pl.DataFrame:
    """School x year x subject: teachers diagnosed and with professional deficits. ШНОР add 30 p.p. to the chance of
    a deficit; for schools in the mentoring project that extra falls by 35 % of its size each year from the first
    mentored year on (so mentored ШНОР fall, others do not)."""
    rng = family_rng(truth, RNG_DIAGNOSTICS)
    years, k = truth.params.years, len(DIAGNOSTICS_SUBJECTS)
    level = _level(truth)
    base = np.array([0.3, 0.22, 0.15])[level]
    t = np.arange(years)
    first = np.where(mentored.any(axis=1), mentored.argmax(axis=1), years)
    since = t[None, :] - first[:, None] + 1
    extra = np.where(since >= 1, 0.3 * np.clip(1 - 0.35 * since, 0, 1), np.where(shnor, 0.3, 0.0))
    p = base[:, None] + extra  # schools x years

    rows = context.select("school_year", "t", "i", "school_login", "first_login", "pupils")
    ti, ii = rows["t"].to_numpy(), rows["i"].to_numpy()
    teachers = np.maximum(1, np.round(rows["pupils"].to_numpy()[:, None] / 130 * rng.uniform(0.6, 1.4, (len(ii), k))))
    teachers = teachers.astype(np.int64)
    deficits = rng.binomial(teachers, p[ii, ti][:, None])
    m = len(ii)
    return pl.DataFrame(
        {
            "school_year": np.repeat(rows["school_year"].to_numpy(), k),
            "school_login": np.repeat(rows["school_login"].to_numpy(), k),
            "first_login": np.repeat(rows["first_login"].to_numpy(), k),
            "subject": np.tile(np.array(DIAGNOSTICS_SUBJECTS), m),
            "diagnosed": teachers.reshape(-1),
            "with_deficits": deficits.reshape(-1),
            "on_shnor": np.repeat(shnor[ii, ti], k),
            "mentored": np.repeat(mentored[ii, ti], k),
        }
    )


def simulate_olympiads(truth: RegionTruth, context: pl.DataFrame, shnor: np.ndarray) -> pl.DataFrame:
    """School x year x subject x stage, rows with participants only. Strength by social level, lower on ШНОР;
    the share of winners and prize-winners rises by a little every year."""
    rng = family_rng(truth, RNG_OLYMPIADS)
    rows = context.select("school_year", "t", "i", "school_login", "first_login", "pupils")
    ti, ii = rows["t"].to_numpy(), rows["i"].to_numpy()
    m, k = len(ii), len(OLYMPIAD_SUBJECTS)
    strength = np.array([0.3, 0.5, 0.8])[_level(truth)][ii] - 0.15 * shnor[ii, ti]
    pupils = rows["pupils"].to_numpy()
    school = rng.binomial(np.repeat(pupils[:, None], k, axis=1), rng.uniform(0.03, 0.09, (m, k)))
    municipal = rng.binomial(school, (0.12 + 0.1 * strength)[:, None])
    regional = rng.binomial(municipal, (0.08 + 0.12 * strength)[:, None])
    parts = np.stack([school, municipal, regional], axis=-1)  # m x k x 3
    p_win = (0.03 + 0.05 * strength + 0.006 * ti)[:, None, None] * np.ones((1, k, 3))
    p_prize = (0.08 + 0.1 * strength + 0.01 * ti)[:, None, None] * np.ones((1, k, 3))
    winners = rng.binomial(parts, p_win)
    prizes = rng.binomial(parts - winners, np.clip(p_prize / (1 - p_win), 0, 1))
    frame = pl.DataFrame(
        {
            "school_year": np.repeat(rows["school_year"].to_numpy(), k * 3),
            "school_login": np.repeat(rows["school_login"].to_numpy(), k * 3),
            "first_login": np.repeat(rows["first_login"].to_numpy(), k * 3),
            "subject": np.tile(np.repeat(np.array(OLYMPIAD_SUBJECTS), 3), m),
            "stage": np.tile(np.array(STAGES), m * k),
            "participants": parts.reshape(-1),
            "winners": winners.reshape(-1),
            "prize_winners": prizes.reshape(-1),
        }
    )
    return frame.filter(pl.col("participants") > 0)


def simulate_network_programmes(truth: RegionTruth, context: pl.DataFrame, mentored: np.ndarray) -> pl.DataFrame:
    """Adoption of network forms: once a school starts it keeps going; the share rises about 12 p.p. a year,
    faster for schools in the mentoring project."""
    rng = family_rng(truth, RNG_NETWORK)
    n, years = truth.schools.height, truth.params.years
    threshold = rng.random(n)
    t = np.arange(years)
    p = np.clip(
        0.18 + 0.12 * t[None, :] + 0.1 * _level(truth)[:, None] / 2 + 0.2 * np.maximum.accumulate(mentored, axis=1),
        0,
        0.95,
    )
    uses = np.maximum.accumulate(threshold[:, None] < p, axis=1)
    count = np.where(uses, 1 + rng.poisson(0.8, n)[:, None] + np.cumsum(uses, axis=1) // 3, 0)
    rows = context.select("school_year", "t", "i", "school_login", "first_login")
    ti, ii = rows["t"].to_numpy(), rows["i"].to_numpy()
    return rows.select("school_year", "school_login", "first_login").with_columns(
        pl.Series("uses_network_form", uses[ii, ti]), pl.Series("programmes", count[ii, ti].astype(np.int64))
    )


def write_indicators(
    truth: RegionTruth, diagnostics: pl.DataFrame, olympiads: pl.DataFrame, network: pl.DataFrame, raw_dir: Path
) -> tuple[list[Path], dict]:
    years = truth.params.school_years
    written = []
    unknown = {"school_year": years[-1], "school_login": unknown_login(truth, 902)}
    for sy in years:
        d = diagnostics.filter(pl.col("school_year") == sy)
        rows = list(d.select("school_login", "subject", "diagnosed", "with_deficits").iter_rows())
        path = out_path(raw_dir, "teacher_diagnostics", sy, f"Диагностика профессиональных дефицитов {sy}.xlsx")
        written.append(write_xlsx(path, [("Диагностика", DIAGNOSTICS_HEADER, rows)]))

        o = olympiads.filter(pl.col("school_year") == sy)
        rows = list(
            o.select("school_login", "subject", "stage", "participants", "winners", "prize_winners").iter_rows()
        )
        if sy == unknown["school_year"]:
            rows.insert(len(rows) // 2, [unknown["school_login"], "Математика", "школьный", 14, 1, 2])
        path = out_path(raw_dir, "olympiad_results", sy, f"Олимпиады {sy}.csv")
        written.append(write_csv(path, OLYMPIAD_HEADER, rows, encoding="utf-8-sig"))

        w = network.filter(pl.col("school_year") == sy)
        rows = [
            [r[0], "Да" if r[1] else "Нет", r[2]]
            for r in w.select("school_login", "uses_network_form", "programmes").iter_rows()
        ]
        path = out_path(raw_dir, "network_programmes", sy, f"Сетевые программы {sy}.csv")
        written.append(write_csv(path, NETWORK_HEADER, rows, encoding="cp1251"))
    return written, {"olympiad_results": {"unknown_school": unknown}}
