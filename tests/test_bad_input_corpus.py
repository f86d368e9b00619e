"""The bad-input corpus: for each way a region's export goes wrong, a GOOD file of a source (written here, in the
exact layout of its config) is loaded first, then the BAD variant is dropped over it and loaded.

A rejected file must stop with ContractViolation naming the file, the row as a person sees it, the column
(header text and canonical name) and the rule; leave one record in ingest.quarantine and one 'quarantined' row
in ingest.load_log; leave its report (and a copy, unless it holds pupils' personal data) in data/quarantine/;
and leave raw.<table> and the file in data/raw/ exactly as they were. An accepted file must load exactly the
rows and values written, with the counts in ingest.load_log.

Each case runs in a data directory of its own, copied from a template in which the registry and the good file
were loaded through load_school_year (see tests/corpus.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.lib.ingest import ContractViolation, load_school_year
from pipelines.lib.pseudonymise import KEY_ENV, KEY_FILE_ENV
from pipelines.lib.readers import normalise_header
from pipelines.lib.sources import SourceSpec

from .corpus import (
    BIAS_MARKERS,
    FISOKO,
    ISBSH,
    JOURNAL,
    LISTS,
    OGE_PUPILS,
    OLYMPIADS,
    PASSPORT_HEADER,
    PASSPORTS,
    RCOI_FIRST_ROW,
    RCOI_OGE,
    RCOI_SCHOOLS,
    REGISTER,
    SCORES,
    SHNOR_QUESTIONS,
    SPRING,
    SURVEY_SHNOR,
    UNKNOWN,
    VPR_MARKS,
    VPR_PUPILS,
    YEAR,
    Export,
    Region,
    Snapshot,
    put,
    query,
    sha256,
    snapshot,
)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory):
    """Templates (registry and good files loaded) under one tmp folder, and a pseudonymisation key for the
    pupil-level sources in a tmp folder of its own (never inside the repository or a data directory)."""
    key_file = tmp_path_factory.mktemp("key") / "pseudonym.key"
    key_file.write_text("corpus-test-key-" + "k" * 32 + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(KEY_ENV, raising=False)
        mp.setenv(KEY_FILE_ENV, str(key_file))
        yield Region(tmp_path_factory.mktemp("templates"))


# ------------------------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Rejected:
    """What the message must name. `rows`: lines as a person sees them (1-based, header included) — every one of
    them must be named; `header`/`column`: «header text» (canonical name); `rule`: the expectation type (or
    read_export); `words`: more of the message (the rule in words, the offending value)."""

    rule: str
    rows: tuple[int, ...] = ()
    header: str | None = None
    column: str | None = None
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Accepted:
    """`check`: an aggregate over the school year's loaded rows and its value computed from what was written."""

    rows_loaded: int
    rows_read: int
    check: tuple[str, object]
    rows_rejected: int = 0
    rows_dropped: int = 0
    ignored: tuple[str, ...] | None = None
    rejected: tuple[tuple[int, str], ...] = ()  # (file row, value) kept in ingest.rejected_rows


@dataclass(frozen=True)
class Case:
    id: str
    good: Export  # loaded first
    bad: Callable[[], Export | bytes]  # dropped over it under the same name
    expect: Rejected | Accepted
    spec: Callable[[SourceSpec], SourceSpec] | None = None  # a changed copy of the source's config


def utf8_only(spec: SourceSpec) -> SourceSpec:
    return dataclasses.replace(spec, csv={**spec.csv, "encoding": "utf-8"})


NOT_NULL = "expect_column_values_to_not_be_null"
NULL = "expect_column_values_to_be_null"  # the checks on `checked` columns: bad type, not allowed, other year ...
BETWEEN = "expect_column_values_to_be_between"
UNIQUE = "expect_compound_columns_to_be_unique"
ROWS = "expect_table_row_count_to_be_between"
READ = "read_export"

M, P, O = VPR_MARKS, VPR_PUPILS, OLYMPIADS


def html_as_xlsx() -> bytes:
    return "<html><body><table><tr><td>Год</td><td>Класс</td></tr></table></body></html>".encode()


def vpr_marks_25_schools() -> Export:
    """25 rows of 25 schools: the last one not in the registry (24 of 25 = 96% ≥ 95%)."""
    rows = [
        [SPRING, 4, "Математика", "Озёрский район", f"sch4700{i:02d}", f"СОШ №{i}", 10 + i, 10, 40, 30, 20]
        for i in range(1, 26)
    ]
    rows[-1][4] = UNKNOWN
    return M.variant(rows=rows)


M25 = vpr_marks_25_schools()


def pupils_with_repeated_header() -> bytes:
    text = P.data().decode("cp1251").split("\r\n")
    text.insert(4, text[0])  # after the third pupil row: line 5
    return "\r\n".join(text).encode("cp1251")


