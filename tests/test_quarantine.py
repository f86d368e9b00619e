"""A corrupted export stops its run with a clear message, goes to quarantine with its validation result,
and leaves the data loaded earlier, the marts and data/raw/ as they were."""

import hashlib
import json
import subprocess
import sys

import dagster as dg
import duckdb
import openpyxl
import pytest

from pipelines import check_export
from pipelines.definitions import INGEST_JOB
from pipelines.lib.contracts import data_docs_index
from pipelines.runner import PipelineRunFailed, materialize_all

from .conftest import SMALL_REGION

YEAR = SMALL_REGION.school_years[-1]


def _digest(path) -> str:
    """A file's sha256, or a published mart folder's: its parts' names and contents."""
    if path.is_dir():
        return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(path.iterdir()))).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _raw_snapshot(settings):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(
            "select school_year, count(*), sum(participants), sum(mark_2_pct), min(_load_id) "
            "from raw.vpr_mark_statistics group by 1 order by 1"
        ).fetchall()


@pytest.fixture
def corrupted(loaded_region):
    """The last year's ВПР file replaced by a copy with a negative participant count in Excel row 9."""
    region, defs, instance = loaded_region
    [path] = (region.settings.raw_dir / "vpr_mark_statistics" / YEAR).glob("*.xlsx")
    original = path.read_bytes()
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws.cell(row=4, column=7).value == "Кол-во участников"
    ws.cell(row=9, column=7).value = -4
    ws.cell(row=12, column=8).value = "н/д"
    wb.save(path)
    yield region, defs, instance, path
    path.write_bytes(original)


def test_corrupted_file_is_quarantined_and_earlier_data_untouched(corrupted):
    region, defs, instance, path = corrupted
    settings = region.settings
    before = _raw_snapshot(settings)
    mart = settings.marts_dir / "school_year_results"
    mart_digest, raw_digest = _digest(mart), _digest(path)

    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        partition_key=YEAR, instance=instance, raise_on_error=False
    )

    assert not result.success
    # the blocking contract check failed, and the run says where and why
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = [e.event_specific_data for e in checks if not e.event_specific_data.passed]
    assert [c.asset_key.to_user_string() for c in failed] == ["raw/vpr_mark_statistics"]
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert str(path) in message
    assert "строка/row 9: -4" in message and "«Кол-во участников» (participants)" in message
    assert "expect_column_values_to_be_between" in message
    assert "строка/row 12: 'н/д'" in message and "«2» (mark_2_pct)" in message

    # what was loaded before is untouched, raw is never modified, the marts are as they were
    assert _raw_snapshot(settings) == before
    assert _digest(path) == raw_digest
    assert _digest(mart) == mart_digest

    # quarantine: the file, its GE validation result and the report, and a record in the warehouse
    [copy] = [p for p in (settings.quarantine_dir / "vpr_mark_statistics" / YEAR).iterdir() if p.suffix == ".xlsx"]
    assert _digest(copy) == raw_digest
    validation = json.loads(copy.with_name(copy.name + ".validation.json").read_text(encoding="utf-8"))
    assert validation["success"] is False
    report = copy.with_name(copy.name + ".report.txt").read_text(encoding="utf-8")
    assert str(path) in report
    # every validation is in the GE Data Docs, whose index the report names
    docs = data_docs_index(settings.data_dir)
    assert str(docs) in report and docs.exists()
    pages = (docs.parent / "validations" / "vpr_mark_statistics").rglob("*.html")
    assert [p for p in pages if f"vpr_mark_statistics {YEAR}" in p.relative_to(docs.parent).as_posix()]  # run name
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        [(file_path, digest, violations)] = con.execute(
            "select file_path, file_sha256, violations from ingest.quarantine where school_year = ?", [YEAR]
        ).fetchall()
        statuses = con.execute(
            "select source, status, count(*) from ingest.load_log where school_year = ? group by all order by all",
            [YEAR],
        ).fetchall()
    assert (file_path, digest) == (str(path), raw_digest)
    # the unreadable share also leaves the row's shares short of 100
    assert {tuple(v["columns"]) for v in json.loads(violations)} == {
        ("participants",),
        ("mark_2_pct",),
        ("mark_2_pct", "mark_3_pct", "mark_4_pct", "mark_5_pct"),  # the sum of the shares
    }
    # the other files of that year had not changed: the second run loaded none of them again
    assert [s for s in statuses if s[1] != "loaded" or s[2] != 1] == [("vpr_mark_statistics", "quarantined", 1)]
    assert ("school_registry", "loaded", 1) in statuses


def test_the_same_file_again_loads_nothing_new(loaded_region):
    region, defs, instance = loaded_region
    settings = region.settings
    before = _raw_snapshot(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        log_before = con.execute("select count(*) from ingest.load_log").fetchone()[0]
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(partition_key=YEAR, instance=instance)
    assert result.success
    assert _raw_snapshot(settings) == before
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from ingest.load_log").fetchone()[0] == log_before
    materializations = result.asset_materializations_for_node("raw__vpr_mark_statistics")
    assert materializations[0].metadata["unchanged"].value is True


def test_trying_a_file_reads_the_registry_without_writing_the_warehouse(loaded_region, monkeypatch, capsys):
    """`python -m pipelines.check_export` matches a file's schools against the loaded registry on a read-only
    connection: it works while another process has the warehouse open for reading, and changes nothing in it."""
    region, _, _ = loaded_region
    settings = region.settings
    [path] = (settings.raw_dir / "vpr_mark_statistics" / YEAR).glob("*.xlsx")
    digest = _digest(settings.warehouse_path)
    reader = subprocess.Popen(
        [sys.executable, "-c", _HOLD_READ_ONLY, str(settings.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline() == "open\n"
        monkeypatch.setenv("EDUWH_DATA_DIR", str(settings.data_dir))
        assert check_export.main(["vpr_mark_statistics", str(path), YEAR]) == 0
    finally:
        reader.communicate("")
    out = capsys.readouterr().out
    assert "CONTRACT PASSED" in out and "не загружен" not in out  # the registry was read, and matched
    assert _digest(settings.warehouse_path) == digest


# A second process reading the warehouse (an analyst's session) until its stdin closes.
_HOLD_READ_ONLY = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
sys.stdin.read()
"""


def test_a_failed_contract_stops_the_marts_from_being_rebuilt(corrupted):
    region, defs, instance, _ = corrupted
    mart = region.settings.marts_dir / "school_year_results"
    digest = _digest(mart)
    with pytest.raises(PipelineRunFailed, match="participants"):
        materialize_all(defs, instance, region.settings)
    assert _digest(mart) == digest


def test_definitions_load_with_jobs_partitions_and_blocking_contracts():
    from pipelines.definitions import MARTS_JOB, defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw/school_registry",
        "raw/vpr_mark_statistics",
        "marts/school_year_results",
        "published/school_year_results",
    } <= keys
    assert defs.resolve_job_def(INGEST_JOB).partitions_def.name == "school_year"
    assert defs.resolve_job_def(MARTS_JOB) is not None
    vpr = graph.get(dg.AssetKey(["raw", "vpr_mark_statistics"]))
    assert dg.AssetKey(["raw", "school_registry"]) in vpr.parent_keys
    staging = graph.get(dg.AssetKey(["staging", "stg_fisoko__vpr_mark_statistics"]))
    assert dg.AssetKey(["raw", "vpr_mark_statistics"]) in staging.parent_keys
    specs = list(defs.resolve_assets_def(dg.AssetKey(["raw", "vpr_mark_statistics"])).check_specs)
    assert [(s.name, s.blocking) for s in specs] == [("contract", True)]
