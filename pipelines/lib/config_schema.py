"""Schemas of the configuration files: pydantic models that accept exactly the keys the loaders read.

Every model forbids unknown keys, so a misspelt key (`requried:`, `maximum:`, `uniqe:`) fails at start-up
instead of being silently ignored. `validate_*` check one file's parsed YAML and return the validated model
(defaults filled in); the loaders may keep using their raw dict. Every problem of the file is reported in one
`ConfigError`, whose message names the file, each key path (`columns.grade.maximum`) and, for an unknown key,
the nearest valid one.

The JSON Schemas in pipelines/config/schemas/ are generated from these models (`python -m pipelines.check_config
--write-schemas`), so editors can complete and check the YAML files; a test keeps them equal to the models.
"""

from __future__ import annotations

import codecs
import difflib
import json
import re
import types
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    Strict,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
LOGIN_COLUMN = "school_login"  # where matching by ogrn/inn/name writes the matched login (see sources.py)

Loc = tuple[str | int, ...]  # a key path: keys, and list indexes
M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is wrong. The message starts with the file's path."""


class _Problems(ValueError):
    """Problems found by a model's own checks, each at a key path below the model; `check()` raises if any."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[tuple[Loc, str]] = []

    def __str__(self) -> str:
        return "; ".join(message for _, message in self.problems)

    def add(self, loc: Loc, ru: str, en: str) -> _Problems:
        self.problems.append((loc, f"{ru} / {en}"))
        return self

    def check(self) -> None:
        if self.problems:
            raise self


# ---------------------------------------------------------------------------------------------------- value types


def _school_year(value: str) -> str:
    m = re.fullmatch(r"(\d{4})-(\d{4})", value)
    if not m or int(m[2]) != int(m[1]) + 1:
        raise ValueError(f"{value!r} — не учебный год вида 2023-2024 / not a school year such as 2023-2024")
    return value


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError(
            f"{value!r}: только строчные латинские буквы, цифры и _ / lower-case latin letters, digits and _ only"
        )
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"регулярное выражение {value!r} не компилируется / regex {value!r} is not valid: {exc}")
    return value


def _encoding(value: str) -> str:
    if value != "auto":
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"неизвестная кодировка {value!r} / unknown encoding {value!r} (or auto)") from None
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"неизвестный часовой пояс {value!r} / unknown time zone {value!r}") from None
    return value


SchoolYear = Annotated[
    str, AfterValidator(_school_year), WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{4}$"})
]
Identifier = Annotated[
    str, AfterValidator(_identifier), WithJsonSchema({"type": "string", "pattern": "^[a-z][a-z0-9_]*$"})
]
Regex = Annotated[str, AfterValidator(_regex)]
Number = Annotated[float, Strict()]  # an int or a float, not a string
Rate = Annotated[float, Strict(), Field(ge=0, le=1)]
ColumnType = Literal["string", "int", "float", "date"]
YearFormat = Literal["spring", "school_year"]


class _Config(BaseModel):
    # Numbers are accepted where text is expected (a header `2024`), as the loaders' str() does.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, use_attribute_docstrings=True)


# ------------------------------------------------------------------------------------------- sources/<source>.yaml


class ColumnRules(_Config):
    """A column's type and contract rules."""

    type: ColumnType
    required: StrictBool = True
    """The column must be in the file (and, for questions, answered)."""
    min: Number | None = None
    max: Number | None = None
    allowed: list[str] | None = None
    """The only values allowed."""
    regex: Regex | None = None
    """Every value must match this regular expression."""
    school_years: list[SchoolYear] | None = None
    """Required only in these school years."""


class Column(ColumnRules):
    """A canonical column: the header texts it goes by in the exports, its type and contract rules."""

    headers: list[str] = Field(min_length=1)
    """The header texts this column has had (any one of them is matched)."""
    derived: StrictBool = False
    """Made by reshaping, not looked for in the file's header."""


class CsvOptions(_Config):
    encoding: Annotated[str, AfterValidator(_encoding)] = "auto"
    """auto: UTF-8 (with or without BOM) if the file decodes as such, else cp1251; or a Python codec name."""
    separator: str = Field(";", min_length=1, max_length=1)


class Header(_Config):
    rows: StrictInt = Field(1, ge=1)
    """Header rows (merged cells over several rows are joined)."""
    ignore: list[str] = []
    """Header texts of columns to leave out without a warning."""
    column_numbers: StrictBool = False
    """A row of column numbers (1, 2, 3 …) right under the header is skipped (counted among the dropped rows)."""


