"""Three states of a rule set (flagged / not flagged / not evaluable) through school_flags, list_transitions and
municipality_summary, on the shared small region (conftest.SMALL_REGION: three school years from 2022-2023).

Expected values are computed here from the raw tables (registry, ВПР pupil files, official lists), never from the
marts being checked: the rosobrnadzor rule is recomputed from the pupils' marks, the official ШНОР list from its
dated entries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import duckdb
import pytest

MARK_2_CUT, MIN_PROCEDURES = 30, 2  # vars.rule_sets.rosobrnadzor_risk as shipped


def _school_year(start: int) -> str:
    return f"{start}-{start + 1}"


@pytest.fixture(scope="module")
def con(loaded_region):
    region, _, _ = loaded_region
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:
        yield con


@pytest.fixture(scope="module")
def years(loaded_region, con):
    loaded = [r[0] for r in con.execute("select distinct school_year from raw.school_registry order by 1").fetchall()]
    assert loaded == list(loaded_region[0].params.school_years)
    return loaded


@pytest.fixture(scope="module")
def registry(con, years):
    """{(login, school year): (school_key, municipality)}; the key is the first login, followed through
    previous_login."""
    rows = con.execute(
        "select school_year, school_login, previous_login, municipality from raw.school_registry order by school_year"
    ).fetchall()
    first_login: dict[str, str] = {}
    out = {}
    for year, login, previous, municipality in rows:
        first_login[login] = first_login.get(previous, previous) if previous else first_login.get(login, login)
        out[(login, year)] = (first_login[login], municipality)
    return out


@pytest.fixture(scope="module")
def vpr_at_cut(con, registry):
    """{(school_key, start year): {procedures with a share of «2» >= 30%}} and the set of (school_key, start year)
    with ВПР results, from the pupils' marks (a pupil marked «отсутствовал» is not a participant)."""
    rows = con.execute(
        "select school_year, school_login, grade, subject_code, "
        "count(*) filter (where mark <> 'отсутствовал'), count(*) filter (where mark = '2') "
        "from raw.vpr_pupil_results group by all"
    ).fetchall()
    at_cut, with_results = defaultdict(set), set()
    for year, login, grade, subject, n, n2 in rows:
        if n == 0:
            continue
        key = (registry[(login, year)][0], int(year[:4]))
        with_results.add(key)
        if 100.0 * n2 / n >= MARK_2_CUT:
            at_cut[key].add((grade, subject))
    return at_cut, with_results


def _rosobrnadzor(vpr_at_cut, key: str, start: int) -> bool | None:
    """The rule, recomputed: None when not evaluable (no ВПР in t − 1 or in t)."""
    at_cut, with_results = vpr_at_cut
    if (key, start - 1) not in with_results or (key, start) not in with_results:
        return None
    now, before = at_cut[(key, start)], at_cut[(key, start - 1)]
    return len(now) >= MIN_PROCEDURES and bool(now & before)


def _flags(con, rule_set: str, year: str) -> dict[str, dict]:
    rel = con.execute("select * from marts.school_flags where rule_set = ? and school_year = ?", [rule_set, year])
    names = [d[0] for d in rel.description]
    return {r["school_key"]: r for r in (dict(zip(names, row)) for row in rel.fetchall())}


def _transitions(con, list_name: str, year: str) -> dict[str, dict]:
    rel = con.execute(
        "select * from marts.list_transitions where list_type = 'rule_set' and list_name = ? and school_year = ?",
        [list_name, year],
    )
    names = [d[0] for d in rel.description]
    return {r["school_key"]: r for r in (dict(zip(names, row)) for row in rel.fetchall())}


def test_first_year_rosobrnadzor_is_not_evaluable_for_every_school(con, years, registry):
    first = years[0]
    before = _school_year(int(first[:4]) - 1)
    # nothing of the year before the first is loaded: t − 1 is missing for every school
    assert con.execute("select count(*) from raw.vpr_pupil_results where school_year < ?", [first]).fetchone()[0] == 0
    with_results = {
        registry[(login, first)][0]
        for (login,) in con.execute(
            "select school_login from raw.vpr_pupil_results where school_year = ? and mark <> 'отсутствовал' "
            "union select school_login from raw.oge_pupil_results where school_year = ? "
            "union select school_login from raw.ege_pupil_results where school_year = ?",
            [first, first, first],
        ).fetchall()
    }
    flags = _flags(con, "rosobrnadzor_risk", first)
    assert set(flags) == with_results and len(flags) == len({k for k, y in registry if y == first})
    for key, row in flags.items():
        assert (row["flag_status"], row["reason_codes"], row["is_flagged"], row["agrees_with_official"]) == (
            "not_evaluable",
            "NO_PREVIOUS_YEAR",
            None,
            None,
        ), key
        assert row["reason_details"] == f"нет результатов за {before} (t − 1)"
    # the pooled window of regional_percentile reaches the missing year too
    regional = _flags(con, "regional_percentile", first)
    assert set(regional) == with_results
    assert {(r["flag_status"], r["reason_codes"], r["is_flagged"]) for r in regional.values()} == {
        ("not_evaluable", "NOT_ENOUGH_DATA", None)
    }


