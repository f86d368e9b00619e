"""Exports in layouts the sample generator never writes reach the marts through configuration alone.

A copy of the session's loaded region gets a new school year and, in a temporary configuration directory
(EDUWH_CONFIG_DIR), the configs a region would write:
- the README's own example (`vpr_marks_region_portal`, family vpr_mark_statistics), taken from the README;
- an open-data ЕГЭ export that names schools by ОГРН only (family rcoi_ege_school_results);
- a Forms/Yandex-style questionnaire (any file name) with both respondent groups in one export, schools by full
  name as people type them, word scales, line breaks in headers;
- a bias-markers list covering several school years in one workbook (a duplicated year block, "no marker" empty
  one year and 0 the next);
- the shipped ИСБШ source with the new year's file split in two (one per municipality).
The pipeline runs once (ingest, dbt, publishing); every expected figure is computed here from the files written.
"""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import xlsxwriter
import yaml

from pipelines.lib.ingest import ContractViolation, check_export, load_school_year
from pipelines.lib.raw_files import scan_raw_files
from pipelines.lib.readers import detect_encoding
from pipelines.lib.sources import load_source, load_sources
from pipelines.settings import CONFIG_DIR, PROJECT_ROOT, Settings
from tests.conftest import warehouse_rows

PORTAL_ROWS = [  # (row index into the registry, grade, subject, participants, share of «2» as written)
    (0, 5, "Математика", 25, "12,5"),
    (0, 5, "Русский язык", 24, "8,33"),
    (1, 5, "Математика", 31, "0"),
]
OGRN_ROWS = [  # (registry index, subject, participants, below minimum, 80-99, 100, mean score as written)
    (2, "Русский язык", 40, 2, 7, 1, "71,4"),
    (2, "Математика профильная", 22, 3, 2, 0, "58,25"),
    (3, "Физика", 9, 1, 0, 0, "49"),
]
AMBIGUOUS = (10, 11)  # registry rows given one full name in the new year
SATISFIED = ["Полностью удовлетворены", "Скорее удовлетворены", "Скорее не удовлетворены", "Не удовлетворены"]
GRADES = ["Отлично", "Хорошо", "Удовлетворительно", "Неудовлетворительно", "Плохо"]


def next_year(school_year: str) -> str:
    a, b = (int(x) for x in school_year.split("-"))
    return f"{a + 1}-{b + 1}"


def readme_example_config() -> str:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### A new export layout is a config file", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)


def write_xlsx(path: Path, rows: list[list], sheet: str = "Лист1") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(sheet)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                ws.write(i, j, value)
    wb.close()
    return path


def write_csv(path: Path, rows: list[list], separator: str = ";", encoding: str = "utf-8-sig") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=separator, quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return path


def typed_name(full_name: str, variant: int) -> str:
    """How a respondent types the school's name: the registry's full name with quotes, case, ё and the
    organisational form written differently."""
    name = full_name
    if variant == 1:
        name = name.replace("Муниципальное бюджетное общеобразовательное учреждение", "МБОУ")
        name = name.replace("Муниципальное общеобразовательное учреждение", "МОУ")
    if variant == 2:
        name = name.replace("«", '"').replace("»", '"').replace("ё", "е").upper()
    if variant == 3:
        name = name.replace("№", "№ ").replace("  ", " ")
    return name


@dataclass
class NewLayouts:
    settings: Settings
    config_dir: Path
    new_year: str
    registry: list[dict]
    survey: list[dict] = field(default_factory=list)  # respondent -> group and answers as written
    bias_rows: dict[str, list[tuple]] = field(default_factory=dict)  # school year -> (login, markers…, count)
    isbsh: dict[str, float] = field(default_factory=dict)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        return warehouse_rows(self.settings, sql, params)


def _registry(warehouse: Path, school_year: str) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select school_login, ogrn, inn, school_name, municipality from raw.school_registry "
            "where school_year = ? order by school_login",
            [school_year],
        ).fetchall()
    finally:
        con.close()
    return [dict(zip(["login", "ogrn", "inn", "name", "municipality"], r, strict=True)) for r in rows]