class DropRule(_Config):
    """Rows whose `column` matches `pattern` (case-insensitive regex) are not data (subtotals, repeated headers)."""

    column: str
    pattern: str


class Sheets(_Config):
    """A workbook keeping one sheet per school year: each sheet whose name gives a school year is read as that
    year's rows (other sheets are left alone)."""

    school_year_from_name: Regex | None = None
    """A pattern the whole sheet name must match; its first group (or the name) is the year, read as `name_is`."""
    name_is: YearFormat = "spring"
    """`spring`: «2024» is 2023-2024; `school_year`: «2023-2024» or «2023/2024»."""
    school_years: dict[str, SchoolYear] = {}
    """Or: sheet name -> school year."""
    on_unfit_sheet: Literal["skip_sheet", "refuse_workbook"] = "skip_sheet"
    """A sheet whose header does not fit: refuse that sheet only (named in the load log and the run summary), or the
    whole workbook."""

    @model_validator(mode="after")
    def _one_way(self) -> Sheets:
        if (self.school_year_from_name is None) == (not self.school_years):
            _Problems().add(
                (),
                "укажите либо school_year_from_name, либо school_years",
                "give either school_year_from_name or school_years",
            ).check()
        return self


class SubtotalRule(_Config):
    """Which rows are subtotals: `column` matching `pattern` (case-insensitive regex), or `column` empty."""

    column: str
    pattern: Regex | None = None
    empty: StrictBool = False

    @model_validator(mode="after")
    def _one_way(self) -> SubtotalRule:
        if (self.pattern is None) == (not self.empty):
            _Problems().add((), "укажите либо pattern, либо empty: true", "give either pattern or empty: true").check()
        return self


class SubtotalRows(_Config):
    """Rows that sum schools rather than describe one: dropped (counted in the load log) and, with
    `totals_check`, compared with the sums of the school rows."""

    total: SubtotalRule | None = None
    """A total over every school of the sheet («ВСЕГО по региону»)."""
    group: SubtotalRule | None = None
    """A subtotal over the schools below it, up to the next group or total row (a municipality row); the
    `fill_down` columns take their value from it."""

    @model_validator(mode="after")
    def _some(self) -> SubtotalRows:
        if self.total is None and self.group is None:
            _Problems().add((), "укажите total и/или group", "give total and/or group").check()
        return self


class TotalsCheck(_Config):
    """The file's own subtotals as a check: each must equal the sum of the school rows it covers (empty cells
    count 0, a subtotal cell that is not a number, «х», is not compared). A difference breaks the contract."""

    columns: list[str] = Field(min_length=1)
    rows: list[Literal["group", "total"]] = Field(["group", "total"], min_length=1)
    """Which subtotal rows are compared (of `subtotal_rows`)."""


class Unpivot(_Config):
    """A wide layout made long: one row per key (a header text) instead of one column per key."""

    key_column: str
    key_type: ColumnType = "string"
    header_level: StrictInt | None = Field(None, ge=1)
    """The header row (1, 2, …) whose texts become key values."""
    header_pattern: Regex | None = None
    """Or: the columns whose header matches become key values and their cells `value_column`."""
    value_column: str | None = None
    value: ColumnRules = ColumnRules(type="float")
    """Type and rules of `value_column`."""
    key_values: dict[str, str] = {}
    """Header text of a key -> the key value stored (compared as headers are); other keys are kept as written."""

    @model_validator(mode="after")
    def _one_way(self) -> Unpivot:
        problems = _Problems()
        if (self.header_level is None) == (self.header_pattern is None):
            problems.add(
                (), "укажите либо header_level, либо header_pattern", "give either header_level or header_pattern"
            )
        if self.header_pattern is not None and not self.value_column:
            problems.add(("value_column",), "header_pattern требует value_column", "header_pattern needs value_column")
        problems.check()
        return self


class YearColumn(_Config):
    """The column holding the school year: `spring` 2024 for 2023-2024, `school_year` "2023-2024" or "2023/2024"."""

    column: str
    format: YearFormat