def bias_block_twice() -> Export:
    return BIAS_MARKERS.variant(rows=BIAS_MARKERS.rows + BIAS_MARKERS.rows)


def rcoi_other_subtotal_wording() -> Export:
    return RCOI_OGE.variant(subtotal="ВСЕГО по муниципалитету", total="  итого по региону")


def rcoi_schools_with(municipality: str, school: int, subject: str, metric: int, value) -> dict:
    schools = {
        m: [(n, lg, {s: list(v) for s, v in subj.items()}) for n, lg, subj in block]
        for m, block in RCOI_SCHOOLS.items()
    }
    schools[municipality][school][2][subject][metric] = value
    return schools


def journal_with(i: int, j: int, value) -> Export:
    rows = [list(r) for r in JOURNAL.rows]
    rows[i][j] = value
    return JOURNAL.variant(rows=rows)


def survey_answer(i: int, question: str, value: str) -> Export:
    return SURVEY_SHNOR.with_cell(i, SHNOR_QUESTIONS[question], value)


PASSPORT_SHOWN = {  # header -> as another year's file has it: other order, line breaks, ё as е, other case, variant
    "Число обучающихся": "Число\nобучающихся",
    "Логин ОО": "ЛОГИН ОО",
    "Доля обучающихся, состоящих на профилактическом учёте, %": "Доля обучающихся, состоящих\nна профилактическом учете, %",
    "Доля обучающихся из неполных семей, %": "Доля обучающихся из неполных семей, %",
    "Доля обучающихся, оба родителя которых имеют высшее образование, %": (
        "доля обучающихся, оба родителя которых имеют высшее образование, %"
    ),
    "Наименование ОО": "Наименование ОО",
    "Доля обучающихся из малоимущих семей, %": "Доля обучающихся из малоимущих семей, %",
    "Доля обучающихся с ОВЗ, %": "Доля обучающихся с ОВЗ, %",
    "Доля обучающихся, для которых русский язык не является родным, %": (
        "Доля обучающихся, для которых русский язык не родной, %"
    ),
}


def passports_reshuffled() -> Export:
    return PASSPORTS.reordered([PASSPORT_HEADER.index(h) for h in PASSPORT_SHOWN], list(PASSPORT_SHOWN.values()))


def total(export: Export, header: str) -> float:
    """The sum of a column as written (decimal commas read as points, empty cells skipped)."""
    return sum(float(str(v).replace(",", ".")) for v in export.column(header) if v is not None)


