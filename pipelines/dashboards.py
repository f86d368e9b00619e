"""Apache Superset on the published marts, with the dashboards kept in the repository (`make dashboards`).

    python -m pipelines.dashboards            # = up: install if needed, prepare, serve on 127.0.0.1 until Ctrl-C
    python -m pipelines.dashboards install    # only build .venv-superset/ (pipelines/superset_env.py)
    python -m pipelines.dashboards import     # only prepare (migrations, admin, roles, import the dashboards)
    python -m pipelines.dashboards export     # Superset's dashboards -> deploy/superset/dashboards/ (replaced)

Superset lives in its own virtual environment, `.venv-superset/` (Python 3.11, every package pinned in
deploy/superset/requirements.txt: its pins clash with the project's, e.g. SQLAlchemy 1.4 and pandas 2.1), and is
driven from here through its command line and `deploy/superset/bundle.py`, run by that environment's Python.

Settings: deploy/superset/superset.yaml (host, port, which marts), overridden by the environment:
EDUWH_SUPERSET_PORT, EDUWH_SUPERSET_DATABASE (`postgres` or `analyst_duckdb`), EDUWH_SUPERSET_ADMIN_USER,
EDUWH_SUPERSET_ADMIN_PASSWORD, EDUWH_SUPERSET_HOME (Superset's state: metadata database, generated keys; default
<EDUWH_DATA_DIR>/superset/), SUPERSET_SECRET_KEY; the marts: EDUWH_POSTGRES_CONNINFO (as for publishing) or the
analysts' DuckDB file of EDUWH_DATA_DIR. A secret not given in the environment is generated once into a 0600 file
of EDUWH_SUPERSET_HOME, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import yaml

from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.superset_env import VENV, install, venv_bin

SUPERSET_DIR = PROJECT_ROOT / "deploy" / "superset"
DASHBOARDS_DIR = SUPERSET_DIR / "dashboards"
SETTINGS_FILE = SUPERSET_DIR / "superset.yaml"
SUPERSET_CONFIG = SUPERSET_DIR / "superset_config.py"
BUNDLE_SCRIPT = SUPERSET_DIR / "bundle.py"
URI_PLACEHOLDER = "__EDUWH_MARTS_URI__"
DATABASES = ("postgres", "analyst_duckdb")
START_TIMEOUT_S = 180.0  # gunicorn up and /health answering
STEP_TIMEOUT_S = 600.0  # each preparation step (migrations, init, import, export)


class DashboardsError(RuntimeError):
    pass


@dataclass(frozen=True)
class SupersetSetup:
    host: str
    port: int
    workers: int
    threads: int
    database: str
    marts_schema: str
    home: Path
    admin_user: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SupersetSetup:
        settings = yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))
        data_dir = Path(env["EDUWH_DATA_DIR"]).resolve() if env.get("EDUWH_DATA_DIR") else Settings.from_env().data_dir
        database = env.get("EDUWH_SUPERSET_DATABASE") or settings["database"]
        if database not in DATABASES:
            raise DashboardsError(f"EDUWH_SUPERSET_DATABASE / database: {database!r}, expected one of {DATABASES}")
        return cls(
            host=str(settings["host"]),
            port=int(env.get("EDUWH_SUPERSET_PORT") or settings["port"]),
            workers=int(settings["workers"]),
            threads=int(settings["threads"]),
            database=database,
            marts_schema=str(settings["postgres_schema"]) if database == "postgres" else "main",
            home=Path(env.get("EDUWH_SUPERSET_HOME") or data_dir / "superset").resolve(),
            admin_user=env.get("EDUWH_SUPERSET_ADMIN_USER") or str(settings["admin_user"]),
            data_dir=data_dir,
        )


# --- the environment ---------------------------------------------------------------------------------------------


def _secret(env: Mapping[str, str], name: str, file: Path, nbytes: int) -> str:
    """The environment's value, else the one generated once into `file` (0600)."""
    if env.get(name):
        return env[name]
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(nbytes) + "\n")
    return file.read_text().strip()


def marts_uri(setup: SupersetSetup, env: Mapping[str, str] = os.environ) -> str:
    """SQLAlchemy URI of the marts for Superset's venv (psycopg2 or duckdb-engine); contains the password."""
    if setup.database == "analyst_duckdb":
        path = setup.data_dir / "marts" / "analyst.duckdb"
        return f"duckdb:///{path}?access_mode=read_only"
    conninfo = env.get("EDUWH_POSTGRES_CONNINFO")
    if not conninfo:
        raise DashboardsError(
            "EDUWH_POSTGRES_CONNINFO is not set: the dashboards read the PostgreSQL marts (publishing target "
            "`postgres`), or set EDUWH_SUPERSET_DATABASE=analyst_duckdb"
        )
    from psycopg.conninfo import conninfo_to_dict

    params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items()}
    user, password = quote(params.pop("user", ""), safe=""), params.pop("password", None)
    host, port, dbname = params.pop("host", ""), params.pop("port", None), params.pop("dbname", "")
    if host.startswith("/"):  # a Unix socket directory
        params["host"], host = host, ""
    credentials = f"{user}:{quote(password, safe='')}@" if password is not None else (f"{user}@" if user else "")
    address = f"{host}:{port}" if port and host else host
    query = f"?{urlencode(params)}" if params else ""
    if port and not host:
        query += ("&" if query else "?") + urlencode({"port": port})
    return f"postgresql+psycopg2://{credentials}{address}/{quote(dbname, safe='')}{query}"