class MultiYear(YearColumn):
    """A file holding several school years: each row's year comes from `column`."""

    first_school_year: SchoolYear | None = None
    last_school_year: SchoolYear | None = None

    @model_validator(mode="after")
    def _ordered(self) -> MultiYear:
        if self.first_school_year and self.last_school_year and self.first_school_year > self.last_school_year:
            _Problems().add(("last_school_year",), "раньше first_school_year", "is before first_school_year").check()
        return self


class RegistryMatch(_Config):
    """How a file's rows find their school in the registry of the same school year."""

    by: Literal["login", "ogrn", "inn", "name"] = "login"
    column: str
    """The source's column that identifies the school."""
    min_match_rate: Rate | None = None
    """Overrides ingest.yaml's min_match_rate for this source."""


class RowSum(_Config):
    name: str
    columns: list[str] = Field(min_length=1)
    min: Number
    max: Number


class Question(_Config):
    """A question of the questionnaire; its column header is one of `texts`."""

    code: str
    type: Literal["scale", "choice", "multi", "text"]
    texts: list[str] = Field(min_length=1)
    """The header texts the question has had (a reworded question keeps its code)."""
    scale: str | None = None
    """For type scale: a scale of survey_scales.yaml."""
    options: list[str] = []
    """For types choice and multi: the answer options."""
    required: StrictBool = True
    school_years: list[SchoolYear] | None = None
    """Asked only in these school years."""

    @model_validator(mode="after")
    def _answers(self, info: ValidationInfo) -> Question:
        scales: Collection[str] | None = (info.context or {}).get("scales")
        problems = _Problems()
        if self.type == "scale" and not self.scale:
            problems.add(("scale",), "вопрос типа scale требует scale", "a scale question needs a scale")
        elif self.type == "scale" and scales is not None and self.scale not in scales:
            known = ", ".join(sorted(scales))
            problems.add(
                ("scale",),
                f"шкалы {self.scale!r} нет в survey_scales.yaml",
                f"no scale {self.scale!r} in survey_scales.yaml (known: {known}){_did_you_mean(self.scale, scales)}",
            )
        if self.type in {"choice", "multi"} and not self.options:
            problems.add(("options",), "перечислите варианты ответа", "list the answer options")
        problems.check()
        return self


class Survey(_Config):
    """The questionnaire: its export has one column per question."""

    questionnaire: str
    questions: list[Question] = Field(min_length=1)
    group_column: str | None = None
    """The column naming each respondent's group (one export, several groups)."""
    groups: dict[str, str] = {}
    """Answer text of `group_column` -> respondent group code."""

    @model_validator(mode="after")
    def _groups_together(self) -> Survey:
        if bool(self.group_column) != bool(self.groups):
            _Problems().add(
                (),
                "group_column и groups задаются вместе",
                "group_column and groups go together (the column, and its answer text -> group code)",
            ).check()
        return self