def _write_configs(config: Path) -> None:
    sources = config / "sources"
    (sources / "vpr_marks_region_portal.yaml").write_text(readme_example_config(), encoding="utf-8")
    (sources / "ege_open_data.yaml").write_text(
        """
name: ege_open_data
title_ru: ЕГЭ. Открытые данные по ОО
family: rcoi_ege_school_results
folder: ege_open_data
file_glob: "*.csv"
format: csv
csv: {encoding: auto, separator: ";"}
contract_version: 1
registry_match: {by: ogrn, column: ogrn}
columns:
  ogrn: {type: string, regex: '^\\d{13}$', headers: ["ОГРН"]}
  subject: {type: string, headers: ["Предмет"]}
  participants: {type: int, min: 0, headers: ["Число участников"]}
  below_minimum: {type: int, min: 0, headers: ["Не набрали минимальный балл"]}
  high_80_99: {type: int, min: 0, headers: ["Набрали 80–99 баллов"]}
  score_100: {type: int, min: 0, headers: ["Набрали 100 баллов"]}
  mean_test_score: {type: float, min: 0, max: 100, headers: ["Средний тестовый балл"]}
unique:
  - [ogrn, subject]
""",
        encoding="utf-8",
    )
    (sources / "анкета мониторинга 2026.yaml").write_text(
        """
name: network_monitoring_forms
title_ru: Мониторинг сетевого взаимодействия (Яндекс Формы)
family: survey_answers
folder: network_monitoring
file_glob: "*.csv"
format: csv
csv: {encoding: auto, separator: ","}
contract_version: 1
constants:
  questionnaire: network_monitoring
registry_match: {by: name, column: school_name}
columns:
  submitted_at: {type: string, headers: ["Время создания"]}
  school_name: {type: string, headers: ["Полное наименование вашей организации (как в уставе)"]}
  project_status: {type: string, headers: ["Статус ОО в проекте"]}
survey:
  questionnaire: network_monitoring
  group_column: project_status
  groups:
    школа с НОР: shnor
    школа-наставник: mentor
  questions:
    - code: cooperation_satisfaction
      type: scale
      scale: satisfied4
      texts: ["Насколько вы удовлетворены взаимодействием со школой-партнёром?"]
    - code: project_grade
      type: scale
      scale: grade5_words
      texts: ["Оцените проект в целом"]
    - code: mentor_help
      type: scale
      scale: likert5
      required: false
      texts: ["Оцените помощь школы-наставника (от 1 до 5)"]
""",
        encoding="utf-8",
    )
    (sources / "vpr_bias_markers_lists.yaml").write_text(
        """
name: vpr_bias_markers_lists
title_ru: Признаки необъективности ВПР (перечень за несколько лет)
family: vpr_bias_markers
folder: vpr_bias_lists
file_glob: "*.xlsx"
format: xlsx
contract_version: 1
drop_exact_duplicates: true
multi_year: {column: exam_year, format: spring, first_school_year: 2020-2021, last_school_year: 2030-2031}
registry_match: {column: school_login}
columns:
  exam_year: {type: int, headers: ["Год ВПР"]}
  school_login: {type: string, headers: ["Логин ОО"]}
  marker_4_ru: {type: int, required: false, min: 0, max: 1, headers: ["4 РУ"]}
  marker_4_ma: {type: int, required: false, min: 0, max: 1, headers: ["4 МА"]}
  marker_5_ru: {type: int, required: false, min: 0, max: 1, headers: ["5 РУ"]}
  marker_5_ma: {type: int, required: false, min: 0, max: 1, headers: ["5 МА"]}
  marker_count: {type: int, min: 0, max: 20, headers: ["Количество признаков"]}
unique:
  - [school_login]
""",
        encoding="utf-8",
    )


