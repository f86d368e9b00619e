"""Read an export into text cells under canonical column names.

Reading never interprets values: every cell stays text, so the contract can report the value exactly as the
file has it. `_source_row` keeps the row number a person sees in Excel or a text editor (1-based).

Two ways in, chosen by the source config:
- `read_export`: school-level files (XLSX, XLS or CSV, small): the header is found by scanning, may span several
  rows (merged cells), subtotal rows and repeated headers are dropped, merged cells filled down, wide layouts
  reshaped to long (unpivot, questionnaires). A workbook may keep one sheet per school year (`sheets`): each
  sheet is read alike and its rows carry the year its name gives; a sheet that does not fit is refused by name.
  Subtotal rows (`subtotal_rows`) can be checked against the sums of the school rows (`totals_check`).
- `stream_export` (`stream: true`): pupil-level CSV, read in blocks by pyarrow (transcoding cp1251 on the
  way), header on the first line; never the whole file in memory.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.lib.sources import SHEET_YEAR, SourceSpec

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
    s = re.sub(r"[–—]", "-", s)
    return re.sub(r"\s+", " ", s).strip()


@dataclass(frozen=True)
class RawTable:
    path: Path
    frame: pl.DataFrame  # canonical columns as text, plus _source_row
    header_row: int  # 1-based row of the (first) header row in the file
    headers: dict[str, str]  # canonical column -> header text as found in the file
    ignored_headers: tuple[str, ...]  # columns present in the file that the source does not use
    rows_read: int = 0  # data rows in the file (before anything was dropped)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows dropped by design (subtotals, ...)
    # long layouts (unpivot, questionnaires): (canonical column, key value) -> the file's header of that cell
    keyed_headers: dict[tuple[str, str], str] = field(default_factory=dict)
    # a sheet-per-year workbook: the sheets not read, each with why (Russian, English)
    refused_sheets: tuple[tuple[str, str, str], ...] = ()
    totals_checked: int = 0  # subtotal cells compared with the sums of the school rows (totals_check)


def key_column(spec: SourceSpec) -> str | None:
    """The column that tells which of a wide row's cells a long row came from."""
    if spec.survey:
        return "question_code"
    return spec.unpivot.key_column if spec.unpivot else None


def detect_encoding(path: Path, encoding: str) -> str:
    """`auto`: UTF-8 (with or without BOM) if the start of the file decodes as such, else cp1251 — the two
    encodings regional exports come in."""
    if encoding != "auto":
        return encoding
    with path.open("rb") as f:
        head = f.read(1 << 16)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "cp1251"
    return "utf-8"


def decode_text(path: Path, encoding: str) -> str:
    """Text of a (school-level, small) CSV export. A named encoding that does not fit is an error."""
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and not encoding.startswith("utf-16"):
        raise ExportReadError(path, UTF16_RU, UTF16_EN)
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


EXCEL_FORMATS = {"xlsx", "xls"}


def _open_workbook(spec: SourceSpec, path: Path) -> fastexcel.ExcelReader:
    """An XLSX or XLS (Excel 97-2003) workbook; calamine tells the two apart by their content, so an .xls saved
    under an .xlsx name (or the reverse) reads too."""
    if path.stat().st_size == 0:
        raise ExportReadError(path, "файл пуст (0 байт)", "the file is empty (0 bytes)")
    try:
        return fastexcel.read_excel(path.read_bytes())
    except Exception as exc:  # the reader raises many types; all mean "cannot read this file"
        raise ExportReadError(
            path, f"файл не читается как книга Excel (xlsx/xls): {exc}", f"cannot read as an Excel workbook: {exc}"
        ) from exc


def _sheet_cells(path: Path, workbook: fastexcel.ExcelReader, sheet: str | int) -> pl.DataFrame:
    """A sheet's cells as text from its first row: `skip_rows=0` keeps leading empty rows, so row numbers are
    the ones Excel shows (by default fastexcel drops them)."""
    try:
        frame = workbook.load_sheet(sheet, header_row=None, dtypes="string", skip_rows=0).to_polars()
    except Exception as exc:
        raise ExportReadError(
            path, f"лист «{sheet}» не читается: {exc}", f"sheet {sheet!r} cannot be read: {exc}"
        ) from exc
    frame = frame.rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
    return frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))