class Source(_Config):
    """One source: where its exports lie, how to read them, and its data contract."""

    name: Identifier
    title_ru: str
    folder: str
    """data/raw/<folder>/<school year>/"""
    file_glob: str
    format: Literal["csv", "xlsx", "xls"]
    """xlsx and xls (Excel 97-2003) are read alike, with the same header scanning."""
    family: Identifier
    """The canonical table it feeds, raw.<family>, shared by every source of the family."""
    contract_version: StrictInt = Field(ge=1)
    columns: dict[str, Column]
    csv: CsvOptions | None = None
    sheet: str | None = None
    sheets: Sheets | None = None
    """One sheet per school year (instead of `sheet`)."""
    stream: StrictBool = False
    """Read in blocks (pupil-level CSV files)."""
    header: Header | None = None
    null_values: list[str] = []
    fill_down: list[str] = []
    drop_rows: list[DropRule] = []
    drop_exact_duplicates: StrictBool = False
    empty_as_zero: list[str] = []
    """Columns whose empty cells mean 0 (reports that leave a zero count blank)."""
    subtotal_rows: SubtotalRows | None = None
    totals_check: TotalsCheck | None = None
    unpivot: Unpivot | None = None
    constants: dict[str, str] = {}
    """Columns with one value for the whole source (also what tells its rows apart in a shared table)."""
    pseudonymise: list[str] = []
    school_year_check: YearColumn | None = None
    multi_year: MultiYear | None = None
    registry_match: RegistryMatch | None = None
    row_sums: list[RowSum] = []
    unique: list[Annotated[list[str], Field(min_length=1)]] = []
    survey: Survey | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        problems = _Problems()
        school_level = ("только для файлов по школам, не потоковых", "for school-level files, not streamed pupil files")
        if self.stream and self.format != "csv":
            problems.add(("stream",), "только для CSV", "stream: true is for CSV files only")
        if self.registry_match and self.registry_match.by == "name" and self.stream:
            problems.add(("registry_match", "by"), *school_level)
        if self.registry_match and self.registry_match.by != "login" and LOGIN_COLUMN in self.columns:
            by = self.registry_match.by
            problems.add(
                ("columns", LOGIN_COLUMN),
                f"при сопоставлении по {by} найденный логин пишется в {LOGIN_COLUMN}: такого столбца в файле не нужно",
                f"matching by {by} writes the login found to {LOGIN_COLUMN}, which must not be a column too",
            )
        if self.multi_year and self.school_year_check:
            problems.add(
                ("school_year_check",),
                "уберите: multi_year берёт год каждой строки из её столбца",
                "drop it: multi_year takes each row's school year from its column",
            )
        if self.multi_year and self.stream:
            problems.add(("multi_year",), *school_level)
        if self.sheets and self.format == "csv":
            problems.add(("sheets",), "только для книг Excel", "for Excel workbooks only")
        for key in ("sheet", "multi_year", "school_year_check"):
            if self.sheets and getattr(self, key):
                problems.add(
                    (key,),
                    "уберите: при sheets год строк берётся из названия листа",
                    "drop it: with sheets the rows' school year comes from the sheet name",
                )
        if self.totals_check and not self.subtotal_rows:
            problems.add(("totals_check",), "требует subtotal_rows", "needs subtotal_rows")
        columns = self._column_names()
        known = columns | {"school_year"} | set(self.constants)
        for loc, name in self._column_references():
            if name not in (columns if loc[0] == "survey" else known):
                problems.add(
                    loc,
                    f"столбец {name!r} назван в правиле, но его нет",
                    f"{name!r} is used in a rule but is not a column{_did_you_mean(name, known)}",
                )
        problems.check()
        return self

    def _column_names(self) -> set[str]:
        names = set(self.columns)
        if self.unpivot:
            names |= {self.unpivot.key_column, self.unpivot.value_column} - {None}
        if self.survey:
            names |= {f"q__{q.code}" for q in self.survey.questions}
        return names

    def _column_references(self) -> list[tuple[Loc, str]]:
        """(key path, column name) of every rule that names a column."""
        refs: list[tuple[Loc, str]] = [
            (("unique", i, j), c) for i, u in enumerate(self.unique) for j, c in enumerate(u)
        ]
        refs += [
            (("row_sums", i, "columns", j), c) for i, r in enumerate(self.row_sums) for j, c in enumerate(r.columns)
        ]
        refs += [(("drop_rows", i, "column"), d.column) for i, d in enumerate(self.drop_rows)]
        refs += [(("fill_down", i), c) for i, c in enumerate(self.fill_down)]
        if self.totals_check:
            refs += [(("totals_check", "columns", i), c) for i, c in enumerate(self.totals_check.columns)]
        refs += [(("empty_as_zero", i), c) for i, c in enumerate(self.empty_as_zero)]
        for key in ("total", "group"):
            rule = getattr(self.subtotal_rows, key, None) if self.subtotal_rows else None
            if rule:
                refs.append((("subtotal_rows", key, "column"), rule.column))
        refs += [(("pseudonymise", i), c) for i, c in enumerate(self.pseudonymise)]
        for key in ("registry_match", "school_year_check", "multi_year"):
            block = getattr(self, key)
            if block:
                refs.append(((key, "column"), block.column))
        if self.survey and self.survey.group_column:
            refs.append((("survey", "group_column"), self.survey.group_column))
        return refs


# ---------------------------------------------------------------------------------------------- survey_scales.yaml


class Scale(_Config):
    """An answer scale: answer text as respondents see it -> score, in the order they see them."""

    description: str
    answers: dict[str, Number] = Field(min_length=1)
    top_box: list[str] = []
    """The answers counted in the top-2 box."""

    @model_validator(mode="after")
    def _top_box_among_answers(self) -> Scale:
        problems = _Problems()
        for i, answer in enumerate(self.top_box):
            if answer not in self.answers:
                problems.add(
                    ("top_box", i),
                    f"{answer!r} нет среди answers",
                    f"{answer!r} is not among the answers ({', '.join(self.answers)})",
                )
        problems.check()
        return self


