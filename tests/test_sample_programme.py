"""Context and programme families of the sample region: real shapes and quirks, logins of the year, and the
monitoring-report survey figures reproduced from the raw answers."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest

from pipelines.sample_region import RegionParams, simulate_region
from pipelines.sample_region.model import DECLINING, IMPROVING, PERSISTENTLY_LOW, STABLE
from pipelines.sample_region.programme import write_programme_exports
from pipelines.sample_region.writers import write_school_registry, write_vpr_mark_statistics

from .conftest import SMALL_REGION

INN_WEIGHTS = [2, 4, 10, 3, 5, 9, 4, 6, 8]


class Generated:
    def __init__(self, root: Path, params: RegionParams):
        self.raw, self.truth_dir = root / "raw", root / "truth"
        self.truth = simulate_region(params)
        self.years = params.school_years
        write_school_registry(self.truth, self.raw)
        write_vpr_mark_statistics(self.truth, self.raw)
        self.files = write_programme_exports(self.truth, self.raw, self.truth_dir)
        self.quirks = json.loads((self.truth_dir / "programme_quirks.json").read_text(encoding="utf-8"))

    def one(self, folder: str, year: str) -> Path:
        [path] = (self.raw / folder / year).iterdir()
        return path

    def csv_rows(self, folder: str, year: str, encoding: str, delimiter: str = ";") -> list[list[str]]:
        with self.one(folder, year).open(encoding=encoding, newline="") as f:
            return list(csv.reader(f, delimiter=delimiter))

    def xlsx_rows(self, folder: str, year: str, sheet: str | None = None) -> list[tuple]:
        wb = openpyxl.load_workbook(self.one(folder, year), read_only=True)
        return list((wb[sheet] if sheet else wb.worksheets[0]).iter_rows(values_only=True))

    def registry(self, year: str) -> list[dict[str, str]]:
        with self.one("school_registry", year).open(encoding="utf-8-sig") as f:
            return list(csv.DictReader(f, delimiter=";"))


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Generated:
    return Generated(tmp_path_factory.mktemp("small"), SMALL_REGION)


@pytest.fixture(scope="module")
def default(tmp_path_factory) -> Generated:
    return Generated(tmp_path_factory.mktemp("default"), RegionParams())


def test_every_family_written_for_every_year(small: Generated):
    for folder in (
        "isbsh_scores", "social_passports", "fisoko_school_context", "official_school_lists", "vpr_bias_markers",
        "teacher_diagnostics", "olympiad_results", "network_programmes",
    ):  # fmt: skip
        assert sorted(p.name for p in (small.raw / folder).iterdir()) == small.years
    # the survey year 2022-2023 is the small region's first year: register for it and every later year
    assert sorted(p.name for p in (small.raw / "mentoring_register").iterdir()) == small.years
    assert sorted(p.name for p in (small.raw / "survey_shnor_mentoring").iterdir()) == ["2022-2023", "2023-2024"]
    assert sorted(p.name for p in (small.raw / "survey_mentor_schools").iterdir()) == ["2022-2023"]
    assert len(small.files) == 8 * 3 + 3 + 2 + 1


def test_registry_has_inn_and_previous_login(small: Generated, default: Generated):
    rows = small.registry(small.years[0])
    assert list(rows[0]) == [
        "Логин ОО", "ОГРН", "ИНН", "Полное наименование ОО", "Краткое наименование", "Муниципальное образование",
        "Тип ОО", "Тип местности", "Прежний логин ОО",
    ]  # fmt: skip
    inn = {r["Логин ОО"]: r["ИНН"] for r in rows}
    assert len(set(inn.values())) == len(inn) == 36
    for v in inn.values():
        assert len(v) == 10 and v.isdigit() and v.startswith("47")
        assert sum(int(d) * w for d, w in zip(v, INN_WEIGHTS, strict=False)) % 11 % 10 == int(v[-1])
    for year in small.years:
        assert {r["Логин ОО"]: r["ИНН"] for r in small.registry(year)} == inn
        assert all(r["Прежний логин ОО"] == "" for r in small.registry(year))
    assert small.truth.schools["renumbered_login"].null_count() == 36  # only 3 years: nobody renumbered

    truth = default.truth
    [(old, new, year)] = (
        truth.schools.filter(pl.col("renumbered_login").is_not_null())
        .select("school_login", "renumbered_login", "renumbered_in_year")
        .rows()
    )
    assert (new, year) == ("sch470121", "2023-2024")
    assert truth.summary()["renumbered"] == [{"school_login": old, "renumbered_login": new, "renumbered_in_year": year}]
    school = truth.schools.filter(pl.col("school_login") == old).row(0, named=True)
    assert school["profile"] == STABLE and school["renamed_in_year"] is None
    before = {r["Логин ОО"]: r for r in default.registry("2022-2023")}[old]
    for y in ("2023-2024", "2024-2025"):
        rows = {r["Логин ОО"]: r for r in default.registry(y)}
        assert old not in rows and len(rows) == 120
        assert rows[new]["Прежний логин ОО"] == old
        assert (rows[new]["ОГРН"], rows[new]["ИНН"]) == (before["ОГРН"], before["ИНН"])
        assert sum(r["Прежний логин ОО"] != "" for r in rows.values()) == 1
    assert before["Прежний логин ОО"] == ""
    # ВПР truth and the ВПР export carry the login of the year
    logins = truth.vpr_marks.group_by("school_year").agg(pl.col("school_login").is_in([old, new]).sum().alias("k"))
    assert truth.vpr_marks.filter(pl.col("school_login") == new)["school_year"].unique().sort().to_list() == [
        "2023-2024",
        "2024-2025",
    ]
    assert logins["k"].min() == 10  # the school keeps its 10 procedures every year
    for y, expected in (("2022-2023", old), ("2023-2024", new)):
        path = next((default.raw / "vpr_mark_statistics" / y).glob("*.xlsx"))
        found = {
            r[4] for r in list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))[4:]
        }
        assert expected in found and ({old, new} - {expected}).isdisjoint(found)
        assert len(found) == 120


def _logins(g: Generated, folder: str, year: str) -> list[str]:
    path = g.one(folder, year)
    if path.suffix == ".csv":
        encoding = "cp1251" if folder in ("fisoko_school_context", "network_programmes") else "utf-8-sig"
        delimiter = "," if folder.startswith("survey") else ";"
        rows = g.csv_rows(folder, year, encoding, delimiter)
        col = rows[0].index("Логин ОО") if "Логин ОО" in rows[0] else rows[0].index("Логин")
        return [r[col] for r in rows[1:]]
    wb = openpyxl.load_workbook(path, read_only=True)
    logins = []
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        for c, h in enumerate(rows[0]):
            if h and "Логин" in h:
                logins += [r[c] for r in rows[1:]]
    return logins


def test_families_use_the_login_of_the_year(default: Generated):
    folders = [p.name for p in default.raw.iterdir() if p.name not in ("school_registry", "vpr_mark_statistics")]
    unknown = {
        (default.quirks[f]["unknown_school"]["school_year"], f): default.quirks[f]["unknown_school"]["school_login"]
        for f in ("isbsh_scores", "olympiad_results")
    }
    assert unknown == {("2021-2022", "isbsh_scores"): "sch471021", ("2024-2025", "olympiad_results"): "sch471022"}
    new = "sch470121"
    seen_new = set()
    for year in default.years:
        registry = {r["Логин ОО"] for r in default.registry(year)}
        for folder in folders:
            if not (default.raw / folder / year).exists():
                continue
            logins = _logins(default, folder, year)
            strangers = [x for x in logins if x not in registry]
            assert strangers == ([unknown[(year, folder)]] if (year, folder) in unknown else []), (folder, year)
            if new in logins:
                seen_new.add(folder)
    for folder in (
        "isbsh_scores",
        "social_passports",
        "fisoko_school_context",
        "teacher_diagnostics",
        "network_programmes",
    ):
        assert folder in seen_new


def test_isbsh(small: Generated):
    year = small.years[1]
    raw = small.one("isbsh_scores", year).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + "Логин ОО;Наименование ОО;Учебный год;ИСБШ\r\n".encode())
    rows = small.csv_rows("isbsh_scores", year, "utf-8-sig")[1:]
    assert all(r[2] == year and "," in r[3] and "." not in r[3] for r in rows)
    values = {r[0]: float(r[3].replace(",", ".")) for r in rows}
    assert len(values) == 37 and small.quirks["isbsh_scores"]["unknown_school"] == {
        "school_year": year,
        "school_login": "sch470937",
    }
    context = pl.read_parquet(small.truth_dir / "school_context.parquet").filter(pl.col("school_year") == year)
    assert all(values[r[0]] == r[1] for r in context.select("school_login", "isbsh").iter_rows())
    level = dict(small.truth.schools.select("school_login", "social_level").iter_rows())
    mean = {lv: np.mean([v for k, v in values.items() if level.get(k) == lv]) for lv in ("low", "medium", "high")}
    assert mean["low"] < -0.8 < mean["medium"] < 0.5 < mean["high"]
    assert all(-2.5 <= v <= 2.5 for v in values.values())
    assert len(small.csv_rows("isbsh_scores", small.years[0], "utf-8-sig")) == 37  # no stranger in other years


def test_social_passports_and_their_quirky_year(small: Generated):
    header = [
        "Логин ОО", "Наименование ОО", "Число обучающихся",
        "Доля обучающихся, оба родителя которых имеют высшее образование, %", "Доля обучающихся из неполных семей, %",
        "Доля обучающихся, состоящих на профилактическом учёте, %",
        "Доля обучающихся, для которых русский язык не является родным, %", "Доля обучающихся с ОВЗ, %",
        "Доля обучающихся из малоимущих семей, %",
    ]  # fmt: skip
    first = small.xlsx_rows("social_passports", small.years[0])
    assert list(first[0]) == header and len(first) == 37
    quirky = small.xlsx_rows("social_passports", small.years[1])
    assert small.quirks["social_passports"]["school_year"] == small.years[1]
    assert list(quirky[0]) == header[:4] + [header[5], header[4], header[6]] + [
        "Доля обучающихся\nс ОВЗ, %",
        "Доля обучающихся\nиз малоимущих семей, %",
    ]
    assert list(small.xlsx_rows("social_passports", small.years[2])[0]) == header
    truth = pl.read_parquet(small.truth_dir / "school_context.parquet").filter(pl.col("school_year") == small.years[1])
    by_login = {r["school_login"]: r for r in truth.iter_rows(named=True)}
    for row in quirky[1:]:
        t = by_login[row[0]]
        assert (row[2], row[4], row[5], row[8]) == (
            t["pupils"],
            t["preventive_register"],
            t["single_parent"],
            t["low_income"],
        )
    level = dict(small.truth.schools.select("school_login", "social_level").iter_rows())
    share = {lv: np.mean([r[3] for r in first[1:] if level[r[0]] == lv]) for lv in ("low", "high")}
    poor = {lv: np.mean([r[8] for r in first[1:] if level[r[0]] == lv]) for lv in ("low", "high")}
    assert share["low"] < 15 and share["high"] > 30 and poor["low"] > 25 and poor["high"] < 15


def test_fisoko_context(small: Generated):
    raw = small.one("fisoko_school_context", small.years[0]).read_bytes()
    assert raw.startswith(
        "Логин;Тип населённого пункта;Численность населения;Коррекционная школа;Число обучающихся".encode("cp1251")
    )
    rural = dict(small.truth.schools.select("school_login", "is_rural").iter_rows())
    context = pl.read_parquet(small.truth_dir / "school_context.parquet")
    for year in small.years:
        rows = small.csv_rows("fisoko_school_context", year, "cp1251")[1:]
        assert len(rows) == 36
        for login, kind, size, correctional, pupils in rows:
            assert kind in (("сельский населённый пункт", "посёлок городского типа") if rural[login] else ("город",))
            assert size in ("до 1 тыс.", "1–10 тыс.", "10–50 тыс.", "50–100 тыс.", "100 тыс. – 1 млн", "более 1 млн")
            assert correctional in ("Да", "Нет") and int(pupils) > 0
        assert sum(r[3] == "Да" for r in rows) == 2
        passport = {r[0]: r[2] for r in small.xlsx_rows("social_passports", year)[1:]}
        assert all(int(r[4]) == passport[r[0]] for r in rows)
    assert context.height == 36 * 3


def test_official_lists(default: Generated):
    header = ("Логин ОО", "Наименование ОО", "Перечень", "Дата включения", "Дата исключения", "Основание")
    profile = dict(default.truth.schools.select("school_login", "profile").iter_rows())
    assert default.quirks["official_school_lists"]["dates_as_text_years"] == ["2021-2022", "2023-2024"]
    files = {y: default.xlsx_rows("official_school_lists", y) for y in default.years}
    assert all(rows[0] == header for rows in files.values())

    def date(v):
        return v.date() if isinstance(v, dt.datetime) else (dt.datetime.strptime(v, "%d.%m.%Y").date() if v else None)

    for year, rows in files.items():
        text = year in ("2021-2022", "2023-2024")
        assert all(isinstance(r[3], str) == text for r in rows[1:])
        assert all(date(r[3]) <= dt.date(int(year[:4]), 9, 1) for r in rows[1:])
    last = {(r[0], r[2]): r for r in files["2024-2025"][1:]}
    shnor = {login: r for (login, lst), r in last.items() if lst == "ШНОР"}
    assert {profile[x] for x in shnor} == {PERSISTENTLY_LOW, IMPROVING, DECLINING}
    for login, r in shnor.items():
        if profile[login] == PERSISTENTLY_LOW:
            assert date(r[3]) == dt.date(2020, 9, 1) and r[4] is None
        elif profile[login] == IMPROVING:
            assert (date(r[3]), date(r[4]), r[5]) == (
                dt.date(2020, 9, 1),
                dt.date(2023, 9, 1),
                "переход в эффективный режим работы",
            )
        else:
            assert date(r[3]) == dt.date(2023, 9, 1) and r[4] is None
    improving = [x for x in shnor if profile[x] == IMPROVING]
    before = {r[0]: r for r in files["2022-2023"][1:] if r[2] == "ШНОР"}
    assert all(before[x][4] is None and before[x][5] == "низкие образовательные результаты" for x in improving)
    assert not any(profile[x] == DECLINING for x in before)
    nsu = [login for (login, lst) in last if lst == "НСУ"]
    level = dict(default.truth.schools.select("school_login", "social_level").iter_rows())
    low = [x for x, lv in level.items() if lv == "low"]
    assert {level[x] for x in nsu} == {"low"} and 2 <= len(nsu) < len(low)
    status = pl.read_parquet(default.truth_dir / "official_list_status.parquet")
    exits = status.filter(pl.col("status") == "exited")
    assert sorted(exits["school_login"]) == sorted(improving) and set(exits["school_year"]) == {"2023-2024"}
    memberships = pl.read_parquet(default.truth_dir / "official_lists.parquet")
    assert memberships.height == len(files["2024-2025"]) - 1


def test_bias_markers(small: Generated):
    header = ("Год", "Логин ОО", "Наименование ОО", "4 РУ", "4 МА", "5 РУ", "5 МА", "Количество признаков")
    truth = pl.read_parquet(small.truth_dir / "bias_markers.parquet")
    profile = dict(small.truth.schools.select("school_login", "profile").iter_rows())
    assert {profile[x] for x in truth["first_login"]} == {STABLE}
    assert small.quirks["vpr_bias_markers"]["duplicated_block_year"] == "2023-2024"
    for year in small.years:
        spring = int(year[-4:])
        rows = small.xlsx_rows("vpr_bias_markers", year)
        assert rows[0] == header
        data = rows[1:]
        expected = truth.filter(pl.col("school_year") == year)
        assert 2 <= expected.height <= 4
        if year == "2023-2024":
            assert data[: len(data) // 2] == data[len(data) // 2 :] and len(data) == 2 * expected.height
            data = data[: expected.height]
        assert len(data) == expected.height
        for row, t in zip(data, expected.iter_rows(named=True), strict=True):
            marks = row[3:7]
            assert row[:2] == (spring, t["school_login"])
            assert [m or 0 for m in marks] == [t["m_4_ru"], t["m_4_ma"], t["m_5_ru"], t["m_5_ma"]]
            assert row[7] == sum(m or 0 for m in marks) == t["marker_count"] >= 1
            assert (None in marks) == (spring % 2 == 1 and row[7] < 4) and (0 in marks) == (
                spring % 2 == 0 and row[7] < 4
            )


def _split(v: str) -> list[str]:
    return [x for x in v.split(";") if x]


def test_shnor_survey_reproduces_monitoring_report(default: Generated):
    expected = json.loads((default.truth_dir / "survey_expected.json").read_text(encoding="utf-8"))
    assert expected["survey_year"] == "2022-2023"
    raw = default.one("survey_shnor_mentoring", "2022-2023").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and raw.startswith(b'"')
    rows = default.csv_rows("survey_shnor_mentoring", "2022-2023", "utf-8", ",")
    header, data = rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    q_support = "Оцените поддержку вашей школы школой-наставником в решении школьных проблем (от 1 до 5)"
    q_sat = "Удовлетворены ли вы совместной работой со школой-наставником?"
    q_mot = "Чем руководствовалась ваша школа при включении в работу по сетевому наставничеству?"
    q_exp = "Насколько оправдались ваши ожидания от совместной работы со школой-партнёром?"
    assert header == ["Отметка времени", "Логин ОО", "Роль респондента", q_mot, q_exp, q_support, q_sat,
                      "Какие проблемы возникли в ходе реализации проекта?"]  # fmt: skip
    assert len(data) == 7
    dt.datetime.strptime(data[0]["Отметка времени"], "%Y/%m/%d %H:%M:%S")
    support = [int(r[q_support]) for r in data]
    assert round(sum(support) / 7, 2) == 3.71 and sorted(support) == [3, 3, 3, 4, 4, 4, 5]
    assert Counter(r[q_sat] for r in data) == {"Да": 1, "Скорее да, чем нет": 5, "Скорее нет, чем да": 1}
    assert Counter(m for r in data for m in _split(r[q_mot])) == {
        "Распоряжение органа управления образованием": 6,
        "Получить помощь от коллег из школ с высокими результатами": 3,
        "Ожидание поддержки в развитии профессиональных компетенций": 2,
        "Стремление к совместному решению новых задач": 1,
    }
    assert {r[q_exp] for r in data} == {"Скорее да, чем нет"}
    assert any("\n" in r["Какие проблемы возникли в ходе реализации проекта?"] for r in data)
    assert any('"' in r["Какие проблемы возникли в ходе реализации проекта?"] for r in data)
    assert {r["Роль респондента"] for r in data} <= {"Руководитель", "Заместитель руководителя"}
    wave = expected["shnor_wave_1"]
    assert [r["Логин ОО"] for r in data] == wave["respondents"]
    assert wave["questions"][q_support]["mean"] == 3.71 and wave["questions"][q_sat]["top2_share"] == round(6 / 7, 4)
    profile = dict(default.truth.schools.select("school_login", "profile").iter_rows())
    lists = default.xlsx_rows("official_school_lists", "2022-2023")
    on_shnor = {r[0] for r in lists[1:] if r[2] == "ШНОР" and r[4] is None}
    assert set(wave["respondents"]) <= on_shnor and {profile[x] for x in wave["respondents"]} <= {
        IMPROVING,
        PERSISTENTLY_LOW,
    }

    second = default.csv_rows("survey_shnor_mentoring", "2023-2024", "utf-8", ",")
    assert q_exp not in second[0] and q_support not in second[0]
    assert "Оцените поддержку школы со стороны школы-наставника (1–5)" in second[0]
    assert "Планируете ли вы продолжить сотрудничество?" in second[0]
    w2 = expected["shnor_wave_2"]
    assert w2["n"] == len(second) - 1 and w2["school_year"] == "2023-2024"
    values = [int(r[second[0].index("Оцените поддержку школы со стороны школы-наставника (1–5)")]) for r in second[1:]]
    assert w2["questions"]["Оцените поддержку школы со стороны школы-наставника (1–5)"]["mean"] == round(
        np.mean(values), 2
    )


def test_mentor_survey_reproduces_monitoring_report(default: Generated):
    rows = default.xlsx_rows("survey_mentor_schools", "2022-2023")
    assert rows[0] == (
        "Время создания", "Логин ОО", "Роль респондента", "Оцените эффективность проекта (от 1 до 5)",
        "Оцените степень комфортности работы в рамках проекта (от 1 до 5)",
        "Оцените вашу удовлетворённость работой в проекте (от 1 до 5)", "Ваши рекомендации",
    )  # fmt: skip
    data = rows[1:]
    assert len(data) == 3 and all(isinstance(r[0], dt.datetime) for r in data)
    means = [round(float(np.mean([r[c] for r in data])), 2) for c in (3, 4, 5)]
    assert means == [3.67, 3.33, 3.67]
    expected = json.loads((default.truth_dir / "survey_expected.json").read_text(encoding="utf-8"))
    mentors = expected["mentor_schools"]["respondents"]
    assert [r[1] for r in data] == mentors
    schools = default.truth.schools.filter(pl.col("school_login").is_in(mentors))
    assert set(schools["profile"]) == {STABLE}
    quality = default.truth.vpr_marks.group_by("school_login").agg(
        ((pl.col("mark_4") + pl.col("mark_5")).sum() / pl.col("participants").sum()).alias("q")
    )
    q = dict(quality.iter_rows())
    assert min(q[m] for m in mentors) > np.quantile(list(q.values()), 0.8)


def test_mentoring_register(default: Generated):
    expected = json.loads((default.truth_dir / "survey_expected.json").read_text(encoding="utf-8"))
    respondents = expected["shnor_wave_1"]["respondents"]
    mentors = expected["mentor_schools"]["respondents"]
    assert sorted(p.name for p in (default.raw / "mentoring_register").iterdir()) == default.years[2:]
    pairs = default.xlsx_rows("mentoring_register", "2022-2023", "Сетевые пары")
    assert pairs[0] == ("Логин ШНОР", "ШНОР", "Логин школы-партнёра", "Школа-партнёр", "Дата соглашения", "Модель")
    assert sorted(r[0] for r in pairs[1:]) == sorted(respondents) and {r[2] for r in pairs[1:]} <= set(mentors)
    assert {r[5] for r in pairs[1:]} <= {"концентрированная", "распределённая"}
    teachers = default.xlsx_rows("mentoring_register", "2022-2023", "Пары педагогов")
    assert teachers[0] == ("Предмет", "Логин школы наставника", "Логин школы наставляемого", "Дата начала",
                           "Дата окончания", "Статус", "Причина")  # fmt: skip
    counts = Counter((r[0], r[1], r[5]) for r in teachers[1:])
    m0, m1, m2 = mentors
    assert counts == {
        ("Русский язык", m0, "проведено"): 7, ("Физика", m0, "проведено"): 3, ("Математика", m1, "проведено"): 6,
        ("Биология", m1, "проведено"): 3, ("Обществознание", m2, "проведено"): 5, ("Химия", m1, "не проведено"): 4,
    }  # fmt: skip
    assert {r[6] for r in teachers[1:] if r[5] == "не проведено"} == {"длительная болезнь наставника"}
    assert {r[2] for r in teachers[1:]} <= set(respondents)
    events = default.xlsx_rows("mentoring_register", "2022-2023", "Мероприятия")
    assert events[0] == ("Дата", "Тип мероприятия", "Тема", "Число участников", "Число школ")
    kinds = {
        "вебинар",
        "семинар",
        "мастер-класс",
        "стажировка",
        "психологическая гостиная",
        "конференция",
        "фестиваль",
        "конкурс",
    }
    assert {r[1] for r in events[1:]} <= kinds and all(r[4] <= 10 for r in events[1:])
    statuses = Counter(
        r[5] for y in default.years[3:] for r in default.xlsx_rows("mentoring_register", y, "Пары педагогов")[1:]
    )
    assert statuses["запланировано"] > 0 and statuses["проведено"] > 0
    truth = pl.read_parquet(default.truth_dir / "mentoring_pairs.parquet")
    assert truth.filter(pl.col("school_year") == "2022-2023").height == 28


def test_teacher_diagnostics(default: Generated):
    header = ("Логин ОО", "Предмет", "Продиагностировано педагогов", "Выявлены профессиональные дефициты")
    truth = pl.read_parquet(default.truth_dir / "teacher_diagnostics.parquet")
    for year in default.years:
        rows = default.xlsx_rows("teacher_diagnostics", year)
        assert rows[0] == header and len(rows) == 1 + 120 * 7
        assert all(0 <= r[3] <= r[2] for r in rows[1:])
    share = truth.group_by("school_year", "on_shnor", "mentored").agg(
        (pl.col("with_deficits").sum() / pl.col("diagnosed").sum()).alias("s")
    )
    s = {(r[0], r[1], r[2]): r[3] for r in share.iter_rows()}
    assert s[("2020-2021", True, False)] > s[("2020-2021", False, False)] + 0.2
    respondents = json.loads((default.truth_dir / "survey_expected.json").read_text(encoding="utf-8"))["shnor_wave_1"]
    mentored = truth.filter(pl.col("first_login").is_in(respondents["respondent_first_logins"]))
    by_year = dict(
        mentored.group_by("school_year")
        .agg(pl.col("with_deficits").sum() / pl.col("diagnosed").sum())
        .sort("school_year")
        .iter_rows()
    )
    assert by_year["2021-2022"] > by_year["2022-2023"] > by_year["2023-2024"] > by_year["2024-2025"] - 0.05


def test_olympiads_and_network_programmes(small: Generated):
    header = ["Логин ОО", "Предмет", "Этап", "Участников", "Победителей", "Призёров"]
    assert small.one("olympiad_results", small.years[0]).read_bytes().startswith(b"\xef\xbb\xbf")
    for year in small.years:
        rows = small.csv_rows("olympiad_results", year, "utf-8-sig")
        assert rows[0] == header
        for r in rows[1:]:
            assert r[2] in ("школьный", "муниципальный", "региональный")
            assert int(r[4]) + int(r[5]) <= int(r[3]) and int(r[3]) > 0
    unknown = small.quirks["olympiad_results"]["unknown_school"]
    assert unknown == {"school_year": "2024-2025", "school_login": "sch470938"}
    assert (
        sum(r[0] == unknown["school_login"] for r in small.csv_rows("olympiad_results", "2024-2025", "utf-8-sig")) == 1
    )

    share = []
    for year in small.years:
        rows = small.csv_rows("network_programmes", year, "cp1251")
        assert rows[0] == ["Логин ОО", "Реализует образовательные программы в сетевой форме", "Число сетевых программ"]
        assert all((r[1] == "Нет") == (r[2] == "0") and r[1] in ("Да", "Нет") for r in rows[1:])
        share.append(np.mean([r[1] == "Да" for r in rows[1:]]))
    assert share[0] < share[1] < share[2]


def test_programme_exports_are_deterministic(small: Generated, tmp_path: Path):
    files = write_programme_exports(small.truth, tmp_path / "raw", tmp_path / "truth")
    assert [p.relative_to(tmp_path / "raw") for p in files] == [p.relative_to(small.raw) for p in small.files]
    for a, b in zip(files, small.files, strict=True):
        if a.suffix == ".csv":
            assert a.read_bytes() == b.read_bytes()
        else:
            wa, wb = (openpyxl.load_workbook(p, read_only=True) for p in (a, b))
            assert [list(ws.iter_rows(values_only=True)) for ws in wa.worksheets] == [
                list(ws.iter_rows(values_only=True)) for ws in wb.worksheets
            ]
    for name in ("official_lists", "bias_markers", "mentoring_pairs", "school_context", "olympiads"):
        assert pl.read_parquet(tmp_path / "truth" / f"{name}.parquet").equals(
            pl.read_parquet(small.truth_dir / f"{name}.parquet")
        )
