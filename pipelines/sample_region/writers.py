"""Write the sample region's truth as the exports a region actually receives (shapes: docs/sources.md)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.sample_region.model import RegionTruth
from pipelines.sample_region.programme_ids import school_inns

REGISTRY_HEADER = [
    "Логин ОО",
    "ОГРН",
    "ИНН",
    "Полное наименование ОО",
    "Краткое наименование",
    "Муниципальное образование",
    "Тип ОО",
    "Тип местности",
    "Прежний логин ОО",
]
VPR_MARKS_HEADER = ["Год", "Класс", "Предмет", "Муниципалитет", "Логин", "ОО", "Кол-во участников", "2", "3", "4", "5"]


def spring_year(school_year: str) -> int:
    return int(school_year.split("-")[1])


def write_school_registry(truth: RegionTruth, raw_dir: Path) -> list[Path]:
    """One CSV per school year, as the registry is kept: UTF-8 with BOM, `;`-separated. Each year lists the login
    valid that year; the renumbered school shows its previous login in «Прежний логин ОО» from then on."""
    schools = truth.schools_by_login().join(
        school_inns(truth).rename({"school_login": "first_login"}), on="first_login"
    )
    rows = truth.school_names.join(schools, on="school_login").with_columns(
        pl.when(pl.col("is_rural")).then(pl.lit("сельская")).otherwise(pl.lit("городская")).alias("settlement"),
        pl.when(pl.col("school_login") != pl.col("first_login"))
        .then(pl.col("first_login"))
        .otherwise(pl.lit(""))
        .alias("previous_login"),
    )
    written = []
    for school_year in truth.params.school_years:
        year_rows = rows.filter(pl.col("school_year") == school_year).select(
            "school_login",
            "ogrn",
            "inn",
            "school_name",
            "school_short_name",
            "municipality",
            "school_type",
            "settlement",
            "previous_login",
        )
        path = raw_dir / "school_registry" / school_year / f"Реестр ОО {school_year}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            f.write(";".join(REGISTRY_HEADER) + "\n")
            for r in year_rows.iter_rows():
                f.write(";".join(str(v) for v in r) + "\n")
        written.append(path)
    return written


def write_vpr_mark_statistics(truth: RegionTruth, raw_dir: Path) -> list[Path]:
    """ФИС ОКО «Статистика по отметкам»: one XLSX per school year, title rows above the header,
    percentages of marks rounded to two decimals as the report shows them."""
    marks = (
        truth.vpr_marks.join(truth.school_names, on=["school_login", "school_year"])
        .join(truth.schools_by_login().select("school_login", "municipality"), on="school_login")
        .sort("municipality", "school_login", "grade", "subject")
    )
    written = []
    for school_year in truth.params.school_years:
        year = marks.filter(pl.col("school_year") == school_year)
        path = (
            raw_dir
            / "vpr_mark_statistics"
            / school_year
            / f"ВПР {spring_year(school_year)} Статистика по отметкам.xlsx"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        ws = wb.add_worksheet("Статистика по отметкам")
        ws.write_row(0, 0, ["Статистика по отметкам"])
        ws.write_row(1, 0, [f"Всероссийские проверочные работы {spring_year(school_year)}"])
        ws.write_row(3, 0, VPR_MARKS_HEADER)
        for i, r in enumerate(year.iter_rows(named=True), start=4):
            p = r["participants"]
            ws.write_row(
                i,
                0,
                [
                    spring_year(school_year),
                    r["grade"],
                    r["subject"],
                    r["municipality"],
                    r["school_login"],
                    r["school_name"],
                    p,
                    *(round(100 * r[f"mark_{k}"] / p, 2) for k in (2, 3, 4, 5)),
                ],
            )
        wb.close()
        written.append(path)
    return written


def write_truth(truth: RegionTruth, truth_dir: Path) -> None:
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth.schools.write_parquet(truth_dir / "schools.parquet")
    truth.school_names.write_parquet(truth_dir / "school_names.parquet")
    truth.vpr_marks.write_parquet(truth_dir / "vpr_marks.parquet")
    (truth_dir / "summary.json").write_text(json.dumps(truth.summary(), ensure_ascii=False, indent=2), encoding="utf-8")
