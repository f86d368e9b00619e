"""Write the first version of the справка's Word template, templates/spravka.docx.

The .docx is the source of truth: a methodologist restyles it in Word (fonts, the styles «Heading 1», «Источник»,
«Заполняет методист», table styles, margins, the title block) and commits it; the Jinja tags ({{ … }},
{%p … %}, {%tr … %}) are what the pipeline fills (docxtpl). This script only made the first version and is
kept so the layout can be rebuilt from scratch:

    .venv/bin/python -m pipelines.reports.make_template [path]

Running it overwrites the template and so any restyling done in Word.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

TEMPLATE = Path(__file__).resolve().parent / "templates" / "spravka.docx"

SOURCE_STYLE = "Источник"
PLACEHOLDER_STYLE = "Заполняет методист"
TABLE_STYLE = "Table Grid"


def _styles(doc: Document) -> None:
    normal = doc.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(12)
    normal.paragraph_format.space_after = Pt(4)
    for name, size in (("Title", 16), ("Heading 1", 14), ("Heading 2", 12)):
        style = doc.styles[name]
        style.font.name = "Times New Roman"
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.color.rgb = RGBColor(0, 0, 0)
        fonts = style.element.rPr.rFonts
        for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(theme), None)  # the theme's font would win over the one named here
    doc.styles["Title"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    source = doc.styles.add_style(SOURCE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    source.base_style = normal
    source.font.size = Pt(9)
    source.font.italic = True
    source.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    source.paragraph_format.space_after = Pt(10)
    placeholder = doc.styles.add_style(PLACEHOLDER_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    placeholder.base_style = normal
    placeholder.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    placeholder.font.bold = True
    table_text = doc.styles.add_style("Таблица", WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = normal
    table_text.font.size = Pt(9)
    table_text.paragraph_format.space_after = Pt(0)


def _p(doc: Document, text: str, style: str | None = None) -> None:
    doc.add_paragraph(text, style=style)


def _table(doc: Document, headers: list[str], cells: list[str], loop: str, widths: list[float] | None = None) -> None:
    """A header row, then `{%tr for … %}` / one row of cells / `{%tr endfor %}` (docxtpl repeats the middle row).
    `widths` in cm (the text area is 17 cm wide)."""
    table = doc.add_table(rows=4, cols=len(headers))
    table.style = TABLE_STYLE
    table.autofit = False
    rows = table.rows
    if widths:
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Cm(width)  # the table grid, which LibreOffice follows
        for row in rows:
            for cell, width in zip(row.cells, widths, strict=True):
                cell.width = Cm(width)
    for i, text in enumerate(headers):
        rows[0].cells[i].text = text
        rows[0].cells[i].paragraphs[0].runs[0].bold = True
    rows[1].cells[0].text = "{%tr for r in " + loop + " %}"
    for i, text in enumerate(cells):
        rows[2].cells[i].text = "{{ " + text + " }}"
    rows[3].cells[0].text = "{%tr endfor %}"
    for row in rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.style = doc.styles["Таблица"]


def _section_table(
    doc: Document, key: str, headers: list[str], cells: list[str], empty: str, widths: list[float] | None = None
) -> None:
    """`key.rows` as a table, or the sentence `empty` where there are none; then the source line."""
    _p(doc, "{%p if " + key + ".rows %}")
    _table(doc, headers, cells, key + ".rows", widths)
    _p(doc, "{%p else %}")
    _p(doc, empty)
    _p(doc, "{%p endif %}")
    _p(doc, "{{ " + key + ".source }}", SOURCE_STYLE)


def build(path: Path = TEMPLATE) -> Path:
    doc = Document()
    _styles(doc)
    section = doc.sections[0]
    section.left_margin, section.right_margin = Cm(2.5), Cm(1.5)
    section.top_margin = section.bottom_margin = Cm(2)

    doc.add_paragraph("СПРАВКА", style="Title")
    title = doc.add_paragraph(
        "по итогам мониторинга реализации программы поддержки школ с низкими образовательными результатами "
        "{{ territory_title }} за {{ school_year }} учебный год"
    )
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _p(doc, "{{ preamble }}")

    doc.add_heading("1. Участники программы", level=1)
    _p(doc, "{{ participants.text }}")
    _section_table(
        doc, "participants", ["Показатель", "Значение"], ["r.label", "r.value"], "Данных нет.", widths=[13, 4]
    )

    _p(doc, "{%p if has_shnor %}")
    doc.add_heading("2. Перечень ШНОР и переход в эффективный режим", level=1)
    _p(doc, "{{ shnor.text }}")
    _section_table(
        doc,
        "shnor",
        ["ОО", "Официальный перечень ШНОР", "Расчёт по наборам правил (коды оснований)", "Совпадает с перечнем"],
        ["r.school", "r.official", "r.rules", "r.agrees"],
        "Ни одна ОО не отмечена.",
        widths=[5.5, 2.2, 6, 3.3],
    )
    _p(doc, "{%p for line in shnor.agreement %}")
    _p(doc, "{{ line }}")
    _p(doc, "{%p endfor %}")
    doc.add_heading("Вошли, остались, вышли", level=2)
    _p(doc, "{{ transitions.text }}")
    _section_table(
        doc,
        "transitions",
        ["Переход", "Число ОО", "ОО"],
        ["r.status", "r.count", "r.schools"],
        "Переходов нет.",
        widths=[4, 2.5, 10.5],
    )
    _p(doc, "{%p else %}")
    doc.add_heading("2. Школы с низкими образовательными результатами", level=1)
    _p(doc, "{{ no_shnor_text }}")
    _p(doc, "{{ shnor.source }}", SOURCE_STYLE)
    _p(doc, "{%p endif %}")

    doc.add_heading("3. Результаты оценочных процедур", level=1)
    _p(doc, "{{ results.text }}")
    _section_table(
        doc,
        "results",
        [
            "Процедура",
            "Участников",
            "Доля «2», % ({{ results.here }})",
            "Доля «2», % ({{ results.other }})",
            "Успеваемость, % ({{ results.here }})",
            "Успеваемость, % ({{ results.other }})",
            "Качество, % ({{ results.here }})",
            "Качество, % ({{ results.other }})",
        ],
        [
            "r.procedure",
            "r.participants",
            "r.mark_2",
            "r.mark_2_other",
            "r.pass",
            "r.pass_other",
            "r.quality",
            "r.quality_other",
        ],
        "Результатов за этот год нет.",
        widths=[3.4, 1.8, 1.6, 2.2, 1.6, 2.2, 1.6, 2.6],
    )
    _p(doc, "{{ ege.text }}")
    _section_table(
        doc,
        "ege",
        [
            "Предмет ЕГЭ",
            "Участников",
            "Средний тестовый балл ({{ results.here }})",
            "Средний тестовый балл ({{ results.other }})",
            "Не преодолели минимум, % ({{ results.here }})",
            "Не преодолели минимум, % ({{ results.other }})",
        ],
        ["r.procedure", "r.participants", "r.score", "r.score_other", "r.below", "r.below_other"],
        "Результатов ЕГЭ за этот год нет.",
        widths=[3.5, 2, 2.5, 3, 2.5, 3.5],
    )
    _p(doc, "{%p if results.chart_bar %}")
    _p(doc, "{{ results.chart_bar }}")
    _p(doc, "{{ results.chart_bar_source }}", SOURCE_STYLE)
    _p(doc, "{%p endif %}")
    _p(doc, "{%p if results.chart_line %}")
    _p(doc, "{{ results.chart_line }}")
    _p(doc, "{{ results.chart_line_source }}", SOURCE_STYLE)
    _p(doc, "{%p endif %}")
    doc.add_heading("Школы с отрицательной динамикой", level=2)
    _p(doc, "{{ negative.text }}")
    _p(doc, "{%p if is_region %}")
    _table(
        doc,
        ["Муниципальное образование", "ОО с отрицательной динамикой", "Случаев"],
        ["r.municipality", "r.schools", "r.cases"],
        "negative.by_municipality",
        widths=[9, 4, 4],
    )
    _p(doc, "{{ negative.source }}", SOURCE_STYLE)
    _p(doc, "{%p else %}")
    _section_table(
        doc,
        "negative",
        ["ОО", "Процедура", "Показатель", "Прошлый год", "Этот год", "Изменение"],
        ["r.school", "r.procedure", "r.indicator", "r.previous", "r.value", "r.change"],
        "Школ с отрицательной динамикой нет.",
        widths=[5, 3.5, 2.8, 1.9, 1.9, 1.9],
    )
    _p(doc, "{%p endif %}")

    doc.add_heading("4. Зона риска", level=1)
    _p(doc, "{{ risk.text }}")
    _section_table(
        doc,
        "risk",
        ["ОО", "ИСБШ", "Категория ИСБШ", "Доля «2» ВПР, %", "Изменение доли «2» за окно, п.п."],
        ["r.school", "r.isbsh", "r.category", "r.mark_2", "r.change"],
        "Школ в зоне риска нет.",
        widths=[7, 2, 2.5, 2.5, 3],
    )

    doc.add_heading("5. Маркеры необъективности (аналитика)", level=1)
    _p(doc, "{{ objectivity.text }}")
    _p(doc, "{%p if is_region %}")
    _table(
        doc,
        ["Маркер", "Источник", "ОО", "Случаев"],
        ["r.marker", "r.source", "r.schools", "r.cases"],
        "objectivity.by_marker",
        widths=[9, 4, 2, 2],
    )
    _p(doc, "{{ objectivity.source }}", SOURCE_STYLE)
    _p(doc, "{%p else %}")
    _section_table(
        doc,
        "objectivity",
        ["ОО", "Процедура", "Маркер", "Источник", "Значение", "Порог"],
        ["r.school", "r.procedure", "r.marker", "r.source", "r.value", "r.threshold"],
        "Маркеры не установлены.",
        widths=[4.5, 3, 4.5, 2, 1.5, 1.5],
    )
    _p(doc, "{%p endif %}")

    _p(doc, "{%p if has_shnor %}")
    doc.add_heading("6. Наставничество", level=1)
    _p(doc, "{{ coverage.text }}")
    _section_table(
        doc,
        "coverage",
        [
            "Предмет",
            "ОО",
            "Пар всего",
            "Проведено",
            "Запланировано",
            "Не проведено",
            "Доля проведённых, %",
            "Причины непроведения",
        ],
        ["r.subject", "r.schools", "r.total", "r.held", "r.planned", "r.not_held", "r.held_pct", "r.reasons"],
        "Пар наставничества в этом году нет.",
        widths=[2.6, 1.2, 1.5, 1.7, 1.9, 1.7, 2, 4.4],
    )
    doc.add_heading("Эффект наставничества", level=2)
    _p(doc, "{{ effect.text }}")
    _section_table(
        doc,
        "effect",
        ["Когорта", "Показатель", "ОО (опыт / сравнение)", "Разность разностей", "95% ДИ", "Вывод"],
        ["r.cohort", "r.indicator", "r.schools", "r.did", "r.ci", "r.conclusion"],
        "Оценки эффекта за этот год нет.",
        widths=[2, 2.5, 2.2, 2, 2.8, 5.5],
    )

    doc.add_heading("7. Результаты анкетирования", level=1)
    _p(doc, "{{ survey.text }}")
    _p(doc, "{%p for line in survey.lines %}")
    _p(doc, "{{ line }}")
    _p(doc, "{%p endfor %}")
    _section_table(
        doc,
        "survey",
        ["Анкета", "Вопрос", "Группа", "n", "Средний балл", "Распределение ответов", "Два верхних, %"],
        ["r.questionnaire", "r.question", "r.group", "r.n", "r.mean", "r.distribution", "r.top_box"],
        "Анкетирование в этом году не проводилось.",
        widths=[2.6, 4.4, 2.2, 1, 1.6, 3.4, 1.8],
    )
    _p(doc, "{%p if survey.chart %}")
    _p(doc, "{{ survey.chart }}")
    _p(doc, "{{ survey.chart_source }}", SOURCE_STYLE)
    _p(doc, "{%p endif %}")
    _p(doc, "{%p endif %}")

    doc.add_heading("{{ kpis.number }}. Целевые показатели программы", level=1)
    _p(doc, "{{ kpis.text }}")
    _section_table(
        doc,
        "kpis",
        ["Показатель", "Цель, %", "Значение, %", "В прошлом году, %", "Достигнут"],
        ["r.name", "r.target", "r.value", "r.previous", "r.met"],
        "Показателей за этот год нет.",
        widths=[7, 2.5, 2.5, 2.5, 2.5],
    )

    doc.add_heading("{{ kpis.number + 1 }}. Выводы", level=1)
    _p(doc, "[Выводы: заполняет методист]", PLACEHOLDER_STYLE)
    doc.add_heading("{{ kpis.number + 2 }}. Рекомендации", level=1)
    _p(doc, "[Рекомендации: заполняет методист]", PLACEHOLDER_STYLE)
    _p(doc, "{{ footer }}", SOURCE_STYLE)

    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE))
