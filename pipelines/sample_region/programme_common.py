"""Shared pieces of the programme families: the school x year frame, list membership, file writers."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from pipelines.sample_region.model import RegionTruth

# Family-specific streams: np.random.default_rng([seed, FAMILY]) keeps each family independent of the others.
RNG_CONTEXT, RNG_LISTS, RNG_BIAS, RNG_SURVEY, RNG_REGISTER = 201, 202, 203, 204, 205
RNG_DIAGNOSTICS, RNG_OLYMPIADS, RNG_NETWORK = 206, 207, 208


def family_rng(truth: RegionTruth, family: int) -> np.random.Generator:
    return np.random.default_rng([truth.params.seed, family])


def start_year(school_year: str) -> int:
    return int(school_year[:4])


def spring_year(school_year: str) -> int:
    return int(school_year[-4:])


def school_year_frame(truth: RegionTruth) -> pl.DataFrame:
    """School x school year, sorted by year then school: `school_login` valid that year, `first_login` (the key of
    truth.schools), `i` (school index in truth.schools), `t` (year index), names and context."""
    years = truth.params.school_years
    schools = truth.schools.with_row_index("i").with_columns(pl.col("i").cast(pl.Int64))
    by_login = truth.schools_by_login().select("school_login", "first_login")
    frame = (
        truth.school_names.join(by_login, on="school_login")
        .join(schools.rename({"school_login": "first_login"}), on="first_login")
        .with_columns(pl.col("school_year").replace_strict(years, list(range(len(years)))).cast(pl.Int64).alias("t"))
        .sort("t", "i")
    )
    return frame


def wide(frame: pl.DataFrame, values: np.ndarray, name: str) -> pl.DataFrame:
    """Attach a schools x years array to a frame sorted by (t, i) with full coverage."""
    return frame.with_columns(pl.Series(name, values[frame["i"].to_numpy(), frame["t"].to_numpy()]))


def unknown_login(truth: RegionTruth, offset: int) -> str:
    """A code that is in no registry of the region: beyond the numbering (and beyond the renumbered school)."""
    n = truth.schools.height
    width = max(4, len(str(n)))
    return f"sch{truth.params.region_code}{n + offset:0{width}d}"


def dmy(d: dt.date | None) -> str:
    return "" if d is None else d.strftime("%d.%m.%Y")


def comma(x: float, digits: int) -> str:
    return f"{x:.{digits}f}".replace(".", ",")


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence],
    *,
    encoding: str,
    delimiter: str = ";",
    quote_all: bool = False,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        w.writerow(header)
        w.writerows(["" if v is None else v for v in r] for r in rows)
    return path


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]]) -> Path:
    """Header in row 1 of each sheet. None -> empty cell; date/datetime -> real date cells; wrap header cells
    that contain a line break, as Excel shows them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "dd.mm.yyyy"})
    time_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    wrap = wb.add_format({"text_wrap": True, "bold": True})
    bold = wb.add_format({"bold": True})
    for name, header, rows in sheets:
        ws = wb.add_worksheet(name)
        for c, h in enumerate(header):
            ws.write_string(0, c, h, wrap if "\n" in h else bold)
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, dt.datetime):
                    ws.write_datetime(r, c, v, time_fmt)
                elif isinstance(v, dt.date):
                    ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), date_fmt)
                elif isinstance(v, str):
                    ws.write_string(r, c, v)
                else:
                    ws.write_number(r, c, float(v) if isinstance(v, float | np.floating) else int(v))
    wb.close()
    return path


def out_path(raw_dir: Path, folder: str, school_year: str, name: str) -> Path:
    return raw_dir / folder / school_year / name
