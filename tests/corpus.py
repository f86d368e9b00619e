"""Helpers of the bad-input corpus (tests/test_bad_input_corpus.py): tiny good exports of each source, written
here in the exact layout of its config, the writers (XLSX with xlsxwriter, CSV with an explicit encoding),
a region template (registry and the good file already loaded) copied into one data directory per case, and
snapshots of what the warehouse holds."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import xlsxwriter

from pipelines.lib.ingest import load_school_year
from pipelines.lib.sources import SourceSpec, load_sources
from pipelines.settings import Settings

SPECS = load_sources()
YEAR = "2023-2024"
SPRING = 2024
LOGINS = [f"sch4700{i:02d}" for i in range(1, 31)]  # the registry of YEAR: 30 schools
UNKNOWN = "sch479999"  # in no registry

Cell = object
Rows = list[list[Cell]]


# ----------------------------------------------------------------------------------------------- writers


def csv_bytes(header: Sequence[Cell], rows: Rows, *, encoding: str, sep: str = ";", eol: str = "\r\n") -> bytes:
    """A CSV as the region's exports look: fields quoted only when they must be."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    w.writerows(["" if v is None else v for v in r] for r in rows)
    return buf.getvalue().encode(encoding)


@dataclass(frozen=True)
class Sheet:
    name: str
    cells: Rows  # row by row from A1; None = empty cell
    merges: tuple[
        tuple[int, int, int, int, Cell], ...
    ] = ()  # (first row, first col, last row, last col, value), 0-based


def xlsx_bytes(*sheets: Sheet) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    date_fmt = wb.add_format({"num_format": "dd.mm.yyyy"})
    head = wb.add_format({"bold": True, "text_wrap": True, "align": "center", "valign": "vcenter"})
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.name)
        for r, row in enumerate(sheet.cells):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, dt.date):
                    ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), date_fmt)
                elif isinstance(v, str):
                    ws.write_string(r, c, v)
                else:
                    ws.write_number(r, c, v)
        for r1, c1, r2, c2, v in sheet.merges:
            ws.merge_range(r1, c1, r2, c2, v, head)
    wb.close()
    return buf.getvalue()


def table_sheet(name: str, header: Sequence[Cell], rows: Rows, titles: Sequence[str] = ()) -> Sheet:
    """Title rows (one cell each), then the header, then the rows."""
    return Sheet(name, [[t] for t in titles] + [list(header)] + [list(r) for r in rows])


# ----------------------------------------------------------------------------------------------- exports


@dataclass(frozen=True)
class Export:
    """A source's file: its name, header and rows, and how it is written. `first_row` is the line (1-based, as
    a person sees it) of the first data row."""

    source: str
    name: str
    header: list[Cell]
    rows: Rows
    write: Callable[[Export], bytes]
    first_row: int = 2
    encoding: str | None = None  # of a CSV
    extra: dict = field(default_factory=dict)

    def variant(self, *, header: Sequence[Cell] | None = None, rows: Rows | None = None, **extra) -> Export:
        return Export(
            self.source,
            self.name,
            list(self.header if header is None else header),
            [list(r) for r in (self.rows if rows is None else rows)],
            self.write,
            self.first_row,
            self.encoding,
            {**self.extra, **extra},
        )

    def data(self) -> bytes:
        return self.write(self)

    def line(self, i: int) -> int:
        """The file line of data row i (0-based)."""
        return self.first_row + i

    def col(self, header: str) -> int:
        return self.header.index(header)

    def with_cell(self, i: int, header: str, value: Cell) -> Export:
        rows = [list(r) for r in self.rows]
        rows[i][self.col(header)] = value
        return self.variant(rows=rows)

    def column(self, header: str) -> list[Cell]:
        return [r[self.col(header)] for r in self.rows]

    def without(self, header: str) -> Export:
        j = self.col(header)
        return self.variant(header=self.header[:j] + self.header[j + 1 :], rows=[r[:j] + r[j + 1 :] for r in self.rows])

    def renamed(self, old: str, new: str) -> Export:
        return self.variant(header=[new if h == old else h for h in self.header])

    def reordered(self, order: Sequence[int], header: Sequence[str] | None = None) -> Export:
        """Columns in another order (file column k is old column order[k]), optionally under other headers."""
        shown = [self.header[j] for j in order] if header is None else list(header)
        return self.variant(header=shown, rows=[[r[j] for j in order] for r in self.rows])

    def with_column(self, header: str, values: Sequence[Cell]) -> Export:
        return self.variant(
            header=[*self.header, header], rows=[[*r, v] for r, v in zip(self.rows, values, strict=True)]
        )

    def truncated(self, keep: str) -> bytes:
        """The file cut inside its last line: every row but the last, then `keep` (the start of the last line)."""
        encoding = self.extra.get("encoding", self.encoding)
        return self.variant(rows=self.rows[:-1]).data() + keep.encode(encoding)

    @property
    def spec(self) -> SourceSpec:
        return SPECS[self.source]


