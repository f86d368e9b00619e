"""Pupil-level files: streamed in blocks, pupil codes replaced by HMAC pseudonyms, crash-safe loads."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.ingest import load_school_year
from pipelines.lib.pseudonymise import PseudonymKeyError
from pipelines.lib.sources import load_sources
from pipelines.settings import PROJECT_ROOT, Settings

SPECS = load_sources()
PUPILS = SPECS["vpr_pupil_results"]
REGISTRY = SPECS["school_registry"]
YEAR = "2023-2024"
KEY = "pupil-key-for-tests-0123456789abcdef"
HEADER = "Учебный год;Класс;Код предмета;ОО;Код ученика;Балл;Отметка"
LOGINS = [f"sch47{i:04d}" for i in range(1, 21)]


def write_registry(settings: Settings) -> None:
    folder = settings.raw_dir / REGISTRY.folder / YEAR
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Логин ОО;ОГРН;Полное наименование ОО;Муниципальное образование"]
    lines += [f"{login};10278000{i:05d};Школа {i};Район" for i, login in enumerate(LOGINS)]
    (folder / "реестр.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")


def pupil_rows(n: int, variant: int = 0) -> list[str]:
    rows = []
    for i in range(n):
        login = LOGINS[i % len(LOGINS)]
        subject = "РУ" if i % 2 else "МА"
        if i % 50 == 7:
            rows.append(
                f"2023/2024;{4 + i % 3};{subject};{login};Ж-{i:07d};{'х' if i % 100 == 7 else 'X'};отсутствовал"
            )
        else:
            score = (i * 7 + variant) % 30
            rows.append(f"2023/2024;{4 + i % 3};{subject};{login};Ж-{i:07d};{score};{2 + score // 8}")
    return rows


def write_pupils(settings: Settings, rows: list[str], encoding: str = "cp1251", name: str = "ВПР.csv") -> Path:
    folder = settings.raw_dir / PUPILS.folder / YEAR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):
        old.unlink()
    path = folder / name
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    return path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    key_file = tmp_path.parent / f"{tmp_path.name}.key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("EDUWH_PSEUDONYM_KEY_FILE", str(key_file))
    monkeypatch.delenv("EDUWH_PSEUDONYM_KEY", raising=False)
    s = Settings(tmp_path)
    write_registry(s)
    load_school_year(REGISTRY, s, YEAR)
    return s


def test_pupil_codes_are_hmac_pseudonyms_and_raw_codes_are_stored_nowhere(settings: Settings):
    rows = pupil_rows(400)
    path = write_pupils(settings, rows)
    loaded = load_school_year(PUPILS, settings, YEAR)
    assert (loaded.rows_read, loaded.rows_loaded, loaded.rows_rejected) == (400, 400, 0)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        got = dict(
            con.execute("select _source_row, pupil_code from raw.vpr_pupil_results order by _source_row").fetchall()
        )
        absent = con.execute(
            "select count(*), count(primary_score) from raw.vpr_pupil_results where mark = 'отсутствовал'"
        ).fetchone()
    for line_no, row in enumerate(rows, start=2):
        code = row.split(";")[4]
        assert got[line_no] == hmac.new(KEY.encode(), code.encode(), hashlib.sha256).hexdigest()
    assert absent == (8, 0)  # «х» and «X» are no score

    # no raw code anywhere the pipeline writes (warehouse, staging, quarantine, GE results)
    for written in settings.data_dir.rglob("*"):
        if written.is_file() and settings.raw_dir not in written.parents:
            assert b"\xc6-0000" not in written.read_bytes()  # cp1251 «Ж-0000…»
            assert "Ж-0000".encode() not in written.read_bytes(), written
    assert path.exists()


def test_a_missing_key_is_a_clear_error_before_anything_is_read(settings: Settings, monkeypatch, tmp_path: Path):
    write_pupils(settings, pupil_rows(10))
    monkeypatch.setenv("EDUWH_PSEUDONYM_KEY_FILE", str(tmp_path.parent / "no-such.key"))
    with pytest.raises(PseudonymKeyError, match="EDUWH_PSEUDONYM_KEY_FILE"):
        load_school_year(PUPILS, settings, YEAR)
    monkeypatch.setenv("EDUWH_PSEUDONYM_KEY_FILE", str(PROJECT_ROOT / "pseudonym.key"))
    with pytest.raises(PseudonymKeyError, match="вне репозитория"):
        load_school_year(PUPILS, settings, YEAR)


def test_utf8_with_bom_is_read_as_well_as_cp1251(settings: Settings):
    write_pupils(settings, pupil_rows(60), encoding="utf-8-sig")
    assert load_school_year(PUPILS, settings, YEAR).rows_loaded == 60


def _rows_and_log(settings: Settings) -> tuple[int, int, set[str], list[tuple]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        n, total = con.execute("select count(*), coalesce(sum(primary_score), 0) from raw.vpr_pupil_results").fetchone()
        load_ids = {r[0] for r in con.execute("select distinct _load_id from raw.vpr_pupil_results").fetchall()}
        log = con.execute(
            "select load_id, status from ingest.load_log where source = 'vpr_pupil_results' order by started_at"
        ).fetchall()
    return n, total, load_ids, log


def _expected(rows: list[str]) -> tuple[int, int]:
    scores = [r.split(";")[5] for r in rows]
    return len(rows), sum(int(s) for s in scores if s.isdigit())


# seconds after the child has imported everything; its load takes about 2 s (reading, staging, GE, swap)
@pytest.mark.parametrize("kill_after", [0.2, 0.9, 1.6])
def test_a_load_killed_at_any_point_leaves_the_previous_rows_and_the_rerun_completes(settings: Settings, kill_after):
    first, second = pupil_rows(2_000, variant=0), pupil_rows(120_000, variant=3)
    write_pupils(settings, first)
    load_school_year(PUPILS, settings, YEAR)
    assert _rows_and_log(settings)[:2] == _expected(first)

    write_pupils(settings, second, name="ВПР исправленный.csv")
    code = (
        "from pipelines.lib.ingest import load_school_year; from pipelines.lib.sources import load_sources; "
        "from pipelines.settings import Settings; print('ready', flush=True); "
        f"load_school_year(load_sources()['vpr_pupil_results'], Settings.from_env(), {YEAR!r})"
    )
    env = {**os.environ, "EDUWH_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    # whatever the moment: either all of the first file or (if it finished) all of the second, never a mix
    n, total, load_ids, log = _rows_and_log(settings)
    assert (n, total) in (_expected(first), _expected(second))
    assert len(load_ids) == 1
    assert load_ids == {lid for lid, status in log if status == "loaded"}

    # the rerun completes, removes what the killed load left in staging, and keeps the history
    result = load_school_year(PUPILS, settings, YEAR)
    assert _rows_and_log(settings)[:2] == _expected(second)
    assert result.unchanged or result.rows_loaded == len(second)
    statuses = [status for _, status in _rows_and_log(settings)[3]]
    assert statuses == ["superseded", "loaded"]
    # the warehouse keeps the table of the current load only: no staged rows, no superseded load's table, and
    # no view the contract read them through
    loaded = {lid for lid, status in _rows_and_log(settings)[3] if status == "loaded"}
    assert _load_tables(settings) == {"vpr_pupil_results__columns", *loaded}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert not con.execute("select view_name from duckdb_views() where schema_name = 'main' and not internal").fetchall()


def _load_tables(settings: Settings) -> set[str]:
    """The tables holding the rows of loads of the pupil source (and its family's columns)."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw_loads' and table_name like 'vpr_pupil%'"
        ).fetchall()
    return {name for (name,) in rows}


