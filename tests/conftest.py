"""Shared fixtures: a small generated region, loaded end to end into a temporary data directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.sample_region import RegionParams, RegionTruth, generate_region
from pipelines.settings import DBT_PROJECT_DIR, Settings

SMALL_REGION = RegionParams(seed=7, municipalities=3, schools=36, years=3, first_year=2022, pupils_per_grade=30)


_KEY_DIRS: list[Path] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    for key_dir in _KEY_DIRS:  # the test key's folder, made by pytest_sessionstart
        shutil.rmtree(key_dir, ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """dagster-dbt reads dbt's manifest when the definitions are imported: make sure it exists and is current.
    Pupil codes are pseudonymised with a key outside the repository: tests use one of their own.
    Under pytest-xdist (`make test` runs two workers) the controller does both before the workers start, and
    they inherit its environment."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if not os.environ.get("EDUWH_PSEUDONYM_KEY"):
        key_dir = Path(tempfile.mkdtemp(prefix="eduwh-test-key-"))
        (key_dir / "pseudonym.key").write_text("test-key-not-secret-0123456789abcdef\n")
        os.environ["EDUWH_PSEUDONYM_KEY_FILE"] = str(key_dir / "pseudonym.key")
        _KEY_DIRS.append(key_dir)
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    sources = [
        p for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts
    ]
    if not manifest.exists() or max(p.stat().st_mtime for p in sources) > manifest.stat().st_mtime:
        dbt = Path(sys.executable).parent / "dbt"
        subprocess.run([str(dbt), "parse", "--quiet", "--profiles-dir", "."], cwd=DBT_PROJECT_DIR, check=True)


class Region:
    """A generated region in its own data directory, with its truth."""

    def __init__(self, data_dir: Path, params: RegionParams):
        self.settings = Settings(data_dir)
        self.params = params
        self.truth: RegionTruth = generate_region(params, self.settings.raw_dir, self.settings.truth_dir)


@pytest.fixture
def use_data_dir(monkeypatch: pytest.MonkeyPatch):
    def _use(path: Path) -> None:
        monkeypatch.setenv("EDUWH_DATA_DIR", str(path))

    return _use


def _loaded_region(tmp: Path) -> Iterator[tuple[Region, dg.Definitions, dg.DagsterInstance]]:
    previous = os.environ.get("EDUWH_DATA_DIR")
    os.environ["EDUWH_DATA_DIR"] = str(tmp)
    try:
        from pipelines.definitions import build_definitions
        from pipelines.runner import materialize_all

        region = Region(tmp, SMALL_REGION)
        defs = build_definitions()
        with dg.DagsterInstance.ephemeral() as instance:
            materialize_all(defs, instance, region.settings)
            yield region, defs, instance
    finally:
        if previous is None:
            os.environ.pop("EDUWH_DATA_DIR", None)
        else:
            os.environ["EDUWH_DATA_DIR"] = previous


@contextmanager
def reduced_region(tmp: Path, params: RegionParams, folders: set[str]) -> Iterator[Region]:
    """A generated region kept to the raw folders named (the sources a test needs), materialised end to end in
    `tmp` with Parquet publishing only: for tests that need another region than the session's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_DATA_DIR", str(tmp))
        mp.setenv("EDUWH_PUBLISH_TARGETS", "parquet")
        from pipelines.definitions import build_definitions
        from pipelines.runner import materialize_all

        region = Region(tmp, params)
        for folder in region.settings.raw_dir.iterdir():
            if folder.name not in folders:
                shutil.rmtree(folder)
        with dg.DagsterInstance.ephemeral() as instance:
            materialize_all(build_definitions(), instance, region.settings)
        yield region


@pytest.fixture(scope="session")
def loaded_region(tmp_path_factory: pytest.TempPathFactory):
    """The small region generated and materialised end to end (ingest -> dbt -> publish), once per session:
    tests that change a file put it back (test_quarantine), so every module sees the same warehouse."""
    yield from _loaded_region(tmp_path_factory.mktemp("region"))


def warehouse_rows(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of a query on a region's warehouse, opened read-only and closed again."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def mart_parquet(marts_dir: Path, name: str) -> str:
    """A published mart as DuckDB's read_parquet and polars read it: data/marts/<mart>/*.parquet (one part per
    school year, or all.parquet). pyarrow reads the folder itself: pq.read_table(marts_dir / name)."""
    return str(Path(marts_dir) / name / "*.parquet")


def mart_files(marts_dir: Path, name: str) -> list[Path]:
    """The part files of a published mart, sorted by name."""
    return sorted((Path(marts_dir) / name).glob("*.parquet"))


from tests.postgres_server import postgres_conninfo  # noqa: F401
