"""A source's data contract as a Great Expectations suite, run on the load's checked rows.

The rules come from the source's YAML (see staging.checked_select); the suite checks the load's staged table in
the warehouse (or `checked` in check-export's scratch file) through GE's SQL datasource, so a file of 11 million
rows is validated inside DuckDB and never pulled into Python. Every violation names the file, the row as the
person on duty sees it, the column (header text and canonical name), the rule and the offending text.

A validator that fails (an exception inside GE) is raised as ContractRuntimeError: an error of the
pipeline, never reported as bad data.

GE 1.x runs DuckDB through SQLAlchemy (duckdb-engine) but does not keep one connection per engine for it,
so every metric fails with MetricResolutionError (GX issues #10738, #11579). Registering "duckdb" among the
dialects that need a persisted connection fixes it; `_enable_duckdb` does that once, and the test suite
proves the validator works (a broken one would fail every expectation, which tests would see).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.execution_engine import sqlalchemy_execution_engine as _sa_engine

from pipelines.lib.staging import SOURCE_FILE, Rule, fill_words

MAX_ROWS_IN_MESSAGE = 5
SOURCE_ROW = "_source_row"

logging.getLogger("great_expectations").setLevel(logging.WARNING)


class _DuckDBDialect(str):
    value = "duckdb"


def _enable_duckdb() -> None:
    names = _sa_engine._PERSISTED_CONNECTION_DIALECTS
    if "duckdb" not in names:
        _sa_engine._PERSISTED_CONNECTION_DIALECTS = (*names, _DuckDBDialect("duckdb"))


_enable_duckdb()


class ContractRuntimeError(RuntimeError):
    """The validator itself failed: an error of the pipeline, never reported as bad data."""


@dataclass(frozen=True)
class Violation:
    rule: str  # GE expectation type (or the reader's rule)
    columns: tuple[str, ...]  # canonical names
    headers: tuple[str, ...]  # header texts as found in the file
    unexpected_count: int
    rows: tuple[tuple[int, Any], ...]  # (row in the file, value) for the first rows
    detail: str  # the rule in words: Russian / English
    unexpected_percent: float | None = None
    files: tuple[str, ...] = ()  # the file of each of `rows`, when a load reads several files

    def describe(self) -> str:
        cols = ", ".join(f"«{h}» ({c})" for c, h in zip(self.columns, self.headers, strict=True)) or "—"
        files = self.files or (None,) * len(self.rows)

        def where(r: int, f: str | None) -> str:
            return f"файл/file {f}, строка/row {r}" if f else f"строка/row {r}"

        rows = (
            "; ".join(
                f"{where(r, f)}: {v!r}" if v is not None else where(r, f)
                for (r, v), f in zip(self.rows[:MAX_ROWS_IN_MESSAGE], files, strict=False)
            )
            or "весь файл/whole file"
        )
        shown = len(self.rows[:MAX_ROWS_IN_MESSAGE])
        more = f" … всего/total {self.unexpected_count}" if self.unexpected_count > shown else ""
        share = f" ({self.unexpected_percent:.1f}% строк/of rows)" if self.unexpected_percent else ""
        return f"столбец/column {cols}: {self.detail} [{self.rule}]{share}; {rows}{more}"


@dataclass
class ContractResult:
    success: bool
    violations: list[Violation] = field(default_factory=list)
    ge_result: dict = field(default_factory=dict)
    expectations: int = 0
    seconds: float = 0.0


def _expectation(rule: Rule):
    e = gx.expectations
    meta = {"rule_ru": rule.rule_ru, "rule_en": rule.rule_en, "columns": list(rule.canonical)}
    extra = {"mostly": rule.mostly} if rule.mostly is not None else {}
    if rule.kind == "null_column":
        return e.ExpectColumnValuesToBeNull(column=rule.column, meta=meta, **extra)
    if rule.kind == "not_null":
        return e.ExpectColumnValuesToNotBeNull(column=rule.column, meta=meta, **extra)
    if rule.kind == "between":
        return e.ExpectColumnValuesToBeBetween(column=rule.column, min_value=rule.min, max_value=rule.max, meta=meta)
    if rule.kind == "unique":
        if len(rule.columns) == 1:
            return e.ExpectColumnValuesToBeUnique(column=rule.columns[0], meta=meta)
        return e.ExpectCompoundColumnsToBeUnique(column_list=list(rule.columns), meta=meta)
    raise ValueError(rule.kind)


def build_suite(name: str, rules: list[Rule]) -> gx.ExpectationSuite:
    """The suite of a source's rules. The expectations are given to the constructor: added one by one to a suite
    whose name is already saved, GE writes the whole suite to its store for each of them."""
    row_count = gx.expectations.ExpectTableRowCountToBeBetween(
        min_value=1,
        meta={"rule_ru": "в файле нет строк данных", "rule_en": "the file has no data rows", "columns": []},
    )
    return gx.ExpectationSuite(name=name, expectations=[row_count, *(_expectation(rule) for rule in rules)])


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _close(datasource) -> None:
    """Close GE's persisted DuckDB connection, so the load can open the file again to write."""
    engine = getattr(datasource, "_execution_engine", None)
    connection = getattr(engine, "_connection", None)
    if connection is not None:
        connection.close()
        engine._connection = None
    if engine is not None:
        engine.engine.dispose()
    datasource.get_engine().dispose()


