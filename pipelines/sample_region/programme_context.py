"""Social context of the schools: ИСБШ, social passports, the ФИС ОКО context file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.sample_region.model import GRADES, RegionTruth
from pipelines.sample_region.programme_common import (
    RNG_CONTEXT,
    comma,
    family_rng,
    out_path,
    unknown_login,
    wide,
    write_csv,
    write_xlsx,
)

ISBSH_HEADER = ["Логин ОО", "Наименование ОО", "Учебный год", "ИСБШ"]
PASSPORT_SHARES = [
    ("higher_ed_both", "Доля обучающихся, оба родителя которых имеют высшее образование, %"),
    ("single_parent", "Доля обучающихся из неполных семей, %"),
    ("preventive_register", "Доля обучающихся, состоящих на профилактическом учёте, %"),
    ("non_native_russian", "Доля обучающихся, для которых русский язык не является родным, %"),
    ("disabilities", "Доля обучающихся с ОВЗ, %"),
    ("low_income", "Доля обучающихся из малоимущих семей, %"),
]
PASSPORT_HEADER = ["Логин ОО", "Наименование ОО", "Число обучающихся"] + [h for _, h in PASSPORT_SHARES]
# the quirky year: two header cells broken over lines, two share columns swapped
PASSPORT_WRAPPED = {
    "Доля обучающихся с ОВЗ, %": "Доля обучающихся\nс ОВЗ, %",
    "Доля обучающихся из малоимущих семей, %": "Доля обучающихся\nиз малоимущих семей, %",
}
PASSPORT_SWAPPED = ("single_parent", "preventive_register")
CONTEXT_HEADER = [
    "Логин",
    "Тип населённого пункта",
    "Численность населения",
    "Коррекционная школа",
    "Число обучающихся",
]
CITY, PGT, VILLAGE = "город", "посёлок городского типа", "сельский населённый пункт"
POPULATION = ("до 1 тыс.", "1–10 тыс.", "10–50 тыс.", "50–100 тыс.", "100 тыс. – 1 млн", "более 1 млн")

SOCIAL_LATENT = np.array([-1.3, -0.1, 1.1])  # low / medium / high
# share = logistic(a + b * latent + school noise): about 9/25/40 % parents with higher education low/medium/high, ...
SHARE_MODEL = {
    "higher_ed_both": (-1.3, 0.8, 0.25),
    "single_parent": (-1.4, -0.35, 0.2),
    "preventive_register": (-3.9, -0.5, 0.3),
    "non_native_russian": (-3.1, -0.3, 0.6),
    "disabilities": (-2.8, -0.3, 0.25),
    "low_income": (-1.5, -0.6, 0.2),
}


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def simulate_context(truth: RegionTruth, frame: pl.DataFrame) -> pl.DataFrame:
    """School x year context: ИСБШ, pupils, passport shares, settlement; rows as `frame` (sorted by t, i)."""
    rng = family_rng(truth, RNG_CONTEXT)
    s = truth.schools
    n, years = s.height, truth.params.years
    level = s["social_level"].replace_strict(["low", "medium", "high"], [0, 1, 2]).to_numpy()
    rural = s["is_rural"].to_numpy()
    latent = SOCIAL_LATENT[level] + rng.normal(0, 0.35, n)
    isbsh = np.clip(latent[:, None] + rng.normal(0, 0.08, (n, years)), -2.5, 2.5).round(3)

    # pupils: ВПР participants of grades 4-8 per grade, scaled to all grades of the school
    by_login = truth.schools_by_login().select("school_login", "first_login")
    participants = (
        truth.vpr_marks.join(by_login, on="school_login")
        .group_by("first_login", "school_year", "grade")
        .agg(pl.col("participants").mean())
        .group_by("first_login", "school_year")
        .agg(pl.col("participants").sum())
    )
    pupils_frame = frame.join(participants, on=["first_login", "school_year"], how="left")
    grades_total = np.where(pupils_frame["school_type"].to_numpy() == "ООШ", 9, 11)
    pupils = np.round(pupils_frame["participants"].fill_null(0).to_numpy() / 0.92 * grades_total / len(GRADES))
    pupils = np.maximum(pupils, 12).astype(np.int64)

    correctional = np.zeros(n, dtype=bool)
    correctional[rng.choice(n, size=min(2, n), replace=False)] = True
    shares = {}
    for key, (a, b, sd) in SHARE_MODEL.items():
        school = a + b * latent + rng.normal(0, sd, n)
        if key == "disabilities":
            school = np.where(correctional, np.log(0.35 / 0.65), school)  # correctional classes: about 35 % ОВЗ
        shares[key] = np.round(100 * _logistic(school[:, None] + rng.normal(0, 0.05, (n, years))), 1)

    settlement = np.where(rural, np.where(rng.random(n) < 0.25, PGT, VILLAGE), CITY)
    mun = s["municipality"].to_numpy()
    mun_names = sorted(set(mun))
    city_size = {
        m: (4 if m.startswith("Городской округ") else int(rng.choice([2, 3], p=[0.6, 0.4]))) for m in mun_names
    }
    population = np.where(
        settlement == CITY,
        np.array([POPULATION[city_size[m]] for m in mun], dtype=object),
        np.where(settlement == PGT, POPULATION[1], np.where(rng.random(n) < 0.7, POPULATION[0], POPULATION[1])),
    )

    out = frame.select("school_year", "t", "i", "school_login", "first_login", "school_name", "school_short_name")
    out = wide(out, isbsh, "isbsh")
    out = out.with_columns(pl.Series("pupils", pupils))
    for key, values in shares.items():
        out = wide(out, values, key)
    idx = out["i"].to_numpy()
    return out.with_columns(
        pl.Series("settlement_type", settlement[idx]),
        pl.Series("population", population[idx].astype(str)),
        pl.Series("correctional", correctional[idx]),
    )


def write_context(truth: RegionTruth, context: pl.DataFrame, raw_dir: Path) -> tuple[list[Path], dict]:
    years = truth.params.school_years
    written: list[Path] = []
    unknown_year = years[min(1, len(years) - 1)]
    unknown = {"school_year": unknown_year, "school_login": unknown_login(truth, 901)}
    quirk_year = years[1] if len(years) > 1 else None
    for sy in years:
        y = context.filter(pl.col("school_year") == sy)
        rows = [[r[0], r[1], sy, comma(r[2], 3)] for r in y.select("school_login", "school_name", "isbsh").iter_rows()]
        if sy == unknown_year:
            rows.append([unknown["school_login"], "МОУ «Школа-интернат №3»", sy, comma(-0.412, 3)])
        written.append(
            write_csv(out_path(raw_dir, "isbsh_scores", sy, f"ИСБШ {sy}.csv"), ISBSH_HEADER, rows, encoding="utf-8-sig")
        )

        keys = [k for k, _ in PASSPORT_SHARES]
        titles = dict(PASSPORT_SHARES)
        if sy == quirk_year:
            a, b = (keys.index(k) for k in PASSPORT_SWAPPED)
            keys[a], keys[b] = keys[b], keys[a]
            titles = {k: PASSPORT_WRAPPED.get(h, h) for k, h in titles.items()}
        header = ["Логин ОО", "Наименование ОО", "Число обучающихся"] + [titles[k] for k in keys]
        rows = list(y.select("school_login", "school_name", "pupils", *keys).iter_rows())
        path = out_path(raw_dir, "social_passports", sy, f"Социальный паспорт ОО {sy}.xlsx")
        written.append(write_xlsx(path, [("Социальный паспорт", header, rows)]))

        rows = [
            [r[0], r[1], r[2], "Да" if r[3] else "Нет", r[4]]
            for r in y.select("school_login", "settlement_type", "population", "correctional", "pupils").iter_rows()
        ]
        path = out_path(raw_dir, "fisoko_school_context", sy, f"Контекстные данные ОО {sy}.csv")
        written.append(write_csv(path, CONTEXT_HEADER, rows, encoding="cp1251"))
    quirks = {
        "isbsh_scores": {"unknown_school": unknown},
        "social_passports": {
            "school_year": quirk_year,
            "wrapped_headers": list(PASSPORT_WRAPPED.values()) if quirk_year else [],
            "swapped_columns": [dict(PASSPORT_SHARES)[k] for k in PASSPORT_SWAPPED] if quirk_year else [],
        },
    }
    return written, quirks
