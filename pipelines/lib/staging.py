"""A load's checked rows: the export's cells and their checked form, built in one pass as the blocks are read.

    registry  (temporary) the school codes of that school year's registry, when the source is matched against
              it: staged first, the rules join it
    the checked table  the export's rows: pupil codes pseudonymised on the way in, typed values beside their
              text, one column per rule holding the offending text

A load writes the checked table inside the warehouse (warehouse.staging_table: raw_loads."<source>__staging"),
Great Expectations validates it there, and a load that passes keeps it as its own table, renamed, never copied
(see warehouse.py). `check-export` builds the same table, `checked`, in a scratch file of its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.lib.pseudonymise import PseudonymKey, hmac_sql
from pipelines.lib.readers import SOURCE_ROW, trim_cells
from pipelines.lib.sources import GROUP_COLUMN, LOGIN_COLUMN, ColumnSpec, SourceSpec

TEXT = "__text"
NUMBER_TEXT = "replace(replace(replace({t}, ' ', ''), chr(160), ''), ',', '.')"
DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M:%S")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def norm_sql(expr: str) -> str:
    """SQL twin of readers.normalise_header for answer texts: lower case, ё→е, single spaces."""
    return f"trim(regexp_replace(replace(lower({expr}), 'ё', 'е'), '\\s+', ' ', 'g'))"


def norm_py(text: str) -> str:
    return " ".join(str(text).lower().replace("ё", "е").split())


@dataclass(frozen=True)
class Rule:
    """One check on `checked`: an expectation with its words for people."""

    kind: str  # null_column (values must be null), not_null, between, unique
    column: str  # column of `checked` the expectation runs on
    canonical: tuple[str, ...]  # the source's columns it is about
    rule_ru: str
    rule_en: str
    min: float | None = None
    max: float | None = None
    mostly: float | None = None
    columns: tuple[str, ...] = ()  # unique keys
    # the load's words in the texts, e.g. (("{school_year}", "2023-2024"),): the suite keeps the texts with their
    # placeholders, so that it stays the same from one school year to the next; messages name the load's year
    words: tuple[tuple[str, str], ...] = ()


def fill_words(text: str, words: Iterable[tuple[str, str]]) -> str:
    """A rule's text (or the suite's copy of it) with the load's words in place of their placeholders."""
    for placeholder, word in words:
        text = text.replace(placeholder, word)
    return text


@contextmanager
def open_stage(path: Path, memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), config={"memory_limit": memory_limit, "preserve_insertion_order": False})
    try:
        yield con
    finally:
        con.close()


def stage_registry(con: duckdb.DuckDBPyConnection, keys: pa.Table) -> None:
    """The registry as the rules join it: (school_year, match_key, login, candidates), one row per key of a
    school year; `candidates` > 1 when a key (a name) fits several schools, which is never guessed."""
    con.register("registry_keys", keys)
    con.execute("create or replace temp table registry as select * from registry_keys")
    con.unregister("registry_keys")


