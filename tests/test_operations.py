"""Operating the warehouse unattended: the code location's jobs, sensors and schedule; the sensor on data/raw/
deciding by content; a new school year dropped into data/raw/ picked up and published to Parquet, the analysts'
DuckDB file and a real PostgreSQL server; a quarantined file stopping only what depends on it."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest

from pipelines.defs.dbt.assets import remove_old_run_folders
from pipelines.defs.ingest.assets import CONTRACT_CHECK
from pipelines.lib.raw_files import scan_raw_files
from pipelines.lib.sources import load_sources
from pipelines.sample_region import RegionParams, generate_region
from pipelines.settings import DBT_PROJECT_DIR, Settings, operations_config, operations_settings
from tests.conftest import mart_parquet

# 24 schools keep one unknown school code per file under the 5% match limit, as in a real region
REGION = RegionParams(seed=11, municipalities=2, schools=24, years=3, first_year=2022, pupils_per_grade=20)
FIRST_YEARS, NEW_YEAR = REGION.school_years[:2], REGION.school_years[2]


def copy_year(incoming: Path, raw: Path, school_year: str) -> None:
    for folder in incoming.glob(f"*/{school_year}"):
        shutil.copytree(folder, raw / folder.parent.name / school_year, copy_function=shutil.copy)  # mtime: now


def sources_with_files(settings: Settings, school_year: str) -> set[str]:
    """The sources whose folder holds a file of theirs (the three mentoring sheets share one workbook)."""
    return {s.name for s in load_sources().values() if any((settings.raw_dir / s.folder / school_year).glob(s.file_glob))}


def settle(raw: Path) -> None:
    """Files copied a minute ago: past the sensor's settle time."""
    past = time.time() - 3600
    for path in raw.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("raw_files_sensor")
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=repo, resources=defs.resources
    ) as context:
        return sensor(context)


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, result: dg.SensorResult) -> list[dg.ExecuteInProcessResult]:
    """What the daemon does with a tick's result: add the partitions, launch the runs."""
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    runs = []
    for request in result.run_requests or []:
        job = defs.resolve_job_def(request.job_name or "ingest_school_year")
        runs.append(
            job.execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                asset_selection=list(request.asset_selection),
                tags=request.tags,
                raise_on_error=False,
            )
        )
    return runs


