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

from pipelines.lib.config_schema import ConfigError, validate_ingest, validate_source, validate_survey_scales
from pipelines.settings import config_dir

__all__ = ["ConfigError", "SourceSpec", "families", "load_source", "load_sources"]

SQL_TYPES = {"string": "varchar", "int": "bigint", "float": "double", "date": "date"}
LOGIN_COLUMN = "school_login"  # where a row's matched Логин ОО is kept when the file names schools otherwise
GROUP_COLUMN = "respondent_group"  # a survey respondent's group code, from the questionnaire's `groups`
SHEET_YEAR = "_sheet_school_year"  # a sheet-per-year workbook: the school year its sheet's name gives (not stored)


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
    """How a file's rows find their school in the registry of the same school year."""

    column: str  # the source's column that identifies the school
    min_match_rate: float
    by: str = "login"  # login | ogrn | inn | name (full or short name, normalised; never a guess)

    @property
    def fills_login(self) -> bool:
        """Matching by anything but the login writes the matched login into `school_login`."""
        return self.by != "login"


@dataclass(frozen=True)
class MultiYearSpec:
    """A file holding several school years: each row's year comes from a column."""

    column: str
    format: str  # spring: 2024 for 2023-2024; school_year: "2023-2024" or "2023/2024"
    first_school_year: str | None = None
    last_school_year: str | None = None


@dataclass(frozen=True)
class SheetsSpec:
    """A workbook with one sheet per school year: the year from the sheet's name (pattern or mapping)."""

    pattern: str | None = None
    name_is: str = "spring"  # spring: «2024» is 2023-2024; school_year: «2023-2024»
    school_years: dict[str, str] = field(default_factory=dict)  # or: sheet name -> school year
    on_unfit_sheet: str = "skip_sheet"  # skip_sheet | refuse_workbook

    def school_year_of(self, sheet_name: str) -> str | None:
        """The school year a sheet holds, or None for a sheet that is not one of the years."""
        if not self.pattern:
            return self.school_years.get(sheet_name.strip())
        m = re.fullmatch(self.pattern, sheet_name.strip())
        if not m:
            return None
        text = (m.group(1) if m.groups() else m.group(0)).strip()
        if self.name_is == "spring":
            return f"{int(text) - 1}-{int(text)}" if re.fullmatch(r"\d{4}", text) else None
        m = re.fullmatch(r"(\d{4})\s*[-/–—]\s*(\d{4})", text)
        return f"{m.group(1)}-{m.group(2)}" if m and int(m.group(2)) == int(m.group(1)) + 1 else None


@dataclass(frozen=True)
class SubtotalRule:
    column: str
    pattern: str | None = None  # a case-insensitive regex, or ...
    empty: bool = False  # ... the column is empty


@dataclass(frozen=True)
class SubtotalSpec:
    total: SubtotalRule | None = None  # over every school of the sheet
    group: SubtotalRule | None = None  # over the schools below it, up to the next group or total row
    check: tuple[str, ...] = ()  # totals_check: columns whose subtotals must equal the sums of school rows
    check_rows: tuple[str, ...] = ("group", "total")  # which subtotal rows are compared


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
    key_values: dict[str, str] = field(default_factory=dict)  # normalised header text of a key -> value stored


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
class Scale:
    answers: dict[str, float]  # answer text -> score, in the order respondents see them
    top_box: tuple[str, ...]  # the answers counted in the top-2 box