def _csv(sep: str = ";", eol: str = "\r\n") -> Callable[[Export], bytes]:
    def write(e: Export) -> bytes:
        return csv_bytes(e.header, e.rows, encoding=e.extra.get("encoding", e.encoding), sep=sep, eol=eol)

    return write


def _xlsx(sheet: str = "Лист1", titles: Sequence[str] = ()) -> Callable[[Export], bytes]:
    def write(e: Export) -> bytes:
        return xlsx_bytes(table_sheet(e.extra.get("sheet", sheet), e.header, e.rows, titles))

    return write


REGISTRY = Export(
    "school_registry",
    "Реестр ОО 2023-2024.csv",
    ["Логин ОО", "ОГРН", "Полное наименование ОО", "Муниципальное образование", "Тип местности"],
    [
        [login, f"10278000000{i:02d}", f"МОУ «СОШ №{i}»", "Озёрский район" if i <= 15 else "Лесной район", "городская"]
        for i, login in enumerate(LOGINS, start=1)
    ],
    _csv(),
    encoding="utf-8-sig",
)

VPR_TITLES = ("Статистика по отметкам", "ВПР 2024")
VPR_MARKS = Export(
    "vpr_mark_statistics",
    "ВПР 2024 статистика по отметкам.xlsx",
    ["Год", "Класс", "Предмет", "Муниципалитет", "Логин", "ОО", "Кол-во участников", "2", "3", "4", "5"],
    [
        [SPRING, 4, "Русский язык", "Озёрский район", "sch470001", "СОШ №1", 25, 20.0, 40.0, 28.0, 12.0],
        [SPRING, 4, "Математика", "Озёрский район", "sch470001", "СОШ №1", 24, 12.5, 37.5, 37.5, 12.5],
        [SPRING, 5, "Математика", "Озёрский район", "sch470002", "СОШ №2", 7, 0, 57.14, 28.57, 14.29],
        [SPRING, 5, "Русский язык", "Лесной район", "sch470016", "СОШ №16", 18, 5.56, 38.89, 38.89, 16.66],
    ],
    _xlsx(titles=VPR_TITLES),
    first_row=len(VPR_TITLES) + 2,
)

VPR_PUPILS = Export(
    "vpr_pupil_results",
    "ВПР 2024 результаты участников.csv",
    ["Учебный год", "Класс", "Код предмета", "ОО", "Код ученика", "Балл", "Отметка"],
    [
        [YEAR, 4, "РУ", "sch470001", "4700010001", 31, "4"],
        [YEAR, 4, "МА", "sch470001", "4700010001", 12, "3"],
        [YEAR, 4, "РУ", "sch470001", "4700010002", 25, "3"],
        [YEAR, 5, "МА", "sch470002", "4700020001", 18, "5"],
        [YEAR, 5, "РУ", "sch470002", "4700020001", 40, "4"],
        [YEAR, 5, "МА", "sch470016", "4700160001", 5, "2"],
    ],
    _csv(),
    encoding="cp1251",
)

OGE_PUPILS = Export(
    "oge_pupil_results",
    "ОГЭ 2024 результаты участников.csv",
    [
        "Год",
        "Логин ОО",
        "Код участника",
        "Предмет",
        "Первичный балл",
        "Баллы по геометрии",
        "Баллы за грамотность",
        "Отметка",
    ],
    [
        [SPRING, "sch470001", "9100000001", "Математика", 17, 5, None, 4],
        [SPRING, "sch470001", "9100000001", "Русский язык", 28, None, 9, 4],
        [SPRING, "sch470002", "9100000002", "Математика", 6, 1, None, 2],
        [SPRING, "sch470016", "9100000003", "Русский язык", 33, None, 12, 5],
    ],
    _csv(eol="\n"),
    encoding="utf-8-sig",
)