def after_run(defs: dg.Definitions, instance: dg.DagsterInstance, run: dg.ExecuteInProcessResult):
    """Evaluate the run-status sensor that watches runs ending like this one."""
    name = "marts_after_ingest" if run.success else "marts_after_partial_ingest"
    event_type = dg.DagsterEventType.RUN_SUCCESS if run.success else dg.DagsterEventType.RUN_FAILURE
    event = instance.all_logs(run.run_id, of_type=event_type)[-1].dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name=name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id),
        repository_def=defs.get_repository_def(),
    )
    return defs.get_repository_def().get_sensor_def(name)(context)


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory, postgres_conninfo: str):
    """Two school years already loaded by the sensor; the third is dropped into data/raw/ by the tests."""
    root = tmp_path_factory.mktemp("operated")
    incoming = root / "incoming"
    generate_region(REGION, incoming / "raw", incoming / "truth")
    settings = Settings(root / "data")
    for year in FIRST_YEARS:
        copy_year(incoming / "raw", settings.raw_dir, year)
    settle(settings.raw_dir)
    saved = {k: os.environ.get(k) for k in ("EDUWH_DATA_DIR", "EDUWH_PUBLISH_TARGETS", "EDUWH_POSTGRES_CONNINFO")}
    os.environ.update(
        EDUWH_DATA_DIR=str(settings.data_dir),
        EDUWH_PUBLISH_TARGETS="parquet,analyst_duckdb,postgres",
        EDUWH_POSTGRES_CONNINFO=postgres_conninfo,
    )
    try:
        from pipelines.definitions import build_definitions

        defs = build_definitions()
        with dg.DagsterInstance.ephemeral() as instance:
            first = tick(defs, instance, None)
            runs = execute(defs, instance, first)
            assert [r.success for r in runs] == [True, True]
            marts = defs.resolve_job_def("build_and_publish_marts").execute_in_process(instance=instance)
            assert marts.success
            yield {"defs": defs, "instance": instance, "settings": settings, "incoming": incoming / "raw",
                   "first": first, "cursor": first.cursor, "conninfo": postgres_conninfo}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_code_location_has_jobs_sensors_and_schedule(operated):
    repo = operated["defs"].get_repository_def()
    assert {j.name for j in repo.get_all_jobs()} >= {"ingest_school_year", "build_and_publish_marts"}
    assert {s.name for s in repo.sensor_defs} == {
        "raw_files_sensor", "marts_after_ingest", "marts_after_partial_ingest", "marts_run_summary",
        "marts_failed_run_summary", "reports_after_marts",
    }
    sensor = repo.get_sensor_def("raw_files_sensor")
    assert sensor.job_name == "ingest_school_year"
    assert sensor.minimum_interval_seconds == operations_config()["raw_files_sensor"]["minimum_interval_seconds"]
    # the sensors acting when a run ends look every 30 s unless operations.yaml says otherwise (run_end_sensors)
    run_end = {"marts_after_ingest", "marts_after_partial_ingest", "marts_run_summary", "marts_failed_run_summary"}
    assert {repo.get_sensor_def(name).minimum_interval_seconds for name in run_end} == {30}
    schedule = repo.get_schedule_def("daily_marts_refresh")
    assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == (
        "build_and_publish_marts", "0 6 * * *", "Europe/Moscow"
    )
    graph = repo.asset_graph
    assert dg.AssetKey(["published", "analyst_database"]) in graph.get_all_asset_keys()
    assert dg.AssetKey(["published", "postgres_marts"]) in graph.get_all_asset_keys()
    for spec in load_sources().values():
        check = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey(["raw", spec.name]), CONTRACT_CHECK))
        assert check.blocking


def test_first_tick_adds_the_years_and_requests_every_file(operated):
    first, settings = operated["first"], operated["settings"]
    assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [list(FIRST_YEARS)]
    for request, year in zip(first.run_requests, FIRST_YEARS, strict=True):
        assert request.partition_key == year
        assert {k.path[-1] for k in request.asset_selection} == sources_with_files(settings, year)
    seen = json.loads(first.cursor)
    assert len(seen) == sum(len(sources_with_files(settings, year)) for year in FIRST_YEARS)


def test_unchanged_files_request_nothing_even_when_touched(operated):
    settings = operated["settings"]
    registry = next(settings.raw_dir.glob(f"school_registry/{FIRST_YEARS[0]}/*"))
    past = time.time() - 1800
    os.utime(registry, (past, past))  # new modification time, same content
    result = tick(operated["defs"], operated["instance"], operated["cursor"])
    assert not result.run_requests
    assert "no new or changed files" in result.skip_reason.skip_message
    assert "1 hashed" in result.skip_reason.skip_message
    operated["cursor"] = result.cursor


def test_a_file_being_copied_waits_for_a_later_tick(operated, tmp_path):
    settings = Settings(tmp_path)
    copy_year(operated["incoming"], settings.raw_dir, NEW_YEAR)
    specs = load_sources()
    waiting = scan_raw_files(settings, specs, settle_seconds=30)
    assert not waiting.changed and len(waiting.settling) == len(sources_with_files(settings, NEW_YEAR))
    settled = scan_raw_files(settings, specs, waiting.seen, settle_seconds=30, now=time.time() + 31)
    assert list(settled.changed) == [NEW_YEAR]