def _write_exports(layouts: NewLayouts, loaded_years: list[str]) -> None:
    raw, year, reg = layouts.settings.raw_dir, layouts.new_year, layouts.registry
    spring = int(year[-4:])
    # the registry of the new year: last year's, where two schools of different towns now share one full name
    # (as «МОУ «СОШ №2»» does in many regions): a name that fits both must never be guessed
    last_registry = next((raw / "school_registry" / loaded_years[-1]).glob("*.csv"))
    encoding = detect_encoding(last_registry, "auto")
    with last_registry.open(encoding=encoding, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    name = rows[0].index("Полное наименование ОО")
    rows[1 + AMBIGUOUS[1]][name] = rows[1 + AMBIGUOUS[0]][name]
    write_csv(raw / "school_registry" / year / f"Реестр ОО {year}.csv", rows, encoding=encoding)

    portal = [["Региональный портал оценки качества"], [f"ВПР {spring}"], []]
    portal.append(["Предмет", "Параллель", "Код ОО", "Количество\nобучающихся", '% "2"', "Примечание"])
    portal += [[subject, grade, reg[i]["login"], n, share, ""] for i, grade, subject, n, share in PORTAL_ROWS]
    write_xlsx(raw / "vpr_marks_region_portal" / year / "Портал ВПР.xlsx", portal)

    ogrn = [
        [
            "ОГРН",
            "Предмет",
            "Число участников",
            "Не набрали минимальный балл",
            "Набрали 80–99 баллов",
            "Набрали 100 баллов",
            "Средний тестовый балл",
        ]
    ]
    ogrn += [[reg[i]["ogrn"], s, n, b, h, c, m] for i, s, n, b, h, c, m in OGRN_ROWS]
    write_csv(raw / "ege_open_data" / year / "data-ege-2026.csv", ogrn)

    # the survey: respondents of both groups in one export; mentor schools do not see the mentor_help question
    header = [
        "Время создания",
        "Полное наименование вашей организации\n(как в уставе)",
        "Статус ОО в проекте",
        "Насколько вы удовлетворены взаимодействием\nсо школой-партнёром?",
        "Оцените проект в целом",
        "Оцените помощь школы-наставника (от 1 до 5)",
    ]
    answers = [  # (registry index, name variant, group as written, satisfaction, grade, mentor help)
        (0, 0, "школа с НОР", SATISFIED[0], GRADES[0], "5"),
        (1, 1, "Школа с НОР", SATISFIED[1], GRADES[1], "4"),
        (2, 2, "школа с НОР", SATISFIED[1], GRADES[2], "2"),
        (3, 3, "школа с НОР", SATISFIED[3], GRADES[1], "4"),
        (4, 1, "школа-наставник", SATISFIED[0], GRADES[0], ""),
        (5, 0, "школа-наставник", SATISFIED[2], GRADES[3], ""),
        (6, 2, "Школа-наставник", SATISFIED[1], GRADES[4], ""),
    ]
    rows = [header]
    for n, (i, variant, group, sat, grade, help_) in enumerate(answers):
        rows.append([f"2026-03-{10 + n:02d} 12:00:00", typed_name(reg[i]["name"], variant), group, sat, grade, help_])
        layouts.survey.append(
            {
                "login": reg[i]["login"],
                "group": "shnor" if "НОР" in group else "mentor",
                "cooperation_satisfaction": sat,
                "project_grade": grade,
                "mentor_help": help_,
            }
        )
    write_csv(raw / "network_monitoring" / year / "Ответы на форму (1).csv", rows, separator=",", encoding="utf-8")

    # a bias list over two loaded years and the new one, schools not in the shipped bias files; the middle
    # year's block duplicated exactly; "no marker" empty in one year, 0 in another
    years = [*loaded_years[-2:], year]
    flagged = {r[0] for r in layouts.query("select distinct school_login from raw.vpr_bias_markers")}
    free = [r["login"] for r in reg if r["login"] not in flagged]
    header = ["Год ВПР", "Логин ОО", "4 РУ", "4 МА", "5 РУ", "5 МА", "Количество признаков"]
    blocks = {
        years[0]: [(free[0], 1, None, None, 1, 2), (free[1], None, 1, None, None, 1)],
        years[1]: [(free[2], 1, 1, 0, 0, 2), (free[0], 0, 0, 1, 0, 1)],
        years[2]: [(free[3], None, None, None, 1, 1)],
    }
    rows = [["Перечень ОО с признаками необъективных результатов ВПР"], header]
    for y in years:
        block = [[int(y[-4:]), *b] for b in blocks[y]]
        rows += block + (block if y == years[1] else [])
        layouts.bias_rows[y] = blocks[y]
    write_xlsx(raw / "vpr_bias_lists" / f"{years[0][:4]}-{spring}" / "Признаки необъективности.xlsx", rows)

    # ИСБШ of the new year in two files, one per municipality
    municipalities = sorted({r["municipality"] for r in reg})
    for k, part in enumerate([municipalities[:1], municipalities[1:]]):
        rows = [["Логин ОО", "Наименование ОО", "Учебный год", "ИСБШ"]]
        for j, r in enumerate(x for x in reg if x["municipality"] in part):
            score = round(-1 + 0.013 * (j + 7 * k), 3)
            layouts.isbsh[r["login"]] = score
            rows.append([r["login"], r["name"], year, str(score).replace(".", ",")])
        write_csv(raw / "isbsh_scores" / year / f"ИСБШ {year} часть {k + 1}.csv", rows)


@pytest.fixture(scope="module")
def new_layouts(loaded_region, tmp_path_factory) -> NewLayouts:
    region, _, _ = loaded_region
    base = tmp_path_factory.mktemp("new-layouts")
    data = base / "data"
    shutil.copytree(
        region.settings.data_dir, data, ignore=shutil.ignore_patterns("marts", "gx", "quarantine", "staging")
    )
    config = base / "config"
    shutil.copytree(CONFIG_DIR, config)
    _write_configs(config)
    loaded_years = sorted(p.name for p in (data / "raw" / "school_registry").iterdir())
    new_year = next_year(loaded_years[-1])
    layouts = NewLayouts(Settings(data), config, new_year, _registry(data / "warehouse.duckdb", loaded_years[-1]))
    _write_exports(layouts, loaded_years)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_DATA_DIR", str(data))
        mp.setenv("EDUWH_CONFIG_DIR", str(config))
        from pipelines.definitions import build_definitions
        from pipelines.runner import materialize_all

        with dg.DagsterInstance.ephemeral() as instance:
            materialize_all(build_definitions(), instance, layouts.settings)
        yield layouts


def test_readme_example_rows_arrive_in_school_year_results(new_layouts: NewLayouts):
    reg = new_layouts.registry
    for i, grade, subject, participants, share in PORTAL_ROWS:
        code = {"Математика": "ma", "Русский язык": "ru"}[subject]
        got = new_layouts.query(
            "select participants, mark_2_pct, source_level from marts.school_year_results "
            "where school_year = ? and school_login = ? and procedure_id = ?",
            [new_layouts.new_year, reg[i]["login"], f"vpr-{grade}-{code}"],
        )
        assert got == [(participants, pytest.approx(float(share.replace(",", "."))), "school")]


def test_schools_named_by_ogrn_only_reach_the_marts_with_their_login(new_layouts: NewLayouts):
    reg = new_layouts.registry
    logged = new_layouts.query(
        "select match_method, match_rate, rows_loaded from ingest.load_log "
        "where source = 'ege_open_data' and status = 'loaded'"
    )
    assert logged == [("ogrn", 1.0, len(OGRN_ROWS))]
    codes = {"Русский язык": "ru", "Математика профильная": "map", "Физика": "ph"}
    for i, subject, participants, below, high, hundred, mean in OGRN_ROWS:
        got = new_layouts.query(
            "select participants, below_minimum_pct, high_80_99_count, score_100_count, mean_test_score "
            "from marts.school_year_results where school_year = ? and school_login = ? and procedure_id = ?",
            [new_layouts.new_year, reg[i]["login"], f"ege-11-{codes[subject]}"],
        )
        expected = (
            participants,
            pytest.approx(100 * below / participants, abs=0.005),  # the mart rounds to 2 places
            high,
            hundred,
            pytest.approx(float(mean.replace(",", "."))),
        )
        assert got == [expected], subject


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 2)


