"""Baseline Pd: what an analyst writes today with pandas (Pd0, bench/baseline_pandas_plain.py: the same without
pupil codes). Every run re-reads every given school year's
registry and ВПР / ОГЭ / ЕГЭ pupil files (pd.read_csv, `;`, cp1251 or UTF-8), pseudonymises pupil codes with
hmac/hashlib (a list comprehension: as vectorised as pandas allows), aggregates per school × procedure, then
computes municipal and regional values over the school rows of all the years and writes the table
`school_year_results` (the figures of the mart `marts.school_year_results` for pupil-level sources) as Parquet.

Memory: one school year's pupil files are in memory at a time; only the per-school aggregates are kept.

    EDUWH_PSEUDONYM_KEY_FILE=~/.config/eduwh/pseudonym.key  # or EDUWH_PSEUDONYM_KEY=<the key>
    python -m bench.baseline_pandas --raw /tmp/bench_helper/tiny/raw --out /tmp/bench_helper/pd.parquet --years 2024-2025
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import (
    MART_COLUMNS,
    SEEDS_DIR,
    WEIGHTED_COLUMNS,
    export_file,
    key_from_env,
    parse_cli,
    reliability_thresholds,
    sniff_encoding,
)

GROUP = ["school_year", "school_login", "assessment_code", "grade", "subject_code", "subject_name"]


def read_export(path: Path) -> pd.DataFrame:
    """A `;`-separated export as text cells, in whichever of cp1251 / UTF-8 it comes."""
    return pd.read_csv(path, sep=";", encoding=sniff_encoding(path), dtype=str, keep_default_na=False)


def pseudonymise(codes: pd.Series, key: bytes) -> list[str]:
    """HMAC-SHA256 of each (trimmed) pupil code, hex: the pipeline's pseudonym."""
    return [hmac.digest(key, code.encode(), "sha256").hex() for code in codes.str.strip()]


def number(cells: pd.Series) -> pd.Series:
    """Numbers of text cells; «х», «отсутствовал», empty -> NaN."""
    return pd.to_numeric(cells.str.strip(), errors="coerce")


def read_registry(raw_dir: Path, school_year: str) -> pd.DataFrame:
    df = read_export(export_file(raw_dir, "registry", school_year))
    return pd.DataFrame(
        {
            "school_year": school_year,
            "school_login": df["Логин ОО"].str.strip(),
            "school_name": df["Полное наименование ОО"].str.strip(),
            "municipality_name": df["Муниципальное образование"].str.strip(),
        }
    )


def _pupils(df: pd.DataFrame, code_column: str, key: bytes | None, columns: dict) -> pd.DataFrame:
    """The pupil rows with their pseudonyms (Pd); without a key (Pd0) codes are not touched: no figure of
    school_year_results needs them."""
    if key is not None:
        columns["pupil_code"] = pseudonymise(df[code_column], key)
    return pd.DataFrame(columns)


def read_vpr(raw_dir: Path, school_year: str, key: bytes | None) -> pd.DataFrame:
    df = read_export(export_file(raw_dir, "vpr", school_year))
    df = df[df["Класс"].str.strip() != "Класс"]  # the header line repeated inside the file
    mark = df["Отметка"].str.strip().str.lower()
    columns = {
        "school_year": school_year,
        "school_login": df["ОО"].str.strip(),
        "grade": df["Класс"].astype(int),
        "subject_in_source": df["Код предмета"].str.strip().str.lower(),
        "primary_score": number(df["Балл"]),
        "is_absent": mark == "отсутствовал",
        "mark": number(mark),
    }
    return _pupils(df, "Код ученика", key, columns)


def read_oge(raw_dir: Path, school_year: str, key: bytes | None) -> pd.DataFrame:
    df = read_export(export_file(raw_dir, "oge", school_year))
    columns = {
        "school_year": school_year,
        "exam_year": df["Год"].astype(int),
        "school_login": df["Логин ОО"].str.strip(),
        "subject_in_source": df["Предмет"].str.strip().str.lower(),
        "primary_score": number(df["Первичный балл"]),
        "mark": number(df["Отметка"]),
    }
    return _pupils(df, "Код участника", key, columns)


def read_ege(raw_dir: Path, school_year: str, key: bytes | None) -> pd.DataFrame:
    df = read_export(export_file(raw_dir, "ege", school_year))
    columns = {
        "school_year": school_year,
        "exam_year": df["Год"].astype(int),
        "school_login": df["Логин ОО"].str.strip(),
        "subject_in_source": df["Предмет"].str.strip().str.lower(),
        "primary_score": number(df["Первичный балл"]),
        "test_score": number(df["Тестовый балл"]),
    }
    return _pupils(df, "Код участника", key, columns)


