"""A source's data contract as a Great Expectations suite, built from the source's YAML config.

The suite runs on the parsed file before anything reaches the warehouse, so a file that breaks it is
quarantined and what was loaded before stays as it was. Every violation names the file, the row as the
person on duty sees it, the column (header text and canonical name) and the rule.

Types are checked on the text of each cell (`<column>__text`), ranges and sets on the typed value, so a
value that is not a number is reported as such, with the text the file has.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import great_expectations as gx
import polars as pl

from pipelines.lib.readers import SOURCE_ROW, RawTable
from pipelines.lib.sources import ColumnSpec, SourceSpec

TEXT_SUFFIX = "__text"
NUMBER_PATTERNS = {
    "int": r"^[+-]?\d+(?:[.,]0+)?$",
    "float": r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$",
}
MAX_ROWS_IN_MESSAGE = 5

logging.getLogger("great_expectations").setLevel(logging.WARNING)

RULES_RU = {
    "expect_column_to_exist": "столбец должен быть в файле",
    "expect_column_values_to_not_be_null": "значение обязательно",
    "expect_column_values_to_match_regex": "значение не соответствует формату",
    "expect_column_values_to_be_between": "значение вне допустимого диапазона",
    "expect_column_values_to_be_in_set": "значение не из допустимого списка",
    "expect_column_values_to_be_unique": "значение повторяется",
    "expect_compound_columns_to_be_unique": "сочетание значений повторяется",
    "expect_table_row_count_to_be_between": "в файле нет строк данных",
    "read_export": "файл не читается как выгрузка этого источника",
}


class ContractRuntimeError(RuntimeError):
    """The validator itself failed: an error of the pipeline, never reported as bad data."""


@dataclass(frozen=True)
class Violation:
    rule: str  # GE expectation type
    columns: tuple[str, ...]  # canonical names
    headers: tuple[str, ...]  # header texts as found in the file
    unexpected_count: int
    rows: tuple[tuple[int, Any], ...]  # (row in the file, value) for the first rows
    detail: str  # the rule's parameters, for people

    def describe(self) -> str:
        cols = ", ".join(f"«{h}» ({c})" for c, h in zip(self.columns, self.headers, strict=True)) or "—"
        rows = "; ".join(
            f"строка/row {r}: {v!r}" if v is not None else f"строка/row {r}" for r, v in self.rows[:MAX_ROWS_IN_MESSAGE]
        ) or "весь файл/whole file"
        more = f" … всего/total {self.unexpected_count}" if self.unexpected_count > len(self.rows[:MAX_ROWS_IN_MESSAGE]) else ""
        rule_ru = RULES_RU.get(self.rule, self.rule)
        return f"столбец/column {cols}: {rule_ru} — {self.rule} {self.detail}; {rows}{more}"


@dataclass
class ContractResult:
    success: bool
    violations: list[Violation] = field(default_factory=list)
    ge_result: dict = field(default_factory=dict)
    rows_checked: int = 0
    expectations: int = 0


def typed_frame(spec: SourceSpec, raw: RawTable) -> pl.DataFrame:
    """Cast each canonical column to its type; a cell that does not parse becomes null (its text stays in
    `<column>__text`, where the contract reports it)."""
    exprs = []
    for col in spec.columns:
        text = pl.col(col.name).replace("", None)
        if col.type == "string":
            exprs.append(text.alias(col.name))
            continue
        exprs.append(text.alias(col.name + TEXT_SUFFIX))
        number = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        if col.type == "int":
            number = pl.when(number == number.round(0)).then(number).otherwise(None).cast(pl.Int64)
        exprs.append(number.alias(col.name))
    return raw.frame.select(pl.col(SOURCE_ROW), *exprs)


def _column_expectations(col: ColumnSpec) -> list:
    e = gx.expectations
    out = []
    if col.required:
        out.append(e.ExpectColumnValuesToNotBeNull(column=col.name))
    if col.type in NUMBER_PATTERNS:
        out.append(e.ExpectColumnValuesToMatchRegex(column=col.name + TEXT_SUFFIX, regex=NUMBER_PATTERNS[col.type]))
    if col.min is not None or col.max is not None:
        out.append(e.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.min, max_value=col.max))
    if col.allowed:
        out.append(e.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.allowed)))
    if col.regex:
        out.append(e.ExpectColumnValuesToMatchRegex(column=col.name, regex=col.regex))
    return out


def build_suite(
    spec: SourceSpec, school_year: str, registry_logins: set[str] | None = None
) -> gx.ExpectationSuite:
    """The source's contract for one school year's file."""
    e = gx.expectations
    suite = gx.ExpectationSuite(name=f"{spec.name}.v{spec.contract_version}")
    suite.add_expectation(e.ExpectTableRowCountToBeBetween(min_value=1))
    for col in spec.columns:
        for exp in _column_expectations(col):
            suite.add_expectation(exp)
    for key in spec.unique:
        if len(key) == 1:
            suite.add_expectation(e.ExpectColumnValuesToBeUnique(column=key[0]))
        else:
            suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=list(key)))
    for rs in spec.row_sums:
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(column=rs.name, min_value=rs.min, max_value=rs.max))
    if spec.school_year_column:
        spring = int(school_year.split("-")[1])
        suite.add_expectation(e.ExpectColumnValuesToBeInSet(column=spec.school_year_column, value_set=[spring]))
    if spec.registry_match is not None:
        suite.add_expectation(
            e.ExpectColumnValuesToBeInSet(
                column=spec.registry_match.column,
                value_set=sorted(registry_logins or []),
                mostly=spec.registry_match.mostly,
                meta={"rule_ru": "школа должна быть в реестре ОО этого учебного года"},
            )
        )
    return suite


def validation_frame(spec: SourceSpec, typed: pl.DataFrame, school_year: str) -> pl.DataFrame:
    """The typed frame with what the contract checks beside the columns: school year and row sums."""
    extra = [pl.lit(school_year).alias("school_year")]
    for rs in spec.row_sums:
        extra.append(pl.sum_horizontal(rs.columns).alias(rs.name))
    return typed.with_columns(extra)


def _detail(kwargs: dict) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in {"column", "column_list", "batch_id"} and v is not None}
    if "value_set" in shown and len(shown["value_set"]) > 10:
        shown["value_set"] = f"<{len(shown['value_set'])} values>"
    return str(shown) if shown else ""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def data_docs_index(gx_project_root: Path) -> Path:
    return gx_project_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def validate(
    spec: SourceSpec,
    raw: RawTable,
    school_year: str,
    registry_logins: set[str] | None = None,
    gx_project_root: Path | None = None,
) -> tuple[pl.DataFrame, ContractResult]:
    """Run the contract on a parsed file. Returns the typed frame and the result. With a GE project root, the
    suite, the validation result and the Data Docs are kept there; without, the context is ephemeral."""
    frame = validation_frame(spec, typed_frame(spec, raw), school_year)
    context = gx.get_context(mode="file", project_root_dir=str(gx_project_root)) if gx_project_root else gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    suite = context.suites.add_or_update(build_suite(spec, school_year, registry_logins))
    datasource = context.data_sources.add_or_update_pandas(name=spec.name)
    try:
        asset = datasource.get_asset(school_year)
    except LookupError:
        asset = datasource.add_dataframe_asset(name=school_year)
    try:
        batch_definition = asset.get_batch_definition("file")
    except (KeyError, LookupError):
        batch_definition = asset.add_batch_definition_whole_dataframe("file")
    name = f"{spec.name} {school_year}"
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(data=batch_definition, suite=suite, name=name)
    )
    # Data Docs are rebuilt after every validation: <data dir>/gx/uncommitted/data_docs/local_site/index.html
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")] if gx_project_root else [],
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [SOURCE_ROW]},
        )
    )
    result = next(iter(checkpoint.run(batch_parameters={"dataframe": frame.to_pandas()}).run_results.values()))
    violations = []
    for r in result.results:
        info = r.exception_info or {}
        if info.get("raised_exception"):
            raise ContractRuntimeError(
                f"{raw.path}: the validator failed on {r.expectation_config.type}: {info.get('exception_message')}"
            )
        if r.success:
            continue
        kwargs = dict(r.expectation_config.kwargs)
        if kwargs.get("column_list"):
            columns = tuple(kwargs["column_list"])
        elif kwargs.get("column"):
            columns = (kwargs["column"],)
        else:
            columns = ()
        canonical = tuple(c.removesuffix(TEXT_SUFFIX) for c in columns)
        headers = tuple(raw.headers.get(c, c) for c in canonical)
        res = r.result or {}
        index_list = res.get("unexpected_index_list") or []
        rows = tuple(
            (int(item[SOURCE_ROW]), _clean(item.get(columns[0])) if len(columns) == 1 else tuple(_clean(item.get(c)) for c in columns))
            for item in index_list[:MAX_ROWS_IN_MESSAGE]
            if isinstance(item, dict)
        )
        violations.append(
            Violation(
                rule=r.expectation_config.type,
                columns=canonical,
                headers=headers,
                unexpected_count=int(res.get("unexpected_count") or len(index_list) or 1),
                rows=rows,
                detail=_detail(kwargs),
            )
        )
    return frame, ContractResult(
        success=result.success and not violations,
        violations=violations,
        ge_result=result.to_json_dict(),
        rows_checked=frame.height,
        expectations=len(result.results),
    )