CASES = [
    # --- files that cannot be read -----------------------------------------------------------------------------
    Case(
        "olympiads-csv-last-line-cut-mid-row",
        O,
        lambda: O.truncated("sch470004;Хим"),
        Rejected(NOT_NULL, rows=(O.line(3),), header="Этап", column="stage", words=("значение обязательно",)),
    ),
    Case(
        "vpr-pupils-csv-last-line-cut-mid-row",
        P,
        lambda: P.truncated("2023-2024;5;МА;sch4700"),
        Rejected(READ, words=("1 строк с неверным числом полей", "обрезанный или испорченный файл")),
    ),
    Case(
        "vpr-marks-xlsx-bytes-cut-in-half",
        M,
        lambda: M.data()[: len(M.data()) // 2],
        Rejected(READ, words=("файл не читается как книга Excel (xlsx/xls)",)),
    ),
    Case(
        "vpr-marks-xlsx-corrupt-html-saved-as-xlsx",
        M,
        html_as_xlsx,
        Rejected(READ, words=("файл не читается как книга Excel (xlsx/xls)",)),
    ),
    Case("olympiads-csv-empty-0-bytes", O, lambda: b"", Rejected(READ, words=("файл пуст (0 байт)",))),
    Case("vpr-pupils-csv-empty-0-bytes", P, lambda: b"", Rejected(READ, words=("файл пуст (0 байт)",))),
    Case("bias-markers-xlsx-empty-0-bytes", BIAS_MARKERS, lambda: b"", Rejected(READ, words=("файл пуст (0 байт)",))),
    Case(
        "vpr-marks-xlsx-header-only", M, lambda: M.variant(rows=[]), Rejected(ROWS, words=("в файле нет строк данных",))
    ),
    Case(
        "vpr-pupils-csv-header-only", P, lambda: P.variant(rows=[]), Rejected(ROWS, words=("в файле нет строк данных",))
    ),
    Case(
        "isbsh-cp1251-file-when-config-says-utf8",
        ISBSH,
        lambda: ISBSH.variant(encoding="cp1251"),
        Rejected(READ, words=("файл не в кодировке utf-8",)),
        spec=utf8_only,
    ),
    Case(
        "isbsh-utf16-file",
        ISBSH,
        lambda: ISBSH.variant(encoding="utf-16"),
        Rejected(READ, words=("файл в кодировке UTF-16", "the file is UTF-16")),
    ),
    Case(
        "oge-pupils-utf16-file",
        OGE_PUPILS,
        lambda: OGE_PUPILS.variant(encoding="utf-16"),
        Rejected(READ, words=("файл в кодировке UTF-16", "save it as UTF-8 or Windows-1251")),
    ),
    # --- the header ----------------------------------------------------------------------------------------------
    Case(
        "vpr-marks-missing-required-column",
        M,
        lambda: M.without("Кол-во участников"),
        Rejected(
            READ, rows=(3,), header="Кол-во участников", column="participants", words=("нет обязательных столбцов",)
        ),
    ),
    Case(
        "vpr-pupils-missing-required-column",
        P,
        lambda: P.without("Отметка"),
        Rejected(READ, rows=(1,), header="Отметка", column="mark", words=("нет обязательных столбцов",)),
    ),
    Case(
        "olympiads-renamed-column-not-in-variants",
        O,
        lambda: O.renamed("Победителей", "Кол-во победителей"),
        Rejected(
            READ,
            rows=(1,),
            header="Победителей",
            column="winners",
            words=("'Кол-во победителей'", "добавьте вариант заголовка"),
        ),
    ),
    Case(
        "vpr-marks-extra-unknown-columns-load",
        M,
        lambda: M.with_column("Примечание", ["", "перепроверено", None, ""]).with_column("Телефон ОО", ["1"] * 4),
        Accepted(4, 4, ("sum(participants)", total(M, "Кол-во участников")), ignored=("Примечание", "Телефон ОО")),
    ),
    Case(
        "olympiads-columns-in-another-order-load",
        O,
        lambda: O.reordered([5, 2, 0, 4, 3, 1]),
        Accepted(
            4, 4, ("sum(prize_winners) * 100 + sum(participants)", total(O, "Призёров") * 100 + total(O, "Участников"))
        ),
    ),
    Case(
        "vpr-pupils-columns-in-another-order-and-header-variants-load",
        P,
        lambda: P.reordered(
            [4, 6, 5, 0, 1, 2, 3],
            ["Код участника", "ОТМЕТКА", "Первичный балл", "Учебный год", "Параллель", "Предмет", "Логин ОО"],
        ),
        Accepted(6, 6, ("sum(primary_score)", total(P, "Балл"))),
    ),
    Case(
        "social-passports-headers-yo-case-line-breaks-and-order-load",
        PASSPORTS,
        passports_reshuffled,
        Accepted(3, 3, ("sum(preventive_register_pct)", total(PASSPORTS, PASSPORT_HEADER[5])), ignored=()),
    ),
    Case(
        "vpr-marks-header-variants-case-and-line-breaks-load",
        M,
        lambda: M.variant(
            header=[
                "ГОД",
                "класс",
                "Предмет",
                "Муниципальный район",
                "Логин ОО",
                "Образовательная\nорганизация",
                "Количество\nучастников",
                "% «2»",
                "«3»",
                "Отметка 4",
                "5",
            ]
        ),
        Accepted(4, 4, ("sum(mark_3_pct)", total(M, "3"))),
    ),
    Case(
        "fisoko-allowed-values-with-e-for-yo-and-other-case-load",
        FISOKO,
        lambda: FISOKO.with_cell(1, "Тип населённого пункта", "Поселок городского типа").with_cell(
            2, "Тип населённого пункта", "СЕЛЬСКИЙ НАСЕЛЕННЫЙ ПУНКТ"
        ),
        Accepted(3, 3, ("count(*) filter (where settlement_type = 'СЕЛЬСКИЙ НАСЕЛЕННЫЙ ПУНКТ')", 1)),
    ),
    # --- values ----------------------------------------------------------------------------------------------------
    Case(
        "vpr-marks-negative-participants",
        M,
        lambda: M.with_cell(1, "Кол-во участников", -4),
        Rejected(
            BETWEEN,
            rows=(M.line(1),),
            header="Кол-во участников",
            column="participants",
            words=("вне диапазона", ": -4"),
        ),
    ),
    Case(
        "vpr-marks-percent-over-100",
        M,
        lambda: M.with_cell(2, "2", 112.5),
        Rejected(BETWEEN, rows=(M.line(2),), header="2", column="mark_2_pct", words=("вне диапазона 0…100", "112.5")),
    ),
    Case(
        "vpr-marks-grade-3",
        M,
        lambda: M.with_cell(0, "Класс", 3),
        Rejected(BETWEEN, rows=(M.line(0),), header="Класс", column="grade", words=("вне диапазона 4…11",)),
    ),
    Case(
        "isbsh-99",
        ISBSH,
        lambda: ISBSH.with_cell(2, "ИСБШ", "99"),
        Rejected(BETWEEN, rows=(ISBSH.line(2),), header="ИСБШ", column="isbsh", words=("вне диапазона -10…10", "99")),
    ),
    Case(
        "oge-pupils-mark-6",
        OGE_PUPILS,
        lambda: OGE_PUPILS.with_cell(3, "Отметка", 6),
        Rejected(BETWEEN, rows=(OGE_PUPILS.line(3),), header="Отметка", column="mark", words=("вне диапазона 2…5",)),
    ),
    Case(
        "vpr-marks-participants-not-a-number",
        M,
        lambda: M.with_cell(3, "Кол-во участников", "двадцать"),
        Rejected(
            NULL,
            rows=(M.line(3),),
            header="Кол-во участников",
            column="participants",
            words=("целым числом", "'двадцать'"),
        ),
    ),
    Case(
        "vpr-pupils-score-not-a-number",
        P,
        lambda: P.with_cell(4, "Балл", "н/я"),
        Rejected(NULL, rows=(P.line(4),), header="Балл", column="primary_score", words=("целым числом", "'н/я'")),
    ),
    Case(
        "vpr-marks-decimal-comma-load",
        M,
        lambda: M.variant(rows=[[*r[:7], *(str(v).replace(".", ",") for v in r[7:])] for r in M.rows]),
        Accepted(4, 4, ("round(sum(mark_2_pct), 2)", round(total(M, "2"), 2))),
    ),
    Case(
        "vpr-pupils-cyrillic-and-latin-x-in-score-load-as-null",
        P,
        lambda: P.with_cell(1, "Балл", "х").with_cell(3, "Балл", "X"),  # Cyrillic х, Latin X
        Accepted(6, 6, ("list(primary_score order by _source_row)", [31, None, 25, None, 40, 5])),
    ),
    Case(
        "vpr-pupils-absent-pupil-load",
        P,
        lambda: P.with_cell(5, "Балл", "Х").with_cell(5, "Отметка", "отсутствовал"),
        Accepted(6, 6, ("count(*) filter (where mark = 'отсутствовал' and primary_score is null)", 1)),
    ),
    Case(
        "vpr-pupils-mark-not-in-allowed-set",
        P,
        lambda: P.with_cell(2, "Отметка", "1"),
        Rejected(
            NULL, rows=(P.line(2),), header="Отметка", column="mark", words=("значение не из списка", "отсутствовал")
        ),
    ),
    Case(
        "fisoko-settlement-type-not-allowed",
        FISOKO,
        lambda: FISOKO.with_cell(2, "Тип населённого пункта", "деревня"),
        Rejected(
            NULL,
            rows=(FISOKO.line(2),),
            header="Тип населённого пункта",
            column="settlement_type",
            words=("'деревня'",),
        ),
    ),
    # --- schools and the registry ------------------------------------------------------------------------------------
    Case(
        "vpr-marks-1-unknown-school-of-25-loads-and-rejects-it",
        M,
        lambda: M25,
        Accepted(
            24,
            25,
            ("sum(participants)", total(M25, "Кол-во участников") - M25.rows[-1][6]),
            rows_rejected=1,
            rejected=((M25.line(24), UNKNOWN),),
        ),
    ),
    Case(
        "vpr-marks-2-unknown-schools-of-4-below-threshold",
        M,
        lambda: M.with_cell(1, "Логин", UNKNOWN).with_cell(3, "Логин", "sch479998"),
        Rejected(
            NULL,
            rows=(M.line(1), M.line(3)),
            header="Логин",
            column="school_login",
            words=("школы нет в реестре ОО 2023-2024", "registry", "(допустимо не более 5% строк)", UNKNOWN),
        ),
    ),
    # --- keys ---------------------------------------------------------------------------------------------------------
    Case(
        "vpr-marks-duplicate-key-lists-both-rows",
        M,
        lambda: M.variant(rows=[*M.rows, [*M.rows[0][:6], 26, 19.23, 38.46, 30.77, 11.54]]),
        Rejected(
            UNIQUE,
            rows=(M.line(0), M.line(4)),
            header="Логин",
            column="school_login",
            words=("«Класс» (grade), «Предмет» (subject)", "сочетание значений повторяется", "sch470001"),
        ),
    ),
    Case(
        "olympiads-duplicate-key-lists-both-rows",
        O,
        lambda: (
            O.with_cell(3, "Логин ОО", "sch470001")
            .with_cell(3, "Предмет", "Математика")
            .with_cell(3, "Этап", "школьный")
        ),
        Rejected(
            UNIQUE,
            rows=(O.line(0), O.line(3)),
            header="Логин ОО",
            column="school_login",
            words=("«Предмет» (subject), «Этап» (stage)", "сочетание значений повторяется"),
        ),
    ),
    Case(
        "vpr-pupils-duplicate-pupil-and-subject-lists-both-rows",
        P,
        lambda: P.with_cell(2, "Код ученика", "4700010001"),
        Rejected(
            UNIQUE,
            rows=(P.line(0), P.line(2)),
            header="Код ученика",
            column="pupil_code",
            words=("«Код предмета» (subject_code)", "сочетание значений повторяется"),
        ),
    ),
    Case(
        "bias-markers-exact-duplicated-block-loads-once",
        BIAS_MARKERS,
        bias_block_twice,
        Accepted(4, 8, ("sum(marker_count)", total(BIAS_MARKERS, "Количество признаков")), rows_dropped=4),
    ),
    Case(
        "bias-markers-same-school-twice-with-other-markers",
        BIAS_MARKERS,
        lambda: BIAS_MARKERS.variant(rows=[*BIAS_MARKERS.rows, [SPRING, "sch470003", "СОШ №3", 1, 1, 0, 0, 2]]),
        Rejected(
            "expect_column_values_to_be_unique",
            rows=(BIAS_MARKERS.line(2), BIAS_MARKERS.line(4)),
            header="Логин ОО",
            column="school_login",
        ),
    ),
    # --- the school year ---------------------------------------------------------------------------------------------
    Case(
        "vpr-marks-year-in-file-contradicts-folder",
        M,
        lambda: M.variant(rows=[[SPRING - 1, *r[1:]] for r in M.rows]),
        Rejected(
            NULL,
            rows=tuple(M.line(i) for i in range(4)),
            header="Год",
            column="exam_year",
            words=("не совпадает с папкой 2023-2024 (ожидалось 2024)",),
        ),
    ),
    Case(
        "vpr-pupils-school-year-in-file-contradicts-folder",
        P,
        lambda: P.with_cell(3, "Учебный год", "2022-2023"),
        Rejected(
            NULL,
            rows=(P.line(3),),
            header="Учебный год",
            column="school_year_in_file",
            words=("'2022-2023'", "не совпадает с папкой"),
        ),
    ),
    Case(
        "isbsh-school-year-in-file-contradicts-folder",
        ISBSH,
        lambda: ISBSH.variant(rows=[[*r[:2], "2024/2025", r[3]] for r in ISBSH.rows]),
        Rejected(
            NULL,
            rows=tuple(ISBSH.line(i) for i in range(4)),
            header="Учебный год",
            column="school_year_in_file",
            words=("'2024/2025'",),
        ),
    ),
    Case(
        "isbsh-school-year-written-with-slash-and-spaces-load",
        ISBSH,
        lambda: ISBSH.variant(rows=[[*r[:2], "2023 / 2024", r[3]] for r in ISBSH.rows]),
        Accepted(4, 4, ("round(sum(isbsh), 2)", round(total(ISBSH, "ИСБШ"), 2))),
    ),
    # --- rows that are not data ----------------------------------------------------------------------------------------
    Case(
        "vpr-pupils-repeated-header-row-dropped",
        P,
        pupils_with_repeated_header,
        Accepted(6, 7, ("sum(primary_score)", total(P, "Балл")), rows_dropped=1),
    ),
    Case(
        "rcoi-oge-3-level-header-merged-municipalities-subtotals-dropped",
        RCOI_OGE,
        rcoi_other_subtotal_wording,
        # 4 schools and 3 total rows read; 4 schools x 2 subjects loaded; the 3 total rows of the file dropped
        Accepted(
            8,
            7,
            (
                "sum(participants) filter (where municipality = 'Лесной район' and subject = 'Русский язык')",
                sum(s[2]["Русский язык"][0] for s in RCOI_SCHOOLS["Лесной район"]),
            ),
            rows_dropped=3,
        ),
    ),
    Case(
        "rcoi-oge-negative-count",
        RCOI_OGE,
        lambda: RCOI_OGE.variant(schools=rcoi_schools_with("Лесной район", 1, "Математика", 1, -1)),
        # schools at rows 7, 8, subtotal 9, then 10, 11: the second school of the second block is row 11
        Rejected(
            BETWEEN, rows=(RCOI_FIRST_ROW + 4,), header="Из них / Математика / Получили «2»", column="mark_2_count"
        ),
    ),
    Case(
        "vpr-scores-percent-over-100",
        SCORES,
        lambda: SCORES.with_cell(1, "0", 110.0),
        Rejected(BETWEEN, rows=(SCORES.line(1),), header="0", column="participants_pct", words=("110.0",)),
    ),
    Case(
        "vpr-journal-short-group-headers-load",
        JOURNAL,
        lambda: JOURNAL.variant(groups=("Понизили", "Подтвердили", "Повысили")),
        Accepted(3, 3, ("sum(confirmed_count)", sum(r[9] for r in JOURNAL.rows))),
    ),
    Case(
        "vpr-journal-shares-do-not-add-up-to-100",
        JOURNAL,
        lambda: journal_with(1, 10, 80.0),  # 20 + 80 + 10
        Rejected(
            BETWEEN,
            rows=(JOURNAL.line(1),),
            header="Подтвердили (Отметка = Отметке по журналу) / %",
            column="confirmed_pct",
            words=("сумма lowered_pct+confirmed_pct+raised_pct вне 99.0…101.0", "строка/row 5: 110.0"),
        ),
    ),
    # --- questionnaires --------------------------------------------------------------------------------------------------
    Case(
        "survey-answer-not-on-the-scale",
        SURVEY_SHNOR,
        lambda: survey_answer(1, "mentor_support", "6"),
        Rejected(NULL, rows=(SURVEY_SHNOR.line(1),), words=("(answer_text)", "ответ не из шкалы", "'6'")),
    ),
    Case(
        "survey-multi-choice-with-an-unknown-option",
        SURVEY_SHNOR,
        lambda: survey_answer(2, "motives", "Распоряжение органа управления образованием; Желание коллектива"),
        Rejected(NULL, rows=(SURVEY_SHNOR.line(2),), words=("(answer_text)", "'Желание коллектива'")),
    ),
    Case(
        "survey-agree-scale-answer-in-other-case-and-spacing-load",
        SURVEY_SHNOR,
        lambda: survey_answer(0, "satisfaction", "скорее  ДА, чем нет"),
        Accepted(14, 3, ("sum(answer_score) filter (where question_code = 'satisfaction')", 3 + 4 + 1)),
    ),
    # --- official lists and the mentoring register ----------------------------------------------------------------------
    Case(
        "lists-date-in-31-february",
        LISTS,
        lambda: LISTS.with_cell(3, "Дата включения", "31.02.2021"),
        Rejected(NULL, rows=(LISTS.line(3),), header="Дата включения", column="date_in", words=("'31.02.2021'",)),
    ),
    Case(
        "lists-list-name-neither-shnor-nor-nsu",
        LISTS,
        lambda: LISTS.with_cell(2, "Перечень", "ШНОР и НСУ"),
        Rejected(
            NULL,
            rows=(LISTS.line(2),),
            header="Перечень",
            column="list_name",
            words=("значение не из списка: ШНОР, НСУ",),
        ),
    ),
    Case(
        "register-network-pairs-sheet-missing",
        REGISTER,
        lambda: REGISTER.variant(sheet="Сетевые пары 2023"),
        Rejected(READ, words=("в книге нет листа «Сетевые пары»", "Сетевые пары 2023")),
    ),
]


def _message_names(message: str, row: int) -> bool:
    return re.search(rf"строка/row {row}(?!\d)", message) is not None


def pupil_codes(export: Export) -> set[str]:
    """The raw pupil codes written in a pupil-level export (they must never be stored)."""
    spec = export.spec
    headers = {normalise_header(h) for c in spec.pseudonymise for h in spec.column(c).headers}
    return {str(r[j]) for j, h in enumerate(export.header) if normalise_header(h) in headers for r in export.rows}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, region: Region, tmp_path: Path) -> None:
    settings = region.case(tmp_path / "data", case.good)
    spec = case.spec(case.good.spec) if case.spec else case.good.spec
    bad = case.bad()
    path = put(settings, case.good, data=bad if isinstance(bad, bytes) else bad.data())
    codes = pupil_codes(bad if isinstance(bad, Export) else case.good) | pupil_codes(case.good)
    digest = sha256(path)
    before = snapshot(settings, spec)
    assert before.raw and not before.quarantine, "the good file was loaded first"
    [good_load] = before.loads(source=spec.name, status="loaded")
    if isinstance(case.expect, Rejected):
        _check_rejected(case.expect, spec, settings, path, digest, codes, before)
    else:
        _check_accepted(case.expect, spec, settings, path, digest, codes, good_load["load_id"])