def ege_minimum_scores() -> pd.DataFrame:
    """exam_year, subject_in_source -> the certificate minimum where the subject has one, else the university one."""
    seed = pd.read_csv(SEEDS_DIR / "ege_minimum_scores.csv")
    seed["subject_in_source"] = seed["subject"].str.lower()
    wide = seed.pivot_table(
        index=["exam_year", "subject_in_source"], columns="purpose", values="min_test_score", aggfunc="max"
    )
    return wide["attestat"].fillna(wide["university"]).rename("min_test_score").reset_index()


def _with_subjects(df: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    return df.merge(subjects, left_on="subject_in_source", right_on="subject_name_in_source")


def school_counts(raw_dir: Path, school_year: str, key: bytes | None, subjects: pd.DataFrame, minimum: pd.DataFrame):
    """One school year: per school × procedure, participants, mark counts and means, joined to the registry."""
    vpr = _with_subjects(read_vpr(raw_dir, school_year, key), subjects)
    vpr = vpr.assign(
        assessment_code="vpr",
        present=~vpr["is_absent"],
        **{f"n{k}": vpr["mark"] == k for k in (2, 3, 4, 5)},
    )
    vpr_counts = vpr.groupby(GROUP, sort=False).agg(
        participants=("present", "sum"),
        n2=("n2", "sum"),
        n3=("n3", "sum"),
        n4=("n4", "sum"),
        n5=("n5", "sum"),
        mean_primary_score=("primary_score", "mean"),
        mean_mark=("mark", "mean"),
    )
    del vpr

    oge = _with_subjects(read_oge(raw_dir, school_year, key), subjects)
    oge = oge.assign(assessment_code="oge", grade=9, **{f"n{k}": oge["mark"] == k for k in (2, 3, 4, 5)})
    oge_counts = oge.groupby(GROUP, sort=False).agg(
        participants=("mark", "size"),
        n2=("n2", "sum"),
        n3=("n3", "sum"),
        n4=("n4", "sum"),
        n5=("n5", "sum"),
        mean_primary_score=("primary_score", "mean"),
        mean_mark=("mark", "mean"),
    )
    oge_counts["n_below_minimum"] = oge_counts["n2"]  # ОГЭ: «below the minimum» is a «2»
    del oge

    ege = _with_subjects(read_ege(raw_dir, school_year, key), subjects)
    ege = ege.merge(minimum, on=["exam_year", "subject_in_source"], how="left")
    ege = ege.assign(
        assessment_code="ege",
        grade=11,
        below=ege["test_score"] < ege["min_test_score"],
        n80=ege["test_score"].between(80, 99),
        n100=ege["test_score"] == 100,
    )
    ege_counts = ege.groupby(GROUP, sort=False).agg(
        participants=("test_score", "size"),
        mean_primary_score=("primary_score", "mean"),
        mean_test_score=("test_score", "mean"),
        min_test_score=("min_test_score", "max"),
        n_below_minimum=("below", "sum"),
        n_80_99=("n80", "sum"),
        n_100=("n100", "sum"),
    )
    del ege

    counts = pd.concat([vpr_counts, oge_counts, ege_counts]).reset_index()
    registry = read_registry(raw_dir, school_year)
    return counts.merge(registry, on=["school_year", "school_login"])


def round_half_away(values: pd.Series, decimals: int = 2) -> pd.Series:
    """DuckDB's round(double, n): round(x * 10^n) / 10^n with halves away from zero (numpy rounds them to even)."""
    scaled = values.to_numpy(dtype=float) * 10.0**decimals
    whole = np.trunc(scaled)
    halves = np.abs(scaled - whole) == 0.5
    return pd.Series(np.where(halves, whole + np.sign(scaled), np.rint(scaled)) / 10.0**decimals, index=values.index)


def _group_values(school: pd.DataFrame, keys: list[str], prefix: str) -> pd.DataFrame:
    """Values of a group of schools among all its participants: school values weighted by participants;
    a school without the value counts in neither the numerator nor the denominator."""
    frame = school[keys + ["participants"]].copy()
    for c in WEIGHTED_COLUMNS:
        frame[f"num_{c}"] = school["participants"] * school[c]
        frame[f"den_{c}"] = school["participants"].where(school[c].notna())
    sums = frame.groupby(keys, sort=False).sum(min_count=1)
    out = pd.DataFrame({f"{prefix}_participants": sums["participants"].astype("int64")}, index=sums.index)
    for c in WEIGHTED_COLUMNS:
        den = sums[f"den_{c}"].where(sums[f"den_{c}"] != 0)
        out[f"{prefix}_{c}"] = round_half_away(sums[f"num_{c}"] / den)
    return out.reset_index()


def school_year_results(counts: pd.DataFrame) -> pd.DataFrame:
    """The mart's rows from the per-school counts of every year."""
    assessments = pd.read_csv(SEEDS_DIR / "assessments.csv")
    informative, indicative = reliability_thresholds()
    c = counts.merge(assessments, on="assessment_code")
    n = c["participants"].astype("int64")
    denominator = n.where(n > 0).astype(float)

    def pct(count: pd.Series) -> pd.Series:
        return 100.0 * count.astype(float) / denominator

    school = pd.DataFrame(
        {
            "school_year": c["school_year"],
            "school_login": c["school_login"],
            "school_name": c["school_name"],
            "municipality_name": c["municipality_name"],
            "procedure_id": c["assessment_code"] + "-" + c["grade"].astype(str) + "-" + c["subject_code"],
            "assessment_name": c["assessment_name"],
            "grade": c["grade"].astype("int64"),
            "subject_name": c["subject_name"],
            "source_level": "pupil",
            "participants": n,
            "mark_2_pct": pct(c["n2"]),
            "mark_3_pct": pct(c["n3"]),
            "mark_4_pct": pct(c["n4"]),
            "mark_5_pct": pct(c["n5"]),
            "pass_rate_pct": pct(c["n3"] + c["n4"] + c["n5"]),
            "quality_rate_pct": pct(c["n4"] + c["n5"]),
            "mean_primary_score": c["mean_primary_score"].astype(float),
            "mean_test_score": c["mean_test_score"].astype(float),
            "mean_mark": c["mean_mark"].astype(float),
            "min_test_score": c["min_test_score"].astype("Int64"),
            "below_minimum_pct": pct(c["n_below_minimum"]),
            "high_80_99_count": c["n_80_99"].astype("Int64"),
            "high_80_99_pct": pct(c["n_80_99"]),
            "score_100_count": c["n_100"].astype("Int64"),
            "score_100_pct": pct(c["n_100"]),
        }
    )
    municipal = _group_values(school, ["school_year", "procedure_id", "municipality_name"], "municipal")
    regional = _group_values(school, ["school_year", "procedure_id"], "regional")
    out = school.merge(municipal, on=["school_year", "procedure_id", "municipality_name"]).merge(
        regional, on=["school_year", "procedure_id"]
    )
    out["reliability_band"] = np.select(
        [out["participants"] >= informative, out["participants"] >= indicative],
        ["informative", "indicative"],
        "unreliable",
    )
    for column in (
        "mark_2_pct",
        "mark_3_pct",
        "mark_4_pct",
        "mark_5_pct",
        "pass_rate_pct",
        "quality_rate_pct",
        "mean_primary_score",
        "mean_test_score",
        "mean_mark",
        "below_minimum_pct",
        "high_80_99_pct",
        "score_100_pct",
    ):
        out[column] = round_half_away(out[column])
    return out[list(MART_COLUMNS)]


def run(raw_dir: Path, out_path: Path, key: bytes | None, school_years: list[str]) -> dict:
    """Read every given school year's files, compute school_year_results over all of them, write Parquet.
    Returns rows and seconds per step."""
    timings: dict[str, float] = {}
    subjects = pd.read_csv(SEEDS_DIR / "subjects.csv")
    minimum = ege_minimum_scores()
    per_year = []
    for school_year in school_years:
        t0 = time.perf_counter()
        per_year.append(school_counts(Path(raw_dir), school_year, key, subjects, minimum))
        timings[f"read+aggregate {school_year}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = school_year_results(pd.concat(per_year, ignore_index=True))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    results.to_parquet(out_path, index=False)
    timings["school_year_results"] = time.perf_counter() - t0
    return {"school_year_results": len(results), "seconds": timings}


def main(pseudonymised: bool = True) -> None:
    raw_dir, out_path, years = parse_cli(
        "python -m bench.baseline_pandas", __doc__.split("\n\n")[0], "--out", "Parquet file to write"
    )
    started = time.perf_counter()
    summary = run(raw_dir, out_path, key_from_env() if pseudonymised else None, years)
    print(summary | {"total_seconds": round(time.perf_counter() - started, 2)})


if __name__ == "__main__":
    main()