def test_two_loads_of_one_source_take_turns_on_its_staged_table(settings: Settings):
    """A source's loads stage in one table: a second process loading the same source (a daemon's run beside
    `make demo`) waits for the first instead of dropping its staged table."""
    import fcntl

    rows = pupil_rows(400)
    write_pupils(settings, rows)
    lock_path = settings.data_dir / "staging" / PUPILS.name / ".lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    code = (
        "from pipelines.lib.ingest import load_school_year; from pipelines.lib.sources import load_sources; "
        "from pipelines.settings import Settings; print('imported', flush=True); "
        f"r = load_school_year(load_sources()['vpr_pupil_results'], Settings.from_env(), {YEAR!r}); "
        "print('loaded', r.rows_loaded, flush=True)"
    )
    env = {**os.environ, "EDUWH_DATA_DIR": str(settings.data_dir)}
    with lock_path.open("w") as held:  # another load of the source holds its staged table
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "imported"
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # the load itself takes under a second: it is waiting for the lock
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == f"loaded {len(rows)}"
    assert _rows_and_log(settings)[:2] == _expected(rows)


def test_a_staged_table_left_by_a_killed_load_is_dropped_when_the_same_file_comes_again(settings: Settings):
    """A load killed while staging a corrected file leaves its staged table; the original file dropped again is
    unchanged (it stages nothing) and drops the leftover, unless a load of the source holds the lock."""
    import fcntl

    write_pupils(settings, pupil_rows(50))
    load_school_year(PUPILS, settings, YEAR)
    current = _load_tables(settings)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute('create table raw_loads."vpr_pupil_results__staging" as select 1 as left_by_a_killed_load')
        con.execute('create view "vpr_pupil_results__checked" as select * from raw_loads."vpr_pupil_results__staging"')
    stage_dir = settings.data_dir / "staging" / PUPILS.name
    with (stage_dir / ".lock").open("w") as held:  # a load of the source is running: its table is in use
        fcntl.flock(held, fcntl.LOCK_EX)
        assert load_school_year(PUPILS, settings, YEAR).unchanged
        assert _load_tables(settings) == current | {"vpr_pupil_results__staging"}
    assert load_school_year(PUPILS, settings, YEAR).unchanged
    assert _load_tables(settings) == current
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert not con.execute("select view_name from duckdb_views() where schema_name = 'main' and not internal").fetchall()