def _read_cells(spec: SourceSpec, path: Path) -> pl.DataFrame:
    """All cells as text, columns c0..cN, plus the 1-based row number."""
    if path.stat().st_size == 0:
        raise ExportReadError(path, "файл пуст (0 байт)", "the file is empty (0 bytes)")
    if spec.format in EXCEL_FORMATS:
        workbook = _open_workbook(spec, path)
        if spec.sheet and spec.sheet not in workbook.sheet_names:
            raise ExportReadError(
                path,
                f"в книге нет листа «{spec.sheet}»; листы: {workbook.sheet_names}",
                f"the workbook has no sheet {spec.sheet!r}; sheets: {workbook.sheet_names}",
            )
        return _sheet_cells(path, workbook, spec.sheet or 0)
    try:
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
        raise ExportReadError(
            path, f"файл не читается как {spec.format.upper()}: {exc}", f"cannot read as {spec.format}: {exc}"
        ) from exc
    frame = frame.rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
    return frame.with_row_index(SOURCE_ROW, offset=1).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))


@dataclass(frozen=True)
class _Header:
    row: int  # 1-based first header row
    columns: dict[str, list[int]]  # canonical column -> file column indexes (several when unpivoted)
    keys: dict[int, str]  # file column index -> unpivot key value
    texts: dict[int, str]  # file column index -> header text as in the file
    ignored: tuple[str, ...]


def _header_paths(spec: SourceSpec, rows: list[list[object]]) -> list[tuple[str, str | None, str]]:
    """For each file column: (text matched against header variants, unpivot key or None, text as shown).
    Upper header levels are merged cells: a group label is filled right over the columns under it."""
    levels = [[(str(c).strip() if c is not None and str(c).strip() else None) for c in r] for r in rows]
    width = max(len(r) for r in levels)
    levels = [r + [None] * (width - len(r)) for r in levels]
    for lvl in range(len(levels) - 1):
        for j in range(1, width):
            deeper = any(levels[d][j] for d in range(lvl + 1, len(levels)))
            same_parent = all(levels[k][j] == levels[k][j - 1] for k in range(lvl))
            if levels[lvl][j] is None and deeper and same_parent:
                levels[lvl][j] = levels[lvl][j - 1]
    ignore = {normalise_header(t) for t in spec.header_ignore}
    key_level = spec.unpivot.header_level - 1 if spec.unpivot and spec.unpivot.header_level else None
    out = []
    for j in range(width):
        parts = [(lvl, levels[lvl][j]) for lvl in range(len(levels)) if levels[lvl][j]]
        key = next((t for lvl, t in parts if lvl == key_level), None)
        kept = [t for lvl, t in parts if lvl != key_level and normalise_header(t) not in ignore]
        shown = " / ".join(t for _, t in parts)
        out.append((normalise_header(" / ".join(kept)), key, shown))
    return out


