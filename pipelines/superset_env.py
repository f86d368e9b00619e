"""Apache Superset's own environment, `.venv-superset/`, built from deploy/superset/requirements.txt (a full pip
freeze: every package pinned; Superset's pins clash with the project's, so it never shares the project's venv).

    .venv/bin/python -m pipelines.superset_env     # build it unless it is already built from the same requirements

The packages are installed by uv, the project's installer (pinned in constraints.txt, beside this Python): about
12 s where pip took 36 s. `make test` builds it before the suite, `python -m pipelines.dashboards`
on first use."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = PROJECT_ROOT / "deploy" / "superset" / "requirements.txt"
VENV = PROJECT_ROOT / ".venv-superset"


class SupersetEnvError(RuntimeError):
    pass


def venv_bin(name: str) -> Path:
    return VENV / "bin" / name


def install(python: str | None = None, quiet: bool = True) -> float:
    """Build .venv-superset/ from the pinned requirements unless it is already built from the same file; returns the
    seconds spent (0 when reused). Python 3.11: EDUWH_SUPERSET_PYTHON, else python3.11 on PATH. Two callers at
    once (`make dashboards` while `make test` runs) take turns."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".installed"
    with open(PROJECT_ROOT / ".venv-superset.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text().strip() == digest and venv_bin("superset").exists():
            return 0.0
        python = python or os.environ.get("EDUWH_SUPERSET_PYTHON") or shutil.which("python3.11")
        if not python:
            raise SupersetEnvError("Superset needs Python 3.11: install python3.11 or set EDUWH_SUPERSET_PYTHON")
        started = time.monotonic()
        if VENV.exists():
            shutil.rmtree(VENV)
        uv = Path(sys.executable).parent / "uv"
        if not uv.exists():
            raise SupersetEnvError(f"uv is not installed beside {sys.executable}: run `make setup` first")
        q = ["--quiet"] if quiet else []
        # The standard venv (pip and setuptools in it, as Superset's packages expect), filled by uv
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
        target = ["--python", str(venv_bin("python"))]
        # Every package is pinned in the file (a full pip freeze): --no-deps installs exactly those. Compiled to
        # bytecode at install, as pip does (uv does not by default): Superset would otherwise compile its imports
        # at every start where Python may not write .pyc files (PYTHONDONTWRITEBYTECODE).
        install = [str(uv), "pip", "install", *q, "--compile-bytecode", *target, "--no-deps", "-r", str(REQUIREMENTS)]
        subprocess.run(install, check=True)
        subprocess.run([str(uv), "pip", "check", *q, *target], check=True, stdout=subprocess.DEVNULL)
        stamp.write_text(digest + "\n")
        return time.monotonic() - started


if __name__ == "__main__":
    try:
        spent = install()
    except (SupersetEnvError, subprocess.CalledProcessError) as exc:
        sys.exit(f"{VENV.name}: {exc}")
    print(f"{VENV.name}: " + (f"built in {spent:.0f} s" if spent else "already built"))