def _check_rejected(
    expect: Rejected, spec: SourceSpec, settings, path: Path, digest: str, codes: set[str], before: Snapshot
) -> None:
    with pytest.raises(ContractViolation) as err:
        load_school_year(spec, settings, YEAR)
    message = err.value.message

    # the message names the file, the row(s), the column and the rule, in both languages
    assert str(path) in message and path.name in message
    assert "не загружен" in message and "was not loaded" in message
    assert f"[{expect.rule}]" in message, message
    for row in expect.rows:
        assert _message_names(message, row), (row, message)
    if expect.column:
        assert f"«{expect.header}» ({expect.column})" in message, message
    for word in expect.words:
        assert word in message, (word, message)

    # one quarantine record and one 'quarantined' log row for this load; the log rows before are untouched
    after = snapshot(settings, spec)
    [record] = after.quarantine
    target = err.value.quarantine_path
    assert (record["file_path"], record["file_sha256"], record["quarantine_path"]) == (str(path), digest, str(target))
    assert expect.rule in {v["rule"] for v in json.loads(record["violations"])}
    [new] = after.loads(load_id=record["load_id"])
    assert [r for r in after.log if r is not new] == before.log
    assert (new["load_id"], new["source"], new["school_year"]) == (record["load_id"], spec.name, YEAR)
    assert (new["status"], new["rows_loaded"], new["file_sha256"]) == ("quarantined", 0, digest)

    # the evidence in data/quarantine/: the report (the message), the validation result, a copy unless personal
    report, validation = Path(f"{target}.report.txt"), Path(f"{target}.validation.json")
    assert report.read_text(encoding="utf-8") == message + "\n"
    assert validation.is_file()
    if spec.pseudonymise:
        assert not target.exists()
        folder = settings.quarantine_dir / spec.name / YEAR
        assert sorted(p.name for p in folder.iterdir()) == sorted([report.name, validation.name])
        assert "Файл содержит персональные данные и не копируется" in message and "holds personal data" in message
        # no raw pupil code in the report, the validation result or the warehouse's records
        stored = [message, validation.read_text(encoding="utf-8"), str(after.quarantine), str(after.log)]
        assert codes and not [c for c in codes if any(c in text for text in stored)]
    else:
        assert sha256(target) == digest
        assert "персональные данные" not in message

    # what was loaded before is exactly as it was; data/raw/ is never touched
    assert after.raw == before.raw and after.rejected == before.rejected
    assert sha256(path) == digest


