"""Source configuration: one commented YAML file per source in pipelines/config/sources/.

A file says where the source's exports lie, how to read them (encoding, header layout, rows that are not
data, wide-to-long reshaping), which header texts map to which canonical column, and the source's data
contract (types, required columns, ranges, allowed values, keys, school year, registry match).
A new export layout is a new file here, not code. Files are checked when loaded, so a typo in a region's
config fails at start-up, not mid-load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.settings import CONFIG_DIR

COLUMN_TYPES = {"string", "int", "float", "date"}
SQL_TYPES = {"string": "varchar", "int": "bigint", "float": "double", "date": "date"}
FORMATS = {"csv", "xlsx"}
QUESTION_TYPES = {"scale", "choice", "multi", "text"}


class ConfigError(ValueError):
    """A source configuration file is wrong."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    headers: tuple[str, ...]
    required: bool = True
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    regex: str | None = None
    derived: bool = False  # made by reshaping (unpivot key or value), not found under a header
    school_years: tuple[str, ...] | None = None  # required only in these school years (questionnaire waves)

    def required_in(self, school_year: str) -> bool:
        return self.required and (self.school_years is None or school_year in self.school_years)


@dataclass(frozen=True)
class RowSumSpec:
    name: str
    columns: tuple[str, ...]
    min: float
    max: float


@dataclass(frozen=True)
class RegistryMatchSpec:
    column: str
    min_match_rate: float


@dataclass(frozen=True)
class SchoolYearCheck:
    column: str
    format: str  # spring: 2024 for 2023-2024; school_year: "2023-2024" or "2023/2024"


@dataclass(frozen=True)
class UnpivotSpec:
    key_column: str
    header_level: int | None = None  # the header level whose texts become key values (multi-level headers)
    header_pattern: str | None = None  # or: columns whose header matches become key values ...
    value_column: str | None = None  # ... and their cells this column


@dataclass(frozen=True)
class DropRule:
    column: str
    pattern: str


@dataclass(frozen=True)
class Question:
    code: str
    texts: tuple[str, ...]
    type: str  # scale | choice | multi | text
    scale: str | None = None
    options: tuple[str, ...] = ()
    school_years: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SurveySpec:
    questionnaire: str
    questions: tuple[Question, ...]
    scales: dict[str, dict[str, float]]  # scale name -> answer text -> score

    def answer_options(self, question: Question) -> dict[str, float | None]:
        if question.type == "scale":
            return dict(self.scales[question.scale])
        return {o: None for o in question.options}


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title_ru: str
    folder: str
    file_glob: str
    format: str
    table: str
    contract_version: int
    columns: tuple[ColumnSpec, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    row_sums: tuple[RowSumSpec, ...] = ()
    registry_match: RegistryMatchSpec | None = None
    school_year_check: SchoolYearCheck | None = None
    csv: dict = field(default_factory=dict)
    sheet: str | None = None
    stream: bool = False
    header_rows: int = 1
    header_ignore: tuple[str, ...] = ()
    null_values: tuple[str, ...] = ()
    fill_down: tuple[str, ...] = ()
    drop_rows: tuple[DropRule, ...] = ()
    drop_exact_duplicates: bool = False
    unpivot: UnpivotSpec | None = None
    constants: dict[str, str] = field(default_factory=dict)
    pseudonymise: tuple[str, ...] = ()
    survey: SurveySpec | None = None
    config_path: Path | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def header_columns(self) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if not c.derived)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def output_columns(self) -> list[tuple[str, str]]:
        """(name, SQL type) of the rows the raw table holds, before the bookkeeping columns."""
        if self.survey:
            fixed = [(c.name, SQL_TYPES[c.type]) for c in self.columns if not c.name.startswith("q__")]
            return fixed + [
                ("question_code", "varchar"),
                ("answer_text", "varchar"),
                ("answer_score", "double"),
            ]
        return [(c.name, SQL_TYPES[c.type]) for c in self.columns]

    @property
    def replace_scope(self) -> dict[str, str]:
        """Besides the school year, what identifies this source's rows in a table shared with other sources."""
        return dict(self.constants)