def _raise_validator_errors(result, file_label: str) -> None:
    """An expectation GE could not evaluate is an error of the pipeline, never a violation of the contract."""
    for r in result.results:
        info = r.exception_info or {}
        failures = [info] if "raised_exception" in info else list(info.values())
        failed = [f for f in failures if isinstance(f, dict) and f.get("raised_exception")]
        if failed:
            raise ContractRuntimeError(
                f"{file_label}: the validator failed on {r.expectation_config.type}: {failed[0].get('exception_message')}"
            )


def data_docs_index(gx_project_root: Path) -> Path:
    return gx_project_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


# One GE context per project (and per process): a context is costly to make, and so is re-adding an unchanged suite.
_CONTEXTS: dict[str, Any] = {}
_SUITES: dict[tuple[str, str], str] = {}  # (project, suite) -> the rules it was last saved with


def _context(gx_project_root: Path | None):
    if gx_project_root is None:
        context = gx.get_context(mode="ephemeral")
    else:
        key = str(gx_project_root.resolve())
        if key not in _CONTEXTS:
            _CONTEXTS[key] = gx.get_context(mode="file", project_root_dir=key)
        context = _CONTEXTS[key]
    context.variables.progress_bars = {"globally": False}
    return context


def _fingerprint(rules: list[Rule]) -> str:
    """What the suite holds of the rules: their texts with placeholders, not the load's words (its school year)."""
    return repr([replace(rule, words=()) for rule in rules])


def _suite(context, gx_project_root: Path | None, suite_name: str, rules: list[Rule]) -> gx.ExpectationSuite:
    """The suite, saved again only when the source's rules changed (a new contract version; not a new school
    year, whose words the suite keeps as placeholders)."""
    key = (str(gx_project_root), suite_name)
    fingerprint = _fingerprint(rules)
    if gx_project_root is not None and _SUITES.get(key) == fingerprint:
        return context.suites.get(suite_name)
    suite = context.suites.add_or_update(build_suite(suite_name, rules))
    _SUITES[key] = fingerprint
    return suite


_DEFINITIONS: dict[tuple[str, str], tuple] = {}  # (project, definition) -> what it was last saved with


def _stored_definition(context, name: str, connection_string: str, kwargs: dict, table: str, suite_name: str):
    """The source's validation definition as an earlier run saved it in the GE project, when it is still what this
    load needs (the same DuckDB file, settings, table and suite); None otherwise."""
    try:
        definition = context.validation_definitions.get(name)
        asset = definition.batch_definition.data_asset
    except (gx.exceptions.DataContextError, LookupError, ValueError):  # not saved yet, or saved differently
        return None
    datasource = asset.datasource
    same = (
        str(datasource.connection_string) == connection_string
        and datasource.kwargs == kwargs
        and getattr(asset, "table_name", None) == table
        and definition.suite.name == suite_name
    )
    return definition if same else None


def _definition(context, gx_project_root: Path | None, name: str, stage_path: Path, table: str, memory_limit, suite):
    """The validation definition of a source: its datasource (the DuckDB file), table asset and batch
    definition, saved in the GE project only when they change. Each save rewrites great_expectations.yml,
    which costs more than validating a small file: a source stages every load in the same table, so its
    definition is saved once (the datasource with its asset and batch definition in one save, not three) and
    kept from one run to the next."""
    key = (str(gx_project_root), name)
    wanted = (str(stage_path), table, memory_limit, suite.name)  # the definition reads the suite's current rules
    if gx_project_root is not None and _DEFINITIONS.get(key) == wanted:
        return context.validation_definitions.get(name)
    connection_string = f"duckdb:///{stage_path}"
    kwargs = {"connect_args": {"read_only": True, "config": {"memory_limit": memory_limit or "3GB"}}}
    definition = None
    if gx_project_root is not None:
        definition = _stored_definition(context, name, connection_string, kwargs, table, suite.name)
    if definition is None:
        datasource = context.data_sources.add_or_update_sql(
            name=name,
            connection_string=connection_string,
            kwargs=kwargs,
            assets=[{"name": "checked", "type": "table", "table_name": table, "batch_definitions": [{"name": "file"}]}],
        )
        batch_definition = datasource.get_asset("checked").get_batch_definition("file")
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(data=batch_definition, suite=suite, name=name)
        )
        _close(datasource)
    _DEFINITIONS[key] = wanted
    return definition