ISBSH = Export(
    "isbsh_scores",
    "ИСБШ 2023-2024.csv",
    ["Логин ОО", "Наименование ОО", "Учебный год", "ИСБШ"],
    [
        ["sch470001", "СОШ №1", YEAR, "0,42"],
        ["sch470002", "СОШ №2", YEAR, "-1,30"],
        ["sch470003", "СОШ №3", YEAR, "2,05"],
        ["sch470016", "СОШ №16", YEAR, "-0,70"],
    ],
    _csv(),
    encoding="utf-8-sig",
)

OLYMPIADS = Export(
    "olympiad_results",
    "Олимпиады 2023-2024.csv",
    ["Логин ОО", "Предмет", "Этап", "Участников", "Победителей", "Призёров"],
    [
        ["sch470001", "Математика", "школьный", 12, 1, 3],
        ["sch470001", "Русский язык", "муниципальный", 4, 0, 1],
        ["sch470002", "Физика", "школьный", 7, 1, 0],
        ["sch470004", "Химия", "региональный", 2, 0, 1],
    ],
    _csv(),
    encoding="utf-8",
)

FISOKO = Export(
    "fisoko_school_context",
    "Контекстные данные ОО 2023-2024.csv",
    ["Логин", "Тип населённого пункта", "Численность населения", "Коррекционная школа", "Число обучающихся"],
    [
        ["sch470001", "город", "от 100 до 500 тыс.", "Нет", 812],
        ["sch470002", "посёлок городского типа", "до 10 тыс.", "Нет", 240],
        ["sch470003", "сельский населённый пункт", "до 1 тыс.", "Да", 57],
    ],
    _csv(),
    encoding="cp1251",
)

PASSPORT_HEADER = [
    "Логин ОО",
    "Наименование ОО",
    "Число обучающихся",
    "Доля обучающихся, оба родителя которых имеют высшее образование, %",
    "Доля обучающихся из неполных семей, %",
    "Доля обучающихся, состоящих на профилактическом учёте, %",
    "Доля обучающихся, для которых русский язык не является родным, %",
    "Доля обучающихся с ОВЗ, %",
    "Доля обучающихся из малоимущих семей, %",
]
PASSPORTS = Export(
    "social_passports",
    "Социальные паспорта 2023-2024.xlsx",
    PASSPORT_HEADER,
    [
        ["sch470001", "СОШ №1", 812, 41.5, 18.2, 1.1, 3.0, 2.4, 7.5],
        ["sch470002", "СОШ №2", 240, 22.0, 25.4, 2.5, 0.0, 4.1, 15.0],
        ["sch470003", "СОШ №3", 57, 10.5, 30.0, 3.5, 12.3, 7.0, 28.1],
    ],
    _xlsx(),
)

BIAS_MARKERS = Export(
    "vpr_bias_markers",
    "Признаки необъективности ВПР 2024.xlsx",
    ["Год", "Логин ОО", "Наименование ОО", "4 РУ", "4 МА", "5 РУ", "5 МА", "Количество признаков"],
    [
        [SPRING, "sch470001", "СОШ №1", 1, 0, 0, 1, 2],
        [SPRING, "sch470002", "СОШ №2", None, 1, None, None, 1],
        [SPRING, "sch470003", "СОШ №3", 1, 1, 1, 1, 4],
        [SPRING, "sch470016", "СОШ №16", 0, 0, 1, 0, 1],
    ],
    _xlsx(titles=("Перечень ОО с признаками необъективных результатов ВПР 2024",)),
    first_row=3,
)

LISTS = Export(
    "official_school_lists",
    "Перечни ШНОР и НСУ на 2023-2024.xlsx",
    ["Логин ОО", "Наименование ОО", "Перечень", "Дата включения", "Дата исключения", "Основание"],
    [
        ["sch470001", "СОШ №1", "ШНОР", dt.date(2021, 9, 1), dt.date(2023, 9, 1), "приказ №12"],
        ["sch470002", "СОШ №2", "ШНОР", "01.09.2022", None, "приказ №40"],
        ["sch470002", "СОШ №2", "НСУ", dt.date(2023, 9, 1), None, None],
        ["sch470016", "СОШ №16", "НСУ", "01.09.2021", "01.09.2023", "приказ №12"],
    ],
    _xlsx(),
)

