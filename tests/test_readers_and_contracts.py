"""Parsing of exports and the source contracts, on small files written here."""

from pathlib import Path

import pytest
import xlsxwriter

from pipelines.lib.ingest import check_export
from pipelines.lib.readers import ExportReadError, normalise_header, read_export
from pipelines.lib.sources import ConfigError, load_source, load_sources

SPECS = load_sources()
VPR = SPECS["vpr_mark_statistics"]
REGISTRY = SPECS["school_registry"]
HEADER = ["Год", "Класс", "Предмет", "Муниципалитет", "Логин", "ОО", "Кол-во участников", "2", "3", "4", "5"]
GOOD = [
    [2024, 4, "Русский язык", "Район", "sch470001", "СОШ №1", 25, 20.0, 40.0, 28.0, 12.0],
    [2024, 4, "Математика", "Район", "sch470001", "СОШ №1", 24, 12.5, 37.5, 37.5, 12.5],
    [2024, 5, "Математика", "Район", "sch470002", "СОШ №2", 7, 0, 57.14, 28.57, 14.29],
]


def write_xlsx(path: Path, header: list, rows: list, title_rows: int = 2) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    for i in range(title_rows):
        ws.write_row(i, 0, [f"Заголовок отчёта {i}"])
    ws.write_row(title_rows, 0, header)
    for i, r in enumerate(rows, start=title_rows + 1):
        ws.write_row(i, 0, r)
    wb.close()
    return path


def check(tmp_path: Path, rows: list, header: list = HEADER, logins=frozenset({"sch470001", "sch470002"})):
    frame, result, _ = check_export(VPR, write_xlsx(tmp_path / "vpr.xlsx", header, rows), YEAR, tmp_path, set(logins))
    return frame, result


YEAR = "2023-2024"


def test_header_normalisation_ignores_case_spaces_breaks_quotes_and_yo():
    assert normalise_header("Кол-во\nучастников ") == normalise_header("кол-во  УЧАСТНИКОВ")
    assert normalise_header("«2»") == normalise_header("2")
    assert normalise_header("Учёт") == normalise_header("учет")


def test_header_found_under_title_rows_whatever_the_column_order(tmp_path: Path):
    order = [6, 0, 1, 2, 3, 4, 5, 10, 9, 8, 7]
    header = [["Кол-во\nучастников", *HEADER[:6], "5", "4", "3", "«2»"][i] for i in range(11)]
    rows = [[r[i] for i in order] for r in GOOD]
    raw = read_export(VPR, write_xlsx(tmp_path / "v.xlsx", header + ["Примечание"], rows, title_rows=3), YEAR)
    assert raw.header_row == 4
    assert raw.ignored_headers == ("Примечание",)
    assert raw.frame["participants"].to_list() == ["25", "24", "7"]
    assert raw.frame["mark_2_pct"].to_list() == ["20", "12.5", "0"]
    assert raw.frame["_source_row"].to_list() == [5, 6, 7]


def test_missing_required_column_names_file_row_and_column(tmp_path: Path):
    header = [h for h in HEADER if h != "Кол-во участников"]
    rows = [r[:6] + r[7:] for r in GOOD]
    with pytest.raises(ExportReadError) as err:
        read_export(VPR, write_xlsx(tmp_path / "v.xlsx", header, rows), YEAR)
    assert err.value.row == 3 and err.value.column == "participants"
    assert "Кол-во участников" in str(err.value) and "v.xlsx" in str(err.value)


def test_a_good_file_passes_its_contract(tmp_path: Path):
    frame, result = check(tmp_path, GOOD)
    assert result.success, [v.describe() for v in result.violations]
    assert frame["participants"].to_list() == [25, 24, 7]
    assert frame["school_year"].unique().to_list() == ["2023-2024"]


@pytest.mark.parametrize(
    ("row", "column", "value", "rule"),
    [
        (1, 6, "двадцать", "expect_column_values_to_be_null"),  # not a number: participants__bad_type
        (1, 6, -3, "expect_column_values_to_be_between"),  # participants < 0
        (2, 7, 112.5, "expect_column_values_to_be_between"),  # percent > 100
        (0, 1, 3, "expect_column_values_to_be_between"),  # grade 3 is not a ВПР grade here
        (2, 4, "sch479999", "expect_column_values_to_be_null"),  # unknown school: 1 of 3 rows, below 95%
        (0, 0, 2023, "expect_column_values_to_be_null"),  # year contradicts the folder's school year
        (0, 4, None, "expect_column_values_to_not_be_null"),  # required value missing
    ],
)
def test_each_broken_rule_is_reported_with_its_row_column_and_value(tmp_path, row, column, value, rule):
    rows = [list(r) for r in GOOD]
    rows[row][column] = value
    _, result = check(tmp_path, rows)
    assert not result.success
    hits = [v for v in result.violations if v.rule == rule]
    assert hits, [v.describe() for v in result.violations]
    v = hits[0]
    assert v.headers[0] == HEADER[column]
    assert v.rows[0][0] == row + 4  # the row number a person sees in Excel: title rows and header above
    if value is not None:
        assert str(value) in v.describe()