def build_data_docs(gx_project_root: Path) -> Path | None:
    """Rebuild the Data Docs site from every stored validation: once per run, not per load (and at once when a
    contract fails, so that the quarantine report's link shows the failure). Returns the index page."""
    if not (gx_project_root / "gx").exists():
        return None
    _context(gx_project_root).build_data_docs()
    return data_docs_index(gx_project_root)


def validate_staged(
    suite_name: str,
    asset_name: str,
    stage_path: Path,
    rules: list[Rule],
    headers: dict[str, str],
    file_label: str,
    gx_project_root: Path | None,
    memory_limit: str | None = None,
    key_column: str | None = None,
    keyed_headers: dict[tuple[str, str], str] | None = None,
    several_files: bool = False,
    run_name: str | None = None,
    table: str = "checked",
) -> ContractResult:
    """Run the rules on the checked rows (`table` in the DuckDB file `stage_path`). With a GE project root, the
    suite and the results are kept there; the Data Docs (<root>/gx/uncommitted/data_docs/local_site/index.html)
    are rebuilt when the contract fails, and otherwise once per run by build_data_docs.

    Two passes: the first says only whether each expectation holds (GE's BOOLEAN_ONLY: no query for the
    offending rows, which scans a table that has none to the end; 30–45 % quicker); a load that fails is
    validated again for the rows and values its report names. Data Docs show both results of a failed load."""
    started = time.perf_counter()
    context = _context(gx_project_root)
    suite = _suite(context, gx_project_root, suite_name, rules)
    definition = _definition(context, gx_project_root, asset_name, stage_path, table, memory_limit, suite)
    words = {word for rule in rules for word in rule.words}  # the load's words in the rules' texts
    result_format = {
        "result_format": "SUMMARY",
        # long layouts: the key says which of the wide row's cells a violating row came from
        "unexpected_index_column_names": [
            SOURCE_ROW,
            *([SOURCE_FILE] if several_files else []),
            *([key_column] if key_column else []),
        ],
        "partial_unexpected_count": MAX_ROWS_IN_MESSAGE,
    }

    def run(result_format: dict, name: str):
        # the validation definition runs and stores its result itself (named after the load, in the Data
        # Docs); no checkpoint: Data Docs are rebuilt once per run (build_data_docs), and at once on a failure
        try:
            result = definition.run(result_format=result_format, run_id=RunIdentifier(run_name=name))
        finally:
            _close(definition.batch_definition.data_asset.datasource)
        _raise_validator_errors(result, file_label)
        return result

    name = run_name or asset_name
    result = run({"result_format": "BOOLEAN_ONLY"}, name)
    if not result.success:
        result = run(result_format, f"{name}, строки нарушений (violating rows)")  # no "/": it names a folder
    violations = []
    for r in result.results:
        res = r.result or {}
        if r.success:
            continue
        meta = r.expectation_config.meta or {}
        canonical = tuple(meta.get("columns", ()))
        column = r.expectation_config.kwargs.get("column")
        index_list = res.get("partial_unexpected_index_list") or []
        rows = tuple(
            (int(item[SOURCE_ROW]), _clean(item.get(column)) if column else None)
            for item in index_list[:MAX_ROWS_IN_MESSAGE]
            if isinstance(item, dict)
        )
        files = tuple(str(item.get(SOURCE_FILE)) for item in index_list[:MAX_ROWS_IN_MESSAGE] if isinstance(item, dict))
        first_key = next((str(i[key_column]) for i in index_list if isinstance(i, dict) and key_column in i), None)

        def header_of(c: str, key: str | None = first_key) -> str:
            return (keyed_headers or {}).get((c, key)) or headers.get(c, c)

        violations.append(
            Violation(
                rule=r.expectation_config.type,
                columns=canonical,
                headers=tuple(header_of(c) for c in canonical),
                unexpected_count=int(res.get("unexpected_count") or len(index_list) or 1),
                rows=rows,
                detail=fill_words(f"{meta.get('rule_ru', '')} / {meta.get('rule_en', '')}", words),
                unexpected_percent=res.get("unexpected_percent"),
                files=files if several_files else (),
            )
        )
    if gx_project_root is not None and not (result.success and not violations):
        build_data_docs(gx_project_root)
    return ContractResult(
        success=result.success and not violations,
        violations=violations,
        ge_result=result.to_json_dict(),
        expectations=len(result.results),
        seconds=time.perf_counter() - started,
    )
