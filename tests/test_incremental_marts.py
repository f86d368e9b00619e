"""School-level marts incremental by school year (dbt_project/macros/incremental_by_school_year.sql): a build
computes only the school years whose inputs changed (in the year or in the years its window reads: two for
school_dynamics, one for school_flags, whose rule sets compare t with t − 1), and what it computes equals a full
rebuild. Run with real dbt on a copy of the session's region."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.settings import DBT_PROJECT_DIR
from tests.conftest import SMALL_REGION

MARTS = ("school_year_results", "school_dynamics", "school_flags", "objectivity_markers")
YEARS = SMALL_REGION.school_years  # three school years


def dbt(data_dir: Path, *args: str) -> None:
    env = {**os.environ, "EDUWH_DATA_DIR": str(data_dir)}
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--quiet", "--profiles-dir", ".",
         "--target-path", str(data_dir / "dbt_target")],
        cwd=DBT_PROJECT_DIR, env=env, check=True,
    )


def built_at(data_dir: Path, mart: str) -> dict[str, object]:
    """school year -> when its rows were computed (one build per year)."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(f"select school_year, count(distinct built_at) n, max(built_at) "
                           f"from marts.{mart} group by 1 order by 1").fetchall()
    assert all(n == 1 for _, n, _ in rows), rows
    return {year: at for year, _, at in rows}


def published_rows(data_dir: Path, mart: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f"select * exclude (built_at, input_fingerprint) from marts.{mart} order by all").fetchall()


@pytest.fixture
def warehouse_copy(loaded_region, tmp_path) -> Path:
    region, _, _ = loaded_region
    shutil.copy(region.settings.warehouse_path, tmp_path / "warehouse.duckdb")
    return tmp_path


def test_a_build_recomputes_only_the_years_whose_inputs_changed_and_agrees_with_a_full_rebuild(warehouse_copy):
    """And the marts' dbt tests check the rows of the latest build."""
    data = warehouse_copy
    select = ["--select", *MARTS]
    before = {m: built_at(data, m) for m in MARTS}
    assert all(set(b) == set(YEARS) for b in before.values())

    # nothing changed: nothing is computed again
    dbt(data, "run", *select)
    assert {m: built_at(data, m) for m in MARTS} == before

    # a school renamed in the registry of the middle year: that year of school_year_results and objectivity_markers
    # is computed again, and the years of school_dynamics and school_flags whose window reads it (the middle and the
    # last), not the first
    first, middle, last = YEARS
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        login = con.execute("select min(school_login) from marts.school_year_results where school_year = ?",
                            [middle]).fetchone()[0]
        # raw.school_registry is a view: the row is changed in the table of the registry load that holds it
        (table,) = con.execute("select t.table_name from ingest.load_tables t join ingest.load_log l using (load_id) "
                               "where l.source = 'school_registry' and l.school_year = ? and l.status = 'loaded'",
                               [middle]).fetchone()
        con.execute(f"update {table} set school_name = 'Переименованная школа' "
                    "where school_login = ? and school_year = ?", [login, middle])
    dbt(data, "run", *select)
    after = {m: built_at(data, m) for m in MARTS}
    changed = {m: {y for y in YEARS if after[m][y] != before[m][y]} for m in MARTS}
    assert changed == {
        "school_year_results": {middle},
        "school_dynamics": {middle, last},
        "school_flags": {middle, last},
        "objectivity_markers": {middle},
    }
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        names = con.execute("select distinct school_year, school_name from marts.school_dynamics "
                            "where school_login = ? order by 1", [login]).fetchall()
        for mart in ("school_flags", "objectivity_markers"):  # the new name reached the marts computed again
            assert con.execute(f"select count(*) from marts.{mart} where school_login = ? and school_year = ? "
                               "and school_name = 'Переименованная школа'", [login, middle]).fetchone()[0] > 0, mart
    assert dict(names)[middle] == "Переименованная школа" and dict(names)[first] != "Переименованная школа"

    # the same rows as a full rebuild, on a copy
    full = data / "full"
    full.mkdir()
    shutil.copy(data / "warehouse.duckdb", full / "warehouse.duckdb")
    dbt(full, "run", "--full-refresh", *select)
    assert set(built_at(full, "school_dynamics").values()) != set(after["school_dynamics"].values())
    for mart in MARTS:
        assert published_rows(full, mart) == published_rows(data, mart), mart

    # the tests of the marts read the rows of the latest build (where: __latest_build__), here the middle and the
    # last years: a duplicate written into the first year is not looked at again, one in the last year is caught
    checked = data / "checked"
    checked.mkdir()
    for year, caught in ((first, False), (last, True)):
        shutil.copy(data / "warehouse.duckdb", checked / "warehouse.duckdb")
        with duckdb.connect(str(checked / "warehouse.duckdb")) as con:
            con.execute("insert into marts.school_dynamics select * from marts.school_dynamics "
                        "where school_year = ? limit 1", [year])
        if caught:
            with pytest.raises(subprocess.CalledProcessError):
                dbt(checked, "test", "--select", "school_dynamics,test_type:data")
        else:
            dbt(checked, "test", "--select", "school_dynamics,test_type:data")

    # a changed setting (dbt var) recomputes every year of the mart that uses it, and only that mart
    dbt(data, "run", *select, "--vars", "{negative_dynamics_mark_2_pp: 5}")
    again = {m: built_at(data, m) for m in MARTS}
    assert {m: again[m] for m in MARTS if m != "school_dynamics"} == {m: after[m] for m in MARTS if m != "school_dynamics"}
    assert all(again["school_dynamics"][y] != after["school_dynamics"][y] for y in YEARS)

    # so does an edited rule set (dbt var rule_sets): every year of school_flags, nothing else
    rule_sets = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["rule_sets"]
    rule_sets["rosobrnadzor_risk"]["mark_2_pct_min"] = 25
    dbt(data, "run", *select, "--vars", json.dumps({"negative_dynamics_mark_2_pp": 5, "rule_sets": rule_sets}))
    edited = {m: built_at(data, m) for m in MARTS}
    assert {m: edited[m] for m in MARTS if m != "school_flags"} == {m: again[m] for m in MARTS if m != "school_flags"}
    assert all(edited["school_flags"][y] != again["school_flags"][y] for y in YEARS)
