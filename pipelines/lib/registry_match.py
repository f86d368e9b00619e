"""Finding a file's schools in the registry of the same school year: by Логин ОО, ОГРН, ИНН or name.

Exports name schools as their makers know them: ФИС ОКО by login, open-data sets by ОГРН or ИНН, forms by the
school's full name typed by a person. The registry (raw.school_registry) knows all four. Each registry row gives
one match key per method; a key that fits several schools of a year (two schools with one name) is kept with
its number of candidates, and such a match is refused, never guessed.

Names are compared after `normalise_school_name`: case, spaces, quotes, ё/е, «№ 5»/«№5», and the usual
organisational forms («муниципальное бюджетное общеобразовательное учреждение» = «МБОУ», «средняя
общеобразовательная школа» = «СОШ» …).
"""

from __future__ import annotations

import difflib
import re

import duckdb
import pyarrow as pa

# full wording -> the abbreviation it is compared as (longest first, so a longer form wins)
ORGANISATIONAL_FORMS = {
    "муниципальное бюджетное общеобразовательное учреждение": "мбоу",
    "муниципальное автономное общеобразовательное учреждение": "маоу",
    "муниципальное казенное общеобразовательное учреждение": "мкоу",
    "муниципальное общеобразовательное учреждение": "моу",
    "государственное бюджетное общеобразовательное учреждение": "гбоу",
    "государственное автономное общеобразовательное учреждение": "гаоу",
    "государственное казенное общеобразовательное учреждение": "гкоу",
    "государственное общеобразовательное учреждение": "гоу",
    "частное общеобразовательное учреждение": "чоу",
    "негосударственное общеобразовательное учреждение": "ноу",
    "средняя общеобразовательная школа": "сош",
    "основная общеобразовательная школа": "оош",
    "начальная общеобразовательная школа": "нош",
    "центр образования": "цо",
}
_FORMS = sorted(ORGANISATIONAL_FORMS.items(), key=lambda kv: len(kv[0]), reverse=True)


def _form_pattern(words: str) -> re.Pattern:
    return re.compile(r"\b" + r"\s+".join(re.escape(w) for w in words.split()) + r"\b")


_FORM_PATTERNS = [(_form_pattern(full), short) for full, short in _FORMS]
# the same forms with «организация» for «учреждение» (both are in use)
_FORM_PATTERNS += [
    (_form_pattern(full.replace("учреждение", "организация")), short) for full, short in _FORMS if "учреждение" in full
]

METHOD_RU = {"login": "Логин ОО", "ogrn": "ОГРН", "inn": "ИНН", "name": "наименование"}


def normalise_school_name(text: object) -> str | None:
    """A school's name as compared: lower case, ё→е, no quotes or punctuation, forms abbreviated, single spaces."""
    if text is None:
        return None
    s = str(text).lower().replace("ё", "е")
    s = re.sub(r"[«»\"'“”„‘’`]", " ", s)
    s = re.sub(r"[.,;:()\[\]]", " ", s)
    s = re.sub(r"[–—-]", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    for pattern, short in _FORM_PATTERNS:
        s = pattern.sub(short, s)
    s = re.sub(r"№\s*", "№", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s or None


def _digits(value: object) -> str | None:
    if value is None:
        return None
    d = re.sub(r"\D", "", str(value))
    return d or None


REGISTRY_COLUMNS = "school_year, school_login, ogrn, inn, school_name, school_short_name"


def registry_rows(con: duckdb.DuckDBPyConnection, school_years: list[str] | None) -> list[tuple]:
    """(school_year, login, ogrn, inn, name, short name) of the registry, for these school years (None: all)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'school_registry'"
    ).fetchone()[0]
    if not exists:
        return []
    where = f"where school_year in ({', '.join('?' for _ in school_years)})" if school_years else ""
    return con.execute(
        f"select {REGISTRY_COLUMNS} from raw.school_registry {where} order by 1, 2", school_years or []
    ).fetchall()


def registry_keys(rows: list[tuple], by: str) -> pa.Table:
    """The registry as the contract joins it: (school_year, match_key, login, candidates)."""
    logins: dict[tuple[str, str], set[str]] = {}
    for year, login, ogrn, inn, name, short_name in rows:
        if by == "login":
            keys = [login]
        elif by == "ogrn":
            keys = [_digits(ogrn)]
        elif by == "inn":
            keys = [_digits(inn)]
        else:
            keys = [normalise_school_name(name), normalise_school_name(short_name)]
        for key in {k for k in keys if k}:
            logins.setdefault((year, key), set()).add(login)
    items = sorted(logins.items())
    return pa.table(
        {
            "school_year": pa.array([y for (y, _), _ in items], pa.string()),
            "match_key": pa.array([k for (_, k), _ in items], pa.string()),
            "login": pa.array([min(v) for _, v in items], pa.string()),
            "candidates": pa.array([len(v) for _, v in items], pa.int64()),
        }
    )


def explain_unmatched(rows: list[tuple], by: str, school_year: str, value: str) -> str:
    """Why a value found no school, for the quarantine report: the candidates of an ambiguous name, or the
    nearest registry names (or codes)."""
    year_rows = [r for r in rows if r[0] == school_year]
    if by == "name":
        key = normalise_school_name(value)
        fitting = sorted({r[1] for r in year_rows if key in {normalise_school_name(r[4]), normalise_school_name(r[5])}})
        if len(fitting) > 1:
            return (
                f"несколько школ реестра с таким наименованием: {', '.join(fitting)} / "
                f"the name fits several registry schools: {', '.join(fitting)}"
            )
        names = {normalise_school_name(r[4]): r[4] for r in year_rows if r[4]}
        nearest = [names[n] for n in difflib.get_close_matches(key or "", list(names), n=3, cutoff=0.5)]
    else:
        column = {"login": 1, "ogrn": 2, "inn": 3}[by]
        codes = {str(r[column]): r for r in year_rows if r[column]}
        nearest = [f"{c} ({codes[c][4]})" for c in difflib.get_close_matches(str(value), list(codes), n=3, cutoff=0.6)]
    shown = "; ".join(nearest) if nearest else "—"
    return (
        f"школы нет в реестре ОО {school_year} ({METHOD_RU[by]}); ближайшие: {shown} / "
        f"not in the {school_year} registry (by {by}); nearest: {shown}"
    )
