"""The analysts' DuckDB file opens in the DuckDB that BI tools and drivers bundle (1.4), not only in the pinned 2.0.

DuckDB 1.4.0 (tests/duckdb14-requirements.txt) is installed once per clone into .venv-duckdb14/, apart from the
project's environment, and opens the small region's published analyst.duckdb read-only in a separate process."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipelines.lib.publish import ANALYST_MIN_DUCKDB
from pipelines.settings import PROJECT_ROOT
from tests.conftest import mart_files

REQUIREMENTS = PROJECT_ROOT / "tests" / "duckdb14-requirements.txt"
OLD_VENV = PROJECT_ROOT / ".venv-duckdb14"

READ_WITH_OLD_DUCKDB = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
tables = [r[0] for r in con.execute("select table_name from duckdb_tables() order by 1").fetchall()]
counts = {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
comment = con.execute("select comment from duckdb_tables() where table_name = 'school_year_results'").fetchone()[0]
print(json.dumps({"version": duckdb.__version__, "counts": counts, "comment": comment}, ensure_ascii=False))
"""


def old_duckdb_python() -> Path:
    """.venv-duckdb14/bin/python with exactly the pinned old DuckDB, made on first use (under a lock)."""
    python = OLD_VENV / "bin" / "python"
    stamp = OLD_VENV / ".installed"
    with open(PROJECT_ROOT / ".venv-duckdb14.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(OLD_VENV)], check=True, timeout=120)
            uv = Path(sys.executable).parent / "uv"  # the project's installer (constraints.txt)
            install = ["pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
            subprocess.run(
                [str(uv), *install, "-r", str(REQUIREMENTS)],
                check=True,
                timeout=600,
            )
            stamp.write_text(REQUIREMENTS.read_text())
    return python


def test_requirements_pin_the_oldest_duckdb_the_readme_names():
    pins = [line for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    assert pins == [f"duckdb=={ANALYST_MIN_DUCKDB}"]
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"DuckDB {ANALYST_MIN_DUCKDB}" in readme


def test_analyst_file_opens_in_duckdb_1_4(loaded_region):
    region, _, _ = loaded_region
    path = region.settings.marts_dir / "analyst.duckdb"
    # what was published, read independently of DuckDB: the Parquet marts the file was filled from
    expected = {
        d.name: sum(pq.read_metadata(p).num_rows for p in mart_files(d.parent, d.name))
        for d in region.settings.marts_dir.iterdir()
        if d.is_dir() and mart_files(d.parent, d.name)
    }
    parts = sum(len(mart_files(region.settings.marts_dir, name)) for name in expected)
    assert expected.get("school_year_results", 0) > 0

    out = subprocess.run(
        [str(old_duckdb_python()), "-c", READ_WITH_OLD_DUCKDB, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(out.stdout)
    assert seen["version"] == ANALYST_MIN_DUCKDB
    counts = seen["counts"]
    assert {t: n for t, n in counts.items() if not t.startswith("_publication")} == expected
    assert counts["_publication"] == len(expected)
    assert counts["_publication_parts"] == parts
    assert seen["comment"]  # the Russian label travels too

    # the pinned DuckDB reads the same file; the pipeline's own warehouse file stays in 2.0's format
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from school_year_results").fetchone()[0] == expected["school_year_results"]
    failed = subprocess.run(
        [str(old_duckdb_python()), "-c", READ_WITH_OLD_DUCKDB, str(region.settings.warehouse_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert failed.returncode != 0 and "storage" in failed.stderr.lower()
