"""Workbooks as regions keep them: the real РЦОИ workbook of school-level ЕГЭ results (tests/fixtures/real_exports,
see PROVENANCE.md), one sheet per year, subtotal rows, a row of column numbers, .xls as well as .xlsx.

Every expected figure is read here from the workbook's cells with openpyxl (not the pipeline's reader), and a
registry of its schools (made-up logins) is written for the two school years it holds."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
import yaml

from pipelines.lib.ingest import ContractViolation, load_school_year
from pipelines.lib.raw_files import scan_raw_files
from pipelines.lib.readers import ExportReadError, read_export
from pipelines.lib.sources import load_source, load_sources
from pipelines.settings import CONFIG_DIR, PROJECT_ROOT, Settings
from tests.conftest import warehouse_rows

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "real_exports"
WORKBOOK = FIXTURES / "ЕГЭ по школам - Еврейская автономная область 2022-2024.xlsx"
WORKBOOK_XLS = WORKBOOK.with_suffix(".xls")
CONFIG = FIXTURES / "rcoi_ege_school_results_sheets.yaml"
SOURCE = "rcoi_ege_school_results_sheets"
YEARS = {"2022": "2021-2022", "2023": "2022-2023"}
MEASURES = {  # measure header (normalised) -> position in a value tuple
    "приняло участие": 0,
    "не преодолен min порог": 1,
    "высокобалльники (80-99 баллов)": 2,
    "получили 100 баллов": 3,
    "средний балл": 4,
}


def _norm(text: object) -> str:
    return " ".join(str(text).split()).lower()


@dataclass
class Sheet:
    schools: list[tuple[int, str, str]]  # (row, municipality, school name)
    results: dict[tuple[int, str], tuple]  # (row, subject header) -> (participants, below, 80-99, 100, mean)
    subtotals: dict[int, str]  # row -> «ВСЕГО…» or municipality


def read_sheet(path: Path, name: str) -> Sheet:
    """The sheet as a person reads it: the measure row, the subject above it, schools (no municipality in
    column A) under the last municipality row; empty counts are 0."""
    ws = openpyxl.load_workbook(path, data_only=True)[name]
    rows = list(ws.iter_rows(values_only=True))
    measure_row = next(i for i, r in enumerate(rows) if any(_norm(v) == "приняло участие" for v in r if v))
    subject_of, subject = {}, None
    for j, v in enumerate(rows[measure_row - 1]):
        subject = v if v else subject
        if rows[measure_row][j] and _norm(rows[measure_row][j]) in MEASURES:
            subject_of[j] = (subject.strip(), MEASURES[_norm(rows[measure_row][j])])
    sheet, municipality = Sheet([], {}, {}), None
    for i, r in enumerate(rows[measure_row + 2 :], start=measure_row + 3):  # skip the column-number row
        if r[0]:
            municipality = None if _norm(r[0]).startswith("всего") else r[0]
            sheet.subtotals[i] = r[0]
            continue
        if not r[1]:
            continue
        sheet.schools.append((i, municipality, r[1].strip()))
        cells: dict[str, list] = {}
        for j, (subj, k) in subject_of.items():
            cells.setdefault(subj, [None] * 5)[k] = r[j]
        for subj, values in cells.items():
            if any(v is not None for v in values):
                counts = [int(v or 0) for v in values[:4]]
                sheet.results[(i, subj)] = (*counts, values[4])
    return sheet


def write_registry(raw: Path, sheets: dict[str, Sheet]) -> dict[tuple[str, str], str]:
    """A registry of the workbook's schools for each of its school years, as a region keeps its own: made-up
    logins and ОГРН, the workbook's name as the short name. Returns (municipality, name) -> login."""
    logins: dict[tuple[str, str], str] = {}
    for sheet in sheets.values():
        for _, municipality, name in sheet.schools:
            logins.setdefault((municipality, name), f"sch79{len(logins) + 1:04d}")
    for spring, school_year in YEARS.items():
        folder = raw / "school_registry" / school_year
        folder.mkdir(parents=True)
        with (folder / f"Реестр ОО {school_year}.csv").open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(
                ["Логин ОО", "ОГРН", "Полное наименование ОО", "Краткое наименование", "Муниципальное образование"]
            )
            for _, municipality, name in sheets[spring].schools:
                login = logins[(municipality, name)]
                w.writerow([login, f"10279{login[-4:]}0000", f"{name}, {municipality}", name, municipality])
    return logins


