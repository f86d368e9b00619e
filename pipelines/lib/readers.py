"""Read an export into a frame of text cells with canonical column names.

Reading never interprets values: every cell stays text, so the contract can report the value exactly as the
file has it. `_source_row` keeps the row number a person sees in Excel or a text editor (1-based).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

from pipelines.lib.sources import SourceSpec

HEADER_SCAN_ROWS = 30
SOURCE_ROW = "_source_row"


class ExportReadError(ValueError):
    """The file cannot be read as this source's export (wrong layout, missing columns, unreadable)."""

    def __init__(self, path: Path, message_ru: str, message_en: str, row: int | None = None, column: str | None = None):
        self.path, self.row, self.column = path, row, column
        self.message_ru, self.message_en = message_ru, message_en
        where = f", строка {row}" if row else ""
        super().__init__(f"{path}{where}: {message_ru} / {message_en}")


def normalise_header(text: object) -> str:
    """Header text as compared: lower case, ё→е, no quotes, single spaces (line breaks in cells included)."""
    s = str(text).lower().replace("ё", "е")
    s = re.sub(r"[«»\"'“”„]", "", s)
    return re.sub(r"\s+", " ", s).strip()


@dataclass(frozen=True)
class RawTable:
    path: Path
    frame: pl.DataFrame  # canonical columns as text, plus _source_row
    header_row: int  # 1-based row of the header in the file
    headers: dict[str, str]  # canonical column -> header text as found in the file
    ignored_headers: tuple[str, ...]  # columns present in the file that the source does not use


def decode_text(path: Path, encoding: str) -> str:
    """Text of a (school-level, small) CSV export. `auto`: UTF-8 with or without BOM if it decodes, else cp1251,
    the two encodings regional exports come in. A named encoding that does not fit is an error."""
    data = path.read_bytes()
    candidates = ["utf-8-sig", "cp1251"] if encoding == "auto" else [encoding]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError as exc:
            last = exc
    raise ExportReadError(
        path,
        f"файл не в кодировке {' или '.join(candidates)} (байт {last.start})",
        f"the file is not in {' or '.join(candidates)} (byte {last.start})",
    )


def _read_cells(spec: SourceSpec, path: Path) -> pl.DataFrame:
    """All cells as text, columns c0..cN, plus the 1-based row number."""
    if path.stat().st_size == 0:
        raise ExportReadError(path, "файл пуст (0 байт)", "the file is empty (0 bytes)")
    try:
        if spec.format == "xlsx":
            sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string")
            frame = sheet.to_polars()
        else:
            frame = pl.read_csv(
                io.StringIO(decode_text(path, spec.csv.get("encoding", "auto"))),
                separator=spec.csv.get("separator", ";"),
                has_header=False,
                infer_schema=False,
                truncate_ragged_lines=False,
            )
    except ExportReadError:
        raise
    except Exception as exc:  # the reader libraries raise many types; all mean "cannot read this file"
        raise ExportReadError(path, f"файл не читается как {spec.format.upper()}: {exc}", f"cannot read as {spec.format}: {exc}") from exc
    frame = frame.rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
    return frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))


def _match_header(spec: SourceSpec, cells: list[object]) -> dict[str, int]:
    normalised = [normalise_header(c) if c is not None else "" for c in cells]
    found: dict[str, int] = {}
    for col in spec.columns:
        variants = {normalise_header(h) for h in col.headers}
        hits = [i for i, text in enumerate(normalised) if text in variants]
        if hits:
            found[col.name] = hits[0]
    return found


def read_export(spec: SourceSpec, path: Path) -> RawTable:
    cells = _read_cells(spec, path)
    if cells.height == 0:
        raise ExportReadError(path, "файл пуст", "the file is empty")
    value_columns = [c for c in cells.columns if c != SOURCE_ROW]

    # The header is the row among the first rows that names the most known columns.
    best_row, best = None, {}
    for row in cells.head(HEADER_SCAN_ROWS).iter_rows(named=True):
        found = _match_header(spec, [row[c] for c in value_columns])
        if len(found) > len(best):
            best_row, best = row, found
    required = [c for c in spec.columns if c.required]
    if best_row is None or len(best) < max(1, len(required) // 2):
        expected = ", ".join(f"«{c.headers[0]}»" for c in required)
        raise ExportReadError(
            path,
            f"не найдена строка заголовка в первых {HEADER_SCAN_ROWS} строках; ожидались столбцы {expected}",
            f"no header row in the first {HEADER_SCAN_ROWS} rows; expected columns {expected}",
        )
    header_row = best_row[SOURCE_ROW]
    missing = [c for c in required if c.name not in best]
    if missing:
        found_headers = [str(best_row[c]) for c in value_columns if best_row[c] is not None]
        names = ", ".join(f"«{c.headers[0]}» ({c.name})" for c in missing)
        raise ExportReadError(
            path,
            f"в заголовке (строка {header_row}) нет обязательных столбцов: {names}; найдены: {found_headers}. "
            "Если столбец назван иначе, добавьте вариант заголовка в конфигурацию источника",
            f"header row {header_row} lacks required columns {names}; found {found_headers}. "
            "If the column is named differently, add the header variant to the source config",
            row=header_row,
            column=missing[0].name,
        )
    used = set(best.values())
    ignored = tuple(str(best_row[c]) for i, c in enumerate(value_columns) if i not in used and best_row[c] is not None)
    body = cells.filter(pl.col(SOURCE_ROW) > header_row)
    body = body.filter(~pl.all_horizontal(pl.col(value_columns).is_null() | (pl.col(value_columns).str.strip_chars() == "")))
    frame = body.select(
        pl.col(SOURCE_ROW),
        *[pl.col(value_columns[i]).str.strip_chars().alias(name) for name, i in best.items()],
        *[pl.lit(None, dtype=pl.String).alias(c.name) for c in spec.columns if c.name not in best],
    )
    headers = {name: str(best_row[value_columns[i]]) for name, i in best.items()}
    return RawTable(path, frame, header_row, headers, ignored)
