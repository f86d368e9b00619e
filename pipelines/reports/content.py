"""What the справка says, defined once: the context of the Word template for one school year and one territory
(a municipality, or the region), built from the published Parquet marts only.

Every figure is a published value (or a count or sum of published values), formatted by marts.fmt_number;
a cell the small-cell rule blanked prints as «скрыто (менее N)» with N the mart's own minimum, never as 0.
Each table and chart carries a source line: mart, filter, publication time, suppression rule.
Charts are described here as data (ChartSpec); render.py draws them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb
import yaml

from pipelines.reports.marts import DASH, Mart, fmt_number, suppressed_text
from pipelines.settings import config_dir

REGION = "Регион"  # the region's справка is Регион.docx (programme_kpis names the region so too)
MARTS_READ = (
    "municipality_summary",
    "school_flags",
    "list_transitions",
    "school_year_results",
    "school_dynamics",
    "school_context",
    "objectivity_markers",
    "mentoring_coverage",
    "mentoring_effect",
    "survey_results",
    "programme_kpis",
)
RULE_SET_SHORT = {"rosobrnadzor_risk": "Рособрнадзор", "regional_percentile": "Регион. правило"}
RULE_SET_TITLES = {
    "rosobrnadzor_risk": "Индикатор риска Рособрнадзора",
    "regional_percentile": "Региональное правило",
}
FLAG_STATUS = {"flagged": "отмечена", "not_flagged": "не отмечена", "not_evaluable": "не оценивается"}
ASSESSMENT_ORDER = {"ВПР": 0, "ОГЭ": 1, "ЕГЭ": 2}
DYNAMICS_INDICATORS = {
    "mark_2_pct": "Доля «2», %",
    "below_minimum_pct": "Не преодолели минимум ЕГЭ, %",
    "pass_rate_pct": "Успеваемость, %",
    "quality_rate_pct": "Качество, %",
    "mean_mark": "Средняя отметка",
    "mean_primary_score": "Средний первичный балл",
    "mean_test_score": "Средний тестовый балл",
}
EFFECT_INDICATORS = {"mark_2_pct": "Доля «2», п.п.", "mean_primary_score": "Средний первичный балл"}
MARKER_SOURCES = {"official": "официальный перечень", "internal": "внутренняя аналитика"}
KPI_RULES = {"at_least": "не менее {t}", "at_most": "не более {t}", "rising": "рост", "falling": "снижение"}
GROUP_ALL = "all"


@dataclass
class ChartSpec:
    kind: str  # "bars" (grouped horizontal bars) or "lines"
    title: str
    categories: list[str]  # bars: one per category; lines: the x values (school years)
    series: dict[str, list[float | None]]  # label -> one value per category
    unit: str = "%"
    highlight: str | None = None  # lines: the series drawn bold


@dataclass
class Spravka:
    school_year: str
    territory: str  # municipality name, or REGION
    file_stem: str
    context: dict
    charts: dict[str, ChartSpec] = field(default_factory=dict)  # context key path -> chart


def _schools_label(n: int) -> str:
    return f"{n} ОО"


_LEGAL_FORM = re.compile(
    r"^Муниципальное\s+(?:(бюджетное|автономное|казённое|казенное)\s+)?общеобразовательное\s+учреждение\s*",
    re.IGNORECASE,
)


def short_school_name(name: str) -> str:
    """«Муниципальное бюджетное общеобразовательное учреждение «СОШ №1»» -> «МБОУ «СОШ №1»» (МОУ, МАОУ, МКОУ)."""
    match = _LEGAL_FORM.match(name)
    if not match:
        return name
    kind = (match.group(1) or "").lower()
    return f"М{kind[:1].upper()}ОУ " + name[match.end() :]


def _school(row: dict, with_municipality: bool) -> str:
    name = short_school_name(row["school_name"])
    return f"{name}\n{row['municipality_name']}" if with_municipality else name


def _procedure(row: dict) -> str:
    return f"{row['assessment_name']} {row['grade']} кл., {row['subject_name']}"


def _procedure_order(row: dict) -> tuple:
    return (ASSESSMENT_ORDER.get(row["assessment_name"], 9), row["grade"], row["subject_name"])


@cache
def _questionnaires(config: Path) -> dict[str, dict]:
    """questionnaire code -> {"title": source title_ru, "questions": {code: first header text}} (labels only)."""
    out: dict[str, dict] = {}
    for path in sorted((config / "sources").glob("*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
        survey = source.get("survey") if isinstance(source, dict) else None
        if survey:
            out[survey["questionnaire"]] = {
                "title": source.get("title_ru", survey["questionnaire"]),
                "questions": {q["code"]: q["texts"][0] for q in survey["questions"]},
            }
    return out


def _distribution_prose(distribution: str | None) -> str:
    """«Да: 1; Скорее да, чем нет: 5» (as published) -> «Да» — 1, «Скорее да, чем нет» — 5."""
    if not distribution:
        return DASH
    parts = [part.rsplit(":", 1) for part in distribution.split(";")]
    return ", ".join(f"«{option.strip()}» — {count.strip()}" for option, count in parts)


def _group(rows: list[dict], key) -> dict:
    out: dict = defaultdict(list)
    for r in rows:
        out[key(r)].append(r)
    return out


def school_years_in_marts(marts_dir: Path) -> list[str]:
    path = marts_dir / "municipality_summary"
    if not any(path.glob("*.parquet")):
        return []
    with duckdb.connect() as con:
        return [
            r[0]
            for r in con.execute(
                "select distinct school_year from read_parquet(?) order by 1", [str(path / "*.parquet")]
            ).fetchall()
        ]


class YearMarts:
    """The marts of one school year, read once for every справка of that year."""

    def __init__(self, marts_dir: Path, school_year: str):
        self.school_year = school_year
        self.m = {name: Mart.open(marts_dir, name) for name in MARTS_READ}
        y = [school_year]
        self.summary = self.m["municipality_summary"].rows("school_year = ?", y, "municipality_name")
        self.summary_all = self.m["municipality_summary"].rows("school_year <= ?", y, "municipality_name, school_year")
        self.flags = self.m["school_flags"].rows("school_year = ?", y, "municipality_name, school_name, rule_set")
        self.transitions = self.m["list_transitions"].rows(
            "school_year = ? and list_type = 'official' and list_name = 'ШНОР'", y, "municipality_name, school_name"
        )
        # one row per procedure and municipality: the municipal and regional values (the same on every school's
        # row), not the schools' rows (hundreds of thousands in a national year)
        measures = [
            f"{level}_{c}"
            for level in ("municipal", "regional")
            for c in (
                "participants",
                "mark_2_pct",
                "pass_rate_pct",
                "quality_rate_pct",
                "mean_test_score",
                "below_minimum_pct",
            )
        ]
        with duckdb.connect() as con:
            cursor = con.execute(
                "select procedure_id, assessment_name, grade, subject_name, municipality_name, "
                + ", ".join(f"any_value({c}) as {c}" for c in measures)
                + " from read_parquet(?) where school_year = ? group by all order by municipality_name, procedure_id",
                [self.m["school_year_results"].glob, school_year],
            )
            names = [d[0] for d in cursor.description]
            self.results = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        self.results_by_procedure = _group(self.results, lambda r: r["procedure_id"])
        self.dynamics = self.m["school_dynamics"].rows(
            "school_year = ? and is_negative_dynamics", y, "municipality_name, school_name, procedure_id, indicator"
        )
        self.context = self.m["school_context"].rows("school_year = ?", y, "municipality_name, school_name")
        self.markers = self.m["objectivity_markers"].rows(
            "school_year = ? and is_marked", y, "municipality_name, school_name, procedure_id, marker_code"
        )
        self.coverage = self.m["mentoring_coverage"].rows("school_year = ?", y, "municipality_name, subject_name")
        self.effect = self.m["mentoring_effect"].rows(
            "school_year = ? and isbsh_category = 'all' and settlement_group = 'all'",
            y,
            "cohort_school_year, indicator",
        )
        self.survey = self.m["survey_results"].rows(
            "school_year = ? and question_type = 'scale'", y, "questionnaire, question_code, respondent_group"
        )
        self.kpis = self.m["programme_kpis"].rows("school_year = ?", y, "territory_name, kpi_code")
        self.municipalities = sorted({r["municipality_name"] for r in self.summary})
        self._by_municipality: dict[str, dict[str, list[dict]]] = {}
        self.published_at = max(m.published_at for m in self.m.values())

    def of(self, attr: str, territory: str) -> list[dict]:
        """The rows of `attr` (e.g. "flags") for a municipality (indexed once), or all of them for the region."""
        rows = getattr(self, attr)
        if territory == REGION:
            return rows
        if attr not in self._by_municipality:
            self._by_municipality[attr] = _group(rows, lambda r: r["municipality_name"])
        return self._by_municipality[attr].get(territory, [])


# The marts' notes are codes for analysts' SQL (`<column>: k of n schools not evaluable (CODES)`); the справка
# says them in words.
_NOTE_COLUMNS_RU = {
    "shnor_rosobrnadzor_risk": "индикатор риска Рособрнадзора",
    "shnor_regional_percentile": "региональное правило",
    "shnor_official_exited_pct": "доля вышедших из перечня ШНОР",
    "risk_zone_schools": "зона риска",
}
_NOTE_CODES_RU = {
    "EXCLUDED_BIAS_MARKERS": "исключены по признакам необъективности",
    "NOT_ENOUGH_DATA": "недостаточно данных",
    "BELOW_MIN_N": "мало участников",
    "NO_SHNOR_PREVIOUS_YEAR": "в прошлом году ШНОР не было",
    "NO_ISBSH": "нет ИСБШ",
    "NOT_EVALUABLE": "не оценено ни одной ОО",
}


def _codes_ru(codes: str) -> str:
    return ", ".join(_NOTE_CODES_RU.get(c.strip(), c.strip()) for c in codes.split(","))


def note_ru(note: str) -> str:
    """A mart's note in Russian, e.g. `shnor_regional_percentile: 1 of 18 schools not evaluable (NOT_ENOUGH_DATA)`
    -> `региональное правило — не оценены 1 из 18 ОО (недостаточно данных)`."""
    said = []
    for part in note.split("; "):
        column, _, rest = part.partition(": ")
        label = _NOTE_COLUMNS_RU.get(column, column)
        if found := re.fullmatch(r"(\d+) of (\d+) schools not evaluable \((.*)\)", rest):
            k, n, codes = found.groups()
            said.append(f"{label} — не оценены {k} из {n} ОО ({_codes_ru(codes)})")
        elif found := re.fullmatch(r"NOT_EVALUABLE \((.*)\)", rest):
            said.append(f"{label} — не оценено ни одной ОО ({_codes_ru(found.group(1))})")
        else:
            said.append(f"{label} — {_codes_ru(rest)}")
    return "; ".join(said)


def _where(territory: str, school_year: str) -> str:
    place = "весь регион" if territory == REGION else f"МО «{territory}»"
    return f"учебный год {school_year}, {place}"


def build_spravka(data: YearMarts, territory: str, generated_at: datetime | None = None) -> Spravka:
    """The template context of one справка: `territory` is a municipality name or REGION."""
    generated_at = generated_at or datetime.now(UTC)
    is_region = territory == REGION
    year = data.school_year
    where = _where(territory, year)

    m = data.m
    charts: dict[str, ChartSpec] = {}

    # 1. participants --------------------------------------------------------------------------------------------
    summary = data.of("summary", territory)

    def total(column: str) -> int | None:
        values = [r[column] for r in summary]
        return None if not values or any(v is None for v in values) else sum(values)

    coverage = data.of("coverage", territory)
    mentors = {s.strip() for r in coverage for s in (r["mentor_school_logins"] or "").split(",") if s.strip()}
    participants_rows = [
        ("Общеобразовательных организаций", total("schools")),
        ("ШНОР (официальный перечень)", total("shnor_official")),
        ("ШНОР по индикатору риска Рособрнадзора (расчёт)", total("shnor_rosobrnadzor_risk")),
        ("ШНОР по региональному правилу (расчёт)", total("shnor_regional_percentile")),
        ("Школы, функционирующие в неблагоприятных социальных условиях (НСУ)", total("nsu_schools")),
        ("ОО, получающих наставническую поддержку", len({r["school_login"] for r in coverage})),
        ("Школ-наставников", len(mentors)),
        ("Пар наставничества (педагог-наставник — педагог)", sum(r["pairs_total"] for r in coverage)),
    ]
    notes = sorted(
        (f"{r['municipality_name']}: " if is_region else "") + note_ru(r["note"]) for r in summary if r.get("note")
    )
    participants = {
        "text": (
            f"Участники программы в {year} учебном году"
            + (" по региону (сумма по муниципальным образованиям)." if is_region else f" в МО «{territory}».")
            + ("" if not notes else " Оценены не все ОО: " + "; ".join(notes) + ".")
        ),
        "rows": [{"label": label, "value": fmt_number(value)} for label, value in participants_rows],
        "source": m["municipality_summary"].source(where)
        + " Наставничество: "
        + m["mentoring_coverage"].source(where).removeprefix("Источник: "),
    }

    # 2. ШНОР list, agreement, transitions -----------------------------------------------------------------------
    flags = data.of("flags", territory)
    rule_sets = sorted({r["rule_set"] for r in data.flags})
    by_school: dict[str, list[dict]] = defaultdict(list)
    for r in flags:
        by_school[r["school_login"]].append(r)
    shnor_rows = []
    for rows in by_school.values():
        official = bool(rows[0]["is_in_official_list"])
        if not official and not any(r["is_flagged"] for r in rows):
            continue
        by_rule = {r["rule_set"]: r for r in rows}
        rules, agrees = [], []
        for rule_set in rule_sets:
            r = by_rule.get(rule_set)
            title = RULE_SET_SHORT.get(rule_set, rule_set)
            if r is None:
                rules.append(f"{title}: {DASH}")
                agrees.append(f"{title}: {DASH}")
                continue
            status = FLAG_STATUS.get(r["flag_status"], r["flag_status"])
            rules.append(
                f"{title}: {status}" + (f" ({r['reason_codes'].replace(',', ', ')})" if r["reason_codes"] else "")
            )
            agrees.append(f"{title}: {fmt_number(r['agrees_with_official'])}")
        shnor_rows.append(
            {
                "school": _school(rows[0], is_region),
                "official": fmt_number(official),
                "rules": "\n".join(rules),
                "agrees": "\n".join(agrees),
            }
        )
    agreement = []
    for rule_set in rule_sets:
        rows = [r for r in flags if r["rule_set"] == rule_set]
        judged = [r for r in rows if r["agrees_with_official"] is not None]
        agree = sum(1 for r in judged if r["agrees_with_official"])
        agreement.append(
            f"{RULE_SET_TITLES.get(rule_set, rule_set)}: расчёт совпадает с официальным перечнем ШНОР для "
            f"{agree} из {len(judged)} ОО"
            + (f" (не оценивались: {len(rows) - len(judged)} ОО)." if len(rows) > len(judged) else ".")
        )
    transitions = data.of("transitions", territory)
    entered = [r for r in transitions if r["is_entered"]]
    stayed = [r for r in transitions if r["is_stayed"]]
    exited = [r for r in transitions if r["is_exited"]]
    in_list = [r for r in transitions if r["is_in_list"]]
    was_in_list = len(stayed) + len(exited)
    transitions_text = (
        f"Официальный перечень ШНОР {year} учебного года: {len(in_list)} ОО. Вошли в перечень: {len(entered)} ОО; "
        f"остались: {len(stayed)} ОО; вышли из перечня (переход в эффективный режим): {len(exited)} из "
        f"{was_in_list} школ."
    )
    transition_rows = [
        {
            "status": label,
            "count": count,
            "schools": "; ".join(
                _school(r, False)
                + (f" ({r['municipality_name']})" if is_region else "")
                + (f" — {r['exit_reason']}" if r.get("exit_reason") else "")
                for r in rows
            )
            or DASH,
        }
        for label, count, rows in (
            ("Вошли в перечень", fmt_number(len(entered)), entered),
            ("Остались в перечне", fmt_number(len(stayed)), stayed),
            ("Вышли (переход в эффективный режим)", f"{fmt_number(len(exited))} из {fmt_number(was_in_list)}", exited),
        )
    ]
    has_shnor = bool(shnor_rows or in_list or exited)
    shnor = {
        "text": (
            f"Перечень ШНОР {year} учебного года и расчёт по наборам правил ({', '.join(RULE_SET_TITLES.get(r, r) for r in rule_sets)}): "
            f"в таблице — ОО официального перечня и ОО, отмеченные хотя бы одним набором правил ({len(shnor_rows)})."
        ),
        "rows": shnor_rows,
        "agreement": agreement,
        "source": m["school_flags"].source(where),
    }
    no_shnor_text = (
        f"В {year} учебном году в МО «{territory}» нет школ с низкими образовательными результатами: ни одна ОО "
        "не входит в официальный перечень ШНОР и не отмечена расчётными наборами правил, выходов из перечня не было. "
        "Разделы о перечне ШНОР, наставничестве и анкетировании в справку не включены."
    )

    # 3. results against the region ------------------------------------------------------------------------------
    procedures = sorted(data.results_by_procedure, key=lambda p: _procedure_order(data.results_by_procedure[p][0]))
    result_rows, ege_rows = [], []
    bar_categories, bar_here, bar_other = [], [], []
    for procedure in procedures:
        rows = data.results_by_procedure[procedure]  # one per municipality
        if not is_region:
            rows = [r for r in rows if r["municipality_name"] == territory]
            if not rows:
                continue
        here = rows[0]
        level = "regional" if is_region else "municipal"
        participants_n = here[f"{level}_participants"]

        def pick(col: str, here=here, level=level):
            return here[f"{level}_{col}"]

        def other_value(col: str, here=here):  # the region's value beside a municipality's; none beside itself
            return None if is_region else here[f"regional_{col}"]

        def other(col: str, rows=rows, here=here) -> str:
            if not is_region:
                return fmt_number(here[f"regional_{col}"])
            values = [r[f"municipal_{col}"] for r in rows if r[f"municipal_{col}"] is not None]
            return f"{fmt_number(min(values))}–{fmt_number(max(values))}" if values else DASH

        label = _procedure(here)
        if here["assessment_name"] == "ЕГЭ":
            ege_rows.append(
                {
                    "procedure": f"{here['subject_name']}",
                    "participants": fmt_number(participants_n),
                    "score": fmt_number(pick("mean_test_score")),
                    "score_other": other("mean_test_score"),
                    "below": fmt_number(pick("below_minimum_pct")),
                    "below_other": other("below_minimum_pct"),
                }
            )
            continue
        result_rows.append(
            {
                "procedure": label,
                "participants": fmt_number(participants_n),
                "mark_2": fmt_number(pick("mark_2_pct")),
                "mark_2_other": other("mark_2_pct"),
                "pass": fmt_number(pick("pass_rate_pct")),
                "pass_other": other("pass_rate_pct"),
                "quality": fmt_number(pick("quality_rate_pct")),
                "quality_other": other("quality_rate_pct"),
            }
        )
        if pick("mark_2_pct") is not None:
            bar_categories.append(label)
            bar_here.append(pick("mark_2_pct"))
            bar_other.append(other_value("mark_2_pct"))
    here_label = "регион" if is_region else "МО"
    other_label = "МО: мин.–макс." if is_region else "регион"
    results_ctx = {
        "text": (
            f"Результаты ВПР и ОГЭ {year} учебного года: доля «2», успеваемость и качество "
            + (
                "по региону и разброс значений муниципальных образований."
                if is_region
                else f"в МО «{territory}» в сравнении с регионом."
            )
            + " Значения муниципалитета и региона взвешены по числу участников."
        ),
        "here": here_label,
        "other": other_label,
        "rows": result_rows,
        "source": m["school_year_results"].source(where + ", ВПР и ОГЭ"),
    }
    ege = {
        "text": "ЕГЭ: средний тестовый балл и доля не преодолевших минимальный балл.",
        "rows": ege_rows,
        "source": m["school_year_results"].source(where + ", ЕГЭ"),
    }
    if bar_categories:
        series = {("Регион" if is_region else territory): bar_here}
        if not is_region:
            series["Регион"] = bar_other
        charts["results.chart_bar"] = ChartSpec("bars", f"Доля «2», %: {year}", bar_categories, series)
        results_ctx["chart_bar_source"] = m["school_year_results"].source(where + ", ВПР и ОГЭ; диаграмма")
    years = sorted({r["school_year"] for r in data.summary_all})
    if len(years) > 1:
        lines = {
            name: [
                next(
                    (
                        r["vpr_mark_2_pct"]
                        for r in data.summary_all
                        if r["municipality_name"] == name and r["school_year"] == y
                    ),
                    None,
                )
                for y in years
            ]
            for name in data.municipalities
        }
        charts["results.chart_line"] = ChartSpec(
            "lines", "Доля «2» ВПР по годам, %", years, lines, highlight=None if is_region else territory
        )
        results_ctx["chart_line_source"] = m["municipality_summary"].source(
            f"учебные годы {years[0]} — {years[-1]}, все муниципальные образования, доля «2» ВПР"
        )

    # negative dynamics ------------------------------------------------------------------------------------------
    dynamics = data.of("dynamics", territory)
    dyn = m["school_dynamics"]
    negative_rows = [
        {
            "school": _school(r, is_region),
            "procedure": _procedure(r),
            "indicator": DYNAMICS_INDICATORS.get(r["indicator"], r["indicator"]),
            "previous": dyn.cell(r, "previous_value"),
            "value": dyn.cell(r, "indicator_value"),
            "change": dyn.cell(r, "change"),
        }
        for r in dynamics
    ]
    negative_by_municipality = []
    if is_region:
        for name in data.municipalities:
            rows = [r for r in dynamics if r["municipality_name"] == name]
            negative_by_municipality.append(
                {
                    "municipality": name,
                    "schools": fmt_number(len({r["school_key"] for r in rows})),
                    "cases": fmt_number(len(rows)),
                }
            )
    negative = {
        "text": (
            f"Отрицательная динамика к предыдущему году (рост доли «2» или доли не преодолевших минимум): "
            f"{len({r['school_key'] for r in dynamics})} ОО, {len(dynamics)} случаев (ОО × процедура × показатель)."
            + (" По муниципальным образованиям:" if is_region else "")
        ),
        "rows": negative_rows,
        "by_municipality": negative_by_municipality,
        "source": dyn.source(where + ", отрицательная динамика"),
    }

    # 4. risk zone -----------------------------------------------------------------------------------------------
    context_rows = data.of("context", territory)
    risk_rows = [r for r in context_rows if r["is_risk_zone"]]
    not_judged = Counter(r["risk_zone_reason"] or "—" for r in context_rows if r["is_risk_zone"] is None)
    risk = {
        "text": (
            f"В зоне риска (низкий ИСБШ и рост доли «2» ВПР за окно лет) {len(risk_rows)} из {len(context_rows)} ОО."
            + (
                " Не оценены: " + ", ".join(f"{reason} — {n}" for reason, n in sorted(not_judged.items())) + "."
                if not_judged
                else ""
            )
            + (" Рекомендуется включить эти школы в адресную поддержку." if risk_rows else "")
        ),
        "rows": [
            {
                "school": _school(r, is_region),
                "isbsh": fmt_number(r["isbsh_score"], 3),
                "category": r["isbsh_category"] or DASH,
                "mark_2": fmt_number(r["vpr_mark_2_pct"]),
                "change": fmt_number(r["vpr_mark_2_change_pp"]),
            }
            for r in risk_rows
        ],
        "source": m["school_context"].source(where + ", зона риска"),
    }

    # 5. objectivity markers (analytics) -------------------------------------------------------------------------
    procedure_names = {p: _procedure(rows[0]) for p, rows in data.results_by_procedure.items()}
    markers = data.of("markers", territory)
    om = m["objectivity_markers"]
    objectivity = {
        "text": (
            "Маркеры — аналитика для методической службы: повод проверить условия проведения и проверки работ, "
            "а не оценка работы учителей и не основание для выводов о конкретных педагогах. "
            f"Маркеры установлены у {len({r['school_key'] for r in markers})} ОО ({len(markers)} случаев)."
            + (" По видам маркеров:" if is_region else "")
        ),
        "rows": [
            {
                "school": _school(r, is_region),
                "procedure": procedure_names.get(r["procedure_id"], r["procedure_id"]),
                "marker": r["marker_name_ru"],
                "source": MARKER_SOURCES.get(r["source"], r["source"]),
                "value": om.cell(r, "value"),
                "threshold": fmt_number(r["threshold"]),
            }
            for r in markers
        ],
        "by_marker": [
            {
                "marker": marker,
                "source": MARKER_SOURCES.get(source, source),
                "schools": fmt_number(len({r["school_key"] for r in rows})),
                "cases": fmt_number(len(rows)),
            }
            for (marker, source), rows in sorted(_group(markers, lambda r: (r["marker_name_ru"], r["source"])).items())
        ],
        "source": om.source(where + ", установленные маркеры"),
    }

    # 6. mentoring coverage and effect ---------------------------------------------------------------------------
    mc = m["mentoring_coverage"]
    coverage_rows = []
    for subject in sorted({r["subject_name"] for r in coverage}):
        rows = [r for r in coverage if r["subject_name"] == subject]
        pairs = sum(r["pairs_total"] for r in rows)
        held = sum(r["pairs_held"] for r in rows)
        reasons = sorted({s.strip() for r in rows for s in (r["not_held_reasons"] or "").split(";") if s.strip()})
        coverage_rows.append(
            {
                "subject": subject,
                "schools": fmt_number(len({r["school_login"] for r in rows})),
                "total": fmt_number(pairs),
                "held": fmt_number(held),
                "planned": fmt_number(sum(r["pairs_planned"] for r in rows)),
                "not_held": fmt_number(sum(r["pairs_not_held"] for r in rows)),
                # a share over fewer pairs than the mart's minimum stays hidden, as in the mart itself
                "held_pct": fmt_number(round(100 * held / pairs, 2), 2)
                if mc.min_n is None or pairs >= mc.min_n
                else suppressed_text(mc.min_n),
                "reasons": "; ".join(reasons) or DASH,
            }
        )
    coverage_ctx = {
        "text": (
            f"Наставничество по предметам: пары педагог-наставник — педагог ШНОР ({len(coverage_rows)} предметов). "
            "Доля проведённых пар по предмету показана, если пар не меньше порога публикации."
        ),
        "rows": coverage_rows,
        "source": mc.source(where + ", итоги по предметам"),
    }
    me = m["mentoring_effect"]
    effect_rows = [
        {
            "cohort": r["cohort_school_year"],
            "indicator": EFFECT_INDICATORS.get(r["indicator"], r["indicator"]),
            "schools": f"{fmt_number(r['treated_schools'])} / {fmt_number(r['comparison_schools'])}",
            "did": fmt_number(r["did"]),
            "ci": (
                f"от {fmt_number(r['did_ci_low'])} до {fmt_number(r['did_ci_high'])}"
                if r["did_ci_low"] is not None
                else DASH
            ),
            "conclusion": r["conclusion_ru"] or DASH,
        }
        for r in data.effect
    ]
    effect = {
        "text": (
            "Эффект наставничества — разность разностей: изменение у ШНОР с наставничеством против изменения у "
            "сопоставимых школ без него, с 95% доверительным интервалом. Оценивается по региону в целом"
            + ("." if is_region else " (витрина не делится по муниципальным образованиям).")
            + " Вывод по каждой оценке — в последнем столбце таблицы; недостоверная оценка эффектом не считается."
        ),
        "rows": effect_rows,
        "source": me.source(f"учебный год {year}, весь регион, все страты (ИСБШ и тип поселения: all)"),
    }

    # 7. survey ----------------------------------------------------------------------------------------------------
    sr = m["survey_results"]
    questionnaires = _questionnaires(config_dir())
    survey_rows, survey_lines, chart_categories, chart_values = [], [], [], []
    for r in data.survey:
        q = questionnaires.get(r["questionnaire"], {"title": r["questionnaire"], "questions": {}})
        question = q["questions"].get(r["question_code"], r["question_code"])
        survey_rows.append(
            {
                "questionnaire": q["title"],
                "question": question,
                "group": "все" if r["respondent_group"] == GROUP_ALL else r["respondent_group"],
                "n": fmt_number(r["n_respondents"]),
                "mean": sr.cell(r, "mean_score", 2),
                "distribution": sr.cell(r, "distribution"),
                "top_box": sr.cell(r, "top_box_pct", 2),
            }
        )
        if r["respondent_group"] == GROUP_ALL and r["mean_score"] is not None:
            chart_categories.append(f"{q['title'].split(' (')[0]}: {question}")
            chart_values.append(r["mean_score"])
            survey_lines.append(
                f"{q['title']}, «{question}» (все респонденты, n = {fmt_number(r['n_respondents'])}): средний балл "
                f"{fmt_number(r['mean_score'], 2)}; ответы: {_distribution_prose(r['distribution'])}."
            )
    survey = {
        "text": (
            "Мониторинговые анкеты (регион в целом, ответы по школам): средний балл — по шкале вопроса (из 5 для "
            "шкалы 1–5), распределение ответов и доля двух верхних вариантов, по группам респондентов."
        ),
        "rows": survey_rows,
        "lines": survey_lines,
        "source": sr.source(f"волна {year}, весь регион, вопросы со шкалой"),
    }
    if chart_categories:
        charts["survey.chart"] = ChartSpec(
            "bars",
            f"Средний балл по вопросам анкет, {year}",
            chart_categories,
            {"Все респонденты": chart_values},
            unit="балл",
        )
        survey["chart_source"] = sr.source(f"волна {year}, весь регион, группа «все»; диаграмма")

    # 8. KPIs --------------------------------------------------------------------------------------------------------
    pk = m["programme_kpis"]
    kpi_rows = [
        r
        for r in data.kpis
        if (
            r["territory_level"] == "region"
            if is_region
            else r["territory_level"] == "municipality" and r["territory_name"] == territory
        )
    ]
    kpis = {
        "number": 8 if has_shnor or is_region else 6,  # sections 6 and 7 are left out of a short справка
        "text": "Целевые показатели программы: значение, цель и её достижение.",
        "rows": [
            {
                "name": r["kpi_name_ru"],
                "target": KPI_RULES.get(r["comparison"], r["comparison"]).format(t=fmt_number(r["target_pct"])),
                "value": pk.cell(r, "value_pct"),
                "previous": pk.cell(r, "previous_value_pct"),
                "met": pk.cell(r, "is_met"),
            }
            for r in kpi_rows
        ],
        "source": pk.source(where + (", уровень «регион»" if is_region else ", уровень «муниципалитет»")),
    }

    context = {
        "school_year": year,
        "territory": territory,
        "is_region": is_region,
        "territory_title": "в регионе" if is_region else f"в МО «{territory}»",
        "preamble": (
            f"Справка сформирована {generated_at:%d.%m.%Y} из опубликованных витрин хранилища (данные опубликованы "
            f"{data.published_at:%d.%m.%Y %H:%M} UTC). Ячейки с малым числом участников скрыты по правилам "
            "публикации и помечены «скрыто (менее N)». Под каждой таблицей и диаграммой указан источник. "
            "Выводы и рекомендации заполняет методист."
        ),
        "has_shnor": has_shnor or is_region,
        "no_shnor_text": no_shnor_text,
        "participants": participants,
        "shnor": shnor,
        "transitions": {
            "text": transitions_text,
            "rows": transition_rows,
            "source": m["list_transitions"].source(where + ", официальный перечень ШНОР"),
        },
        "results": results_ctx,
        "ege": ege,
        "negative": negative,
        "risk": risk,
        "objectivity": objectivity,
        "coverage": coverage_ctx,
        "effect": effect,
        "survey": survey,
        "kpis": kpis,
        "footer": f"Сформировано автоматически {generated_at:%d.%m.%Y %H:%M} UTC из витрин хранилища "
        "(шаблон pipelines/reports/templates/spravka.docx).",
    }
    return Spravka(year, territory, territory, context, charts)


def build_year_spravki(marts_dir: Path, school_year: str) -> list[Spravka]:
    """Every справка of a school year: one per municipality in the marts, then the region's."""
    data = YearMarts(marts_dir, school_year)
    now = datetime.now(UTC)
    return [build_spravka(data, name, now) for name in data.municipalities] + [build_spravka(data, REGION, now)]
