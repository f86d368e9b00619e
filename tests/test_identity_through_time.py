"""Longitudinal marts follow the stable school_key, not the login: the re-numbered school of a generated region
keeps its series (dynamics, trend, list transitions, the windows of school_context and school_flags) across its new
login, and each row still shows that year's login and name.

The session region (conftest.SMALL_REGION) has three school years and the generator re-numbers a school only in the
fourth, so this module generates its own: four years, 11 schools, seed 199, where the re-numbered school is also on
the official НСУ list from the first year (an artificial "entered" under the new login would show). Only the three
sources these figures come from are loaded (registry, ВПР pupil files, official lists); the other families' raw
tables stay empty, as in test_bench_paths. Expected values are computed here from the staging tables and the
generator's truth, never from the marts being checked.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb
import polars as pl
import pytest

from pipelines.sample_region import RegionParams

from .conftest import reduced_region

PARAMS = RegionParams(seed=199, municipalities=2, schools=11, years=4, first_year=2021, pupils_per_grade=20)
SOURCES = ("school_registry", "vpr_pupil_results", "official_school_lists")
VPR_SUBJECT_CODES = {"РУ": "ru", "МА": "ma"}


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory):
    with reduced_region(tmp_path_factory.mktemp("identity_region"), PARAMS, SOURCES) as region:
        yield region


@pytest.fixture(scope="module")
def renumbered(region):
    """(old login, new login, year of re-numbering, the year before, two years before)."""
    [(old, new, year)] = (
        region.truth.schools.filter(pl.col("renumbered_login").is_not_null())
        .select("school_login", "renumbered_login", "renumbered_in_year")
        .rows()
    )
    years = PARAMS.school_years
    t = years.index(year)
    assert t >= 2
    return old, new, year, years[t - 1], years[t - 2]


@pytest.fixture(scope="module")
def con(region):
    with duckdb.connect(str(region.settings.warehouse_path), read_only=True) as con:
        yield con


@pytest.fixture(scope="module")
def vpr_mark_2(con):
    """(login, school year, procedure) -> (share of «2» among the pupils who wrote, participants), from staging."""
    rows = con.execute(
        """
        select school_login, school_year, grade, subject_code_in_source,
            100.0 * sum(case when mark = 2 then 1 else 0 end) / count(*), count(*)
        from staging.stg_fisoko__vpr_pupil_results
        where not is_absent
        group by all
        """
    ).fetchall()
    return {
        (login, year, f"vpr-{grade}-{VPR_SUBJECT_CODES[subject]}"): (share, n)
        for login, year, grade, subject, share, n in rows
    }


def _registry_name(con, login: str, year: str) -> str:
    [(name,)] = con.execute(
        "select school_name from raw.school_registry where school_login = ? and school_year = ?", [login, year]
    ).fetchall()
    return name


def _rows(con, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_the_region_has_a_renumbered_school_on_a_list(region, renumbered):
    old, new, _, before, _ = renumbered
    status = pl.read_parquet(region.settings.truth_dir / "official_list_status.parquet")
    on_list = status.filter((pl.col("first_login") == old) & (pl.col("school_year") == before))
    assert old != new and on_list.height > 0, "the test needs the re-numbered school on an official list in t − 1"


def test_dynamics_continue_across_the_new_login(con, renumbered, vpr_mark_2):
    old, new, year, before, two_before = renumbered
    rows = _rows(
        con,
        "select * from marts.school_dynamics where school_key = ? and school_year = ? and indicator = 'mark_2_pct'"
        " and procedure_id like 'vpr-%'",
        [old, year],
    )
    assert rows and {r["school_login"] for r in rows} == {new}
    assert {r["school_name"] for r in rows} == {_registry_name(con, new, year)}
    compared = 0
    for r in rows:
        procedure = r["procedure_id"]
        now, previous = vpr_mark_2[(new, year, procedure)][0], vpr_mark_2[(old, before, procedure)][0]
        assert r["indicator_value"] == pytest.approx(now, abs=0.006), procedure
        # before, a new login started a new series: no previous year at all
        assert r["previous_school_year"] == before, procedure
        if not r["comparable"]:  # the scale changed between the two years: nothing to compare
            assert r["previous_value"] is None and r["change"] is None
            continue
        compared += 1
        assert r["previous_value"] == pytest.approx(previous, abs=0.006), procedure
        assert r["change"] == pytest.approx(now - previous, abs=0.011), procedure
        assert r["is_negative_dynamics"] == (r["change"] >= 10), procedure
        if r["trend_3y"] is not None:
            assert r["trend_3y"] == pytest.approx((now - vpr_mark_2[(old, two_before, procedure)][0]) / 2, abs=0.011)
    assert compared >= len(rows) / 2
    # the three-year trend of the re-numbering year reaches back to the old login
    assert any(r["trend_3y"] is not None for r in rows)
    # the old login has no series of its own in the new year
    assert not _rows(con, "select 1 from marts.school_dynamics where school_login = ? and school_year = ?", [old, year])


def test_list_transitions_do_not_enter_or_exit_the_renumbered_school(region, con, renumbered):
    old, new, year, _, _ = renumbered
    rows = _rows(con, "select * from marts.list_transitions where school_key = ? and school_year = ?", [old, year])
    assert rows and {r["school_login"] for r in rows} == {new}
    assert {r["school_name"] for r in rows} == {_registry_name(con, new, year)}
    truth = pl.read_parquet(region.settings.truth_dir / "official_list_status.parquet").filter(
        (pl.col("first_login") == old) & (pl.col("school_year") == year)
    )
    expected = {r["list"]: (r["status"], r["years_in_list"]) for r in truth.iter_rows(named=True)}
    official = {r["list_name"]: r for r in rows if r["list_type"] == "official"}
    assert expected and all(status != "entered" for status, _ in expected.values())
    for list_name, (status, years_in_list) in expected.items():
        assert (official[list_name]["status"], official[list_name]["years_in_list"]) == (status, years_in_list)
    # and the old login does not leave any list in the year it stopped being used
    assert not _rows(
        con, "select 1 from marts.list_transitions where school_login = ? and school_year = ?", [old, year]
    )


def test_context_and_flag_windows_reach_back_to_the_old_login(con, renumbered, vpr_mark_2):
    old, new, year, before, two_before = renumbered
    [context] = _rows(con, "select * from marts.school_context where school_key = ? and school_year = ?", [old, year])
    assert context["school_login"] == new
    # risk zone window (var risk_zone_window_years = 2): the mean share of «2» over ВПР procedures at t − 2
    start = [share for (login, y, _), (share, _) in vpr_mark_2.items() if (login, y) == (old, two_before)]
    assert context["vpr_mark_2_pct_window_start"] == pytest.approx(sum(start) / len(start), abs=0.01)

    # regional_percentile pools t − 1 .. t (procedure results with at least 10 participants)
    pooled = defaultdict(int)
    for (login, y, _), (_, n) in vpr_mark_2.items():
        if (login, y) in {(old, before), (new, year)} and n >= 10:
            pooled[y] += n
    assert set(pooled) == {before, year}
    [flags] = _rows(
        con,
        "select * from marts.school_flags where school_key = ? and school_year = ? and rule_set = 'regional_percentile'",
        [old, year],
    )
    assert flags["school_login"] == new and flags["reason_codes"] != "NOT_ENOUGH_DATA"
    assert f"n = {sum(pooled.values())}," in flags["reason_details"]