def test_rosobrnadzor_recomputed_from_the_pupils_marks(con, years, vpr_at_cut):
    for year in years[1:]:
        flags = _flags(con, "rosobrnadzor_risk", year)
        expected = {key: _rosobrnadzor(vpr_at_cut, key, int(year[:4])) for key in flags}
        assert any(expected.values()), year
        got = {key: row["is_flagged"] for key, row in flags.items()}
        assert got == expected, year
        for key, row in flags.items():
            status = {True: "flagged", False: "not_flagged", None: "not_evaluable"}[expected[key]]
            assert row["flag_status"] == status, (year, key)


def test_no_transition_from_the_not_evaluable_first_year(con, years, vpr_at_cut):
    first, second = years[0], years[1]
    for rule_set in ("rosobrnadzor_risk", "regional_percentile"):
        was_evaluable = {k for k, r in _flags(con, rule_set, first).items() if r["flag_status"] != "not_evaluable"}
        assert not was_evaluable  # the first year could not be evaluated (previous test)
        rows = _transitions(con, rule_set, second)
        assert rows and not [k for k, r in rows.items() if r["status"] == "entered"], rule_set
        for key, r in rows.items():
            assert r["status"] == "not_evaluable" and r["is_entered"] is not True and r["is_exited"] is not True
            if r["is_in_list"] is not None:  # evaluated this year: only the previous year is missing
                assert r["not_evaluable_reason"] == "PREVIOUS_YEAR_NOT_EVALUABLE", (rule_set, key)
    # the schools flagged in the second year are in the list, without having "entered" it
    start = int(second[:4])
    flagged = {k for k in _transitions(con, "rosobrnadzor_risk", second) if _rosobrnadzor(vpr_at_cut, k, start)}
    in_list = {k for k, r in _transitions(con, "rosobrnadzor_risk", second).items() if r["is_in_list"]}
    assert flagged and in_list == flagged


def test_transitions_between_two_evaluated_years(con, years, vpr_at_cut):
    second, third = years[1], years[2]
    rows = _transitions(con, "rosobrnadzor_risk", third)
    for key, r in rows.items():
        now, before = _rosobrnadzor(vpr_at_cut, key, int(third[:4])), _rosobrnadzor(vpr_at_cut, key, int(second[:4]))
        if now is None or before is None:
            expected = "not_evaluable"
        else:
            expected = {(True, True): "stayed", (True, False): "entered", (False, True): "exited"}.get(
                (now, before), "not_in_list"
            )
        assert r["status"] == expected, key
        assert r["years_in_list"] == sum(1 for v in (before, now) if v), key
    assert {"stayed", "not_in_list"} <= {r["status"] for r in rows.values()}


def test_municipality_summary_has_no_previous_year_figures_in_the_first_year(con, years, registry, vpr_at_cut):
    first, second = years[0], years[1]
    rel = con.execute("select * from marts.municipality_summary order by school_year, municipality_name")
    names = [d[0] for d in rel.description]
    summary = {(r["municipality_name"], r["school_year"]): r for r in (dict(zip(names, x)) for x in rel.fetchall())}
    municipalities = {m for (_, y), (_, m) in registry.items() if y == first}
    assert {m for m, y in summary if y == first} == municipalities

    # the official ШНОР list of the first year, from its dated entries (1 September .. 31 August)
    starts, ends = dt.date(int(first[:4]), 9, 1), dt.date(int(first[5:]), 8, 31)
    shnor_first = defaultdict(int)
    for (login,) in con.execute(
        "select distinct school_login from raw.official_school_lists where school_year = ? and list_name = 'ШНОР' "
        "and date_in <= ? and (date_out is null or date_out > ?)",
        [first, ends, starts],
    ).fetchall():
        shnor_first[registry[(login, first)][1]] += 1
    assert sum(shnor_first.values()) > 0

    flagged_second = defaultdict(int)
    for (login, year), (key, municipality) in registry.items():
        if year == second and _rosobrnadzor(vpr_at_cut, key, int(second[:4])):
            flagged_second[municipality] += 1

    for m in municipalities:
        row = summary[(m, first)]
        for column in (
            "shnor_official_previous_year",
            "shnor_official_exited",
            "shnor_official_exited_pct",
            "shnor_rosobrnadzor_risk",
            "shnor_regional_percentile",
        ):
            assert row[column] is None, (m, column)
        previous = "shnor_official_previous_year, shnor_official_exited, shnor_official_exited_pct"
        assert f"{previous}: NO_PREVIOUS_YEAR" in row["note"]
        assert "shnor_rosobrnadzor_risk: NOT_EVALUABLE (NO_PREVIOUS_YEAR)" in row["note"]
        assert "shnor_regional_percentile: NOT_EVALUABLE (NOT_ENOUGH_DATA)" in row["note"]
        assert row["shnor_official"] == shnor_first[m]  # the official list itself is known in the first year

        nxt = summary[(m, second)]
        assert nxt["shnor_official_previous_year"] == shnor_first[m], m
        assert nxt["shnor_official_exited"] is not None
        assert nxt["shnor_rosobrnadzor_risk"] == flagged_second[m], m
        assert "NO_PREVIOUS_YEAR" not in (nxt["note"] or "")