def _match(spec: SourceSpec, paths: list[tuple[str, str | None, str]]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    pattern = re.compile(spec.unpivot.header_pattern) if spec.unpivot and spec.unpivot.header_pattern else None
    for col in spec.header_columns:
        variants = {normalise_header(h) for h in col.headers}
        hits = [j for j, (text, _, _) in enumerate(paths) if text in variants]
        if hits:
            keyed = [j for j in hits if paths[j][1] is not None]
            found[col.name] = keyed if keyed else hits[:1]
    if pattern is not None:
        hits = [j for j, (text, _, _) in enumerate(paths) if text and pattern.fullmatch(text)]
        if hits:
            found[spec.unpivot.value_column] = hits
    return found


def _find_header(spec: SourceSpec, path: Path, cells: pl.DataFrame) -> _Header:
    value_columns = [c for c in cells.columns if c != SOURCE_ROW]
    head = cells.head(HEADER_SCAN_ROWS + spec.header_rows).select(value_columns).rows()
    best_row, best, best_paths = None, {}, []
    for r in range(min(HEADER_SCAN_ROWS, len(head))):
        block = [list(x) for x in head[r : r + spec.header_rows]]
        if len(block) < spec.header_rows:
            break
        paths = _header_paths(spec, block)
        found = _match(spec, paths)
        if len(found) > len(best):
            best_row, best, best_paths = r, found, paths
    needed = [c for c in spec.header_columns if c.required and c.school_years is None]
    if best_row is None or len(best) < max(1, len(needed) // 2):
        expected = ", ".join(f"«{c.headers[0]}»" for c in needed)
        raise ExportReadError(
            path,
            f"не найдена строка заголовка в первых {HEADER_SCAN_ROWS} строках; ожидались столбцы {expected}",
            f"no header row in the first {HEADER_SCAN_ROWS} rows; expected columns {expected}",
        )
    used = {j for js in best.values() for j in js}
    ignored = tuple(shown for j, (_, _, shown) in enumerate(best_paths) if j not in used and shown)
    keys = {j: best_paths[j][1] for js in best.values() for j in js if best_paths[j][1] is not None}
    if spec.unpivot and spec.unpivot.key_values:  # key values renamed by the config (e.g. «Физика, чел.» -> «Физика»)
        keys = {j: spec.unpivot.key_values.get(normalise_header(k), k) for j, k in keys.items()}
    if spec.unpivot and spec.unpivot.header_pattern:
        keys.update({j: best_paths[j][2] for j in best.get(spec.unpivot.value_column, [])})
    texts = {j: best_paths[j][2] for j in range(len(best_paths))}
    return _Header(cells[SOURCE_ROW][best_row], best, keys, texts, ignored)


def _require(spec: SourceSpec, path: Path, header: _Header, school_year: str) -> None:
    missing = [c for c in spec.header_columns if c.required_in(school_year) and c.name not in header.columns]
    if spec.unpivot and spec.unpivot.value_column and spec.unpivot.value_column not in header.columns:
        missing.append(spec.column(spec.unpivot.value_column))
    if missing:
        found = [t for t in header.texts.values() if t]
        names = ", ".join(f"«{c.headers[0] if c.headers else spec.unpivot.header_pattern}» ({c.name})" for c in missing)
        raise ExportReadError(
            path,
            f"в заголовке (строка {header.row}) нет обязательных столбцов: {names}; найдены: {found}. "
            "Если столбец назван иначе, добавьте вариант заголовка в конфигурацию источника",
            f"header row {header.row} lacks required columns {names}; found {found}. "
            "If the column is named differently, add the header variant to the source config",
            row=header.row,
            column=missing[0].name,
        )


def _reshape(spec: SourceSpec, body: pl.DataFrame, header: _Header, value_columns: list[str]) -> pl.DataFrame:
    """Canonical columns; wide layouts (unpivot) become one row per key."""
    simple = {name: js[0] for name, js in header.columns.items() if not any(j in header.keys for j in js)}
    ids = [pl.col(SOURCE_ROW)] + [pl.col(value_columns[j]).alias(name) for name, j in simple.items()]
    absent = [c.name for c in spec.header_columns if c.name not in header.columns]
    if not spec.unpivot:
        out = body.select(*ids)
    else:
        key_values = sorted(set(header.keys.values()), key=list(header.keys.values()).index)
        parts = []
        for key in key_values:
            measures = {
                name: value_columns[j] for name, js in header.columns.items() for j in js if header.keys.get(j) == key
            }
            part = body.select(
                *ids, pl.lit(key).alias(spec.unpivot.key_column), *[pl.col(c).alias(n) for n, c in measures.items()]
            )
            parts.append(part.filter(pl.any_horizontal([pl.col(n).is_not_null() for n in measures])))
        out = pl.concat(parts, how="diagonal") if parts else body.select(*ids)
        out = out.sort(SOURCE_ROW, maintain_order=True)
    return out.with_columns(*[pl.lit(None, dtype=pl.String).alias(c) for c in absent if c not in out.columns])


def _drop(spec: SourceSpec, frame: pl.DataFrame, header: _Header) -> tuple[pl.DataFrame, dict[str, int]]:
    dropped: dict[str, int] = {}

    def apply(reason: str, keep: pl.Expr) -> None:
        """Drop rows; count the file's rows dropped (a wide row is several long rows after unpivot)."""
        nonlocal frame
        before = frame[SOURCE_ROW].n_unique()
        frame = frame.filter(keep)
        if before - frame[SOURCE_ROW].n_unique():
            dropped[reason] = dropped.get(reason, 0) + before - frame[SOURCE_ROW].n_unique()

    # a header row repeated inside the data (files glued together)
    cols = [c for c in header.columns if c in frame.columns]
    repeats = [
        pl.col(c).fill_null("").str.to_lowercase().str.strip_chars()
        == normalise_header(header.texts[header.columns[c][0]].split(" / ")[-1])
        for c in cols
    ]
    if repeats:
        apply("повтор строки заголовка / repeated header row", ~pl.all_horizontal(repeats))
    for rule in spec.drop_rows:
        hit = pl.col(rule.column).fill_null("").str.strip_chars().str.contains(f"(?i){rule.pattern}")
        apply(f"строка итогов / subtotal row ({rule.column} ~ {rule.pattern})", ~hit)
    if spec.fill_down:
        frame = frame.with_columns(pl.col(c).fill_null(strategy="forward") for c in spec.fill_down)
    if spec.drop_exact_duplicates:
        data_cols = [c for c in frame.columns if c != SOURCE_ROW]
        apply(
            "точный дубликат строки / exact duplicate row",
            pl.struct(data_cols).is_first_distinct(),
        )
    return frame, dropped


def _melt_survey(spec: SourceSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """One row per answer (per chosen option for multiple choice)."""
    survey = spec.survey
    fixed = [c.name for c in spec.columns if not c.name.startswith("q__")]
    parts = []
    for q in survey.questions:
        col = f"q__{q.code}"
        if col not in frame.columns:
            continue
        part = frame.select(SOURCE_ROW, *fixed, pl.lit(q.code).alias("question_code"), pl.col(col).alias("answer_text"))
        part = part.filter(pl.col("answer_text").is_not_null() & (pl.col("answer_text").str.strip_chars() != ""))
        if q.type == "multi":
            options = sorted(q.options, key=len, reverse=True)
            part = part.with_columns(
                pl.col("answer_text").map_elements(
                    lambda t, o=options: _split_choices(t, o), return_dtype=pl.List(pl.String)
                )
            ).explode("answer_text")
        parts.append(part)
    if not parts:
        return (
            frame.select(SOURCE_ROW, *fixed)
            .with_columns(pl.lit(None, pl.String).alias("question_code"), pl.lit(None, pl.String).alias("answer_text"))
            .head(0)
        )
    return pl.concat(parts).sort(SOURCE_ROW, "question_code", maintain_order=True)


def _split_choices(text: str, options: list[str]) -> list[str]:
    """Options of a multiple-choice answer, joined by `;` or `,` (option texts may contain commas).
    What is left after the known options are taken out is kept as one more (unknown) answer."""
    rest, chosen = text, []
    for option in options:
        pattern = re.compile(re.escape(option), re.IGNORECASE)
        if pattern.search(rest):
            chosen.append(option)
            rest = pattern.sub(" ", rest, count=1)
    leftover = re.sub(r"[;,\s]+", " ", rest).strip()
    return chosen + ([leftover] if leftover else [])


@dataclass
class _Part:
    """One sheet (or the file) read: the frame and what the reader saw."""

    frame: pl.DataFrame
    header: _Header
    rows_read: int
    dropped: dict[str, int]
    mismatches: list[tuple[int, str, str, str, float]]  # (row, column, header shown, value in the file, sum)
    totals_checked: int = 0


def _count(dropped: dict[str, int], reason: str, n: int) -> None:
    if n:
        dropped[reason] = dropped.get(reason, 0) + n


def _skip_column_numbers(body: pl.DataFrame, value_columns: list[str]) -> tuple[pl.DataFrame, int]:
    """The row of column numbers (1, 2, 3 …) some reports put under the header: the first data row, if every
    filled cell of it is a whole number."""
    if body.height == 0:
        return body, 0
    cells = [v for v in body.select(value_columns).row(0) if v not in (None, "")]
    if len(cells) >= 2 and all(re.fullmatch(r"\d+(\.0+)?", v) for v in cells):
        return body.slice(1), 1
    return body, 0


def _number(column: str) -> pl.Expr:
    """A cell as a number (decimal comma, spaces as thousands separators); null when empty or not a number."""
    return pl.col(column).str.replace_all(r"\s", "").str.replace(",", ".").cast(pl.Float64, strict=False)


def _subtotals(
    spec: SourceSpec, body: pl.DataFrame, header: _Header, value_columns: list[str]
) -> tuple[pl.DataFrame, dict[str, int], list[tuple[int, str, str, str, float]], int]:
    """Take out the subtotal rows (`subtotal_rows`), fill the `fill_down` columns from the group rows, and compare
    the subtotals of the `totals_check` columns with the sums of the school rows below them (a group row: up to
    the next group or total row; a total row: every school of the sheet). An empty cell counts 0; a subtotal cell
    that is not a number («х») is not compared."""
    rules = spec.subtotals

    def file_column(name: str) -> str | None:
        js = header.columns.get(name)
        return value_columns[js[0]] if js else None

    def hit(rule) -> pl.Expr:
        column = file_column(rule.column) if rule else None
        if column is None:
            return pl.lit(False)
        if rule.empty:
            return pl.col(column).is_null() | (pl.col(column) == "")
        return pl.col(column).fill_null("").str.contains(f"(?i){rule.pattern}")

    kind = pl.when(hit(rules.total)).then(pl.lit("total")).when(hit(rules.group)).then(pl.lit("group"))
    body = body.with_columns(kind.otherwise(pl.lit("school")).alias("_kind"))
    body = body.with_columns(
        pl.when(pl.col("_kind") == "group")
        .then(pl.col(SOURCE_ROW))
        .when(pl.col("_kind") == "total")
        .then(pl.lit(-1, pl.Int64))
        .otherwise(None)
        .forward_fill()
        .alias("_group")
    )
    fill = [c for c in (file_column(n) for n in spec.fill_down) if c is not None]
    if fill:  # a total row names no municipality: its cell does not fill the schools below
        body = body.with_columns(
            pl.when(pl.col("_kind") == "total").then(None).otherwise(pl.col(c)).forward_fill().alias(c) for c in fill
        )
    mismatches: list[tuple[int, str, str, str, float]] = []
    compared = 0
    schools = body.filter(pl.col("_kind") == "school")
    for name in rules.check:
        for j in header.columns.get(name, []):
            c = value_columns[j]
            by_group = dict(
                schools.filter(pl.col("_group") > 0)
                .group_by("_group")
                .agg(_number(c).fill_null(0).sum().alias("s"))
                .iter_rows()
            )
            everything = schools.select(_number(c).fill_null(0).sum()).item()
            subtotal_rows = body.filter(pl.col("_kind").is_in(list(rules.check_rows))).select(
                SOURCE_ROW, "_kind", pl.col(c).alias("text"), _number(c).alias("value")
            )
            for row, kind_, text, value in subtotal_rows.iter_rows():
                if text not in (None, "") and value is None:
                    continue  # «х»: not applicable
                expected = everything if kind_ == "total" else by_group.get(row, 0.0)
                compared += 1
                if abs((value or 0.0) - expected) > 1e-6 * max(1.0, abs(expected)):
                    mismatches.append((row, name, header.texts[j], text or "", expected))
    dropped: dict[str, int] = {}
    _count(dropped, "строка итога / total row", body.filter(pl.col("_kind") == "total").height)
    _count(dropped, "строка подытога группы / group subtotal row", body.filter(pl.col("_kind") == "group").height)
    body = body.filter(pl.col("_kind") == "school").drop("_kind", "_group")
    return body, dropped, mismatches, compared


def _totals_error(path: Path, part: _Part, sheet: str | None) -> ExportReadError:
    where = f"лист «{sheet}», " if sheet else ""
    where_en = f"sheet {sheet!r}, " if sheet else ""
    shown = part.mismatches[:5]
    ru = "; ".join(
        f"{where}строка {r}, «{h}»: в файле {t or 'пусто'}, сумма строк школ {s:g}" for r, _, h, t, s in shown
    )
    en = "; ".join(
        f"{where_en}row {r}, {h!r}: {t or 'empty'} in the file, schools sum to {s:g}" for r, _, h, t, s in shown
    )
    more = len(part.mismatches) - len(shown)
    return ExportReadError(
        path,
        f"итоги файла не совпадают с суммой строк школ ({len(part.mismatches)}): {ru}"
        + (f" и ещё {more}" if more else ""),
        f"the file's totals differ from the sums of its school rows ({len(part.mismatches)}): {en}"
        + (f" and {more} more" if more else ""),
        row=part.mismatches[0][0],
        column=part.mismatches[0][1],
    )


def _read_part(spec: SourceSpec, path: Path, cells: pl.DataFrame, school_year: str) -> _Part:
    if cells.height == 0:
        raise ExportReadError(path, "файл пуст", "the file is empty")
    value_columns = [c for c in cells.columns if c != SOURCE_ROW]
    header = _find_header(spec, path, cells)
    _require(spec, path, header, school_year)
    body = cells.filter(pl.col(SOURCE_ROW) >= header.row + spec.header_rows)
    body = body.with_columns(pl.col(value_columns).str.strip_chars())
    body = body.filter(~pl.all_horizontal(pl.col(value_columns).is_null() | (pl.col(value_columns) == "")))
    rows_read = body.height
    dropped: dict[str, int] = {}
    if spec.header_column_numbers:
        body, n = _skip_column_numbers(body, value_columns)
        _count(dropped, "строка номеров столбцов / column-number row", n)
    mismatches, compared = [], 0
    if spec.subtotals:
        body, more, mismatches, compared = _subtotals(spec, body, header, value_columns)
        for reason, n in more.items():
            _count(dropped, reason, n)
    frame = _reshape(spec, body, header, value_columns)
    if spec.empty_as_zero:  # after reshaping: a subject a school did not sit stays absent, not zeros
        frame = frame.with_columns(
            pl.when(pl.col(c).is_null() | (pl.col(c) == "")).then(pl.lit("0")).otherwise(pl.col(c)).alias(c)
            for c in spec.empty_as_zero
            if c in frame.columns
        )
    frame, more = _drop(spec, frame, header)
    for reason, n in more.items():
        _count(dropped, reason, n)
    if spec.survey:
        frame = _melt_survey(spec, frame)
    return _Part(frame, header, rows_read, dropped, mismatches, compared)


def _headers_of(spec: SourceSpec, header: _Header) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    headers = {name: header.texts[js[0]] for name, js in header.columns.items()}
    keyed = {
        (name, str(header.keys[j])): header.texts[j]
        for name, js in header.columns.items()
        for j in js
        if j in header.keys
    }
    if spec.survey:
        keyed = {
            ("answer_text", q.code): headers[f"q__{q.code}"] for q in spec.survey.questions if f"q__{q.code}" in headers
        }
    return headers, keyed


def read_export(spec: SourceSpec, path: Path, school_year: str) -> RawTable:
    """Read a school-level export. A totals mismatch (`totals_check`) is an ExportReadError naming the row."""
    if spec.sheets:
        return _read_sheets(spec, path, school_year)
    part = _read_part(spec, path, _read_cells(spec, path), school_year)
    if part.mismatches:
        raise _totals_error(path, part, spec.sheet)
    headers, keyed = _headers_of(spec, part.header)
    return RawTable(
        path,
        part.frame,
        part.header.row,
        headers,
        part.header.ignored,
        part.rows_read,
        part.dropped,
        keyed,
        totals_checked=part.totals_checked,
    )


def _in_sheet(exc: ExportReadError, sheet: str) -> ExportReadError:
    return ExportReadError(
        exc.path, f"лист «{sheet}»: {exc.message_ru}", f"sheet {sheet!r}: {exc.message_en}", exc.row, exc.column
    )


def sheet_school_years(spec: SourceSpec, path: Path) -> list[str]:
    """The school years a sheet-per-year workbook's sheet names give, without reading the sheets."""
    workbook = _open_workbook(spec, path)
    return sorted({y for y in (spec.sheets.school_year_of(n) for n in workbook.sheet_names) if y})


def _read_sheets(spec: SourceSpec, path: Path, school_year: str) -> RawTable:
    """A workbook with one sheet per school year: every sheet whose name gives a year, read alike; its rows carry
    that year (column SHEET_YEAR, which the load takes as the rows' school year, as for a multi-year file).
    A sheet that cannot be read as this source (its header does not fit) is refused by name: skipped, or with
    `on_unfit_sheet: refuse_workbook` the whole workbook is. The sheet of the year being loaded is never skipped:
    its problem refuses the load. Totals mismatches refuse the load of their sheet's year only."""
    workbook = _open_workbook(spec, path)
    sheets = [(name, spec.sheets.school_year_of(name)) for name in workbook.sheet_names]
    sheets = [(name, year) for name, year in sheets if year]
    if not sheets:
        raise ExportReadError(
            path,
            f"ни один лист книги не назван учебным годом; листы: {workbook.sheet_names}",
            f"no sheet of the workbook is named for a school year; sheets: {workbook.sheet_names}",
        )
    parts: list[tuple[str, str, _Part]] = []
    refused: list[tuple[str, str, str]] = []
    for name, year in sheets:
        try:
            part = _read_part(spec, path, _sheet_cells(path, workbook, name), year)
        except ExportReadError as exc:
            if spec.sheets.on_unfit_sheet == "refuse_workbook" or year == school_year:
                raise _in_sheet(exc, name) from exc
            refused.append(
                (name, f"лист «{name}» не загружен: {exc.message_ru}", f"sheet {name!r} refused: {exc.message_en}")
            )
            continue
        if part.mismatches and year == school_year:
            raise _totals_error(path, part, name)
        parts.append((name, year, part))
    if not parts:
        raise ExportReadError(
            path,
            "ни один лист книги не подходит: " + "; ".join(r for _, r, _ in refused),
            "no sheet of the workbook fits: " + "; ".join(e for _, _, e in refused),
        )
    frame = pl.concat(
        [part.frame.with_columns(pl.lit(year).alias(SHEET_YEAR)) for _, year, part in parts], how="diagonal_relaxed"
    )
    headers: dict[str, str] = {}
    keyed: dict[tuple[str, str], str] = {}
    for _, _, part in parts:
        h, k = _headers_of(spec, part.header)
        headers = {**h, **headers}
        keyed = {**k, **keyed}
    # what was dropped is counted for the load's own year (its sheet), or for the workbook when asked for none
    own = [part for _, year, part in parts if year == school_year] or [part for _, _, part in parts]
    dropped: dict[str, int] = {}
    for part in own:
        for reason, n in part.dropped.items():
            _count(dropped, reason, n)
    ignored = tuple(dict.fromkeys(t for part in own for t in part.header.ignored))
    return RawTable(
        path,
        frame,
        own[0].header.row,
        headers,
        ignored,
        sum(part.rows_read for _, _, part in parts),
        dropped,
        keyed,
        refused_sheets=tuple(refused),
        totals_checked=sum(part.totals_checked for part in own),
    )


# ---------------------------------------------------------------------------------------------- streaming


def trim_cells(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text cells trimmed, blank ones null (done in Arrow: DuckDB's trim over 11M rows costs seconds)."""
    column = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)


@dataclass
class StreamedExport:
    """A pupil-level CSV being read block by block. `batches` yields pyarrow tables of text cells under
    canonical names plus `_source_row`; `invalid_rows` collects lines with a wrong number of fields."""

    path: Path
    encoding: str
    headers: dict[str, str]
    ignored_headers: tuple[str, ...]
    invalid_rows: list[tuple[int | None, int]] = field(default_factory=list)  # (line, fields found)
    _columns: list[tuple[str, int]] = field(default_factory=list)  # canonical name, column index in the file
    width: int = 0  # fields per line
    _block_bytes: int = 1 << 24
    _separator: str = ";"
    bytes_read: int = 0  # about how many bytes of the file the rows yielded so far took (for progress)

    def _locate_invalid_lines(self, limit: int = 5) -> list[tuple[int | None, int]]:
        """Line numbers of the lines with a wrong number of fields. pyarrow reports them only when it parses
        single-threaded, so a damaged file (the rare case) is read once more, line by line, to find them."""
        found = []
        encoding = "utf-8-sig" if self.encoding == "utf8" else self.encoding
        with self.path.open(encoding=encoding, errors="replace", newline="") as f:
            for line_no, record in enumerate(csv.reader(f, delimiter=self._separator), start=1):
                if line_no > 1 and record and len(record) != self.width:
                    found.append((line_no, len(record)))
                    if len(found) >= limit:
                        break
        return found + self.invalid_rows[len(found) :] if found else self.invalid_rows

    def batches(self) -> Iterator[pa.Table]:
        names = [f"c{i}" for i in range(self.width)]
        next_row = 2  # line 1 is the header

        def on_invalid(row) -> str:
            self.invalid_rows.append((row.number, row.actual_columns))
            return "skip"

        # pyarrow reads ahead of the rows it yields, so the file position says little about progress; the bytes
        # per line of the file's first megabyte turn the rows yielded into an estimate of the bytes consumed
        with self.path.open("rb") as f:
            sample = f.read(1 << 20)
        bytes_per_line = len(sample) / max(sample.count(b"\n"), 1)
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(
                    column_names=names, skip_rows=1, encoding=self.encoding, block_size=self._block_bytes
                ),
                parse_options=pacsv.ParseOptions(delimiter=self._separator, invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
                ),
            )
            for batch in reader:
                rows = pa.array(range(next_row, next_row + batch.num_rows), type=pa.int64())
                next_row += batch.num_rows
                self.bytes_read = int((next_row - 1) * bytes_per_line)
                arrays = [rows] + [trim_cells(batch.column(i)) for _, i in self._columns]
                yield pa.Table.from_arrays(arrays, names=[SOURCE_ROW] + [n for n, _ in self._columns])
            if self.invalid_rows and self.invalid_rows[0][0] is None:
                self.invalid_rows = self._locate_invalid_lines()
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise ExportReadError(
                self.path,
                f"файл не читается после строки {next_row - 1} (кодировка {self.encoding}): {exc}",
                f"the file cannot be read past line {next_row - 1} (encoding {self.encoding}): {exc}",
                row=next_row,
            ) from exc


def _utf16(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) in (b"\xff\xfe", b"\xfe\xff")


UTF16_RU = "файл в кодировке UTF-16; сохраните его в UTF-8 или Windows-1251 (cp1251)"
UTF16_EN = "the file is UTF-16; save it as UTF-8 or Windows-1251 (cp1251)"


def stream_export(spec: SourceSpec, path: Path, school_year: str, block_bytes: int) -> StreamedExport:
    """Open a pupil-level CSV: decode the header line, map it, and return the reader of its blocks."""
    if path.stat().st_size == 0:
        raise ExportReadError(path, "файл пуст (0 байт)", "the file is empty (0 bytes)")
    if _utf16(path):
        raise ExportReadError(path, UTF16_RU, UTF16_EN)
    encoding = detect_encoding(path, spec.csv.get("encoding", "auto"))
    separator = spec.csv.get("separator", ";")
    with path.open("rb") as f:
        first = f.readline()
    try:
        line = first.decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ExportReadError(
            path, f"строка заголовка не в кодировке {encoding}", f"the header line is not in {encoding}", row=1
        ) from exc
    cells = next(csv.reader([line], delimiter=separator))
    paths = [(normalise_header(c), None, c.strip()) for c in cells]
    found = _match(spec, paths)
    header = _Header(1, found, {}, {j: p[2] for j, p in enumerate(paths)}, ())
    if not found:
        expected = ", ".join(f"«{c.headers[0]}»" for c in spec.header_columns if c.required)
        raise ExportReadError(
            path,
            f"первая строка не заголовок этого источника; ожидались столбцы {expected}",
            f"the first line is not this source's header; expected columns {expected}",
            row=1,
        )
    _require(spec, path, header, school_year)
    used = {js[0] for js in found.values()}
    ignored = tuple(p[2] for j, p in enumerate(paths) if j not in used and p[2])
    return StreamedExport(
        path,
        "utf8" if encoding in {"utf-8", "utf-8-sig"} else encoding,
        {name: cells[js[0]].strip() for name, js in found.items()},
        ignored,
        _columns=[(name, js[0]) for name, js in found.items()],
        width=len(cells),
        _block_bytes=block_bytes,
        _separator=separator,
    )