class SurveyScales(RootModel[dict[str, Scale]]):
    """Scale name -> scale; a questionnaire question names its scale."""


# ---------------------------------------------------------------------------------------------------- ingest.yaml


class Ingest(_Config):
    """Settings of every load."""

    min_match_rate: Rate
    """Share of a file's rows whose school must be found in the registry; below it the file is quarantined."""
    stream_block_bytes: StrictInt = Field(gt=0)
    duckdb_memory_limit: str
    default_key_file: str
    """The pseudonymisation key's file when neither EDUWH_PSEUDONYM_KEY nor EDUWH_PSEUDONYM_KEY_FILE is set."""


# ------------------------------------------------------------------------------------------------ publishing.yaml


class MinN(_Config):
    min_n: StrictInt = Field(ge=1)
    """Values of rows whose n is below this are blanked in the published copies."""


class Suppression(_Config):
    """Small-cell suppression: a default, and per-mart thresholds."""

    default: MinN
    marts: dict[str, MinN] = {}


class ParquetTarget(_Config):
    enabled: StrictBool


class AnalystDuckdbTarget(_Config):
    enabled: StrictBool
    path: str
    """Under data/marts/."""


class PostgresTarget(_Config):
    enabled: StrictBool
    conninfo_env: str
    """The environment variable holding the connection string."""
    schema_: str = Field(alias="schema")


class Targets(_Config):
    parquet: ParquetTarget
    analyst_duckdb: AnalystDuckdbTarget
    postgres: PostgresTarget


class Publishing(_Config):
    """What is published from the warehouse, and how."""

    suppression: Suppression
    duckdb_memory_limit: str | None = None
    targets: Targets


# ------------------------------------------------------------------------------------------------ operations.yaml


class RawFilesSensor(_Config):
    minimum_interval_seconds: StrictInt = Field(ge=1)
    settle_seconds: Number = Field(ge=0)
    running: StrictBool = True


class DailyMartsRefresh(_Config):
    cron: str
    timezone: Annotated[str, AfterValidator(_timezone)]
    running: StrictBool = True


class Retries(_Config):
    ingest_max_retries: StrictInt = Field(ge=0)
    ingest_delay_seconds: Number = Field(ge=0)
    dbt_max_retries: StrictInt = Field(ge=0)
    dbt_delay_seconds: Number = Field(ge=0)


class Services(_Config):
    """`make serve` (python -m pipelines.serve): the Dagster webserver and daemon."""

    host: str = "127.0.0.1"
    """The address the webserver listens on. 127.0.0.1: this machine only (put a reverse proxy with
    authentication in front of it to open the UI to others)."""
    webserver_port: StrictInt = Field(3000, ge=1, le=65535)
    public_url: str | None = None
    """The UI's address as the person on duty opens it, for the links in alerts (default http://host:port)."""


class EmailAlerts(_Config):
    """Alerts by e-mail over SMTP."""

    enabled: StrictBool = True
    host: str
    port: StrictInt = Field(ge=1, le=65535)
    tls: Literal["none", "starttls", "ssl"] = "starttls"
    """none: plain SMTP (a relay on the same network); starttls: usually port 587; ssl: usually port 465."""
    sender: str
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    """Log in with this user name (and the password from password_env); no login without it."""
    password_env: str | None = None
    """The environment variable holding the SMTP password. The password itself never goes in this file."""
    timeout_seconds: Number = Field(30, gt=0)

    @model_validator(mode="after")
    def _login(self) -> EmailAlerts:
        if bool(self.username) != bool(self.password_env):
            _Problems().add(
                ("password_env",),
                "username и password_env задаются вместе",
                "username and password_env go together (the password is read from that environment variable)",
            ).check()
        return self


class WebhookAlerts(_Config):
    """Alerts as a JSON POST to a chat bot or an incident tool: {"<text_field>": message, ...extra_fields}."""

    enabled: StrictBool = True
    url: str | None = None
    url_env: str | None = None
    """Or: the environment variable holding the URL (when the URL carries a token, keep it out of this file)."""
    text_field: str = "text"
    """The JSON key of the message text (`text` for Mattermost, Rocket.Chat, Slack, Telegram's sendMessage)."""
    extra_fields: dict[str, str] = {}
    """Constant fields added to the JSON body, e.g. Telegram's chat_id."""
    timeout_seconds: Number = Field(30, gt=0)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookAlerts:
        if (self.url is None) == (self.url_env is None):
            _Problems().add((), "укажите либо url, либо url_env", "give either url or url_env").check()
        return self