def _check_accepted(
    expect: Accepted, spec: SourceSpec, settings, path: Path, digest: str, codes: set[str], good_load: str
) -> None:
    result = load_school_year(spec, settings, YEAR)
    assert not result.unchanged
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, sum(result.rows_dropped.values())) == (
        expect.rows_read,
        expect.rows_loaded,
        expect.rows_rejected,
        expect.rows_dropped,
    )
    if expect.ignored is not None:
        assert result.ignored_headers == expect.ignored

    sql, value = expect.check
    codes_in = ", ".join("?" * len(codes)) or "null"
    after = snapshot(
        settings,
        spec,
        "count(*)",
        "count(*) filter (where _load_id = ?)",
        sql,
        f"count(*) filter (where pupil_code in ({codes_in}))" if spec.pseudonymise else "0",
        "min(length(pupil_code))" if spec.pseudonymise else "64",
        params=[result.load_id, *(sorted(codes) if spec.pseudonymise else ())],
    )
    rows, rows_of_load, got, raw_codes, code_length = after.values
    assert rows == rows_of_load == expect.rows_loaded
    assert got == (pytest.approx(value) if isinstance(value, float) else value), sql
    assert (raw_codes, code_length) == (0, 64)  # pupil codes arrive as pseudonyms only

    # the log: the good load superseded by this one, this one loaded with its counts
    assert sorted((r["load_id"], r["status"], r["superseded_by"]) for r in after.loads(source=spec.name)) == sorted(
        [(good_load, "superseded", result.load_id), (result.load_id, "loaded", None)]
    )
    [log] = after.loads(load_id=result.load_id)
    assert (log["rows_read"], log["rows_loaded"], log["rows_rejected"], log["rows_dropped"]) == (
        expect.rows_read,
        expect.rows_loaded,
        expect.rows_rejected,
        expect.rows_dropped,
    )
    rejected = [
        (r["source_row"], r["column_name"], r["value"]) for r in after.rejected if r["load_id"] == result.load_id
    ]
    assert rejected == [(row, spec.registry_match.column, value) for row, value in expect.rejected]
    for r in after.rejected:  # each says why, with the nearest registry entries
        if r["load_id"] == result.load_id:
            assert r["reason"].startswith(f"школы нет в реестре ОО {YEAR}") and "nearest:" in r["reason"], r["reason"]
            assert r["file_path"] == str(path)
    assert not after.quarantine
    assert sha256(path) == digest