def test_a_forms_survey_with_two_groups_and_word_scales_reaches_survey_results(new_layouts: NewLayouts):
    scales = yaml.safe_load((new_layouts.config_dir / "survey_scales.yaml").read_text(encoding="utf-8"))
    score = {
        "cooperation_satisfaction": scales["satisfied4"]["answers"],
        "project_grade": scales["grade5_words"]["answers"],
        "mentor_help": {str(k): v for k, v in scales["likert5"]["answers"].items()},
    }
    top = {"cooperation_satisfaction": SATISFIED[:2], "project_grade": GRADES[:2], "mentor_help": ["5", "4"]}
    rows = {
        (q, g): (n, mean, top_pct)
        for q, g, n, mean, top_pct in new_layouts.query(
            "select question_code, respondent_group, n_respondents, mean_score, top_box_pct from marts.survey_results "
            "where questionnaire = 'network_monitoring' and school_year = ?",
            [new_layouts.new_year],
        )
    }
    for question in score:
        for group in ("all", "shnor", "mentor"):
            answered = [r[question] for r in new_layouts.survey if r[question] and group in ("all", r["group"])]
            if not answered:  # mentor schools were not asked about mentor help: no row, and no error
                assert (question, group) not in rows
                continue
            values = [score[question][a] for a in answered]
            top_pct = round(100 * sum(a in top[question] for a in answered) / len(answered), 2)
            assert rows[(question, group)] == (len(answered), _mean(values), top_pct), (question, group)
    # every respondent found its school by name: the rows carry the registry login
    logins = new_layouts.query(
        "select distinct school_login from raw.survey_answers where questionnaire = 'network_monitoring' order by 1"
    )
    assert [r[0] for r in logins] == sorted({r["login"] for r in new_layouts.survey})
    assert new_layouts.query(
        "select match_method, match_rate from ingest.load_log where source = 'network_monitoring_forms'"
    ) == [("name", 1.0)]