SHNOR_QUESTIONS = {
    "motives": "Чем руководствовалась ваша школа при включении в работу по сетевому наставничеству?",
    "mentor_support": "Оцените поддержку школы со стороны школы-наставника (1–5)",
    "satisfaction": "Удовлетворены ли вы совместной работой со школой-наставником?",
    "continue_cooperation": "Планируете ли вы продолжить сотрудничество?",
    "problems": "Какие проблемы возникли в ходе реализации проекта?",
}
SURVEY_SHNOR = Export(
    "survey_shnor_mentoring",
    "Анкета ШНОР 2023-2024 (ответы).csv",
    ["Отметка времени", "Логин ОО", "Роль респондента", *SHNOR_QUESTIONS.values()],
    [
        [
            "2024.03.01 10:15:00",
            "sch470001",
            "директор",
            "Распоряжение органа управления образованием; Стремление к совместному решению новых задач",
            "4",
            "Скорее да, чем нет",
            "Да",
            "Нехватка времени",
        ],
        [
            "2024.03.02 11:00:00",
            "sch470002",
            "завуч",
            "Получить помощь от коллег из школ с высокими результатами",
            "5",
            "Да",
            "Да",
            None,
        ],
        [
            "2024.03.03 09:30:00",
            "sch470016",
            "директор",
            "Распоряжение органа управления образованием",
            "3",
            "Нет",
            "Нет",
            "",
        ],
    ],
    _csv(sep=",", eol="\n"),
    encoding="utf-8",
)

# The mentoring register: one workbook, three sheets, three sources (mentoring_network_pairs is tested here).
PAIRS_HEADER = ["Логин ШНОР", "ШНОР", "Логин школы-партнёра", "Школа-партнёр", "Дата соглашения", "Модель"]
TEACHER_PAIRS = table_sheet(
    "Пары педагогов",
    ["Предмет", "Логин школы наставника", "Логин школы наставляемого", "Дата начала", "Дата окончания", "Статус"],
    [["Математика", "sch470003", "sch470001", dt.date(2023, 10, 1), None, "проведено"]],
)
EVENTS = table_sheet(
    "Мероприятия",
    ["Дата", "Тип мероприятия", "Тема", "Число участников", "Число школ"],
    [[dt.date(2023, 11, 15), "вебинар", "Формирующее оценивание", 45, 12]],
)


def _register(e: Export) -> bytes:
    pairs = table_sheet(e.extra.get("sheet", "Сетевые пары"), e.header, e.rows)
    return xlsx_bytes(pairs, TEACHER_PAIRS, EVENTS)


REGISTER = Export(
    "mentoring_network_pairs",
    "Реестр наставничества 2023-2024.xlsx",
    PAIRS_HEADER,
    [
        ["sch470001", "СОШ №1", "sch470003", "СОШ №3", dt.date(2023, 9, 15), "концентрированная"],
        ["sch470002", "СОШ №2", "sch470003", "СОШ №3", "20.09.2023", "распределённая"],
        ["sch470016", "СОШ №16", "sch470017", "СОШ №17", None, "концентрированная"],
    ],
    _register,
)

# РЦОИ ОГЭ report: two title rows and an empty one, a 3-level header (rows 4-6: identification columns merged
# over three rows; «Из них» over all subjects; each subject over its four metrics), municipality cells merged
# over their schools, «Итого по муниципалитету» after each block and «Всего по региону» at the end.
RCOI_SUBJECTS = ("Математика", "Русский язык")
RCOI_METRICS = ("Приняли участие", "Получили «2»", "Получили «4» и «5»", "Средний балл")
RCOI_SCHOOLS = {  # municipality -> [(school, login, {subject: (participants, mark 2, marks 4-5, mean)})]
    "Озёрский район": [
        ("СОШ №1", "sch470001", {"Математика": (20, 2, 11, 3.6), "Русский язык": (20, 1, 13, 3.8)}),
        ("СОШ №2", "sch470002", {"Математика": (9, 3, 2, 3.0), "Русский язык": (9, 0, 5, 3.7)}),
    ],
    "Лесной район": [
        ("СОШ №16", "sch470016", {"Математика": (14, 1, 6, 3.5), "Русский язык": (14, 2, 7, 3.6)}),
        ("СОШ №17", "sch470017", {"Математика": (6, 0, 4, 4.0), "Русский язык": (6, 0, 3, 3.9)}),
    ],
}
RCOI_FIRST_ROW = 7  # Excel row of the first school