# ------------------------------------------------------------------------------------------- loads over loads


def test_a_corrected_copy_beside_the_original_is_refused_naming_both(region: Region, tmp_path: Path) -> None:
    """The files of a year's folder load together (parts of one export): a corrected copy dropped beside the
    original repeats its rows, which the key catches, naming both files; nothing changes."""
    settings = region.case(tmp_path / "data", O)
    before = snapshot(settings, O.spec)
    second = put(settings, O, name="Олимпиады 2023-2024 исправленный.csv", data=O.with_cell(0, "Участников", 13).data())

    with pytest.raises(ContractViolation) as err:
        load_school_year(O.spec, settings, YEAR)
    message = err.value.message
    assert f"{second.parent} ({', '.join(sorted([O.name, second.name]))})" in message
    assert "Файлы загружаются вместе: ни один из 2 не загружен" in message
    assert f"файл/file {O.name}, строка/row 2" in message and f"файл/file {second.name}, строка/row 2" in message
    after = snapshot(settings, O.spec)
    assert after.raw == before.raw and after.rejected == before.rejected
    assert [q["file_path"] for q in after.quarantine] == [str(second.parent)]
    assert after.loads(status="quarantined")[0]["files"] == 2


def test_the_same_good_file_twice_loads_nothing_new(region: Region, tmp_path: Path) -> None:
    settings = region.case(tmp_path / "data")  # the registry only
    path = put(settings, O)
    first = load_school_year(O.spec, settings, YEAR)
    assert (first.rows_loaded, first.unchanged) == (4, False)
    before = snapshot(settings, O.spec)

    second = load_school_year(O.spec, settings, YEAR)
    assert second.unchanged is True
    assert (second.load_id, second.rows_loaded, second.file_sha256) == (first.load_id, 0, sha256(path))
    after = snapshot(settings, O.spec)
    assert [(r["load_id"], r["status"]) for r in after.loads(source=O.spec.name)] == [(first.load_id, "loaded")]
    assert after == before