def test_a_multi_year_list_loads_each_year_with_its_quirks(new_layouts: NewLayouts):
    for year, rows in new_layouts.bias_rows.items():
        got = new_layouts.query(
            "select school_login, marker_4_ru, marker_4_ma, marker_5_ru, marker_5_ma, marker_count "
            "from staging.stg_lists__vpr_bias_markers where school_year = ? and school_login in "
            "(select school_login from raw.vpr_bias_markers where _source = 'vpr_bias_markers_lists') order by 1",
            [year],
        )
        expected = sorted(tuple(0 if v is None else v for v in r) for r in rows)
        assert got == expected, year
    logged = new_layouts.query(
        "select school_year, rows_loaded, rows_dropped from ingest.load_log "
        "where source = 'vpr_bias_markers_lists' and status = 'loaded' order by 1"
    )
    years = sorted(new_layouts.bias_rows)
    # the duplicated block of the middle year is dropped (counted in each year's load, as read from the file)
    assert [(y, n) for y, n, _ in logged] == [(y, len(new_layouts.bias_rows[y])) for y in years]
    assert {d for _, _, d in logged} == {len(new_layouts.bias_rows[years[1]])}


def test_two_files_in_a_folder_load_as_one_load(new_layouts: NewLayouts):
    loads = new_layouts.query(
        "select load_id, files, rows_loaded from ingest.load_log "
        "where source = 'isbsh_scores' and school_year = ? and status = 'loaded'",
        [new_layouts.new_year],
    )
    assert len(loads) == 1 and loads[0][1:] == (2, len(new_layouts.isbsh))
    files = new_layouts.query("select file_path from ingest.load_files where load_id = ? order by 1", [loads[0][0]])
    assert [Path(f).name for (f,) in files] == [f"ИСБШ {new_layouts.new_year} часть {k}.csv" for k in (1, 2)]
    got = dict(
        new_layouts.query(
            "select school_login, isbsh_score from staging.stg_context__isbsh_scores where school_year = ?",
            [new_layouts.new_year],
        )
    )
    assert got == pytest.approx(new_layouts.isbsh)