def stage_answer_options(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    rows = {"question_code": [], "question_type": [], "answer_norm": [], "score": []}
    for question in spec.survey.questions:
        options = spec.survey.answer_options(question) if question.type != "text" else {None: None}
        for text, score in options.items():
            rows["question_code"].append(question.code)
            rows["question_type"].append(question.type)
            rows["answer_norm"].append(norm_py(text) if text is not None else None)
            rows["score"].append(score)
    con.register(
        "options",
        pa.table(
            rows,
            schema=pa.schema(
                [
                    ("question_code", pa.string()),
                    ("question_type", pa.string()),
                    ("answer_norm", pa.string()),
                    ("score", pa.float64()),
                ]
            ),
        ),
    )
    con.execute("create or replace temp table answer_options as select * from options")
    con.unregister("options")


NUMBER = "__number"


def _number(col: ColumnSpec) -> str:
    """A numeric cell's value as a double: as written, else with spaces dropped and a decimal comma (1 234,5);
    the second try only for the cells the first one fails on."""
    t = q(col.name + TEXT)
    return f"coalesce(try_cast({t} as double), try_cast({NUMBER_TEXT.format(t=t)} as double))"


def _typed(col: ColumnSpec) -> str:
    """A non-text column's typed value, from its text (dates) or its number (`_number`, computed once a row)."""
    if col.type == "date":
        t = q(col.name + TEXT)
        tries = ", ".join(f"try_strptime({t}, {lit(f)})" for f in DATE_FORMATS)
        return f"cast(coalesce({tries}) as date)"
    number = q(col.name + NUMBER)
    if col.type == "int":
        return f"case when {number} = round({number}) then cast({number} as bigint) end"
    return number


def _range(low: float | None, high: float | None) -> str:
    if low is None:
        return f"≤ {high:g}"
    if high is None:
        return f"≥ {low:g}"
    return f"{low:g}…{high:g}"


SOURCE_FILE = "_source_file"
MATCH_KEY = "_match_key"  # a school name normalised in Python for matching by name (readers add it)


def school_year_sql(raw: str, year_format: str) -> str:
    """The school year a cell names, or null: spring year «2024» (also 2024.0 from a spreadsheet) -> 2023-2024;
    «2023-2024», «2023/2024», «2023 – 2024» -> 2023-2024 (the second year must follow the first)."""
    if year_format == "spring":
        spring = f"try_cast(regexp_extract({raw}, '^(\\d{{4}})(\\.0+)?$', 1) as integer)"
        return f"cast({spring} - 1 as varchar) || '-' || cast({spring} as varchar)"
    first = f"try_cast(regexp_extract({raw}, '^(\\d{{4}})\\s*[-/–—]\\s*(\\d{{4}})$', 1) as integer)"
    second = f"try_cast(regexp_extract({raw}, '^(\\d{{4}})\\s*[-/–—]\\s*(\\d{{4}})$', 2) as integer)"
    return f"case when {second} = {first} + 1 then cast({first} as varchar) || '-' || cast({second} as varchar) end"


def _match_key_sql(spec: SourceSpec, value: str) -> str:
    by = spec.registry_match.by
    if by == "name":
        return f"typed.{q(MATCH_KEY)}"
    if by in {"ogrn", "inn"}:
        return f"regexp_replace({value}, '\\D', '', 'g')"
    return value


def checked_select(
    spec: SourceSpec, school_year: str, present: list[str], where: str | None = None, source_file: str = ""
) -> tuple[str, list[Rule]]:
    """The SELECT turning a block of text cells (relation `block`) into rows of `checked`, and the rules the
    contract runs on them. Pupil codes are hashed in the first step that reads them (`src`), so raw codes
    never reach the file; `where` drops rows before anything else (a header line repeated inside the file).
    A multi-year source takes each row's school year from its column; every other source, the folder's."""
    rules: list[Rule] = []
    tokens = ", ".join(lit(v) for v in spec.null_values)
    value_columns = [c for c in spec.columns if not c.name.startswith("q__")]
    if spec.survey:
        value_columns = value_columns + [
            ColumnSpec("question_code", "string", (), derived=True),
            ColumnSpec("answer_text", "string", (), derived=True),
        ]
    texts, pseudonyms = [], []
    for col in value_columns:
        raw = f"cells.{q(col.name)}" if col.name in present else "cast(null as varchar)"
        value = raw
        if col.name in spec.pseudonymise and col.name in present:
            # blocks arrive trimmed, blank cells null (see clean_block); a pupil code is hashed as it enters, once
            # per distinct code of the block (a pupil has a row per subject): raw codes never reach the table
            alias = q(f"_pseudonyms_{len(pseudonyms)}")
            pseudonyms.append(
                f"left join (select code, {hmac_sql('code')} as pseudonym from (select distinct {q(col.name)} as code "
                f"from block where {q(col.name)} is not null)) as {alias} on {alias}.code = {raw}"
            )
            value = f"{alias}.pseudonym"
        nulls = f"{raw} in ({tokens})" if tokens else "false"
        texts.append(f"case when {nulls} then null else {value} end as {q(_text_column(col))}")
    if spec.multi_year:
        texts.append(f"{school_year_sql(q(spec.multi_year.column), spec.multi_year.format)} as school_year")
    else:
        texts.append(f"{lit(school_year)} as school_year")
    if MATCH_KEY in present:
        texts.append(q(MATCH_KEY))
    # a text column is its own typed value: stored once (a pupil code is 64 characters on 11M rows)
    numeric = [c for c in value_columns if c.type in {"int", "float"}]
    numbers = [f"{_number(c)} as {q(c.name + NUMBER)}" for c in numeric]
    typed = [f"{_typed(c)} as {q(c.name)}" for c in value_columns if c.type != "string"]
    checks = [f"{lit(v)} as {q(k)}" for k, v in spec.constants.items()]
    checks.append(f"{lit(source_file)} as {q(SOURCE_FILE)}")

    for col in value_columns:
        t, v = q(_text_column(col)), q(col.name)
        if col.required_in(school_year) and not col.derived:
            rules.append(
                Rule("not_null", _text_column(col), (col.name,), "значение обязательно", "a value is required")
            )
        if col.type != "string":
            kind_ru = {"int": "целым числом", "float": "числом", "date": "датой"}[col.type]
            checks.append(f"case when {t} is not null and {v} is null then {t} end as {q(col.name + '__bad_type')}")
            rules.append(
                Rule(
                    "null_column",
                    col.name + "__bad_type",
                    (col.name,),
                    f"значение должно быть {kind_ru}",
                    f"the value must be a {col.type}",
                )
            )
        if col.min is not None or col.max is not None:
            rules.append(
                Rule(
                    "between",
                    col.name,
                    (col.name,),
                    f"значение вне диапазона {_range(col.min, col.max)}",
                    f"the value is outside {_range(col.min, col.max)}",
                    min=col.min,
                    max=col.max,
                )
            )
        if col.allowed:
            allowed = ", ".join(lit(norm_py(a)) for a in col.allowed)
            exact = ", ".join(lit(a) for a in sorted({*col.allowed, *(norm_py(a) for a in col.allowed)}))
            # values written exactly as listed skip the normalising (regexp) test: most rows of a large file
            checks.append(
                f"case when {v} is null or {v} in ({exact}) then null "
                f"when {norm_sql(v)} not in ({allowed}) then {v} end as {q(col.name + '__not_allowed')}"
            )
            shown = ", ".join(col.allowed)
            rules.append(
                Rule(
                    "null_column",
                    col.name + "__not_allowed",
                    (col.name,),
                    f"значение не из списка: {shown}",
                    f"the value is not one of: {shown}",
                )
            )
        if col.regex:
            checks.append(
                f"case when {v} is not null and not regexp_full_match({v}, {lit(col.regex)}) then {v} end as {q(col.name + '__bad_format')}"
            )
            rules.append(
                Rule(
                    "null_column",
                    col.name + "__bad_format",
                    (col.name,),
                    f"значение не соответствует формату {col.regex}",
                    f"the value does not match {col.regex}",
                )
            )
    for rs in spec.row_sums:
        total = " + ".join(f"coalesce({q(c)}, 0)" for c in rs.columns)
        checks.append(f"{total} as {q(rs.name)}")
        rules.append(
            Rule(
                "between",
                rs.name,
                rs.columns,
                f"сумма {'+'.join(rs.columns)} вне {rs.min}…{rs.max}",
                f"the sum of {', '.join(rs.columns)} is outside {rs.min}..{rs.max}",
                min=rs.min,
                max=rs.max,
            )
        )
    if spec.multi_year:
        my = spec.multi_year
        v = q(my.column)
        bounds = ["typed.school_year is null"]
        if my.first_school_year:
            bounds.append(f"typed.school_year < {lit(my.first_school_year)}")
        if my.last_school_year:
            bounds.append(f"typed.school_year > {lit(my.last_school_year)}")
        checks.append(
            f"case when {v} is not null and ({' or '.join(bounds)}) then cast({v} as varchar) end as {q(my.column + '__outside_years')}"
        )
        span = f"{my.first_school_year or '…'} … {my.last_school_year or '…'}"
        rules.append(
            Rule(
                "null_column",
                my.column + "__outside_years",
                (my.column,),
                f"учебный год не распознан или вне лет источника ({span})",
                f"the school year is unreadable or outside the source's years ({span})",
            )
        )
    if spec.school_year_check:
        c = spec.school_year_check
        v = q(c.column)
        if c.format == "spring":
            expected = school_year.split("-")[1]
            in_file = f"cast({v} as varchar)"
        else:
            expected = school_year
            in_file = f"replace(replace(cast({v} as varchar), '/', '-'), ' ', '')"
        checks.append(
            f"case when {v} is not null and {in_file} <> {lit(expected)} then cast({v} as varchar) end as {q(c.column + '__other_year')}"
        )
        rules.append(
            Rule(
                "null_column",
                c.column + "__other_year",
                (c.column,),
                "учебный год в файле не совпадает с папкой {school_year} (ожидалось {expected})",
                "the year in the file contradicts its folder {school_year} (expected {expected})",
                words=(("{school_year}", school_year), ("{expected}", expected)),
            )
        )
    join = ""
    if spec.registry_match:
        rm = spec.registry_match
        v = f"typed.{q(rm.column)}"
        # a multi-year file's rows of other years are matched by their own years' loads (registries arrive by year)
        this_year = f" and typed.school_year = {lit(school_year)}" if spec.multi_year else ""
        checks.append(
            f"case when {v} is not null and coalesce(registry.candidates, 0) <> 1{this_year} then {v} end "
            f"as {q(rm.column + '__unknown')}"
        )
        if rm.fills_login:
            checks.append(f"case when registry.candidates = 1 then registry.login end as {q(LOGIN_COLUMN)}")
        join += (
            f" left join registry on registry.school_year = typed.school_year"
            f" and registry.match_key = {_match_key_sql(spec, v)}"
        )
        rate = rm.min_match_rate
        rules.append(
            Rule(
                "null_column",
                spec.registry_match.column + "__unknown",
                (spec.registry_match.column,),
                f"школы нет в реестре ОО {{school_year}} (допустимо не более {1 - rate:.0%} строк)",
                f"the school is not in the {{school_year}} registry (at most {1 - rate:.0%} of rows may be)",
                mostly=rate,
                words=(("{school_year}", school_year),),
            )
        )
    if spec.survey:
        join += (
            " left join answer_options o on o.question_code = typed.question_code and (o.question_type = 'text' or o.answer_norm = "
            + norm_sql("typed.answer_text")
            + ")"
        )
        checks.append("o.score as answer_score")
        checks.append(
            "case when typed.answer_text is not null and o.question_code is null then typed.answer_text end as answer__not_in_scale"
        )
        rules.append(
            Rule(
                "null_column",
                "answer__not_in_scale",
                ("answer_text",),
                "ответ не из шкалы или списка вариантов вопроса",
                "the answer is not on the question's scale or list of options",
            )
        )
    if spec.survey and spec.survey.group_column:
        g = q(spec.survey.group_column)
        cases = " ".join(f"when {lit(norm_py(text))} then {lit(code)}" for text, code in spec.survey.groups.items())
        checks.append(f"case {norm_sql(f'typed.{g}')} {cases} end as {q(GROUP_COLUMN)}")
    elif spec.survey:
        checks.append(f"cast(null as varchar) as {q(GROUP_COLUMN)}")
    for key in spec.unique:
        key = ("school_year", *key) if spec.multi_year and "school_year" not in key else key
        rules.append(
            Rule(
                "unique",
                ",".join(key),
                tuple(key),
                "сочетание значений повторяется",
                "the combination of values repeats",
                columns=tuple(key),
            )
        )
    sql = f"""
        with cells as (select * from block{f" where not coalesce({where}, false)" if where else ""}),
        src as (select cells.{q(SOURCE_ROW)}, {", ".join(texts)} from cells {" ".join(pseudonyms)}),
        numbers as (select {", ".join(["src.*", *numbers])} from src),
        typed as (select {", ".join([_all_but("numbers", [c.name + NUMBER for c in numeric]), *typed])} from numbers)
        select typed.*, {", ".join(checks)} from typed{join}
    """
    return sql, rules


def _all_but(relation: str, columns: list[str]) -> str:
    return f"{relation}.* exclude ({', '.join(q(c) for c in columns)})" if columns else f"{relation}.*"


@dataclass(frozen=True)
class Staged:
    rows: int  # rows of the export read into staging (before repeated header lines were dropped)
    repeated_headers: int  # header lines repeated inside the file, dropped
    rules: list[Rule]


def stage_checked(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    school_year: str,
    names: list[str],
    blocks: Iterable[pa.Table],
    key: PseudonymKey | None,
    header_texts: dict[str, str] | None = None,
    progress=None,
    trimmed: bool = False,
    source_file: str = "",
    table: str = "checked",
) -> Staged:
    """Build the checked table `table` in one pass over the blocks of text cells: pupil codes hashed, values typed, one
    column per rule. With `header_texts` (canonical name -> header text), a line whose every cell (but
    pupil codes) equals its header is a header repeated inside the file and is dropped. The `registry` and
    `answer_options` tables the rules join must be staged first. `trimmed`: the blocks' cells are trimmed
    already and blank ones null (the streaming reader does it), else clean_block does it."""
    compare = [n for n in names if n not in spec.pseudonymise and header_texts and n in header_texts]
    where = " and ".join(f"lower({q(n)}) = {lit(header_texts[n].lower())}" for n in compare) or None
    select, rules = checked_select(spec, school_year, names, where, source_file)
    params = key.pads if spec.pseudonymise else {}
    empty = pa.table({SOURCE_ROW: pa.array([], pa.int64()), **{n: pa.array([], pa.string()) for n in names}})
    con.register("block", empty)
    # a file without rows: the table is empty; the files of one load go into one table
    con.execute(f"create table if not exists {table} as {select} limit 0", params)
    con.unregister("block")
    total = kept = 0
    started = time.perf_counter()
    for block_table in blocks:
        if not trimmed:
            block_table = clean_block(block_table)
        # several record batches: DuckDB scans them on all its threads
        block_table = pa.Table.from_batches(
            block_table.to_batches(max_chunksize=max(block_table.num_rows // 8, 1 << 14)), schema=block_table.schema
        )
        con.register("block", block_table)
        try:
            kept += con.execute(f"insert into {table} {select}", params).fetchone()[0]
        finally:
            con.unregister("block")
        total += block_table.num_rows
        if progress:
            progress(total, time.perf_counter() - started)
    return Staged(total, total - kept, rules)


def clean_block(table: pa.Table) -> pa.Table:
    """Every text cell trimmed, blank ones null."""
    columns = [
        trim_cells(c) if pa.types.is_string(c.type) or pa.types.is_large_string(c.type) else c for c in table.columns
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _text_column(col: ColumnSpec) -> str:
    """The column of the checked table holding a column's text as found (after blanks and «х» became null)."""
    return col.name if col.type == "string" else col.name + TEXT


def first_duplicates(
    con: duckdb.DuckDBPyConnection, key: tuple[str, ...], limit: int = 5, table: str = "checked"
) -> list[tuple[int, tuple, str]]:
    """(first row, key values, file) of the first duplicated keys in the checked rows, for the report."""
    cols = ", ".join(q(c) for c in key)
    rows = con.execute(
        f"select list({q(SOURCE_ROW)} order by {q(SOURCE_FILE)}, {q(SOURCE_ROW)}), "
        f"list({q(SOURCE_FILE)} order by {q(SOURCE_FILE)}, {q(SOURCE_ROW)}), {cols} from {table} group by {cols} "
        f"having count(*) > 1 order by min({q(SOURCE_ROW)}) limit {limit}"
    ).fetchall()
    return [(row, tuple(r[2:]), file) for r in rows for row, file in zip(r[0], r[1], strict=True)][:limit]