@dataclass
class Loaded:
    settings: Settings
    config_dir: Path
    sheets: dict[str, Sheet]
    logins: dict[tuple[str, str], str]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        return warehouse_rows(self.settings, sql, params)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Loaded:
    base = tmp_path_factory.mktemp("workbooks")
    data, config = base / "data", base / "config"
    shutil.copytree(CONFIG_DIR, config)
    shutil.copy(CONFIG, config / "sources" / CONFIG.name)
    sheets = {name: read_sheet(WORKBOOK, name) for name in YEARS}
    logins = write_registry(data / "raw", sheets)
    target = data / "raw" / SOURCE / "архив"
    target.mkdir(parents=True)
    shutil.copy(WORKBOOK, target / WORKBOOK.name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_DATA_DIR", str(data))
        mp.setenv("EDUWH_CONFIG_DIR", str(config))
        mp.setenv("EDUWH_PUBLISH_TARGETS", "parquet")
        from pipelines.definitions import build_definitions
        from pipelines.runner import materialize_all

        with dg.DagsterInstance.ephemeral() as instance:
            runs = materialize_all(build_definitions(), instance, Settings(data))
        layouts = Loaded(Settings(data), config, sheets, logins)
        layouts.summaries = [s.message() for s in runs.summaries]
        yield layouts


def _subject_codes() -> dict[str, str]:
    with (PROJECT_ROOT / "dbt_project" / "seeds" / "subjects.csv").open(encoding="utf-8") as f:
        return {r["subject_name_in_source"]: r["subject_code"] for r in csv.DictReader(f)}


def test_every_school_row_of_both_result_sheets_reaches_school_year_results(loaded: Loaded):
    spec = load_source(CONFIG)
    codes = _subject_codes()
    for spring, school_year in YEARS.items():
        sheet = loaded.sheets[spring]
        names = {row: (m, n) for row, m, n in sheet.schools}
        raw = loaded.query(
            "select _source_row, subject, participants, below_minimum, high_80_99, score_100, mean_test_score, "
            "school_login, municipality from raw.rcoi_ege_school_results where _source = ? and school_year = ?",
            [SOURCE, school_year],
        )
        expected_raw = {}
        for (row, header), values in sheet.results.items():
            subject = spec.unpivot.key_values.get(_norm(header).replace('"', ""), header)
            expected_raw[(row, subject)] = values
        got_raw = {(r[0], r[1]): (*r[2:6], r[6]) for r in raw}
        assert got_raw.keys() == expected_raw.keys(), spring
        for key, values in expected_raw.items():
            assert got_raw[key][:4] == values[:4], key
            assert got_raw[key][4] == pytest.approx(values[4]), key
        # the municipality filled down from its group row; the school found by name in the registry
        assert {(r[0], r[8], r[7]) for r in raw} == {
            (row, m, loaded.logins[(m, n)]) for row, (m, n) in names.items() if any(k[0] == row for k in expected_raw)
        }
        mart = {
            (login, procedure): rest
            for login, procedure, *rest in loaded.query(
                "select school_login, procedure_id, participants, below_minimum_pct, high_80_99_count, "
                "score_100_count, mean_test_score from marts.school_year_results "
                "where school_year = ? and procedure_id like 'ege-%'",
                [school_year],
            )
        }
        expected_mart = {}
        for (row, subject), (n, below, high, hundred, mean) in expected_raw.items():
            code = codes[subject.lower()]  # every subject of the workbook is in the subjects seed
            login = loaded.logins[names[row]]
            expected_mart[(login, f"ege-11-{code}")] = [
                n,
                pytest.approx(100 * below / n, abs=0.0051) if n else None,  # the mart rounds to 2 places
                high,
                hundred,
                pytest.approx(mean, abs=0.0051) if mean is not None else None,
            ]
        assert len(expected_mart) == len(expected_raw)  # every school × subject row of the sheet
        assert mart.keys() == expected_mart.keys(), spring
        for key, values in expected_mart.items():
            assert mart[key] == values, key


def test_each_sheet_is_a_year_load_with_its_dropped_rows_and_the_applications_sheet_refused(loaded: Loaded):
    logged = loaded.query(
        "select school_year, status, rows_loaded, rows_rejected, rows_dropped, match_rate, message "
        "from ingest.load_log where source = ? order by 1",
        [SOURCE],
    )
    assert [(y, s) for y, s, *_ in logged] == [(y, "loaded") for y in sorted(YEARS.values())]
    for spring, (year, _, rows_loaded, rejected, dropped, rate, message) in zip(sorted(YEARS), logged, strict=True):
        sheet = loaded.sheets[spring]
        assert rows_loaded == len(sheet.results) and rejected == 0 and rate == 1.0
        # the region row, the municipalities' rows and the column-number row
        assert dropped == len(sheet.subtotals) + 1
        assert "лист «2024» не загружен" in message and "sheet '2024' refused" in message
    notes = [line for s in loaded.summaries for line in s.splitlines() if "note:" in line]
    assert len(notes) == 2 and all("лист «2024» не загружен" in n for n in notes)


def test_the_sensor_requests_the_years_of_the_result_sheets_only_and_nothing_loads_twice(loaded: Loaded):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_CONFIG_DIR", str(loaded.config_dir))
        specs = load_sources()
    seen = scan_raw_files(loaded.settings, specs).seen
    key = next(k for k in seen if k.startswith(f"{SOURCE}|"))
    assert seen[key][3] == sorted(YEARS.values())
    changed = scan_raw_files(loaded.settings, specs, {k: v for k, v in seen.items() if k != key}).changed
    assert changed == {y: [SOURCE] for y in sorted(YEARS.values())}
    for year in YEARS.values():
        assert load_school_year(specs[SOURCE], loaded.settings, year).unchanged


def test_the_totals_check_passes_on_the_real_sheets_and_names_an_altered_cell(tmp_path: Path):
    spec = load_source(CONFIG)
    table = read_export(spec, WORKBOOK, "2021-2022")
    # every numeric subtotal cell of the four count measures compared: the municipal rows of sheet 2022
    sheet = read_sheet(WORKBOOK, "2022")
    municipal = len(sheet.subtotals) - 1
    assert table.totals_checked == municipal * 11 * 4
    # one school cell altered: the municipality's subtotal no longer adds up, and the load of that year says where.
    # (openpyxl writes no cached values of formulas: the copy keeps the subtotals as the values Excel computed.)
    wb = openpyxl.load_workbook(WORKBOOK, data_only=True)
    unaltered = tmp_path / "unaltered.xlsx"
    wb.save(unaltered)
    assert read_export(spec, unaltered, "2021-2022").totals_checked == table.totals_checked
    ws = wb["2022"]
    row = sheet.schools[0][0]
    ws.cell(row, 5).value = (ws.cell(row, 5).value or 0) + 1  # Русский язык / приняло участие
    altered = tmp_path / "altered.xlsx"
    wb.save(altered)
    with pytest.raises(ExportReadError) as refused:
        read_export(spec, altered, "2021-2022")
    group_row = max(r for r in sheet.subtotals if r < row)
    assert refused.value.row == group_row and refused.value.column == "participants"
    assert f"лист «2022», строка {group_row}, «из них / Русский язык, чел. / приняло участие»" in str(refused.value)
    # the other year's sheet still reads
    assert read_export(spec, altered, "2022-2023").frame.height > 0


def test_the_regional_total_of_2023_differs_from_its_schools_by_one(tmp_path: Path):
    """The workbook's «ВСЕГО по региону» row is typed by hand; checked too (rows: [group, total]), 2023 is refused
    at row 10, where Обществознание «не преодолен min порог» says 186 and the schools sum to 187."""
    text = CONFIG.read_text(encoding="utf-8").replace("  rows: [group]", "  rows: [group, total]")
    config = tmp_path / CONFIG.name
    config.write_text(text, encoding="utf-8")
    spec = load_source(config)
    ws = openpyxl.load_workbook(WORKBOOK, data_only=True)["2023"]
    column = next(j for j in range(1, ws.max_column + 1) if ws.cell(7, j).value == "Обществознание, чел.") + 1
    sheet = read_sheet(WORKBOOK, "2023")
    schools = sum(ws.cell(r, column).value or 0 for r, _, _ in sheet.schools)
    assert (ws.cell(10, column).value, schools) == (186, 187)
    with pytest.raises(ExportReadError) as refused:
        read_export(spec, WORKBOOK, "2022-2023")
    assert refused.value.row == 10 and "в файле 186, сумма строк школ 187" in str(refused.value)
    assert read_export(spec, WORKBOOK, "2021-2022").totals_checked > 0  # 2022's regional row adds up


def test_refuse_workbook_refuses_on_the_applications_sheet(tmp_path: Path):
    text = CONFIG.read_text(encoding="utf-8").replace("on_unfit_sheet: skip_sheet", "on_unfit_sheet: refuse_workbook")
    config = tmp_path / CONFIG.name
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ExportReadError) as refused:
        read_export(load_source(config), WORKBOOK, "2021-2022")
    assert str(refused.value).split(": ", 1)[1].startswith("лист «2024»: не найдена строка заголовка")


