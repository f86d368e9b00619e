"""`make serve` for real: the Dagster webserver and daemon started by the same entry point (python -m
pipelines.serve) on 127.0.0.1, a new school year's folders dropped into an empty data/raw/, the daemon's sensor
requesting the ingest run and the run-status sensor the marts run, both ending SUCCESS (read from the webserver's
GraphQL API), then both processes stopped by SIGTERM with every process they started gone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.sample_region import RegionParams, generate_region
from pipelines.serve import POSTGRES_URL_ENV, instance_settings, prepare_instance, sqlalchemy_url
from pipelines.settings import CONFIG_DIR, PROJECT_ROOT

# a tiny region: 24 schools keep one unknown school code per file under the 5% registry-match limit
REGION = RegionParams(seed=11, municipalities=2, schools=24, years=2, first_year=2023, pupils_per_grade=10)
NEW_YEAR = REGION.school_years[-1]
FOLDERS = ("school_registry", "vpr_mark_statistics")  # the registry and one school-level export
BOUND_SECONDS = 300  # start-up, sensor tick, ingest run, marts run (dbt build + publishing), on 2 busy cores

JOBS = {"ingest_school_year", "build_and_publish_marts"}
RUNS_QUERY = """
{ runsOrError { __typename ... on Runs { results { runId jobName status tags { key value } } } } }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def descendants(pid: int) -> set[int]:
    """Every live process below pid (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def service_config(root: Path, port: int) -> Path:
    """A copy of pipelines/config/ whose sensors tick every few seconds and wait 2 s for copies to settle."""
    config = root / "config"
    shutil.copytree(CONFIG_DIR, config)
    operations = yaml.safe_load((config / "operations.yaml").read_text(encoding="utf-8"))
    operations["raw_files_sensor"].update(minimum_interval_seconds=5, settle_seconds=2)
    operations["run_end_sensors"] = {"minimum_interval_seconds": 5}
    operations["services"] = {"host": "127.0.0.1", "webserver_port": port}
    (config / "operations.yaml").write_text(yaml.safe_dump(operations, allow_unicode=True), encoding="utf-8")
    return config


def service_env(root: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDUWH_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(root / "dagster_home"),
        EDUWH_DATA_DIR=str(root / "data"),
        EDUWH_CONFIG_DIR=str(config),
        EDUWH_PSEUDONYM_KEY="test-key-not-secret-0123456789abcdef",
        EDUWH_PUBLISH_TARGETS="parquet,analyst_duckdb",
    )
    return env


def test_make_serve_uses_the_entry_point():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    recipe = makefile.split("\nserve:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python -m pipelines.serve" in recipe
    for unit, what in (("eduwh-webserver.service", "webserver"), ("eduwh-daemon.service", "daemon")):
        text = (PROJECT_ROOT / "deploy" / unit).read_text()
        assert f"-m pipelines.serve {what}" in text and "Restart=on-failure" in text and "EnvironmentFile=" in text


def test_instance_settings_keep_one_run_at_a_time_and_choose_the_storage(tmp_path, monkeypatch):
    for postgres in (False, True):
        settings = instance_settings(postgres)
        assert settings["concurrency"]["runs"]["max_concurrent_runs"] == 1
        assert ("storage" in settings) == postgres
    monkeypatch.delenv("EDUWH_POSTGRES_CONNINFO", raising=False)
    sqlite = prepare_instance({"DAGSTER_HOME": str(tmp_path / "home")})
    assert (sqlite.storage, sqlite.home) == ("sqlite", tmp_path / "home")
    assert yaml.safe_load((sqlite.home / "dagster.yaml").read_text()) == instance_settings(False)
    monkeypatch.setenv("EDUWH_POSTGRES_CONNINFO", "host=db.example port=5433 dbname=eduwh user=etl password=p@ss:w/rd")
    pg = prepare_instance({"DAGSTER_HOME": str(tmp_path / "home")})
    assert (pg.storage, pg.home) == ("postgresql", tmp_path / "home" / "postgres")
    assert pg.env[POSTGRES_URL_ENV] == "postgresql+psycopg2://etl:p%40ss%3Aw%2Frd@db.example:5433/eduwh"
    written = (pg.home / "dagster.yaml").read_text()
    assert "p@ss" not in written and yaml.safe_load(written)["storage"] == {
        "postgres": {"postgres_url": {"env": POSTGRES_URL_ENV}}
    }
    assert (
        sqlalchemy_url("host=/var/run/postgresql dbname=eduwh")
        == "postgresql+psycopg2:///eduwh?host=%2Fvar%2Frun%2Fpostgresql"
    )


def test_postgres_instance_storage(tmp_path, monkeypatch, postgres_conninfo):
    """The generated PostgreSQL instance settings work against a real server: a run stored and read back."""
    import dagster as dg

    monkeypatch.setenv("EDUWH_POSTGRES_CONNINFO", postgres_conninfo)
    pg = prepare_instance({"DAGSTER_HOME": str(tmp_path / "home")})
    monkeypatch.setenv(POSTGRES_URL_ENV, pg.env[POSTGRES_URL_ENV])
    with dg.DagsterInstance.from_config(str(pg.home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1

        @dg.op
        def hello():
            return 1

        run = dg.GraphDefinition(name="hello", node_defs=[hello]).to_job().execute_in_process(instance=instance)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS


def test_daemon_picks_up_a_new_year_and_publishes(tmp_path):
    root = tmp_path
    incoming = root / "incoming"
    generate_region(REGION, incoming / "raw", incoming / "truth")
    port = free_port()
    config = service_config(root, port)
    env = service_env(root, config)
    log = open(root / "serve.log", "wb")  # noqa: SIM115 - closed in the finally below, after the processes stop
    started = time.monotonic()
    serve = subprocess.Popen(
        [sys.executable, "-m", "pipelines.serve"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    spawned: set[int] = set()
    try:

        def wait_for(what: str, check, deadline: float):
            while time.monotonic() < deadline:
                assert serve.poll() is None, f"pipelines.serve exited ({serve.returncode}):\n{tail(root)}"
                spawned.update(descendants(serve.pid))
                found = check()
                if found:
                    return found
                time.sleep(2)
            pytest.fail(f"{what}: not within {BOUND_SECONDS} s\n{tail(root)}")

        deadline = started + BOUND_SECONDS

        def webserver_up():
            try:
                return graphql(port, "{ version }")["version"]
            except OSError:
                return None

        wait_for("the webserver answers", webserver_up, deadline)
        up = time.monotonic() - started
        # the new school year arrives: its folders copied into the empty data/raw/
        for folder in FOLDERS:
            shutil.copytree(incoming / "raw" / folder / NEW_YEAR, root / "data" / "raw" / folder / NEW_YEAR)
        dropped = time.monotonic()

        def runs_done():
            # other jobs (e.g. reports started after the marts) may run too: only these two are awaited
            runs = [r for r in graphql(port, RUNS_QUERY)["runsOrError"]["results"] if r["jobName"] in JOBS]
            failed = [r for r in runs if r["status"] in ("FAILURE", "CANCELED")]
            assert not failed, f"runs failed: {failed}\n{tail(root)}"
            if {r["jobName"] for r in runs if r["status"] == "SUCCESS"} == JOBS:
                return runs
            return None

        runs = wait_for("the ingest run and the marts run succeed", runs_done, deadline)
        done = time.monotonic()
        ingest = next(r for r in runs if r["jobName"] == "ingest_school_year")
        marts = next(r for r in runs if r["jobName"] == "build_and_publish_marts")
        ingest_tags = {t["key"]: t["value"] for t in ingest["tags"]}
        marts_tags = {t["key"]: t["value"] for t in marts["tags"]}
        assert ingest_tags["dagster/sensor_name"] == "raw_files_sensor"
        assert ingest_tags["dagster/partition"] == NEW_YEAR
        assert set(ingest_tags["eduwh/sources"].split(",")) == set(FOLDERS)
        assert marts_tags["dagster/sensor_name"] == "marts_after_ingest"
        assert marts_tags["eduwh/trigger"] == f"ingest run {ingest['runId']}"
        assert len(runs) == 2  # one run of each: nothing requested twice

        # what the daemon's runs left: the year in the warehouse, the marts published, the instance in SQLite
        data = root / "data"
        with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
            loaded = con.execute("select source, school_year, status from ingest.load_log order by 1").fetchall()
        assert loaded == [("school_registry", NEW_YEAR, "loaded"), ("vpr_mark_statistics", NEW_YEAR, "loaded")]
        assert pq.read_metadata(data / "marts" / "school_year_results" / f"{NEW_YEAR}.parquet").num_rows > 0
        assert (data / "marts" / "analyst.duckdb").exists()
        assert (root / "dagster_home" / "dagster.yaml").exists() and (root / "dagster_home" / "storage").is_dir()
        print(f"webserver up {up:.0f} s; files dropped -> both runs SUCCESS {done - dropped:.0f} s")
    finally:
        spawned.update(descendants(serve.pid))
        stop_started = time.monotonic()
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
        try:
            code = serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        stop_seconds = time.monotonic() - stop_started
        grace = time.monotonic() + 10
        while any(alive(p) for p in spawned) and time.monotonic() < grace:
            time.sleep(0.5)
        left = {p for p in spawned if alive(p)}
        for pid in left | ({serve.pid} if code is None else set()):
            try:
                os.kill(pid, signal.SIGKILL)  # only processes this test started
            except ProcessLookupError:
                pass
        log.close()
    assert code == 0, f"pipelines.serve did not stop cleanly on SIGTERM (code {code})\n{tail(root)}"
    assert not left, f"processes left running after SIGTERM: {sorted(left)}"
    assert len(spawned) >= 2  # the webserver and the daemon (and their code servers)
    print(f"stopped in {stop_seconds:.1f} s; {len(spawned)} processes ended")


def tail(root: Path, lines: int = 60) -> str:
    path = root / "serve.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
