"""`make serve`: the Dagster webserver (the UI) and the Dagster daemon (sensors, schedule, run queue) as
long-running services, on the instance the warehouse runs on.

    python -m pipelines.serve              both processes; stops both on SIGTERM / Ctrl-C, and both when one dies
    python -m pipelines.serve webserver    the webserver alone (replaces this process: deploy/eduwh-webserver.service)
    python -m pipelines.serve daemon       the daemon alone (deploy/eduwh-daemon.service)
    python -m pipelines.serve launch JOB [--partition YEAR]
                                           queue a run of JOB on the same instance (what the alerts tell to rerun)
    python -m pipelines.serve instance     print the instance directory and its storage

Host and port: `services:` in pipelines/config/operations.yaml. The instance (DAGSTER_HOME, default dagster_home/):
- run, event-log and schedule storage in PostgreSQL when a connection is configured, the same database the marts
  are published to: the environment variable named by publishing.yaml `targets.postgres.conninfo_env`
  (EDUWH_POSTGRES_CONNINFO). The instance settings are then generated into $DAGSTER_HOME/postgres/dagster.yaml;
  the connection URL reaches Dagster through the environment (EDUWH_DAGSTER_POSTGRES_URL), never a file;
- else SQLite in $DAGSTER_HOME (dagster.yaml copied from dagster_home/dagster.yaml if there is none).
Either way one run at a time (QueuedRunCoordinator, max_concurrent_runs 1): DuckDB allows a single writer.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import yaml

from pipelines.settings import PROJECT_ROOT, config_dir

INSTANCE_TEMPLATE = PROJECT_ROOT / "dagster_home" / "dagster.yaml"
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
POSTGRES_URL_ENV = "EDUWH_DAGSTER_POSTGRES_URL"
STOP_SECONDS = 30  # after SIGTERM, how long a process may take to stop before it is killed


@dataclass(frozen=True)
class Instance:
    home: Path  # the DAGSTER_HOME the processes get
    storage: str  # "postgresql" | "sqlite"
    env: dict[str, str]  # the environment of the processes


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def services_config():
    """operations.yaml `services:` (validated, defaults filled in)."""
    from pipelines.lib.config_schema import validate_operations

    path = config_dir() / "operations.yaml"
    return validate_operations(yaml.safe_load(path.read_text(encoding="utf-8")), path).services


def postgres_conninfo() -> str | None:
    """The marts' PostgreSQL connection string, from the environment variable publishing.yaml names."""
    from pipelines.lib.publish import publishing_config

    name = publishing_config()["targets"]["postgres"]["conninfo_env"]
    return os.environ.get(name, "").strip() or None


def sqlalchemy_url(conninfo: str) -> str:
    """A libpq connection string (`host=… dbname=…`) or URL as the SQLAlchemy URL dagster-postgres takes."""
    from psycopg.conninfo import conninfo_to_dict

    params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None and v != ""}
    user = quote(params.pop("user", ""), safe="")
    password = params.pop("password", None)
    auth = f"{user}:{quote(password, safe='')}@" if password is not None else (f"{user}@" if user else "")
    host = params.pop("host", "")
    port = params.pop("port", "")
    dbname = quote(params.pop("dbname", ""), safe="")
    if host.startswith("/") or "," in host:  # a Unix socket directory (or several hosts): a query parameter
        params["host"], host = host, ""
        if port:
            params["port"], port = port, ""
    netloc = f"{auth}{host}" + (f":{port}" if port else "")
    query = f"?{urlencode(params)}" if params else ""
    # psycopg2 named: SQLAlchemy 2.1 defaults to psycopg 3, with which dagster-postgres's NOTIFY fails
    return f"postgresql+psycopg2://{netloc}/{dbname}{query}"


def instance_settings(postgres: bool) -> dict:
    """The project's instance settings (dagster_home/dagster.yaml), with PostgreSQL storage if asked for."""
    settings = yaml.safe_load(INSTANCE_TEMPLATE.read_text(encoding="utf-8")) or {}
    if postgres:
        settings["storage"] = {"postgres": {"postgres_url": {"env": POSTGRES_URL_ENV}}}
    return settings


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def prepare_instance(environ: dict[str, str] | None = None) -> Instance:
    """Where the services keep their runs, and the environment they need to reach it."""
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("DAGSTER_HOME") or PROJECT_ROOT / "dagster_home").resolve()
    env.setdefault("EDUWH_DATA_DIR", str((PROJECT_ROOT / "data").resolve()))
    conninfo = postgres_conninfo()
    if conninfo:
        home = home / "postgres"
        home.mkdir(parents=True, exist_ok=True)
        text = (
            "# Generated by `python -m pipelines.serve` from dagster_home/dagster.yaml: do not edit, it is rewritten at\n"
            f"# every start. Runs, event logs and schedules in PostgreSQL (URL from ${POSTGRES_URL_ENV}).\n"
            + yaml.safe_dump(instance_settings(postgres=True), sort_keys=False)
        )
        _write_atomically(home / "dagster.yaml", text)  # the two services may start at the same moment
        env[POSTGRES_URL_ENV] = sqlalchemy_url(conninfo)
        storage = "postgresql"
    else:
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            _write_atomically(home / "dagster.yaml", INSTANCE_TEMPLATE.read_text(encoding="utf-8"))
        storage = "sqlite"
    env["DAGSTER_HOME"] = str(home)
    return Instance(home, storage, env)