def test_registry_change_rechecks_the_files_matched_against_it(operated, tmp_path):
    settings = Settings(tmp_path)
    copy_year(operated["incoming"], settings.raw_dir, NEW_YEAR)
    specs = load_sources()
    before = scan_raw_files(settings, specs)
    registry = next(settings.raw_dir.glob(f"school_registry/{NEW_YEAR}/*"))
    registry.write_bytes(registry.read_bytes() + b"\n")
    after = scan_raw_files(settings, specs, before.seen)
    matched = {s.name for s in specs.values() if s.registry_match and any(settings.raw_dir.glob(f"{s.folder}/{NEW_YEAR}/*"))}
    assert set(after.changed[NEW_YEAR]) == matched | {"school_registry"}
    assert "official_school_lists" in matched and len(matched) > 10


def test_new_school_year_is_picked_up_and_published_everywhere(operated):
    defs, instance, settings = operated["defs"], operated["instance"], operated["settings"]
    copy_year(operated["incoming"], settings.raw_dir, NEW_YEAR)
    # one file of the new year is broken: a quarantined contract stops only what depends on it
    olympiads = next(settings.raw_dir.glob(f"olympiad_results/{NEW_YEAR}/*.csv"))
    good_olympiads = olympiads.read_bytes()
    olympiads.write_text("Логин ОО;Предмет;Этап;Участников;Победителей;Призёров\nsch1;математика;школьный;-5;0;0\n",
                         encoding="utf-8")
    settle(settings.raw_dir)

    result = tick(defs, instance, operated["cursor"])
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [[NEW_YEAR]]
    (request,) = result.run_requests
    new_sources = sources_with_files(settings, NEW_YEAR)
    assert request.partition_key == NEW_YEAR
    assert {k.path[-1] for k in request.asset_selection} == new_sources
    (run,) = execute(defs, instance, result)
    assert not run.success  # the olympiad file was quarantined ...
    loaded = {e.asset_key.path[-1] for e in run.get_asset_materialization_events()}
    assert loaded == new_sources - {"olympiad_results"}  # ... and every other file of the year was loaded

    marts_request = after_run(defs, instance, run)
    assert isinstance(marts_request, dg.RunRequest)
    selected = set(marts_request.asset_selection)
    graph = defs.get_repository_def().asset_graph
    olympiad_dependents = dg.AssetSelection.assets(dg.AssetKey(["raw", "olympiad_results"])).downstream(
        include_self=False).resolve(graph)
    assert dg.AssetKey(["published", "programme_kpis"]) in olympiad_dependents
    databases = {dg.AssetKey(["published", "analyst_database"]), dg.AssetKey(["published", "postgres_marts"])}
    # the marts built from olympiads are left as they were; the databases are rebuilt from the Parquet files
    assert selected & olympiad_dependents == databases
    assert {dg.AssetKey(["marts", "school_year_results"]), dg.AssetKey(["published", "school_year_results"])} <= selected
    summary = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)[-1].message
    assert "в карантине / quarantined 1" in summary and "olympiad_results" in summary

    marts_run = defs.resolve_job_def("build_and_publish_marts").execute_in_process(
        instance=instance, asset_selection=list(marts_request.asset_selection), raise_on_error=False
    )
    assert marts_run.success
    # the run's dbt folder keeps its dbt.log at the configured level (info: no SQL statements)
    (folder,) = (DBT_PROJECT_DIR / "target").glob(f"warehouse_dbt_models-{marts_run.run_id[:7]}-*")
    levels = {json.loads(line)["info"]["level"] for line in (folder / "dbt.log").read_text().splitlines()}
    assert operations_settings().dbt_runs.log_level_file == "info" and levels == {"info"}

    # every target holds the new year, with the same rows as the warehouse's mart
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        expected = dict(con.execute(
            "select school_year, count(*) from marts.school_year_results group by 1").fetchall())
    assert expected[NEW_YEAR] > 0 and set(expected) == set(REGION.school_years)
    parquet = mart_parquet(settings.marts_dir, "school_year_results")
    with duckdb.connect() as con:
        assert dict(con.execute(f"select school_year, count(*) from '{parquet}' group by 1").fetchall()) == expected
    with duckdb.connect(str(settings.marts_dir / "analyst.duckdb"), read_only=True) as con:
        assert dict(con.execute("select school_year, count(*) from school_year_results group by 1").fetchall()) == expected
        comment = con.execute(
            "select comment from duckdb_tables() where table_name = 'school_year_results'").fetchone()[0]
        assert comment and any("а" <= ch <= "я" for ch in comment.lower())
    with psycopg.connect(operated["conninfo"]) as pg:
        rows = pg.execute("select school_year, count(*) from marts.school_year_results group by 1").fetchall()
        assert dict(rows) == expected
        label = pg.execute(
            "select col_description('marts.school_year_results'::regclass, ordinal_position::int) "
            "from information_schema.columns where table_schema = 'marts' and table_name = 'school_year_results' "
            "and column_name = 'school_year'").fetchone()[0]
        assert label == "Учебный год"

    # the pupil-level results were built incrementally (only the new year aggregated): a full rebuild agrees
    incremental = "select * from intermediate.int_school_procedure_results_pupil_level order by all"
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        before = con.execute(incremental).fetchall()
    import subprocess
    import sys

    dbt = str(Path(sys.executable).parent / "dbt")
    subprocess.run(
        [dbt, "run", "--full-refresh", "--quiet", "--select", "int_school_procedure_results_pupil_level",
         "--profiles-dir", ".",
         # its own target path: dbt rewrites the manifest there, which the other worker's tests read meanwhile
         "--target-path", str(settings.data_dir / "dbt_target")],
        cwd=DBT_PROJECT_DIR, env=os.environ, check=True,
    )
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute(incremental).fetchall() == before
        assert {r[0] for r in con.execute(
            "select distinct school_year from intermediate.int_school_procedure_results_pupil_level").fetchall()} == set(
            REGION.school_years)

    # the fixed file: the next tick requests exactly that source and year
    olympiads.write_bytes(good_olympiads)
    settle(settings.raw_dir)
    fixed = tick(defs, instance, result.cursor)
    assert not fixed.dynamic_partitions_requests
    assert [(r.partition_key, [k.path[-1] for k in r.asset_selection]) for r in fixed.run_requests] == [
        (NEW_YEAR, ["olympiad_results"])
    ]


