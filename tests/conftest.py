"""Shared fixtures: a small generated region, loaded end to end into a temporary data directory."""

from __future__ import annotations

import os
import pickle
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
from filelock import FileLock

from pipelines.sample_region import RegionParams, RegionTruth, generate_region
from pipelines.settings import DBT_PROJECT_DIR, Settings

SMALL_REGION = RegionParams(seed=7, municipalities=3, schools=36, years=3, first_year=2022, pupils_per_grade=30)


_KEY_DIRS: list[Path] = []


# The modules that take longest, slowest first (measured with `make test`, which lists the slowest tests). `make
# test` hands whole modules to its workers in collection order (pytest-xdist's loadfile, --no-loadscope-reorder):
# starting with these leaves the short ones to fill the end, instead of a worker starting a long one last.
SLOWEST_MODULES = [
    "test_operations.py",  # its own region loaded by the sensor, a new year, `make docs`
    "test_dashboards.py",  # builds the shared region (below) while the others run test_operations, test_services
    "test_services.py",  # the Dagster daemon and webserver: mostly waiting for their processes, the third worker's
    "test_spravka.py",  # LibreOffice
    "test_bad_input_corpus.py",
    "test_marts_effects.py",  # its own region
    "test_incremental_marts.py",
    "test_new_layouts.py",  # its own region
    "test_pupil_files.py",
    "test_identity_through_time.py",  # its own region
    "test_workbooks.py",  # its own region
    "test_bench_paths.py",  # its own region
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


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

    def __init__(self, data_dir: Path, params: RegionParams, truth: RegionTruth | None = None):
        """Generated into data_dir, or given the truth of a region already there (a copy)."""
        self.settings = Settings(data_dir)
        self.params = params
        if truth is None:
            truth = generate_region(params, self.settings.raw_dir, self.settings.truth_dir)
        self.truth: RegionTruth = truth


@pytest.fixture
def use_data_dir(monkeypatch: pytest.MonkeyPatch):
    def _use(path: Path) -> None:
        monkeypatch.setenv("EDUWH_DATA_DIR", str(path))

    return _use


def _build_loaded_region(built: Path) -> None:
    """Generate the small region into built/data and materialise it end to end, with the Dagster instance's
    history on disk in built/dagster; the truth is kept beside them (truth.pickle)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_DATA_DIR", str(built / "data"))
        from pipelines.definitions import build_definitions
        from pipelines.runner import materialize_all

        region = Region(built / "data", SMALL_REGION)
        (built / "dagster").mkdir()
        with dg.DagsterInstance.local_temp(str(built / "dagster")) as instance:
            materialize_all(build_definitions(), instance, region.settings)
    (built / "truth.pickle").write_bytes(pickle.dumps(region.truth))


def _loaded_region(built: Path, tmp: Path) -> Iterator[tuple[Region, dg.Definitions, dg.DagsterInstance]]:
    """A copy of the region in `built`, in `tmp`, with an in-memory Dagster instance that knows its school years
    (the build's run history stays in built/dagster: fixture `loaded_region_history`). The copy's warehouse
    still names the files it loaded by their paths under `built`: the files are identical, and a load is known
    by its files' digests, so the copy's files count as already loaded."""
    shutil.copytree(built / "data", tmp, dirs_exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDUWH_DATA_DIR", str(tmp))
        from pipelines.definitions import build_definitions
        from pipelines.defs.ingest.partitions import school_year_partitions

        region = Region(tmp, SMALL_REGION, truth=pickle.loads((built / "truth.pickle").read_bytes()))
        with dg.DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions(school_year_partitions.name, list(SMALL_REGION.school_years))
            yield region, build_definitions(), instance


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
def built_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the small region generated and materialised end to end (ingest -> dbt -> publish), once per
    test run: under pytest-xdist the first worker to need it builds it in the run's shared folder while the
    others wait (make test starts them on modules that do not need it). Tests use copies (`loaded_region`)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    built = shared / "loaded_region"
    with FileLock(shared / "loaded_region.lock"):
        if (built / ".failed").exists():  # another worker's build failed: its error is reported there
            pytest.fail(f"the shared region could not be built (another worker):\n{(built / '.failed').read_text()}")
        if not (built / ".done").exists():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            try:
                _build_loaded_region(built)
            except BaseException as error:
                (built / ".failed").write_text(repr(error)[:4000])
                raise
            (built / ".done").touch()
    return built


@pytest.fixture(scope="session")
def loaded_region(built_region: Path, tmp_path_factory: pytest.TempPathFactory):
    """The small region, materialised, in a data directory of this worker's own: tests that change a file put it
    back (test_quarantine), so every module sees the same warehouse."""
    yield from _loaded_region(built_region, tmp_path_factory.mktemp("region"))


@pytest.fixture(scope="session")
def loaded_region_history(built_region: Path) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance that materialised the small region (its runs and events, on disk): to read, not to
    run jobs in."""
    with dg.DagsterInstance.local_temp(str(built_region / "dagster")) as instance:
        yield instance


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