def rcoi_workbook(
    schools: dict = RCOI_SCHOOLS, subtotal: str = "Итого по муниципалитету", total: str = "Всего по региону"
):
    ids = ["Муниципалитет", "Образовательная организация", "Логин ОО"]
    width = len(RCOI_METRICS)
    h = 3  # 0-based first header row (Excel row 4)
    cells: Rows = [["Результаты ОГЭ 2024 по ОО"], ["РЦОИ"], [], [], [], [None] * len(ids) + list(RCOI_METRICS) * 2]
    merges = [(h, c, h + 2, c, name) for c, name in enumerate(ids)]
    merges.append((h, len(ids), h, len(ids) + width * len(RCOI_SUBJECTS) - 1, "Из них"))
    merges += [
        (h + 1, len(ids) + width * j, h + 1, len(ids) + width * (j + 1) - 1, s) for j, s in enumerate(RCOI_SUBJECTS)
    ]

    def values(rows):
        out: list[Cell] = []
        for s in RCOI_SUBJECTS:
            got = [r[s] for r in rows]
            n = sum(g[0] for g in got)
            out += [n, sum(g[1] for g in got), sum(g[2] for g in got), round(sum(g[0] * g[3] for g in got) / n, 2)]
        return out

    for municipality, block in schools.items():
        start = len(cells)
        for name, login, subjects in block:
            cells.append([None, name, login, *values([subjects])])
        merges.append((start, 0, len(cells) - 1, 0, municipality))
        cells.append([None, subtotal, None, *values([s for _, _, s in block])])
    cells.append([total, None, None, *values([s for block in schools.values() for _, _, s in block])])
    return xlsx_bytes(Sheet("Результаты по ОО", cells, tuple(merges)))


RCOI_OGE = Export(
    "rcoi_oge_school_results",
    "ОГЭ 2024 результаты по ОО.xlsx",
    [],
    [],
    lambda e: rcoi_workbook(**e.extra),
    first_row=RCOI_FIRST_ROW,
)

# ВПР score distribution: one column per primary score 0..5 (long: one row per score).
SCORES = Export(
    "vpr_score_distribution",
    "ВПР 2024 распределение первичных баллов.xlsx",
    ["Год", "Класс", "Предмет", "Муниципалитет", "Логин", "ОО", "Кол-во участников", "0", "1", "2", "3", "4", "5"],
    [
        [SPRING, 4, "Математика", "Озёрский район", "sch470001", "СОШ №1", 24, 0, 4.17, 12.5, 33.33, 29.17, 20.83],
        [SPRING, 4, "Математика", "Озёрский район", "sch470002", "СОШ №2", 10, 10.0, 10.0, 30.0, 30.0, 20.0, 0],
        [SPRING, 4, "Русский язык", "Лесной район", "sch470016", "СОШ №16", 12, 0, 0, 25.0, 25.0, 25.0, 25.0],
    ],
    _xlsx(titles=("Распределение первичных баллов",)),
    first_row=3,
)


def _journal(e: Export) -> bytes:
    """A title row, then two header rows: identification columns merged over both, each group over «Кол-во»
    and «%»."""
    groups = e.extra.get("groups", JOURNAL_GROUPS)
    ids = VPR_MARKS.header[:7]
    cells: Rows = [["Сравнение отметок с отметками по журналу"], [], [None] * 7 + ["Кол-во", "%"] * 3]
    merges = [(1, c, 2, c, name) for c, name in enumerate(ids)]
    merges += [(1, 7 + 2 * j, 1, 8 + 2 * j, g) for j, g in enumerate(groups)]
    return xlsx_bytes(Sheet("Лист1", cells + [list(r) for r in e.rows], tuple(merges)))


JOURNAL_GROUPS = (
    "Понизили (Отметка < Отметка по журналу)",
    "Подтвердили (Отметка = Отметке по журналу)",
    "Повысили (Отметка > Отметка по журналу)",
)
JOURNAL = Export(
    "vpr_journal_comparison",
    "ВПР 2024 сравнение с журналом.xlsx",
    [],
    [
        [SPRING, 4, "Математика", "Озёрский район", "sch470001", "СОШ №1", 24, 3, 12.5, 18, 75.0, 3, 12.5],
        [SPRING, 5, "Русский язык", "Озёрский район", "sch470002", "СОШ №2", 10, 2, 20.0, 7, 70.0, 1, 10.0],
        [SPRING, 5, "Математика", "Лесной район", "sch470016", "СОШ №16", 8, 0, 0, 8, 100.0, 0, 0],
    ],
    _journal,
    first_row=4,
)