def test_make_docs_builds_dbt_docs_and_data_docs(operated, tmp_path):
    import subprocess
    import sys

    from pipelines.lib.contracts import data_docs_index
    from pipelines.settings import PROJECT_ROOT

    settings = operated["settings"]
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.docs"],
        cwd=PROJECT_ROOT,
        # dbt docs into a target path of the test's: the project's manifest is read by the other worker's tests
        env={**os.environ, "EDUWH_DATA_DIR": str(settings.data_dir), "DBT_TARGET_PATH": str(tmp_path / "dbt_target")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / "dbt_target" / "static_index.html").read_text(encoding="utf-8")
    assert str(tmp_path / "dbt_target" / "static_index.html") in done.stdout
    # the manifest is embedded as JSON with \u escapes: the Russian labels, the marts, their lineage
    assert json.dumps("Учебный год")[1:-1] in page and "school_year_results" in page
    assert str(data_docs_index(settings.data_dir)) in done.stdout
    assert "olympiad_results" in data_docs_index(settings.data_dir).read_text(encoding="utf-8")


def test_only_the_newest_dbt_run_folders_stay(tmp_path):
    """Each marts run leaves a folder in dbt's target directory: the oldest beyond `keep_runs` are removed, and
    nothing else there (the project's own manifest, another op's folders) is touched."""
    names = [f"warehouse_dbt_models-{i:07d}-abcdef0" for i in range(5)]
    for age, name in enumerate(reversed(names)):  # names[0] is the oldest
        (tmp_path / name).mkdir()
        (tmp_path / name / "dbt.log").write_text("{}")
        os.utime(tmp_path / name, (1_000_000 - age * 60, 1_000_000 - age * 60))
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "other_op-0000000-abcdef0").mkdir()
    removed = remove_old_run_folders(tmp_path, "warehouse_dbt_models-", keep=2)
    assert sorted(p.name for p in removed) == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[3:], "manifest.json", "other_op-0000000-abcdef0"])