def _ingest_defaults() -> dict:
    with (CONFIG_DIR / "ingest.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _column(name: str, c: dict, fail, derived: bool = False) -> ColumnSpec:
    if c.get("type") not in COLUMN_TYPES:
        raise fail(f"column {name}: type must be one of {sorted(COLUMN_TYPES)}")
    if not derived and not c.get("headers"):
        raise fail(f"column {name}: list at least one header under 'headers'")
    if c.get("regex"):
        try:
            re.compile(c["regex"])
        except re.error as exc:
            raise fail(f"column {name}: regex {c['regex']!r} is not valid: {exc}") from exc
    return ColumnSpec(
        name=name,
        type=c["type"],
        headers=tuple(str(h) for h in c.get("headers", ())),
        required=bool(c.get("required", True)),
        min=c.get("min"),
        max=c.get("max"),
        allowed=tuple(str(a) for a in c["allowed"]) if c.get("allowed") else None,
        regex=c.get("regex"),
        derived=derived or bool(c.get("derived", False)),
        school_years=tuple(c["school_years"]) if c.get("school_years") else None,
    )


def _survey(raw: dict, fail) -> tuple[SurveySpec, list[ColumnSpec]]:
    with (CONFIG_DIR / "survey_scales.yaml").open(encoding="utf-8") as f:
        scales = {k: {str(a): float(s) for a, s in v["answers"].items()} for k, v in yaml.safe_load(f).items()}
    questions, columns = [], []
    for q in raw["questions"]:
        if q.get("type") not in QUESTION_TYPES:
            raise fail(f"question {q.get('code')}: type must be one of {sorted(QUESTION_TYPES)}")
        if q["type"] == "scale" and q.get("scale") not in scales:
            raise fail(f"question {q['code']}: scale must be one of {sorted(scales)} (config/survey_scales.yaml)")
        if q["type"] in {"choice", "multi"} and not q.get("options"):
            raise fail(f"question {q['code']}: list its answer options under 'options'")
        question = Question(
            code=q["code"],
            texts=tuple(q["texts"]),
            type=q["type"],
            scale=q.get("scale"),
            options=tuple(q.get("options", ())),
            school_years=tuple(q["school_years"]) if q.get("school_years") else None,
        )
        questions.append(question)
        columns.append(
            ColumnSpec(
                name=f"q__{question.code}",
                type="string",
                headers=question.texts,
                required=bool(q.get("required", True)),
                school_years=question.school_years,
            )
        )
    return SurveySpec(raw["questionnaire"], tuple(questions), scales), columns


def _parse(raw: dict, path: Path) -> SourceSpec:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{path}: {msg}")

    for key in ("name", "title_ru", "folder", "file_glob", "format", "table", "contract_version", "columns"):
        if key not in raw:
            raise fail(f"missing key '{key}'")
    if raw["format"] not in FORMATS:
        raise fail(f"format must be one of {sorted(FORMATS)}, not {raw['format']!r}")
    if raw.get("stream") and raw["format"] != "csv":
        raise fail("stream: true is for CSV files only")
    columns = [_column(name, c, fail) for name, c in raw["columns"].items()]
    unpivot = None
    if raw.get("unpivot"):
        u = raw["unpivot"]
        unpivot = UnpivotSpec(u["key_column"], u.get("header_level"), u.get("header_pattern"), u.get("value_column"))
        if (unpivot.header_level is None) == (unpivot.header_pattern is None):
            raise fail("unpivot: give either header_level or header_pattern")
        if unpivot.header_pattern and not unpivot.value_column:
            raise fail("unpivot: header_pattern needs value_column")
        columns.append(_column(unpivot.key_column, {"type": u.get("key_type", "string")}, fail, derived=True))
        if unpivot.value_column:
            value = raw["unpivot"].get("value", {"type": "float"})
            columns.append(_column(unpivot.value_column, value, fail, derived=True))
    survey = None
    if raw.get("survey"):
        survey, question_columns = _survey(raw["survey"], fail)
        columns += question_columns
    defaults = _ingest_defaults()
    known = {c.name for c in columns} | {"school_year"} | set(raw.get("constants", {}))
    unique = tuple(tuple(u) for u in raw.get("unique", []))
    row_sums = tuple(
        RowSumSpec(r["name"], tuple(r["columns"]), float(r["min"]), float(r["max"])) for r in raw.get("row_sums", [])
    )
    registry_match = None
    if raw.get("registry_match"):
        rm = raw["registry_match"]
        registry_match = RegistryMatchSpec(rm["column"], float(rm.get("min_match_rate", defaults["min_match_rate"])))
    year_check = SchoolYearCheck(**raw["school_year_check"]) if raw.get("school_year_check") else None
    if year_check and year_check.format not in {"spring", "school_year"}:
        raise fail("school_year_check.format must be spring or school_year")
    drop_rows = tuple(DropRule(d["column"], d["pattern"]) for d in raw.get("drop_rows", []))
    referenced = [c for u in unique for c in u] + [c for r in row_sums for c in r.columns]
    referenced += [d.column for d in drop_rows] + list(raw.get("fill_down", [])) + list(raw.get("pseudonymise", []))
    if registry_match:
        referenced.append(registry_match.column)
    if year_check:
        referenced.append(year_check.column)
    for c in referenced:
        if c not in known:
            raise fail(f"'{c}' is used in a rule but is not a column")
    return SourceSpec(
        name=raw["name"],
        title_ru=raw["title_ru"],
        folder=raw["folder"],
        file_glob=raw["file_glob"],
        format=raw["format"],
        table=raw["table"],
        contract_version=int(raw["contract_version"]),
        columns=tuple(columns),
        unique=unique,
        row_sums=row_sums,
        registry_match=registry_match,
        school_year_check=year_check,
        csv=raw.get("csv", {}),
        sheet=raw.get("sheet"),
        stream=bool(raw.get("stream", False)),
        header_rows=int(raw.get("header", {}).get("rows", 1)),
        header_ignore=tuple(raw.get("header", {}).get("ignore", ())),
        null_values=tuple(str(v) for v in raw.get("null_values", ())),
        fill_down=tuple(raw.get("fill_down", ())),
        drop_rows=drop_rows,
        drop_exact_duplicates=bool(raw.get("drop_exact_duplicates", False)),
        unpivot=unpivot,
        constants={k: str(v) for k, v in raw.get("constants", {}).items()},
        pseudonymise=tuple(raw.get("pseudonymise", ())),
        survey=survey,
        config_path=path,
    )


def load_source(path: Path) -> SourceSpec:
    with path.open(encoding="utf-8") as f:
        return _parse(yaml.safe_load(f), path)


def load_sources(config_dir: Path = CONFIG_DIR / "sources") -> dict[str, SourceSpec]:
    specs = [load_source(p) for p in sorted(config_dir.glob("*.yaml"))]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{config_dir}: two source files use the same name: {sorted(names)}")
    return {s.name: s for s in specs}