@dataclass(frozen=True)
class SurveySpec:
    questionnaire: str
    questions: tuple[Question, ...]
    scales: dict[str, Scale]  # survey_scales.yaml
    group_column: str | None = None  # the column naming each respondent's group (one export, several groups)
    groups: dict[str, str] = field(default_factory=dict)  # its answer text -> respondent group code

    def answer_options(self, question: Question) -> dict[str, float | None]:
        if question.type == "scale":
            return dict(self.scales[question.scale].answers)
        return {o: None for o in question.options}

    def is_top_box(self, question: Question, answer: str) -> bool:
        return question.type == "scale" and answer in self.scales[question.scale].top_box


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title_ru: str
    folder: str
    file_glob: str
    format: str
    family: str  # the canonical table it feeds, raw.<family>, shared by every source of the family
    contract_version: int
    columns: tuple[ColumnSpec, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    row_sums: tuple[RowSumSpec, ...] = ()
    registry_match: RegistryMatchSpec | None = None
    school_year_check: SchoolYearCheck | None = None
    multi_year: MultiYearSpec | None = None
    csv: dict = field(default_factory=dict)
    sheet: str | None = None
    sheets: SheetsSpec | None = None
    stream: bool = False
    header_rows: int = 1
    header_column_numbers: bool = False  # a row of column numbers under the header is skipped
    header_ignore: tuple[str, ...] = ()
    null_values: tuple[str, ...] = ()
    fill_down: tuple[str, ...] = ()
    drop_rows: tuple[DropRule, ...] = ()
    drop_exact_duplicates: bool = False
    subtotals: SubtotalSpec | None = None
    empty_as_zero: tuple[str, ...] = ()  # columns whose empty cells mean 0
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
    def table(self) -> str:
        return f"raw.{self.family}"

    @property
    def output_columns(self) -> list[tuple[str, str]]:
        """(name, SQL type) of the rows the raw table holds, before the constants and bookkeeping columns."""
        out = [
            (c.name, SQL_TYPES[c.type]) for c in self.columns if not c.name.startswith("q__") and c.name != SHEET_YEAR
        ]
        if self.registry_match and self.registry_match.fills_login:
            out.append((LOGIN_COLUMN, "varchar"))
        if self.survey:
            # respondent_group: the group code from the questionnaire's group column (empty when it has none)
            out += [
                ("question_code", "varchar"),
                ("answer_text", "varchar"),
                ("answer_score", "double"),
                (GROUP_COLUMN, "varchar"),
            ]
        return out

    @property
    def raw_columns(self) -> list[tuple[str, str]]:
        """Every column this source writes into its family's table (bookkeeping aside)."""
        return self.output_columns + [(k, "varchar") for k in self.constants]


def _normalise(text: str) -> str:
    from pipelines.lib.readers import normalise_header  # the readers import this module

    return normalise_header(text)


def _ingest_defaults() -> dict:
    path = config_dir() / "ingest.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate_ingest(raw, path)
    return raw


def load_scales() -> dict[str, Scale]:
    """config/survey_scales.yaml: each scale's answers in order, with their scores and the top-2 box."""
    path = config_dir() / "survey_scales.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate_survey_scales(raw, path)
    return {
        name: Scale({str(a): float(v) for a, v in scale["answers"].items()}, tuple(str(a) for a in scale["top_box"]))
        for name, scale in raw.items()
    }


def _column(name: str, c: dict, derived: bool = False) -> ColumnSpec:
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


def _survey(raw: dict, scales: dict[str, Scale]) -> tuple[SurveySpec, list[ColumnSpec]]:
    questions, columns = [], []
    for q in raw["questions"]:
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
    groups = {str(k): str(v) for k, v in (raw.get("groups") or {}).items()}
    spec = SurveySpec(raw["questionnaire"], tuple(questions), scales, raw.get("group_column"), groups)
    return spec, columns


def _parse(raw: dict, path: Path, scales: dict[str, Scale]) -> SourceSpec:
    """The source's spec from its file, already validated against the schema (config_schema.Source)."""
    columns = [_column(name, c) for name, c in raw["columns"].items()]
    unpivot = None
    if raw.get("unpivot"):
        u = raw["unpivot"]
        unpivot = UnpivotSpec(
            u["key_column"],
            u.get("header_level"),
            u.get("header_pattern"),
            u.get("value_column"),
            {_normalise(k): str(v) for k, v in (u.get("key_values") or {}).items()},
        )
        columns.append(_column(unpivot.key_column, {"type": u.get("key_type", "string")}, derived=True))
        if unpivot.value_column:
            columns.append(_column(unpivot.value_column, u.get("value", {"type": "float"}), derived=True))
    survey = None
    if raw.get("survey"):
        survey, question_columns = _survey(raw["survey"], scales)
        columns += question_columns
        if survey.group_column:  # the group column takes the answers listed under `groups`
            columns = [
                c
                if c.name != survey.group_column or c.allowed
                else ColumnSpec(**{**c.__dict__, "allowed": tuple(survey.groups)})
                for c in columns
            ]
    registry_match = None
    if raw.get("registry_match"):
        rm = raw["registry_match"]
        rate = rm.get("min_match_rate", _ingest_defaults()["min_match_rate"])
        registry_match = RegistryMatchSpec(rm["column"], float(rate), rm.get("by", "login"))
    year_check = raw.get("school_year_check")
    multi_year = MultiYearSpec(**raw["multi_year"]) if raw.get("multi_year") else None
    sheets = None
    if raw.get("sheets"):
        sh = raw["sheets"]
        sheets = SheetsSpec(
            sh.get("school_year_from_name"),
            sh.get("name_is", "spring"),
            {str(k).strip(): str(v) for k, v in (sh.get("school_years") or {}).items()},
            sh.get("on_unfit_sheet", "skip_sheet"),
        )
        # each sheet's rows carry the year its name gives: loaded as a multi-year file is, year by year
        multi_year = MultiYearSpec(SHEET_YEAR, "school_year")
        columns.append(ColumnSpec(SHEET_YEAR, "string", (), required=False, derived=True))
    subtotals = None
    if raw.get("subtotal_rows"):
        st = raw["subtotal_rows"]

        def rule(key: str) -> SubtotalRule | None:
            r = st.get(key)
            return SubtotalRule(r["column"], r.get("pattern"), bool(r.get("empty", False))) if r else None

        check = raw.get("totals_check") or {}
        subtotals = SubtotalSpec(
            rule("total"),
            rule("group"),
            tuple(check.get("columns", ())),
            tuple(check.get("rows", ("group", "total"))),
        )
    return SourceSpec(
        name=raw["name"],
        title_ru=raw["title_ru"],
        folder=raw["folder"],
        file_glob=raw["file_glob"],
        format=raw["format"],
        family=raw["family"],
        contract_version=int(raw["contract_version"]),
        columns=tuple(columns),
        unique=tuple(tuple(u) for u in raw.get("unique", [])),
        row_sums=tuple(
            RowSumSpec(r["name"], tuple(r["columns"]), float(r["min"]), float(r["max"]))
            for r in raw.get("row_sums", [])
        ),
        registry_match=registry_match,
        school_year_check=SchoolYearCheck(**year_check) if year_check else None,
        multi_year=multi_year,
        csv=raw.get("csv", {}),
        sheet=raw.get("sheet"),
        sheets=sheets,
        stream=bool(raw.get("stream", False)),
        header_rows=int(raw.get("header", {}).get("rows", 1)),
        header_column_numbers=bool(raw.get("header", {}).get("column_numbers", False)),
        header_ignore=tuple(raw.get("header", {}).get("ignore", ())),
        null_values=tuple(str(v) for v in raw.get("null_values", ())),
        fill_down=tuple(raw.get("fill_down", ())),
        drop_rows=tuple(DropRule(d["column"], d["pattern"]) for d in raw.get("drop_rows", [])),
        drop_exact_duplicates=bool(raw.get("drop_exact_duplicates", False)),
        subtotals=subtotals,
        empty_as_zero=tuple(raw.get("empty_as_zero", ())),
        unpivot=unpivot,
        constants={k: str(v) for k, v in raw.get("constants", {}).items()},
        pseudonymise=tuple(raw.get("pseudonymise", ())),
        survey=survey,
        config_path=path,
    )


def load_source(path: Path) -> SourceSpec:
    """One source config, checked against its schema first: an unknown or misspelt key fails here."""
    with path.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    scales = load_scales()
    validate_source(raw, path, scales=set(scales))
    return _parse(raw, path, scales)


def load_sources(directory: Path | None = None) -> dict[str, SourceSpec]:
    """Every source config of the configuration directory (EDUWH_CONFIG_DIR, else pipelines/config)."""
    directory = directory or config_dir() / "sources"
    specs = [load_source(p) for p in sorted(directory.glob("*.yaml"))]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{directory}: two source files use the same name: {sorted(names)}")
    _check_families(specs)
    return {s.name: s for s in specs}


def _check_families(specs: list[SourceSpec]) -> None:
    """Sources of one family share its table: a column they both have must have one type."""
    seen: dict[tuple[str, str], tuple[str, SourceSpec]] = {}
    for spec in specs:
        for column, sql_type in spec.raw_columns:
            first = seen.setdefault((spec.family, column), (sql_type, spec))
            if first[0] != sql_type:
                raise ConfigError(
                    f"{spec.config_path}: столбец {column} семейства {spec.family} имеет тип {sql_type}, а в "
                    f"{first[1].config_path.name} — {first[0]} / column {column} of family {spec.family} is "
                    f"{sql_type} here but {first[0]} in {first[1].config_path.name}"
                )


def families(specs: dict[str, SourceSpec]) -> dict[str, list[SourceSpec]]:
    """family -> the sources that feed it."""
    out: dict[str, list[SourceSpec]] = {}
    for spec in specs.values():
        out.setdefault(spec.family, []).append(spec)
    return out
