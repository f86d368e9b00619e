"""The three benchmark paths agree: the pipeline (P), the bare DuckDB baseline (D, bench/baseline_duckdb.py) and
the pandas baseline (Pd, bench/baseline_pandas.py) and the same without pupil codes (Pd0,
bench/baseline_pandas_plain.py), run on the same tiny inputs (bench/data.py: registry + ВПР /
ОГЭ / ЕГЭ pupil files) with the same pseudonymisation key, give the same school_year_results: the same rows
(school × school year × procedure) and every column equal (numbers within 1e-9, texts exactly). D's stored pupil
rows carry the pipeline's pseudonyms."""

from __future__ import annotations

import hmac
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from bench import baseline_duckdb, baseline_pandas
from bench.common import KEY_COLUMNS, MART_COLUMNS, TEXT_COLUMNS, export_file, key_from_env, sniff_encoding
from bench.data import generate


@dataclass
class Paths:
    raw_dir: Path
    warehouse: Path  # P
    duckdb_file: Path  # D
    key: bytes
    school_years: list[str]
    pipeline: pd.DataFrame
    duckdb: pd.DataFrame
    pandas: pd.DataFrame
    pandas_plain: pd.DataFrame
    seconds: dict[str, float]


def _run_pipeline(data_dir: Path) -> None:
    """Ingest the raw files and build the marts in process, as `make demo` does (pipelines.runner). Published
    to Parquet only: the comparison reads the warehouse's mart, other publishing targets are not benchmarked."""
    previous = {name: os.environ.get(name) for name in ("EDUWH_DATA_DIR", "EDUWH_PUBLISH_TARGETS")}
    os.environ["EDUWH_DATA_DIR"] = str(data_dir)
    os.environ["EDUWH_PUBLISH_TARGETS"] = "parquet"
    try:
        from pipelines.definitions import build_definitions
        from pipelines.runner import materialize_all
        from pipelines.settings import Settings

        # only four sources have files here: dbt runs on the others' raw tables, empty until their first file
        settings = Settings(data_dir)
        defs = build_definitions()
        with dg.DagsterInstance.ephemeral() as instance:
            materialize_all(defs, instance, settings)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    tmp = tmp_path_factory.mktemp("bench_paths")
    data_dir = tmp / "data"
    raw_dir = data_dir / "raw"
    generated = generate("tiny", raw_dir)
    years = generated["school_years"]
    key = key_from_env()  # the test key conftest sets at session start
    seconds = {}

    t0 = time.perf_counter()
    _run_pipeline(data_dir)
    seconds["P"] = time.perf_counter() - t0
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        # the mart's published columns (the warehouse's own bookkeeping of incremental builds left out)
        pipeline = con.execute(
            "select * exclude (input_fingerprint, built_at) from marts.school_year_results").df()

    t0 = time.perf_counter()
    baseline_duckdb.run(raw_dir, tmp / "d.duckdb", key, years)
    seconds["D"] = time.perf_counter() - t0
    with duckdb.connect(str(tmp / "d.duckdb"), read_only=True) as con:
        bare = con.execute("select * from school_year_results").df()

    t0 = time.perf_counter()
    baseline_pandas.run(raw_dir, tmp / "pd.parquet", key, years)
    seconds["Pd"] = time.perf_counter() - t0
    analyst = pd.read_parquet(tmp / "pd.parquet")

    t0 = time.perf_counter()
    baseline_pandas.run(raw_dir, tmp / "pd0.parquet", None, years)  # Pd0: no pupil codes
    seconds["Pd0"] = time.perf_counter() - t0
    plain = pd.read_parquet(tmp / "pd0.parquet")
    print(f"tiny: {generated['rows']}; seconds {seconds}")
    return Paths(
        raw_dir, data_dir / "warehouse.duckdb", tmp / "d.duckdb", key, years, pipeline, bare, analyst, plain, seconds
    )