def test_a_new_questionnaire_needs_no_second_copy_of_its_options(new_layouts: NewLayouts):
    """The options the marts use are the questionnaire's and survey_scales.yaml's, derived at ingest."""
    spec = load_source(new_layouts.config_dir / "sources" / "анкета мониторинга 2026.yaml")
    assert spec.family == "survey_answers"
    options = new_layouts.query(
        "select answer_text, is_top_box from staging.stg_surveys__answer_options "
        "where questionnaire = 'network_monitoring' and question_code = 'cooperation_satisfaction' order by option_order"
    )
    assert options == [(a, a in SATISFIED[:2]) for a in SATISFIED]


def test_the_readme_example_config_reads_its_layout(tmp_path: Path):
    """The README's config, tried on a file with `check_export` as the README says (no warehouse)."""
    config = tmp_path / "vpr_marks_region_portal.yaml"
    config.write_text(readme_example_config(), encoding="utf-8")
    spec = load_source(config)
    assert spec.family == "vpr_mark_statistics" and spec.table == "raw.vpr_mark_statistics"
    path = write_xlsx(
        tmp_path / "portal.xlsx",
        [
            ["Региональный портал оценки качества"],
            ["ВПР 2025"],
            ["Выгрузка от 01.06.2025"],
            ["Предмет", "Параллель", "Код ОО", "Количество\nобучающихся", '% "2"', "Примечание"],
            ["Математика", 5, "sch470001", 25, "12,5", ""],
            ["Русский язык", 5, "sch470001", 24, 8.33, "пересдача"],
        ],
    )
    frame, result, load = check_export(spec, path, "2024-2025", tmp_path, {"sch470001"})
    assert result.success, [v.describe() for v in result.violations]
    assert load.headers["participants"] == "Количество\nобучающихся"
    assert load.ignored == ("Примечание",)
    assert frame["participants"].to_list() == [25, 24]
    assert frame["mark_2_pct"].to_list() == [12.5, 8.33]
    assert frame["_source_row"].to_list() == [5, 6]


# ------------------------------------------------------------------------------------------------ bad input


def _refused(layouts: NewLayouts, source: str, table: str, bad: list[Path]) -> str:
    """Load `source` for the new year with the `bad` files in place: it must be refused with nothing changed;
    the files are then removed. Returns the report."""
    year = layouts.new_year
    before = layouts.query(f"select * from {table} order by all")
    log_before = layouts.query("select count(*) from ingest.load_log where source = ?", [source])[0][0]
    spec = load_source(next(p for p in (layouts.config_dir / "sources").glob("*.yaml") if _name(p) == source))
    try:
        with pytest.raises(ContractViolation) as refused:
            load_school_year(spec, layouts.settings, year)
    finally:
        for path in bad:
            path.unlink()
    assert layouts.query(f"select * from {table} order by all") == before
    statuses = layouts.query(
        "select status from ingest.load_log where source = ? order by finished_at desc, started_at desc", [source]
    )
    assert len(statuses) == log_before + 1 and statuses[0] == ("quarantined",)
    report = Path(f"{refused.value.quarantine_path}.report.txt").read_text(encoding="utf-8")
    assert report.startswith(refused.value.message.splitlines()[0])
    return refused.value.message


def _name(config: Path) -> str:
    return yaml.safe_load(config.read_text(encoding="utf-8"))["name"]