def create_storage(instance: Instance) -> None:
    """Create the instance's tables (or migrate them) once, before the services start: on a new instance the
    webserver and the daemon would both create them at the same moment, and one of them fails ("table
    alembic_version already exists"). A lock in DAGSTER_HOME makes the two systemd units take turns too."""
    import fcntl

    import dagster as dg

    with (instance.home / ".storage.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = {name: os.environ.get(name) for name in ("DAGSTER_HOME", POSTGRES_URL_ENV)}
        os.environ.update({name: instance.env[name] for name in saved if name in instance.env})
        try:
            with dg.DagsterInstance.from_config(str(instance.home)):
                pass
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def webserver_command() -> list[str]:
    services = services_config()
    return [
        _bin("dagster-webserver"),
        "-w", str(WORKSPACE),
        "-h", services.host,
        "-p", str(services.webserver_port),
    ]  # fmt: skip


def daemon_command() -> list[str]:
    return [_bin("dagster-daemon"), "run", "-w", str(WORKSPACE)]


def launch_command(job: str, partition: str | None) -> list[str]:
    command = [_bin("dagster"), "job", "launch", "-w", str(WORKSPACE), "-j", job]
    if partition:
        command += ["--tags", json.dumps({"dagster/partition": partition})]
    return command


def _describe(instance: Instance) -> str:
    return f"экземпляр Dagster / Dagster instance: {instance.home} ({instance.storage})"


def _descendants(pid: int) -> set[int]:
    """The processes below pid (Linux /proc; empty elsewhere): code servers and run workers the services started."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to the webserver and the daemon, which stop their code servers; then SIGTERM to whatever they had
    started that is still there (a run in progress), and SIGKILL to what outlives STOP_SECONDS."""
    started = {pid for p in processes.values() for pid in _descendants(p.pid)}
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} не остановился за {STOP_SECONDS} с, завершаем / did not stop, killing", file=sys.stderr)
            process.kill()
            process.wait()
    left = {pid for pid in started if _alive(pid)}
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in left:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        until = time.monotonic() + 10
        while left and time.monotonic() < until:
            time.sleep(0.2)
            left = {pid for pid in left if _alive(pid)}
        if not left:
            break


def serve_both() -> int:
    """Start the webserver and the daemon; stop both on SIGTERM/SIGINT or as soon as one of them exits."""
    instance = prepare_instance()
    services = services_config()
    create_storage(instance)
    print(_describe(instance), flush=True)
    print(f"Dagster UI: http://{services.host}:{services.webserver_port}", flush=True)
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    processes = {}
    for name, command in (("dagster-daemon", daemon_command()), ("dagster-webserver", webserver_command())):
        # own process group: a Ctrl-C in the terminal reaches this process only, which stops the children in order
        processes[name] = subprocess.Popen(command, cwd=PROJECT_ROOT, env=instance.env, start_new_session=True)
    code = 0
    while not stopping:
        ended = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
        if ended:
            name, code = ended[0]
            print(f"{name} завершился (код {code}), останавливаем остальное / exited, stopping", file=sys.stderr)
            code = code or 1
            break
        time.sleep(0.5)
    _stop(processes)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all", choices=["all", "webserver", "daemon", "launch", "instance"])
    parser.add_argument("job", nargs="?", help="launch: the job (ingest_school_year, build_and_publish_marts)")
    parser.add_argument("--partition", help="launch: the school year of an ingest_school_year run")
    args = parser.parse_args(argv)
    if args.what == "all":
        return serve_both()
    instance = prepare_instance()
    if args.what == "instance":
        print(_describe(instance))
        return 0
    if args.what == "launch":
        if not args.job:
            parser.error("launch needs a job")
        command = launch_command(args.job, args.partition)
        return subprocess.run(command, cwd=PROJECT_ROOT, env=instance.env, check=False).returncode
    command = webserver_command() if args.what == "webserver" else daemon_command()
    create_storage(instance)  # the two units start together: the first creates the tables, the other waits
    print(_describe(instance), flush=True)
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, instance.env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