def test_an_xls_workbook_reads_as_the_xlsx_does():
    spec = load_source(CONFIG)
    xlsx = read_export(spec, WORKBOOK, "2022-2023")
    xls = read_export(spec, WORKBOOK_XLS, "2022-2023")
    assert xls.headers == xlsx.headers and xls.dropped == xlsx.dropped and xls.refused_sheets == xlsx.refused_sheets
    a, b = (
        xlsx.frame.sort("_sheet_school_year", "_source_row", "subject"),
        xls.frame.sort("_sheet_school_year", "_source_row", "subject"),
    )
    text = ["_source_row", "municipality", "school_name", "subject", "participants", "below_minimum", "score_100"]
    assert a.select(text).rows() == b.select(text).rows()
    # xls keeps fewer digits of a float as text: the numbers agree
    means = zip(a["mean_test_score"].to_list(), b["mean_test_score"].to_list(), strict=True)
    assert all((x is None and y is None) or float(x) == pytest.approx(float(y), rel=1e-9) for x, y in means)


def test_the_first_rows_keep_excel_row_numbers():
    """Leading empty rows are kept: row numbers are those Excel shows (the header is on rows 6-8)."""
    table = read_export(load_source(CONFIG), WORKBOOK, "2021-2022")
    assert table.header_row == 6
    first = table.frame.filter(table.frame["_sheet_school_year"] == "2021-2022")["_source_row"].min()
    assert first == read_sheet(WORKBOOK, "2022").schools[0][0] == 12