class Alerts(_Config):
    """Messages to the person on duty: one per failed run (a quarantined file, a failed marts run)."""

    email: EmailAlerts | None = None
    webhook: WebhookAlerts | None = None
    nightly_success_summary: StrictBool = False
    """Also send one line when the daily marts refresh (the schedule) succeeds."""
    minimum_interval_seconds: StrictInt = Field(30, ge=1)
    """How often the alert sensors look for finished runs."""


class RunEndSensors(_Config):
    """The sensors that act when a run ends: the marts after an ingest run, the run summaries."""

    minimum_interval_seconds: StrictInt = Field(30, ge=1)
    """How often they look for runs that ended."""


class DbtRuns(_Config):
    """dbt in the marts runs: each dbt call keeps its artifacts in a folder of its own under dbt_project/target/."""

    log_level_file: Literal["debug", "info", "warn", "error", "none"] = "info"
    """The level of the dbt.log in that folder. `debug` adds every SQL statement dbt sends (about 8 MB a run of
    the sample region, and about 2 s more to write)."""
    keep_runs: StrictInt = Field(20, ge=1)
    """How many of the newest folders stay; older ones are removed after each marts run."""


class Operations(_Config):
    """How the warehouse runs unattended. Times are in seconds."""

    raw_files_sensor: RawFilesSensor
    run_end_sensors: RunEndSensors = RunEndSensors()
    daily_marts_refresh: DailyMartsRefresh
    retries: Retries
    services: Services = Services()
    alerts: Alerts = Alerts()
    dbt_runs: DbtRuns = DbtRuns()


# ------------------------------------------------------------------------------------------------------- validation

SCHEMAS: dict[str, type[BaseModel]] = {
    "source": Source,
    "survey_scales": SurveyScales,
    "ingest": Ingest,
    "publishing": Publishing,
    "operations": Operations,
}
"""Schema file name (pipelines/config/schemas/<name>.schema.json) -> model."""

# Keys that were renamed: the message names the new key rather than the nearest spelling.
_REPLACED: dict[tuple[type[BaseModel], str], str] = {
    (Source, "table"): "family",
    (Publishing, "min_cell_size"): "suppression.default.min_n",
}

_EXPECTED = {
    "string_type": ("ожидается строка", "expected a string"),
    "int_type": ("ожидается целое число", "expected an integer"),
    "int_parsing": ("ожидается целое число", "expected an integer"),
    "int_from_float": ("ожидается целое число", "expected an integer"),
    "float_type": ("ожидается число", "expected a number"),
    "float_parsing": ("ожидается число", "expected a number"),
    "bool_type": ("ожидается true или false", "expected true or false"),
    "bool_parsing": ("ожидается true или false", "expected true or false"),
    "dict_type": ("ожидается словарь ключей", "expected a mapping of keys"),
    "model_type": ("ожидается словарь ключей", "expected a mapping of keys"),
    "model_attributes_type": ("ожидается словарь ключей", "expected a mapping of keys"),
    "list_type": ("ожидается список", "expected a list"),
    "greater_than_equal": ("должно быть не меньше {ge}", "must be at least {ge}"),
    "greater_than": ("должно быть больше {gt}", "must be greater than {gt}"),
    "less_than_equal": ("должно быть не больше {le}", "must be at most {le}"),
    "too_short": ("нужно хотя бы {min_length}", "needs at least {min_length} item(s)"),
    "string_too_short": ("нужно хотя бы {min_length} символ(а)", "needs at least {min_length} character(s)"),
    "string_too_long": ("не больше {max_length} символ(а)", "at most {max_length} character(s)"),
}
"""Pydantic error type -> what was expected (Russian, English), formatted with the error's context."""


def validate_source(raw: Any, path: Path, scales: Collection[str] | None = None) -> Source:
    """A source file (sources/<source>.yaml). With `scales` (survey_scales.yaml's names), question scales must be
    among them."""
    return _validate(Source, raw, path, {"scales": scales})


def validate_survey_scales(raw: Any, path: Path) -> SurveyScales:
    return _validate(SurveyScales, raw, path)