def test_a_corrected_file_supersedes_the_earlier_one(region: Region, tmp_path: Path) -> None:
    settings = region.case(tmp_path / "data", M)  # the file as first sent, loaded ...
    [first] = snapshot(settings, M.spec).loads(source=M.spec.name)
    corrected = M.with_cell(0, "Кол-во участников", 26).with_cell(3, "Кол-во участников", 19)
    put(settings, M, data=corrected.data())  # ... and its corrected version dropped over it

    second = load_school_year(M.spec, settings, YEAR)
    assert not second.unchanged and second.rows_loaded == 4
    after = snapshot(settings, M.spec, "count(*)", "sum(participants)", "min(_load_id)", "max(_load_id)")
    assert sorted((r["load_id"], r["status"], r["superseded_by"]) for r in after.loads(source=M.spec.name)) == sorted(
        [(first["load_id"], "superseded", second.load_id), (second.load_id, "loaded", None)]
    )
    assert after.values == (4, total(corrected, "Кол-во участников"), second.load_id, second.load_id)
    assert total(corrected, "Кол-во участников") != total(M, "Кол-во участников")


# ------------------------------------------------------------------------- what the messages name, precisely

CUT_AFTER_CODE = "2023-2024;5;МА;sch470016;4700160001;5"  # the last pupil row without its mark