def test_a_raw_table_of_a_warehouse_from_before_is_adopted_and_dropped_with_its_last_load(settings: Settings):
    """Warehouses written before loads kept tables of their own hold each family's rows in one table raw.<family>:
    it becomes the table of the loads it holds, its rows stay visible, and it goes when they are superseded."""
    first, second = pupil_rows(30, variant=0), pupil_rows(40, variant=1)
    write_pupils(settings, first)
    load_school_year(PUPILS, settings, YEAR)
    with duckdb.connect(str(settings.warehouse_path)) as con:  # the same rows as the previous version kept them
        con.execute("create table raw.vpr_before as select * from raw.vpr_pupil_results")
        con.execute("drop view raw.vpr_pupil_results")
        for (table,) in con.execute("select table_name from ingest.load_tables where family = 'vpr_pupil_results'").fetchall():
            con.execute(f"drop table {table}")
        con.execute("delete from ingest.load_tables where family = 'vpr_pupil_results'")
        con.execute('drop table raw_loads."vpr_pupil_results__columns"')
        con.execute("alter table raw.vpr_before rename to vpr_pupil_results")

    assert load_school_year(PUPILS, settings, YEAR).unchanged
    assert _rows_and_log(settings)[:2] == _expected(first)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables "
                                 "where table_schema = 'raw' and table_name like 'vpr_pupil%'").fetchall())
    assert kinds == {"vpr_pupil_results": "VIEW", "vpr_pupil_results__before_load_tables": "BASE TABLE"}

    write_pupils(settings, second, name="ВПР исправленный.csv")
    load_school_year(PUPILS, settings, YEAR)
    assert _rows_and_log(settings)[:2] == _expected(second)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        left = con.execute("select count(*) from information_schema.tables where table_name like '%before_load_tables'")
        assert left.fetchone()[0] == 0


def test_the_same_file_is_checked_again_when_its_registry_changed(settings: Settings):
    rows = pupil_rows(400)
    write_pupils(settings, rows)
    load_school_year(PUPILS, settings, YEAR)
    assert load_school_year(PUPILS, settings, YEAR).unchanged

    # the registry of the year loses one school: the unchanged pupil file is matched again
    registry = next((settings.raw_dir / REGISTRY.folder / YEAR).glob("*.csv"))
    lines = registry.read_text(encoding="utf-8-sig").splitlines()
    registry.write_text("\n".join(line for line in lines if not line.startswith(LOGINS[0] + ";")) + "\n", "utf-8-sig")
    load_school_year(REGISTRY, settings, YEAR)
    again = load_school_year(PUPILS, settings, YEAR)
    gone = sum(1 for r in rows if r.split(";")[3] == LOGINS[0])
    assert not again.unchanged
    assert (again.rows_loaded, again.rows_rejected, again.match_rate) == (400 - gone, gone, 0.95)