def test_ambiguous_and_unknown_school_names_are_refused_with_the_nearest_names(new_layouts: NewLayouts):
    reg, year = new_layouts.registry, new_layouts.new_year
    header = [
        "Время создания",
        "Полное наименование вашей организации (как в уставе)",
        "Статус ОО в проекте",
        "Насколько вы удовлетворены взаимодействием со школой-партнёром?",
        "Оцените проект в целом",
    ]
    shared_name = reg[AMBIGUOUS[0]]["name"]
    unknown = typed_name(reg[7]["name"], 1).replace("№", "№ 1")  # a school number the registry does not have
    rows = [
        header,
        ["2026-04-01 10:00:00", shared_name, "школа с НОР", SATISFIED[0], GRADES[0]],
        ["2026-04-01 11:00:00", unknown, "школа-наставник", SATISFIED[1], GRADES[1]],
        ["2026-04-01 12:00:00", reg[8]["name"], "школа-наставник", SATISFIED[1], GRADES[1]],
    ]
    bad = write_csv(new_layouts.settings.raw_dir / "network_monitoring" / year / "Ответы (2).csv", rows, ",", "utf-8")
    message = _refused(new_layouts, "network_monitoring_forms", "raw.survey_answers", [bad])
    logins = sorted(reg[i]["login"] for i in AMBIGUOUS)
    assert f"«{shared_name}» (строка/row 2)" in message
    assert f"fits several registry schools: {', '.join(logins)}" in message
    unknown_note = next(line for line in message.splitlines() if f"«{unknown}» (строка/row 3)" in line)
    assert "nearest: " in unknown_note and reg[7]["name"] in unknown_note.split("nearest: ")[1]
    # the load read both files of the folder: the file and row of each violation are named
    assert "файл/file Ответы (2).csv, строка/row 2" in message


def test_a_year_outside_a_multi_year_sources_years_is_refused_naming_the_row(new_layouts: NewLayouts):
    header = ["Год ВПР", "Логин ОО", "4 РУ", "4 МА", "5 РУ", "5 МА", "Количество признаков"]
    login = new_layouts.registry[20]["login"]
    bad = write_xlsx(
        new_layouts.settings.raw_dir / "vpr_bias_lists" / "архив" / "Признаки 2019.xlsx",
        [header, [2026, login, 1, None, None, None, 1], [2019, login, 1, None, None, None, 1]],
    )
    message = _refused(new_layouts, "vpr_bias_markers_lists", "raw.vpr_bias_markers", [bad])
    assert "«Год ВПР» (exam_year): учебный год не распознан или вне лет источника (2020-2021 … 2030-2031)" in message
    assert "файл/file Признаки 2019.xlsx, строка/row 3: '2019'" in message


def test_two_files_of_a_folder_with_the_same_school_are_refused_naming_both(new_layouts: NewLayouts):
    year, first = new_layouts.new_year, new_layouts.registry[0]
    rows = [["Логин ОО", "Наименование ОО", "Учебный год", "ИСБШ"], [first["login"], first["name"], year, "0,5"]]
    bad = write_csv(new_layouts.settings.raw_dir / "isbsh_scores" / year / f"ИСБШ {year} дополнение.csv", rows)
    message = _refused(new_layouts, "isbsh_scores", "raw.isbsh_scores", [bad])
    assert "сочетание значений повторяется" in message
    login = first["login"]
    assert f"файл/file ИСБШ {year} дополнение.csv, строка/row 2: '{login}'" in message
    assert re.search(rf"файл/file ИСБШ {year} часть \d\.csv, строка/row \d+: '{login}'", message)
    assert "Файлы загружаются вместе: ни один из 3 не загружен" in message


def test_the_sensor_requests_each_year_of_a_changed_multi_year_file_and_nothing_loads_twice(new_layouts: NewLayouts):
    specs = load_sources()  # the fixture's configuration (EDUWH_CONFIG_DIR)
    settings, years = new_layouts.settings, sorted(new_layouts.bias_rows)
    seen = scan_raw_files(settings, specs).seen
    assert not scan_raw_files(settings, specs, seen).changed  # nothing new since the last look
    multi_year_file = next(k for k in seen if k.startswith("vpr_bias_markers_lists|"))
    changed = scan_raw_files(settings, specs, {k: v for k, v in seen.items() if k != multi_year_file}).changed
    assert changed == {year: ["vpr_bias_markers_lists"] for year in years}
    # loaded already: the same files under the same contract and registry load nothing, by year and by folder
    for year in years:
        assert load_school_year(specs["vpr_bias_markers_lists"], settings, year).unchanged
    again = load_school_year(specs["isbsh_scores"], settings, new_layouts.new_year)
    assert again.unchanged and again.file_path == settings.raw_dir / "isbsh_scores" / new_layouts.new_year