def _quarantine_cut_pupil_file(region: Region, tmp_path: Path) -> tuple:
    settings = region.case(tmp_path / "data", P)
    put(settings, P, data=P.truncated(CUT_AFTER_CODE))
    with pytest.raises(ContractViolation) as err:
        load_school_year(P.spec, settings, YEAR)
    return settings, err.value


def test_a_damaged_line_of_a_pupil_csv_is_named_by_its_line(region: Region, tmp_path: Path) -> None:
    _, err = _quarantine_cut_pupil_file(region, tmp_path)
    assert "обрезанный или испорченный файл" in err.message
    assert _message_names(err.message, P.line(5)), err.message


def test_a_damaged_pupil_line_does_not_leak_the_raw_pupil_code(region: Region, tmp_path: Path) -> None:
    settings, err = _quarantine_cut_pupil_file(region, tmp_path)
    assert "обрезанный или испорченный файл" in err.message
    stored = [err.message, Path(f"{err.quarantine_path}.validation.json").read_text(encoding="utf-8")]
    stored += [str(r) for r in query(settings, "select reason, violations from ingest.quarantine")]
    stored += [str(r) for r in query(settings, "select message from ingest.load_log")]
    assert not [text for text in stored if "4700160001" in text]


def test_a_survey_violation_names_the_question(region: Region, tmp_path: Path) -> None:
    settings = region.case(tmp_path / "data", SURVEY_SHNOR)
    put(settings, SURVEY_SHNOR, data=survey_answer(1, "mentor_support", "6").data())
    with pytest.raises(ContractViolation) as err:
        load_school_year(SURVEY_SHNOR.spec, settings, YEAR)
    assert "ответ не из шкалы" in err.value.message
    assert f"«{SHNOR_QUESTIONS['mentor_support']}»" in err.value.message, err.value.message


def test_an_unpivoted_violation_names_the_column_it_is_in(region: Region, tmp_path: Path) -> None:
    settings = region.case(tmp_path / "data", RCOI_OGE)
    put(
        settings,
        RCOI_OGE,
        data=RCOI_OGE.variant(schools=rcoi_schools_with("Лесной район", 1, "Русский язык", 1, -1)).data(),
    )
    with pytest.raises(ContractViolation) as err:
        load_school_year(RCOI_OGE.spec, settings, YEAR)
    assert _message_names(err.value.message, RCOI_FIRST_ROW + 4)
    assert "«Из них / Русский язык / Получили «2»» (mark_2_count)" in err.value.message, err.value.message
