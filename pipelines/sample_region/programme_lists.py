"""Official lists: the regional ШНОР / НСУ list with dated membership, and the annual ВПР bias markers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.sample_region.model import DECLINING, IMPROVING, PERSISTENTLY_LOW, STABLE, RegionTruth, _trajectory
from pipelines.sample_region.programme_common import (
    RNG_BIAS,
    RNG_LISTS,
    dmy,
    family_rng,
    out_path,
    spring_year,
    start_year,
    write_xlsx,
)

LISTS_HEADER = ["Логин ОО", "Наименование ОО", "Перечень", "Дата включения", "Дата исключения", "Основание"]
SHNOR, NSU = "ШНОР", "НСУ"
REASON_IN = {SHNOR: "низкие образовательные результаты", NSU: "функционирование в сложных социальных условиях"}
REASON_OUT = "переход в эффективный режим работы"
# thresholds on the school's ability (logit scale) of the model: about 30 % and 20 % of «2»
ENTRY_ABILITY, RECOVERED_ABILITY = -1.353, -0.814

BIAS_COLUMNS = [("m_4_ru", "4 РУ"), ("m_4_ma", "4 МА"), ("m_5_ru", "5 РУ"), ("m_5_ma", "5 МА")]
BIAS_HEADER = ["Год", "Логин ОО", "Наименование ОО", *(h for _, h in BIAS_COLUMNS), "Количество признаков"]


def simulate_memberships(truth: RegionTruth) -> pl.DataFrame:
    """One row per membership: first_login, list, start_t, end_t (null while on the list), reason_in.

    Persistently low: ШНОР from the first year, never out. Improving: ШНОР from the first year, out at the start of
    the first year whose trajectory is back under about 20 % of «2» (the third year of recovery, t = 3).
    Declining: ШНОР from the start of the first year whose trajectory reaches about 30 % of «2».
    НСУ: about 60 % of the low social level schools (at least 2), most from the first year, some from the second."""
    rng = family_rng(truth, RNG_LISTS)
    s = truth.schools
    years = truth.params.years
    profile = s["profile"].to_numpy()
    ability = _trajectory(profile, np.zeros(s.height), years)
    logins = s["school_login"].to_list()
    rows = []
    for i in np.flatnonzero(profile == PERSISTENTLY_LOW):
        rows.append((logins[i], SHNOR, 0, None))
    for i in np.flatnonzero(profile == IMPROVING):
        recovered = [t for t in range(1, years) if ability[i, t] > RECOVERED_ABILITY]
        rows.append((logins[i], SHNOR, 0, recovered[0] if recovered else None))
    for i in np.flatnonzero(profile == DECLINING):
        low = [t for t in range(1, years) if ability[i, t] <= ENTRY_ABILITY]
        if low:
            rows.append((logins[i], SHNOR, low[0], None))
    low_social = np.flatnonzero(s["social_level"].to_numpy() == "low")
    k = min(len(low_social), max(2, round(0.6 * len(low_social))))
    chosen = np.sort(rng.choice(low_social, size=k, replace=False))
    late = rng.random(k) < 0.25
    for i, is_late in zip(chosen, late, strict=True):
        rows.append((logins[i], NSU, int(is_late and years > 1), None))
    frame = pl.DataFrame(
        rows, schema={"first_login": pl.String, "list": pl.String, "start_t": pl.Int64, "end_t": pl.Int64}, orient="row"
    )
    sy = truth.params.school_years
    return frame.with_columns(
        pl.col("start_t").map_elements(lambda t: sy[t], return_dtype=pl.String).alias("start_year"),
        pl.col("end_t").map_elements(lambda t: sy[t], return_dtype=pl.String).alias("end_year"),
        pl.col("start_t")
        .map_elements(lambda t: dt.date(start_year(sy[t]), 9, 1), return_dtype=pl.Date)
        .alias("date_in"),
        pl.col("end_t")
        .map_elements(lambda t: dt.date(start_year(sy[t]), 9, 1), return_dtype=pl.Date)
        .alias("date_out"),
        pl.col("list").replace_strict(REASON_IN).alias("reason_in"),
        pl.when(pl.col("end_t").is_not_null()).then(pl.lit(REASON_OUT)).alias("reason_out"),
    ).sort("list", "start_t", "first_login")


def membership_status(truth: RegionTruth, frame: pl.DataFrame, memberships: pl.DataFrame) -> pl.DataFrame:
    """School x year x list while on the list or in the year of exit: status entered / stayed / exited."""
    joined = frame.select("school_year", "t", "school_login", "first_login").join(memberships, on="first_login")
    joined = joined.filter(
        (pl.col("start_t") <= pl.col("t")) & (pl.col("end_t").is_null() | (pl.col("t") <= pl.col("end_t")))
    )
    return joined.select(
        "school_year",
        "school_login",
        "first_login",
        "list",
        pl.when(pl.col("t") == pl.col("end_t"))
        .then(pl.lit("exited"))
        .when(pl.col("t") == pl.col("start_t"))
        .then(pl.lit("entered"))
        .otherwise(pl.lit("stayed"))
        .alias("status"),
        (pl.col("t") - pl.col("start_t") + pl.when(pl.col("t") == pl.col("end_t")).then(0).otherwise(1)).alias(
            "years_in_list"
        ),
    ).sort("school_year", "list", "school_login")


def on_list(truth: RegionTruth, memberships: pl.DataFrame, which: str = SHNOR) -> np.ndarray:
    """schools x years boolean: on the list during the year (entered or stayed)."""
    index = {login: i for i, login in enumerate(truth.schools["school_login"])}
    years = truth.params.years
    result = np.zeros((truth.schools.height, years), dtype=bool)
    for login, start, end in (
        memberships.filter(pl.col("list") == which).select("first_login", "start_t", "end_t").iter_rows()
    ):
        result[index[login], start : (years if end is None else end)] = True
    return result


def text_date_years(truth: RegionTruth) -> list[str]:
    """Years whose list file has dates as text «01.09.2021» (the 2nd, 4th, ... school year); date cells otherwise."""
    return truth.params.school_years[1::2]


def write_lists(truth: RegionTruth, frame: pl.DataFrame, memberships: pl.DataFrame, raw_dir: Path) -> list[Path]:
    written = []
    as_text = set(text_date_years(truth))
    for t, sy in enumerate(truth.params.school_years):
        names = frame.filter(pl.col("t") == t).select("first_login", "school_login", "school_name")
        rows = []
        for r in (
            memberships.filter(pl.col("start_t") <= t)
            .join(names, on="first_login")
            .sort("date_in", "list", "school_login")
            .iter_rows(named=True)
        ):
            ended = r["end_t"] is not None and r["end_t"] <= t
            date_in, date_out = r["date_in"], r["date_out"] if ended else None
            if sy in as_text:
                date_in, date_out = dmy(date_in), (dmy(date_out) if date_out else None)
            reason = r["reason_out"] if ended else r["reason_in"]
            rows.append([r["school_login"], r["school_name"], r["list"], date_in, date_out, reason])
        path = out_path(raw_dir, "official_school_lists", sy, f"Перечень ШНОР и НСУ {sy}.xlsx")
        written.append(write_xlsx(path, [("Перечень", LISTS_HEADER, rows)]))
    return written


def simulate_bias_markers(truth: RegionTruth, frame: pl.DataFrame, exclude: set[str]) -> pl.DataFrame:
    """2-4 stable schools a year (not the mentor schools) with official markers of biased ВПР results."""
    rng = family_rng(truth, RNG_BIAS)
    stable = truth.schools.filter((pl.col("profile") == STABLE) & ~pl.col("school_login").is_in(sorted(exclude)))
    pool = stable["school_login"].to_list()
    rows = []
    for t, sy in enumerate(truth.params.school_years):
        k = int(rng.integers(2, 5))
        chosen = sorted(rng.choice(pool, size=min(k, len(pool)), replace=False).tolist())
        marks = (rng.random((len(chosen), 4)) < 0.45).astype(int)
        empty = marks.sum(axis=1) == 0
        marks[empty, rng.integers(0, 4, size=int(empty.sum()))] = 1
        for login, m in zip(chosen, marks, strict=True):
            rows.append((sy, spring_year(sy), login, *m.tolist()))
    markers = pl.DataFrame(
        rows, schema=["school_year", "spring_year", "first_login", *(k for k, _ in BIAS_COLUMNS)], orient="row"
    )
    names = frame.select("school_year", "first_login", "school_login", "school_name")
    return (
        markers.join(names, on=["school_year", "first_login"])
        .with_columns(pl.sum_horizontal(*(k for k, _ in BIAS_COLUMNS)).alias("marker_count"))
        .select(
            "school_year",
            "spring_year",
            "school_login",
            "first_login",
            "school_name",
            *(k for k, _ in BIAS_COLUMNS),
            "marker_count",
        )
        .sort("school_year", "school_login")
    )


def bias_duplicate_year(truth: RegionTruth) -> str:
    years = truth.params.school_years
    return years[min(1, len(years) - 1)]


def write_bias_markers(truth: RegionTruth, markers: pl.DataFrame, raw_dir: Path) -> list[Path]:
    """«no marker» is an empty cell in odd spring years and 0 in even ones; one year's block is written twice."""
    written = []
    for sy in truth.params.school_years:
        spring = spring_year(sy)
        block = []
        for r in markers.filter(pl.col("school_year") == sy).iter_rows(named=True):
            cells = [r[k] if r[k] or spring % 2 == 0 else None for k, _ in BIAS_COLUMNS]
            block.append([spring, r["school_login"], r["school_name"], *cells, r["marker_count"]])
        rows = block * 2 if sy == bias_duplicate_year(truth) else block
        path = out_path(raw_dir, "vpr_bias_markers", sy, f"Признаки необъективности ВПР {spring}.xlsx")
        written.append(write_xlsx(path, [("Признаки необъективности", BIAS_HEADER, rows)]))
    return written