def _differences(expected: pd.DataFrame, actual: pd.DataFrame) -> list[str]:
    """Every way `actual` differs from `expected` (rows by the mart's key; numbers within 1e-9; texts exactly)."""
    problems = []
    if list(actual.columns) != list(MART_COLUMNS):
        problems.append(f"columns {list(actual.columns)} != {list(MART_COLUMNS)}")
    for name, frame in (("expected", expected), ("actual", actual)):
        duplicated = frame.duplicated(list(KEY_COLUMNS)).sum()
        if duplicated:
            problems.append(f"{name}: {duplicated} duplicated keys")
    merged = expected.merge(actual, on=list(KEY_COLUMNS), how="outer", suffixes=("_e", "_a"), indicator=True)
    for side in ("left_only", "right_only"):
        rows = merged[merged["_merge"] == side]
        if len(rows):
            problems.append(f"{len(rows)} rows {side}: {rows[list(KEY_COLUMNS)].head(5).to_dict('records')}")
    both = merged[merged["_merge"] == "both"]
    for column in MART_COLUMNS:
        if column in KEY_COLUMNS or f"{column}_a" not in both:
            continue
        e, a = both[f"{column}_e"], both[f"{column}_a"]
        if column in TEXT_COLUMNS:
            differ = ~((e.astype(object) == a.astype(object)) | (e.isna() & a.isna()))
        else:
            e, a = pd.to_numeric(e).astype(float), pd.to_numeric(a).astype(float)
            differ = ~(((e - a).abs() <= 1e-9) | (e.isna() & a.isna()))
        if differ.any():
            sample = both.loc[differ, [*KEY_COLUMNS, f"{column}_e", f"{column}_a"]].head(3).to_dict("records")
            problems.append(f"{column}: {int(differ.sum())} rows differ, e.g. {sample}")
    return problems


def test_pipeline_mart_is_what_the_baselines_compute(paths: Paths) -> None:
    assert list(paths.pipeline.columns) == list(MART_COLUMNS), "the mart's columns changed: update bench/"
    assert len(paths.pipeline) > 100
    assert set(paths.pipeline["source_level"]) == {"pupil"}
    assert {p.split("-")[0] for p in paths.pipeline["procedure_id"]} == {"vpr", "oge", "ege"}
    assert paths.pipeline["municipal_participants"].notna().all()


@pytest.mark.parametrize("baseline", ["duckdb", "pandas", "pandas_plain"])
def test_baseline_agrees_with_the_pipeline_on_every_figure(paths: Paths, baseline: str) -> None:
    problems = _differences(paths.pipeline, getattr(paths, baseline))
    assert not problems, "\n".join(problems)


def test_pseudonyms_agree_with_the_pipeline(paths: Paths) -> None:
    """D's stored pupil rows equal the pipeline's raw rows, pseudonyms included; a sample of them is the HMAC of
    the raw code in the file, and Pd's readers give the same pseudonyms."""
    subject = {"vpr_pupil_results": "subject_code", "oge_pupil_results": "subject", "ege_pupil_results": "subject"}
    with duckdb.connect(str(paths.duckdb_file), read_only=True) as con:
        con.execute(f"attach '{paths.warehouse}' as p (read_only)")
        for table, subject_column in subject.items():
            cols = f"school_year, school_login, {subject_column}, pupil_code, primary_score"
            only_d, only_p, n = con.execute(
                f"select (select count(*) from (select {cols} from {table} except all select {cols} from p.raw.{table})),"
                f" (select count(*) from (select {cols} from p.raw.{table} except all select {cols} from {table})),"
                f" (select count(*) from p.raw.{table})"
            ).fetchone()
            assert n > 0 and only_d == 0 and only_p == 0, (table, only_d, only_p, n)
        year = paths.school_years[0]
        query = "select pupil_code from p.raw.vpr_pupil_results where school_year = ? and pupil_code is not null"
        stored = {r[0] for r in con.execute(query, [year]).fetchall()}

    path = export_file(paths.raw_dir, "vpr", year)
    cells = pd.read_csv(path, sep=";", encoding=sniff_encoding(path), dtype=str, keep_default_na=False)
    sample = cells["Код ученика"].iloc[:: max(1, len(cells) // 25)].str.strip()
    expected = [hmac.new(paths.key, code.encode("utf-8"), "sha256").hexdigest() for code in sample]
    assert all(len(code) == 64 for code in expected) and set(expected) <= stored
    assert not set(sample) & stored  # no raw code stored

    analyst = baseline_pandas.read_vpr(paths.raw_dir, year, paths.key)
    assert set(analyst["pupil_code"]) == stored