def test_a_load_of_the_refused_sheets_year_is_quarantined_naming_the_sheet(loaded: Loaded):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_CONFIG_DIR", str(loaded.config_dir))
        spec = load_sources()[SOURCE]
    with pytest.raises(ContractViolation) as refused:
        load_school_year(spec, loaded.settings, "2023-2024")
    assert "лист «2024»" in refused.value.message


def test_the_readme_sheet_per_year_keys_are_those_of_the_tested_config():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### A new export layout is a config file", 1)[1]
    fragment = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[1])
    tested = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert fragment.pop("totals_check")["columns"] == tested["totals_check"]["columns"]
    assert {key: tested[key] for key in fragment} == fragment


def test_a_workbook_refused_whole_is_still_requested_for_the_years_its_sheets_name(tmp_path: Path):
    """With refuse_workbook, the sensor cannot read the workbook's years from its rows: it requests the years
    the sheet names give, so that each load refuses the workbook and says why (nothing is silently ignored)."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    text = CONFIG.read_text(encoding="utf-8").replace("on_unfit_sheet: skip_sheet", "on_unfit_sheet: refuse_workbook")
    (config / "sources" / CONFIG.name).write_text(text, encoding="utf-8")
    target = tmp_path / "data" / "raw" / SOURCE / "архив"
    target.mkdir(parents=True)
    shutil.copy(WORKBOOK_XLS, target / WORKBOOK_XLS.name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_CONFIG_DIR", str(config))
        specs = load_sources()
    changed = scan_raw_files(Settings(tmp_path / "data"), specs).changed
    assert changed == {y: [SOURCE] for y in ("2021-2022", "2022-2023", "2023-2024")}


def test_format_xls_and_a_workbook_under_the_other_extension_read_alike(tmp_path: Path):
    """calamine tells xls from xlsx by content: `format: xls` reads the .xls, and an .xlsx saved as .xls reads."""
    config = tmp_path / CONFIG.name
    config.write_text(CONFIG.read_text(encoding="utf-8").replace("format: xlsx", "format: xls"), encoding="utf-8")
    spec = load_source(config)
    assert spec.format == "xls"
    renamed = tmp_path / "выгрузка.xls"
    shutil.copy(WORKBOOK, renamed)
    for path in (WORKBOOK_XLS, renamed):
        table = read_export(spec, path, "2021-2022")
        assert table.frame.filter(table.frame["_sheet_school_year"] == "2021-2022").height == len(
            read_sheet(WORKBOOK, "2022").results
        )


def test_sheet_names_give_school_years_by_pattern_or_mapping(tmp_path: Path):
    from pipelines.lib.config_schema import ConfigError
    from pipelines.lib.sources import SheetsSpec

    spring = SheetsSpec(r"^ЕГЭ\s*(\d{4})$")
    assert [spring.school_year_of(n) for n in ("ЕГЭ 2023", "ЕГЭ2022", "2023", "ЕГЭ 2023 заявления")] == [
        "2022-2023",
        "2021-2022",
        None,
        None,
    ]
    school_year = SheetsSpec(r"^(\d{4}\s*[-/]\s*\d{4})$", name_is="school_year")
    assert [school_year.school_year_of(n) for n in ("2022-2023", "2022/2023", "2022-2024")] == [
        "2022-2023",
        "2022-2023",
        None,
    ]
    assert SheetsSpec(school_years={"Итоги ЕГЭ": "2022-2023"}).school_year_of("Итоги ЕГЭ") == "2022-2023"
    # the config says one way or the other, and only for workbooks
    base = CONFIG.read_text(encoding="utf-8")
    for old, new, error in [
        ("  name_is: spring ", "  school_years: {'2022': 2021-2022}\n  name_is: spring ", "either"),
        ("format: xlsx ", "format: csv ", "for Excel workbooks only"),
        ("on_unfit_sheet: skip_sheet", "on_unfit_sheet: skip", "skip_sheet"),
    ]:
        config = tmp_path / "bad.yaml"
        config.write_text(base.replace(old, new), encoding="utf-8")
        with pytest.raises(ConfigError) as bad:
            load_source(config)
        assert error in str(bad.value), (new, str(bad.value))