def validate_ingest(raw: Any, path: Path) -> Ingest:
    return _validate(Ingest, raw, path)


def validate_publishing(raw: Any, path: Path) -> Publishing:
    return _validate(Publishing, raw, path)


def validate_operations(raw: Any, path: Path) -> Operations:
    return _validate(Operations, raw, path)


def _validate(model: type[M], raw: Any, path: Path, context: dict | None = None) -> M:
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt required key is reported once, as the unknown key naming it, not also as missing.
        named = {e["loc"][:-1] + (_meant(model, e["loc"]),) for e in errors if e["type"] == "extra_forbidden"}
        messages = [
            m for e in errors if not (e["type"] == "missing" and e["loc"] in named) for m in _messages(model, e)
        ]
        raise ConfigError(f"{path}: " + "; ".join(messages)) from None


def _messages(model: type[BaseModel], error: dict) -> list[str]:
    loc: Loc = error["loc"]
    kind = error["type"]
    found = _shown(error["input"])
    if kind == "value_error":
        cause = error["ctx"]["error"]
        if isinstance(cause, _Problems):
            return [_at(loc + sub, message) for sub, message in cause.problems]
        return [_at(loc, str(cause))]
    if kind == "extra_forbidden":
        return [_unknown_key(model, loc)]
    if kind == "missing":
        return [f"нет обязательного ключа '{_key(loc)}' / missing required key '{_key(loc)}'"]
    if kind == "literal_error":
        choices = [str(c) for c in typing.get_args(_unwrap(_annotation_at(model, loc)))]
        listed = ", ".join(choices) or error["ctx"]["expected"]
        hint = _did_you_mean(str(error["input"]), choices)
        ru = f"недопустимое значение {found}, допустимы: {listed}"
        return [_at(loc, f"{ru} / invalid value {found}, allowed: {listed}{hint}")]
    if kind in _EXPECTED:
        ru, en = (text.format(**error.get("ctx", {})) for text in _EXPECTED[kind])
        return [_at(loc, f"{ru}, а не {found} / {en}, not {found}")]
    return [_at(loc, f"неверное значение {found} / invalid value {found}: {error['msg']}")]


def _meant(model: type[BaseModel], loc: Loc) -> str | None:
    """The valid key an unknown key at `loc` stands for: the key that replaced it, else the nearest spelling."""
    key, parent = str(loc[-1]), _unwrap(_annotation_at(model, loc[:-1]))
    nearest = difflib.get_close_matches(key, _keys(parent), n=1)
    return _REPLACED.get((parent, key)) or (nearest[0] if nearest else None)


def _unknown_key(model: type[BaseModel], loc: Loc) -> str:
    key, parent, shown = str(loc[-1]), _unwrap(_annotation_at(model, loc[:-1])), _key(loc)
    meant = _meant(model, loc)
    if (parent, key) in _REPLACED:
        return f"ключ '{shown}' заменён на '{meant}' / key '{shown}' was replaced by '{meant}'"
    if meant:
        return f"неизвестный ключ '{shown}' — может быть, '{meant}'? / unknown key '{shown}' — did you mean '{meant}'?"
    listed = ", ".join(_keys(parent))
    return f"неизвестный ключ '{shown}', допустимы: {listed} / unknown key '{shown}', valid keys: {listed}"


def _did_you_mean(value: str, choices: Collection[str]) -> str:
    nearest = difflib.get_close_matches(value, list(choices), n=1)
    return f" — did you mean '{nearest[0]}'?" if nearest else ""


def _at(loc: Loc, message: str) -> str:
    return f"'{_key(loc)}': {message}" if loc else message


def _key(loc: Loc) -> str:
    """columns.grade.max, survey.questions[2].scale"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(annotation: Any) -> Any:
    """The type under Annotated[...], X | None and RootModel."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif isinstance(annotation, type) and issubclass(annotation, RootModel):
            annotation = annotation.model_fields["root"].annotation
        else:
            return annotation


def _annotation_at(model: type[BaseModel], loc: Loc) -> Any:
    """The declared type of the value at `loc` (dict keys and list indexes step into their values)."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = {f.alias or n: f.annotation for n, f in annotation.model_fields.items()}.get(part)
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return None
    return annotation


def _keys(annotation: Any) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def json_schema(model: type[BaseModel]) -> str:
    """The model's JSON Schema, as committed in pipelines/config/schemas/."""
    schema = {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()}
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