# ----------------------------------------------------------------------------------------------- warehouse


def raw_path(settings: Settings, spec: SourceSpec, name: str) -> Path:
    return settings.raw_dir / spec.folder / YEAR / name


def put(settings: Settings, export: Export, name: str | None = None, data: bytes | None = None) -> Path:
    path = raw_path(settings, export.spec, name or export.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(export.data() if data is None else data)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(settings: Settings, sql: str, params: Sequence = ()) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def scope_where(spec: SourceSpec) -> tuple[str, list[str]]:
    """The rows of a source's school year in its raw table (a shared table: of its questionnaire)."""
    scope = {"school_year": YEAR, **spec.constants}
    return " and ".join(f"{k} = ?" for k in scope), list(scope.values())


@dataclass(frozen=True)
class Snapshot:
    """What the warehouse holds, read through one connection: the source's raw table (all of it, bookkeeping
    columns included, in a stable order), the load log, the quarantine register and the rejected rows (as
    dicts), and optional aggregates over the source's school year."""

    raw: list[tuple]
    log: list[dict]
    quarantine: list[dict]
    rejected: list[dict]
    values: tuple = ()

    def loads(self, **match) -> list[dict]:
        return [r for r in self.log if all(r[k] == v for k, v in match.items())]


def snapshot(settings: Settings, spec: SourceSpec, *aggregates: str, params: Sequence = ()) -> Snapshot:
    def dicts(cur) -> list[dict]:
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        raw = con.execute(f"select * from {spec.table} order by all").fetchall()
        log = dicts(con.execute("select * from ingest.load_log order by started_at, load_id"))
        quarantine = dicts(con.execute("select * from ingest.quarantine"))
        rejected = dicts(con.execute("select * from ingest.rejected_rows order by load_id, source_row"))
        values = ()
        if aggregates:
            where, scope = scope_where(spec)
            values = con.execute(
                f"select {', '.join(aggregates)} from {spec.table} where {where}",
                [*params, *scope],  # the select list comes first
            ).fetchone()
    return Snapshot(raw, log, quarantine, rejected, tuple(values))


def count(settings: Settings, table: str, where: str = "true", params: Sequence = ()) -> int:
    return query(settings, f"select count(*) from {table} where {where}", params)[0][0]


# ----------------------------------------------------------------------------------------------- the region


class Region:
    """Data directories with the registry of YEAR loaded and, per source, its good file loaded after it.
    Each is built once (real loads through load_school_year) and copied for each case, so every case runs in
    a data directory of its own without paying for the same good loads again."""

    def __init__(self, root: Path):
        self.root = root
        self._built: dict[str, Path] = {}
        self._made = 0

    def _copy(self, template: Path, target: Path) -> Settings:
        # GE's project (gx/) is left behind: each case gets a fresh one, so Data Docs never pile up.
        shutil.copytree(template, target, ignore=shutil.ignore_patterns("gx", "staging"))
        return Settings(target)

    def base(self) -> Path:
        if "" not in self._built:
            settings = Settings(self.root / "base")
            put(settings, REGISTRY)
            result = load_school_year(REGISTRY.spec, settings, YEAR)
            assert result.rows_loaded == len(LOGINS)
            self._built[""] = settings.data_dir
        return self._built[""]

    def template(self, export: Export) -> Path:
        """The registry, then `export` (a good file) loaded."""
        key = f"{export.source}/{export.name}"
        if key not in self._built:
            self._made += 1
            settings = self._copy(self.base(), self.root / f"template-{self._made}")
            put(settings, export)
            result = load_school_year(export.spec, settings, YEAR)
            assert result.rows_loaded > 0 and not result.rows_rejected, result
            self._built[key] = settings.data_dir
        return self._built[key]

    def case(self, target: Path, export: Export | None = None) -> Settings:
        """A data directory of its own for one case: the registry loaded, and `export` too when given."""
        return self._copy(self.template(export) if export is not None else self.base(), target)