def superset_env(setup: SupersetSetup, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of every Superset process: its config file, state directory and secrets."""
    setup.home.mkdir(parents=True, exist_ok=True)
    setup.home.chmod(0o700)
    return {
        **env,
        "SUPERSET_CONFIG_PATH": str(SUPERSET_CONFIG),
        "FLASK_APP": "superset",
        "EDUWH_SUPERSET_HOME": str(setup.home),
        "SUPERSET_SECRET_KEY": _secret(env, "SUPERSET_SECRET_KEY", setup.home / "secret_key", 42),
        "EDUWH_SUPERSET_ADMIN_PASSWORD": _secret(
            env, "EDUWH_SUPERSET_ADMIN_PASSWORD", setup.home / "admin_password", 12
        ),
        "EDUWH_SUPERSET_MARTS_SCHEMA": setup.marts_schema,
        "PYTHONWARNINGS": "ignore",
        "SUPERSET_LOG_LEVEL": env.get("SUPERSET_LOG_LEVEL", "warning"),
    }


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(
            args, env=env, cwd=setup_cwd(), capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise DashboardsError(f"{what} did not finish within {STEP_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise DashboardsError(f"{what} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def setup_cwd() -> Path:
    return PROJECT_ROOT


# --- prepare, serve, export ----------------------------------------------------------------------------------------


def prepare(setup: SupersetSetup, env: Mapping[str, str] = os.environ) -> dict[str, float]:
    """Migrate Superset's metadata database, create the roles and permissions, set the admin, import the dashboards
    of the repository against the marts: in one process of Superset's Python. Returns its seconds."""
    return _bundle("prepare", setup, env)


def import_dashboards(setup: SupersetSetup, env: Mapping[str, str] = os.environ) -> dict[str, float]:
    """Import the repository's dashboards, their charts and datasets, with their database pointed at the marts
    EDUWH_SUPERSET_DATABASE names (PostgreSQL or the analysts' DuckDB file): the last step of `prepare`, and all
    that switching a prepared Superset to the other copy of the marts takes."""
    return _bundle("import", setup, env)


def _bundle(action: str, setup: SupersetSetup, env: Mapping[str, str]) -> dict[str, float]:
    """`deploy/superset/bundle.py <action>` with the repository's dashboards, in Superset's venv; prints what it said
    and returns {action: its seconds}."""
    penv = superset_env(setup, env)
    penv["EDUWH_SUPERSET_MARTS_URI"] = marts_uri(setup, env)
    args = [str(venv_bin("python")), str(BUNDLE_SCRIPT), action, str(DASHBOARDS_DIR), setup.admin_user]
    started = time.monotonic()
    print(_run(args, penv, f"superset {action}").strip(), flush=True)
    return {action: time.monotonic() - started}


def serve_command(setup: SupersetSetup) -> list[str]:
    return [
        str(venv_bin("gunicorn")),
        f"--bind={setup.host}:{setup.port}",
        f"--workers={setup.workers}",
        "--worker-class=gthread",
        f"--threads={setup.threads}",
        "--timeout=120",
        "--limit-request-line=0",
        "--limit-request-field_size=0",
        "--no-control-socket",
        "superset.app:create_app()",
    ]


def start(setup: SupersetSetup, env: Mapping[str, str] = os.environ, log: Path | None = None) -> subprocess.Popen:
    """Start Superset's web server (gunicorn) and wait until /health answers."""
    out = log.open("ab") if log else None
    server = subprocess.Popen(
        serve_command(setup),
        env=superset_env(setup, env),
        cwd=setup_cwd(),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
    )
    if out:
        out.close()
    try:
        wait_healthy(setup, server)
    except BaseException as error:
        stop(server)
        if log and isinstance(error, DashboardsError):
            raise DashboardsError(
                f"{error}; its log ({log}) ends:\n{log.read_text(errors='replace')[-3000:]}"
            ) from None
        raise
    return server


def wait_healthy(setup: SupersetSetup, server: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise DashboardsError(f"Superset exited with code {server.returncode} at start")
        try:
            with urllib.request.urlopen(f"{setup.url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise DashboardsError(f"Superset did not answer on {setup.url}/health within {timeout:.0f} s")
        time.sleep(0.5)


def stop(server: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM to gunicorn's process group (graceful), SIGKILL if it hangs."""
    if server.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def export(setup: SupersetSetup, target: Path = DASHBOARDS_DIR, env: Mapping[str, str] = os.environ) -> list[str]:
    """Every dashboard of Superset (with its charts, datasets and database) exported by Superset and unzipped into
    `target`, whose previous content is replaced. Returns the files written (relative paths).

    Made readable for review in git: Cyrillic as Cyrillic (Superset's export escapes it), multi-line SQL and the
    charts' query contexts as indented blocks, files named after their object (`dashboards/<slug>.yaml`,
    `charts/<title, transliterated>.yaml`, `datasets/<table>.yaml`, `databases/marts.yaml`) instead of Superset's
    `<name>_<id>.yaml`. The database URI becomes the placeholder filled in at import (no host, user or password in
    the repository); a dataset of the DuckDB variant gets back the schema `marts`. Nothing else changes: importing
    these files and exporting again gives the same files."""
    penv = superset_env(setup, env)
    with tempfile.TemporaryDirectory(prefix="superset-export-") as tmp:
        bundle = Path(tmp) / "export.zip"
        _run([str(venv_bin("python")), str(BUNDLE_SCRIPT), "export", str(bundle), setup.admin_user], penv, "export")
        configs: dict[str, dict] = {}
        with zipfile.ZipFile(bundle) as archive:
            for name in archive.namelist():
                relative = name.split("/", 1)[1]
                if relative.endswith(".yaml"):
                    configs[relative] = yaml.safe_load(archive.read(name).decode("utf-8"))
    files: dict[str, str] = {}
    for relative, config in sorted(configs.items(), key=lambda item: str(item[1].get("uuid", ""))):
        kind = relative.split("/", 1)[0]
        if kind == "databases":
            config["sqlalchemy_uri"] = URI_PLACEHOLDER
            config.pop("password", None)
            stem = (
                "marts" if not any(n.startswith("databases/") for n in files) else _file_stem(config["database_name"])
            )
        elif kind == "datasets":
            if setup.marts_schema != "marts" and config.get("schema") == setup.marts_schema:
                config["schema"] = "marts"
            stem = _file_stem(config["table_name"])
        elif kind == "charts":
            if config.get("query_context"):
                config["query_context"] = json.dumps(json.loads(config["query_context"]), ensure_ascii=False, indent=2)
            stem = _file_stem(config["slice_name"])
        elif kind == "dashboards":
            stem = _file_stem(config.get("slug") or config["dashboard_title"])
        else:
            files[relative] = _yaml_text(config)
            continue
        path, n = f"{kind}/{stem}.yaml", 2
        while path in files:
            path, n = f"{kind}/{stem}_{n}.yaml", n + 1
        files[path] = _yaml_text(config)
    if target.exists():
        shutil.rmtree(target)
    for relative, text in sorted(files.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


_LATIN = ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f"]
_LATIN += ["kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _LATIN, strict=True))


def _file_stem(title: str) -> str:
    """A file name for an object title: Cyrillic transliterated, anything else but letters and digits as `_`."""
    latin = "".join(_TRANSLIT.get(ch, ch) for ch in title.lower())
    stem = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in latin)
    return "_".join(part for part in stem.split("_") if part)[:80] or "unnamed"


class _ReadableDumper(yaml.SafeDumper):
    """Multi-line strings (SQL, query contexts) as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        value = "\n".join(line.rstrip() for line in value.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ReadableDumper.add_representer(str, _str_representer)


def _yaml_text(config: dict) -> str:
    return yaml.dump(config, Dumper=_ReadableDumper, allow_unicode=True, sort_keys=False, width=120)


# --- command line ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.dashboards", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", default="up", choices=["up", "install", "import", "export"])
    args = parser.parse_args(argv)
    spent = install(quiet=False)
    if spent:
        print(f"Superset installed into {VENV.relative_to(PROJECT_ROOT)}/ in {spent:.0f} s", flush=True)
    if args.action == "install":
        return
    setup = SupersetSetup.from_env()
    if args.action == "export":
        written = export(setup)
        print(f"{len(written)} files written to {DASHBOARDS_DIR.relative_to(PROJECT_ROOT)}/ (review with git diff)")
        return
    prepare(setup)
    if args.action == "import":
        return
    password_note = (
        "EDUWH_SUPERSET_ADMIN_PASSWORD"
        if os.environ.get("EDUWH_SUPERSET_ADMIN_PASSWORD")
        else str(setup.home / "admin_password")
    )
    server = subprocess.Popen(serve_command(setup), env=superset_env(setup), cwd=setup_cwd(), start_new_session=True)

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)  # stopped by a service manager: stop gunicorn too, as on Ctrl-C
    try:
        wait_healthy(setup, server)
        print(
            f"\nSuperset: {setup.url}  (user {setup.admin_user}, password in {password_note}); "
            f"marts: {setup.database}. Ctrl-C stops it.\n",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(server)
    if server.returncode not in (0, -signal.SIGTERM, None):
        sys.exit(server.returncode)


if __name__ == "__main__":
    main()