def test_shares_that_do_not_add_up_to_100_are_reported(tmp_path: Path):
    rows = [list(r) for r in GOOD]
    rows[1][8] = 47.5  # 12.5 + 47.5 + 37.5 + 12.5 = 110
    _, result = check(tmp_path, rows)
    [v] = [v for v in result.violations if v.columns == ("mark_2_pct", "mark_3_pct", "mark_4_pct", "mark_5_pct")]
    assert v.rows == ((5, 110.0),)


def test_duplicate_school_grade_subject_is_reported(tmp_path: Path):
    _, result = check(tmp_path, [*GOOD, GOOD[0]])
    [v] = [v for v in result.violations if v.rule == "expect_compound_columns_to_be_unique"]
    assert v.unexpected_count == 2 and {r for r, _ in v.rows} == {4, 7}


def test_registry_contract_checks_ogrn_format(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text(
        "\ufeffЛогин ОО;ОГРН;Полное наименование ОО;Муниципальное образование;Тип местности\n"
        "sch470001;1027800000001;Школа 1;Район;городская\n"
        "sch470002;10278;Школа 2;Район;посёлок\n",
        encoding="utf-8",
    )
    _, result, _ = check_export(REGISTRY, path, YEAR, tmp_path)
    found = {(v.columns[0], v.rows) for v in result.violations}
    assert found == {("ogrn", ((3, "10278"),)), ("settlement_type", ((3, "посёлок"),))}


def test_a_config_that_names_an_unknown_column_in_a_rule_fails_at_load(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    text = (
        (VPR.config_path)
        .read_text(encoding="utf-8")
        .replace("[school_login, school_year, grade, subject]", "[school, grade]")
    )
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="'school' is used in a rule"):
        load_source(bad)


REGISTRY_TEXT = (
    "Логин ОО;ОГРН;Полное наименование ОО;Муниципальное образование;Тип местности\n"
    "sch470001;1027800000001;МОУ «Лесная СОШ» имени Ёлкина;Озёрский район;сельская\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_registry_reads_in_each_encoding_regions_send(tmp_path: Path, encoding: str):
    path = tmp_path / "r.csv"
    path.write_bytes(REGISTRY_TEXT.encode(encoding))
    raw = read_export(REGISTRY, path, YEAR)
    assert raw.frame["school_name"].to_list() == ["МОУ «Лесная СОШ» имени Ёлкина"]
    assert raw.headers["school_login"] == "Логин ОО"  # no BOM left in the first header


def test_a_file_in_another_encoding_than_configured_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_bytes(REGISTRY_TEXT.encode("cp1251"))
    utf8_only = load_source(REGISTRY.config_path)
    object.__setattr__(utf8_only, "csv", {**utf8_only.csv, "encoding": "utf-8"})
    with pytest.raises(ExportReadError, match="не в кодировке utf-8"):
        read_export(utf8_only, path, YEAR)


def test_decimal_comma_is_read_as_a_decimal_point(tmp_path: Path):
    rows = [list(r) for r in GOOD]
    rows[1][7:11] = ["12,5", "37,5", "37,5", "12,5"]
    frame, result = check(tmp_path, rows)
    assert result.success, [v.describe() for v in result.violations]
    assert frame["mark_2_pct"].to_list()[1] == 12.5


def test_an_empty_file_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ExportReadError, match="файл пуст .* the file is empty"):
        read_export(REGISTRY, path, YEAR)


def test_an_unreadable_file_is_quarantined_with_a_message_naming_the_file(tmp_path: Path):
    from pipelines.lib.ingest import ContractViolation, load_school_year
    from pipelines.settings import Settings

    settings = Settings(tmp_path)
    folder = settings.raw_dir / REGISTRY.folder / "2023-2024"
    folder.mkdir(parents=True)
    (folder / "реестр.csv").write_bytes(b"")
    with pytest.raises(ContractViolation) as err:
        load_school_year(REGISTRY, settings, "2023-2024")
    assert "реестр.csv" in err.value.message and "файл пуст" in err.value.message
    assert "весь файл/whole file" in err.value.message and "row 0" not in err.value.message
    assert err.value.quarantine_path.exists()


@pytest.mark.parametrize("failing", [False, True])
def test_an_expectation_the_validator_cannot_evaluate_is_an_error_not_bad_data(tmp_path: Path, failing: bool):
    """GE reports an exception inside an expectation as a failed expectation; the contract raises it as an error of
    the pipeline, whether the rest of the suite passes (first pass only) or fails (the second, detailed pass)."""
    import duckdb

    from pipelines.lib.contracts import ContractRuntimeError, validate_staged
    from pipelines.lib.staging import Rule

    stage = tmp_path / "stage.duckdb"
    with duckdb.connect(str(stage)) as con:
        con.execute("create table checked as select 2 as _source_row, cast(null as varchar) as school_login")
    rules = [Rule("not_null", "no_such_column", ("no_such_column",), "значение обязательно", "a value is required")]
    if failing:
        rules.append(Rule("not_null", "school_login", ("school_login",), "значение обязательно", "a value is required"))
    with pytest.raises(ContractRuntimeError, match="the validator failed on expect_column_values_to_not_be_null"):
        validate_staged("probe", "probe", stage, rules, {}, "probe.csv", None)

    # the same file with the expectation it can evaluate: a violation, reported with its row
    result = validate_staged("probe", "probe", stage, rules[1:], {}, "probe.csv", None)
    assert result.success is not failing
    assert [v.rows for v in result.violations] == ([((2, None),)] if failing else [])


def test_a_validation_definition_is_saved_once_and_kept_by_the_next_run(tmp_path: Path, monkeypatch):
    """great_expectations.yml is rewritten only when a source's validation definition changes: a later run (a new
    process: the module's caches emptied) validates with the definition an earlier run saved, and a changed
    setting (the DuckDB memory limit) saves it again. Each run's validation still finds the violation."""
    import duckdb

    from pipelines.lib import contracts
    from pipelines.lib.staging import Rule

    stage = tmp_path / "stage.duckdb"
    with duckdb.connect(str(stage)) as con:
        con.execute("create table probe__checked as select 2 as _source_row, cast(null as varchar) as school_login")
    rules = [Rule("not_null", "school_login", ("school_login",), "значение обязательно", "a value is required")]
    project = tmp_path / "project"
    project_yml = project / "gx" / "great_expectations.yml"

    def run_in_new_process(memory_limit: str) -> bytes:
        for cache in ("_CONTEXTS", "_SUITES", "_DEFINITIONS"):
            monkeypatch.setattr(contracts, cache, {})
        result = contracts.validate_staged(
            "probe.v1", "probe", stage, rules, {}, "probe.csv", project, memory_limit, table="probe__checked"
        )
        assert [(v.rule, v.rows) for v in result.violations] == [("expect_column_values_to_not_be_null", ((2, None),))]
        return project_yml.read_bytes()

    first = run_in_new_process("1GB")
    assert "memory_limit: 1GB" in first.decode()
    project_yml.write_bytes(first + b"# untouched\n")  # a rewrite would drop this line
    assert run_in_new_process("1GB").endswith(b"# untouched\n")
    changed = run_in_new_process("2GB").decode()
    assert "memory_limit: 2GB" in changed
    assert "# untouched" not in changed


def test_a_new_school_year_validates_with_the_same_suite_and_its_messages_name_that_year(tmp_path: Path):
    """A source's suite keeps the school year as a placeholder: the next year's load does not save the suite again,
    yet its violation names its own year; changed rules save it."""
    import duckdb

    from pipelines.lib import contracts
    from pipelines.lib.staging import Rule

    stage = tmp_path / "stage.duckdb"
    with duckdb.connect(str(stage)) as con:
        con.execute("create table probe__checked as select 2 as _source_row, 'sch9' as school_login__unknown")
    project = tmp_path / "project"
    suite_file = project / "gx" / "expectations" / "probe" / "v1.json"  # GE splits the name at its dots

    def rules(year: str, mostly: float = 0.95) -> list[Rule]:
        return [Rule("null_column", "school_login__unknown", ("school_login",), "школы нет в реестре ОО {school_year}",
                     "the school is not in the {school_year} registry", mostly=mostly,
                     words=(("{school_year}", year),))]

    def validate(year: str, mostly: float = 0.95) -> str:
        result = contracts.validate_staged(
            "probe.v1", "probe", stage, rules(year, mostly), {}, "probe.csv", project, table="probe__checked"
        )
        (violation,) = result.violations
        return violation.detail

    assert validate("2022-2023") == "школы нет в реестре ОО 2022-2023 / the school is not in the 2022-2023 registry"
    saved = suite_file.read_bytes()
    assert b"{school_year}" in saved and b"2022-2023" not in saved
    suite_file.write_bytes(saved + b"\n")  # a new save would drop the added line
    assert validate("2023-2024") == "школы нет в реестре ОО 2023-2024 / the school is not in the 2023-2024 registry"
    assert suite_file.read_bytes() == saved + b"\n"

    assert validate("2023-2024", mostly=0.9).startswith("школы нет в реестре ОО 2023-2024")  # the rules changed
    assert suite_file.read_bytes() != saved + b"\n"
