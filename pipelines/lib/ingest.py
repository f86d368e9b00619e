"""Load one source's file for one school year: read, stage, check the contract, then load or quarantine.

    data/raw/<source folder>/<school year>/<file>            (only ever read)
        -> read_export / stream_export: text cells under canonical names
        -> staging file data/staging/<source>/<year>/<load>.duckdb: `checked`, built block by block (pupil
           codes pseudonymised on the way in, typed values, one column per rule)
        -> contract: Great Expectations on `checked`
        -> failed: report, GE result and (unless it holds personal data) a copy of the file in
           data/quarantine/<source>/<year>/, a record in ingest.quarantine and ingest.load_log,
           ContractViolation raised; the warehouse keeps what it had
        -> passed: one transaction swaps the school year's rows, keeps rows of unknown schools in
           ingest.rejected_rows, marks the previous load superseded and logs this one
        -> the staging file is deleted

The same file (sha256) under the same contract version is not loaded twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from pipelines.lib import warehouse
from pipelines.lib.contracts import ContractResult, Violation, data_docs_index, validate_staged
from pipelines.lib.pseudonymise import load_key
from pipelines.lib.readers import SOURCE_ROW, ExportReadError, key_column, read_export, stream_export
from pipelines.lib.sources import SourceSpec
from pipelines.lib.staging import (
    Rule,
    first_duplicates,
    lit,
    open_stage,
    q,
    stage_answer_options,
    stage_checked,
    stage_registry,
)
from pipelines.settings import CONFIG_DIR, Settings

Progress = Callable[[str], None]
REGISTRY_SOURCE = "school_registry"


class ContractViolation(Exception):
    """A file broke its source's contract and was quarantined."""

    def __init__(self, message: str, quarantine_path: Path, violations: list[Violation]):
        super().__init__(message)
        self.message, self.quarantine_path, self.violations = message, quarantine_path, violations


@dataclass(frozen=True)
class LoadResult:
    load_id: str
    source: str
    school_year: str
    file_path: Path
    file_sha256: str
    rows_read: int
    rows_loaded: int
    expectations: int
    ignored_headers: tuple[str, ...]
    unchanged: bool = False  # the same file was already loaded under the same contract: nothing was done
    rows_rejected: int = 0
    rows_dropped: dict[str, int] = field(default_factory=dict)
    match_rate: float | None = None
    validation_seconds: float = 0.0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # read (incl. staging), validate, load


def ingest_settings() -> dict:
    return yaml.safe_load((CONFIG_DIR / "ingest.yaml").read_text(encoding="utf-8"))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_files(spec: SourceSpec, settings: Settings, school_year: str) -> list[Path]:
    folder = settings.raw_dir / spec.folder / school_year
    return sorted(p for p in folder.glob(spec.file_glob) if p.is_file() and not p.name.startswith(("~$", ".")))


def find_export(spec: SourceSpec, settings: Settings, school_year: str) -> Path:
    files = export_files(spec, settings, school_year)
    if len(files) != 1:
        folder = settings.raw_dir / spec.folder / school_year
        found = ", ".join(p.name for p in files) or "none"
        raise FileNotFoundError(
            f"{folder}: ожидался один файл {spec.file_glob} источника «{spec.title_ru}», найдено: {found} / "
            f"expected exactly one {spec.file_glob} file of source {spec.name}, found: {found}"
        )
    return files[0]


def ensure_source_tables(settings: Settings, specs: dict[str, SourceSpec]) -> None:
    """Every source's raw table, empty until its first file: dbt builds before a family's first file arrives
    (a region without surveys, a benchmark with pupil files only)."""
    with warehouse.connect(settings.warehouse_path) as con:
        for spec in specs.values():
            warehouse.ensure_raw_table(con, spec.table, spec.output_columns + [(k, "varchar") for k in spec.constants])


def registry_logins(settings: Settings, school_year: str) -> set[str]:
    with warehouse.connect(settings.warehouse_path) as con:
        if not warehouse.table_exists(con, "raw.school_registry"):
            return set()
        rows = con.execute("select school_login from raw.school_registry where school_year = ?", [school_year])
        return {r[0] for r in rows.fetchall()}


@dataclass
class _Load:
    """What one load knows as it goes; turns into the log row."""

    spec: SourceSpec
    settings: Settings
    school_year: str
    path: Path
    digest: str
    load_id: str
    started: object
    rows_read: int | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    registry_load_id: str | None = None
    keyed_headers: dict[tuple[str, str], str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase: read, validate, load

    def log_row(self, status: str, rows_loaded: int, rows_rejected: int | None, match_rate=None, message=None) -> dict:
        return {
            "load_id": self.load_id,
            "source": self.spec.name,
            "school_year": self.school_year,
            "file_path": str(self.path),
            "file_sha256": self.digest,
            "file_size_bytes": self.path.stat().st_size,
            "rows_read": self.rows_read,
            "rows_loaded": rows_loaded,
            "rows_rejected": rows_rejected,
            "rows_dropped": sum(self.dropped.values()),
            "match_rate": match_rate,
            "contract_version": self.spec.contract_version,
            "status": status,
            "message": message,
            "registry_load_id": self.registry_load_id,
            "started_at": self.started,
            "finished_at": warehouse.now(),
        }

    @property
    def quarantine_folder(self) -> Path:
        return self.settings.quarantine_dir / self.spec.name / self.school_year

    @property
    def stamp(self) -> str:
        return f"{self.started:%Y%m%dT%H%M%S}__{self.digest[:12]}"


def _report(load: _Load, reason: str, violations: list[Violation], copied: bool) -> str:
    spec = load.spec
    lines = [
        f"Файл {load.path} (источник «{spec.title_ru}», {load.school_year}) не загружен: {reason}.",
        (
            f"File {load.path} (source {spec.name}, {load.school_year}) was not loaded: it breaks contract "
            f"{spec.name} v{spec.contract_version} ({spec.config_path.name if spec.config_path else spec.name})."
        ),
    ]
    lines += [f"  - {v.describe()}" for v in violations]
    if not copied:
        lines.append(
            f"Файл содержит персональные данные и не копируется; он остаётся в {load.path} (sha256 {load.digest}). / "
            "The file holds personal data and is not copied; it stays where it is."
        )
    lines.append(f"Отчёт Great Expectations / GE Data Docs: {data_docs_index(load.settings.data_dir)}")
    lines.append(
        "Данные, загруженные ранее, не изменены. Исправьте файл и положите его на место. / "
        "Data loaded earlier is unchanged; fix the file and drop it again."
    )
    return "\n".join(lines)


def _quarantine(load: _Load, reason: str, violations: list[Violation], ge_result: dict | None) -> ContractViolation:
    """Keep the evidence (files and a warehouse record) and return the error to raise."""
    folder = load.quarantine_folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{load.stamp}__{load.path.name}"
    copied = not load.spec.pseudonymise
    if copied:
        shutil.copy2(load.path, target)
    message = _report(load, reason, violations, copied)
    Path(f"{target}.report.txt").write_text(message + "\n", encoding="utf-8")
    Path(f"{target}.validation.json").write_text(
        json.dumps(ge_result or {"reason": reason}, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    violation_rows = [
        {
            "rule": v.rule,
            "columns": v.columns,
            "headers": v.headers,
            "unexpected_count": v.unexpected_count,
            "rows": v.rows,
            "detail": v.detail,
        }
        for v in violations
    ]
    with warehouse.connect(load.settings.warehouse_path) as con:
        warehouse.record_quarantine(
            con,
            {
                "load_id": load.load_id,
                "source": load.spec.name,
                "school_year": load.school_year,
                "file_path": str(load.path),
                "file_sha256": load.digest,
                "contract_version": load.spec.contract_version,
                "reason": reason,
                "violations": violation_rows,
                "quarantine_path": str(target),
                "quarantined_at": warehouse.now(),
            },
            load.log_row("quarantined", 0, load.rows_read, message=reason),
        )
    return ContractViolation(message, target, violations)


def _stage_streamed(load: _Load, con, key, block_bytes: int, progress: Progress | None) -> list[Rule]:
    spec, path = load.spec, load.path
    export = stream_export(spec, path, load.school_year, block_bytes)
    load.headers, load.ignored = export.headers, export.ignored_headers
    size = path.stat().st_size
    last = [0.0]

    def report(rows: int, seconds: float) -> None:
        if progress and seconds - last[0] >= 5:
            last[0] = seconds
            share = min(export.bytes_read / size, 0.99) if size else 0.99
            progress(
                f"{spec.name} {load.school_year}: ~{share:.0%} файла/of the file ({size / 1e6:,.0f} MB), "
                f"{rows:,} строк/rows за/in {seconds:.0f} с/s, {rows / seconds:,.0f} строк/с rows/s"
            )

    staged = stage_checked(
        con, spec, load.school_year, list(export.headers), export.batches(), key, export.headers, report, trimmed=True
    )
    if staged.repeated_headers:
        load.dropped["повтор строки заголовка / repeated header row"] = staged.repeated_headers
    load.rows_read = staged.rows + len(export.invalid_rows)
    if export.invalid_rows:
        # the line's text is not shown: it may hold a raw pupil code
        line, fields = export.invalid_rows[0]
        raise ExportReadError(
            path,
            f"{len(export.invalid_rows)} строк с неверным числом полей (обрезанный или испорченный файл?); "
            f"первая: {fields} полей вместо {export.width}",
            f"{len(export.invalid_rows)} lines with a wrong number of fields (truncated or damaged file?); "
            f"first: {fields} fields instead of {export.width}",
            row=line,
        )
    return staged.rules


def load_school_year(
    spec: SourceSpec, settings: Settings, school_year: str, progress: Progress | None = None
) -> LoadResult:
    """Load the source's file of one school year, or quarantine it and raise ContractViolation."""
    t0 = time.perf_counter()
    started = warehouse.now()
    path = find_export(spec, settings, school_year)
    digest = sha256_of(path)
    load_id = f"{spec.name}:{school_year}:{started:%Y%m%dT%H%M%S}:{uuid.uuid4().hex[:8]}"
    load = _Load(spec, settings, school_year, path, digest, load_id, started)

    with warehouse.connect(settings.warehouse_path) as con:
        warehouse.ensure_raw_table(con, spec.table, spec.output_columns + [(k, "varchar") for k in spec.constants])
        current = warehouse.current_load(con, spec.name, school_year)
        registry = warehouse.current_load(con, REGISTRY_SOURCE, school_year) if spec.registry_match else None
    load.registry_load_id = registry[0] if registry else None
    # nothing new: the same file, under the same contract, matched against the same registry
    if current is not None and current[1:] == (digest, spec.contract_version, load.registry_load_id):
        return LoadResult(current[0], spec.name, school_year, path, digest, 0, 0, 0, (), unchanged=True)

    config = ingest_settings()
    key = load_key(config["default_key_file"], settings.data_dir) if spec.pseudonymise else None
    logins = registry_logins(settings, school_year) if spec.registry_match else None
    stage_dir = settings.data_dir / "staging" / spec.name / school_year
    for stale in stage_dir.glob("*.duckdb*"):  # left by a crashed load of this source and year
        stale.unlink()
    stage_path = stage_dir / f"{started:%Y%m%dT%H%M%S}-{load_id.rsplit(':', 1)[1]}.duckdb"
    try:
        try:
            t_read = time.perf_counter()
            rules = _stage(load, stage_path, config, key, logins, progress)
            load.timings["read"] = time.perf_counter() - t_read
        except ExportReadError as exc:
            columns = (exc.column,) if exc.column else ()
            rows = ((exc.row, None),) if exc.row else ()
            violation = Violation("read_export", columns, columns, 1, rows, exc.message_en)
            raise _quarantine(load, exc.message_ru, [violation], None) from exc

        result = validate_staged(
            f"{spec.name}.v{spec.contract_version}",
            f"{spec.name} {school_year}",
            stage_path,
            rules,
            load.headers,
            str(path),
            settings.data_dir,
            config["duckdb_memory_limit"],
            key_column(spec),
            load.keyed_headers,
        )
        load.timings["validate"] = result.seconds
        if not result.success:
            _add_duplicate_rows(result, stage_path, config)
            raise _quarantine(
                load, f"нарушен контракт {spec.name} v{spec.contract_version}", result.violations, result.ge_result
            )
        t_swap = time.perf_counter()
        loaded, rejected, match_rate = _swap_in(load, stage_path, config["duckdb_memory_limit"])
        load.timings["load"] = time.perf_counter() - t_swap
    finally:
        for leftover in stage_dir.glob(f"{stage_path.name}*"):
            leftover.unlink()
    return LoadResult(
        load_id,
        spec.name,
        school_year,
        path,
        digest,
        load.rows_read or 0,
        loaded,
        result.expectations,
        load.ignored,
        rows_rejected=rejected,
        timings=load.timings,
        rows_dropped=load.dropped,
        match_rate=match_rate,
        validation_seconds=result.seconds,
        seconds=time.perf_counter() - t0,
    )


def _stage(load: _Load, stage_path: Path, config: dict, key, logins, progress: Progress | None) -> list[Rule]:
    """Read the file into the staging file's `checked` table; return the contract's rules."""
    spec = load.spec
    with open_stage(stage_path, config["duckdb_memory_limit"]) as scon:
        if logins is not None:
            stage_registry(scon, logins)
        if spec.survey:
            stage_answer_options(scon, spec)
        if spec.stream:
            return _stage_streamed(load, scon, key, config["stream_block_bytes"], progress)
        raw = read_export(spec, load.path, load.school_year)
        load.headers, load.ignored, load.dropped = raw.headers, raw.ignored_headers, dict(raw.dropped)
        load.keyed_headers = raw.keyed_headers
        load.rows_read = raw.rows_read
        names = [c for c in raw.frame.columns if c != SOURCE_ROW]
        return stage_checked(scon, spec, load.school_year, names, [raw.frame.to_arrow()], key).rules


def check_export(
    spec: SourceSpec, path: Path, school_year: str, work_dir: Path, logins: set[str] | None = None
) -> tuple[pl.DataFrame, ContractResult, _Load]:
    """Run a file through reading and its contract without touching the warehouse: the checked rows, the
    result and what the reader saw. Raises ExportReadError when the file cannot be read at all."""
    config = ingest_settings()
    load = _Load(spec, Settings(work_dir), school_year, path, sha256_of(path), "check", warehouse.now())
    key = load_key(config["default_key_file"], work_dir) if spec.pseudonymise else None
    stage_path = work_dir / "staging" / f"check-{uuid.uuid4().hex[:8]}.duckdb"
    try:
        rules = _stage(load, stage_path, config, key, (logins or set()) if spec.registry_match else None, None)
        result = validate_staged(
            spec.name,
            f"{spec.name} check",
            stage_path,
            rules,
            load.headers,
            str(path),
            None,
            config["duckdb_memory_limit"],
            key_column(spec),
            load.keyed_headers,
        )
        if not result.success:
            _add_duplicate_rows(result, stage_path, config)
        with open_stage(stage_path, config["duckdb_memory_limit"]) as con:
            frame = con.sql(f"select * from checked order by {q(SOURCE_ROW)}").pl()
    finally:
        for leftover in stage_path.parent.glob(f"{stage_path.name}*"):
            leftover.unlink()
    return frame, result, load


def _add_duplicate_rows(result: ContractResult, stage_path: Path, config: dict) -> None:
    """GE does not list the rows of a repeated key on SQL data: find the first ones for the report."""
    with open_stage(stage_path, config["duckdb_memory_limit"]) as con:
        for i, v in enumerate(result.violations):
            if v.rule in {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"} and not v.rows:
                rows = tuple((row, values) for row, values in first_duplicates(con, v.columns))
                result.violations[i] = Violation(
                    v.rule, v.columns, v.headers, v.unexpected_count, rows, v.detail, v.unexpected_percent
                )


def _swap_in(load: _Load, stage_path: Path, memory_limit: str) -> tuple[int, int, float | None]:
    """Copy the accepted rows from the staging file into the warehouse in one transaction."""
    spec = load.spec
    out = [n for n, _ in spec.output_columns] + list(spec.constants)
    unknown = f"{spec.registry_match.column}__unknown" if spec.registry_match else None
    accepted = f"where {q(unknown)} is null" if unknown else ""
    select_rows = (
        f"select school_year, {', '.join(q(c) for c in out)}, {lit(str(load.path))} as _source_file, "
        f"{q(SOURCE_ROW)}, {lit(load.load_id)} as _load_id from stage.checked {accepted}"
    )
    rejected_sql = None
    if unknown:
        reason = f"школы нет в реестре ОО {load.school_year} / the school is not in the {load.school_year} registry"
        rejected_sql = (
            f"select {lit(load.load_id)} as load_id, {lit(spec.name)} as source, {lit(load.school_year)} as school_year, "
            f"{lit(str(load.path))} as file_path, {q(SOURCE_ROW)} as source_row, "
            f"{lit(spec.registry_match.column)} as column_name, {q(unknown)} as value, {lit(reason)} as reason "
            f"from stage.checked where {q(unknown)} is not null"
        )
    with warehouse.connect(load.settings.warehouse_path, memory_limit=memory_limit) as con:
        con.execute(f"attach {lit(str(stage_path))} as stage (read_only)")
        try:
            total, rejected = con.execute(
                f"select count(*), count({q(unknown)}) from stage.checked"
                if unknown
                else "select count(*), 0 from stage.checked"
            ).fetchone()
            # the share of rows whose school is in the registry, as the contract's `mostly` counts it
            match_rate = (1 - rejected / total if total else 1.0) if unknown else None
            loaded = total - rejected
            message = None
            if rejected:
                message = f"{rejected} строк неизвестных школ отклонено / rows of unknown schools rejected"
                _write_rejected(load, con, unknown)
            scope = {"school_year": load.school_year, **spec.replace_scope}
            log = load.log_row("loaded", loaded, rejected, match_rate, message)
            warehouse.replace_school_year(con, spec.table, scope, select_rows, rejected_sql, log)
        finally:
            con.execute("detach stage")
    return loaded, rejected, match_rate


def _write_rejected(load: _Load, con, unknown: str) -> None:
    """Rejected rows as a CSV beside a short report in the quarantine folder (values as loaded: pupil codes
    are already pseudonyms)."""
    folder = load.quarantine_folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{load.stamp}__{load.path.stem}.rejected_rows.csv"
    rows = con.execute(
        f"select {q(SOURCE_ROW)}, {q(unknown)} from stage.checked where {q(unknown)} is not null order by 1"
    ).fetchall()
    with target.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(
            ["Строка файла / file row", f"Столбец / column: {load.spec.registry_match.column}", "Причина / reason"]
        )
        for row, value in rows:
            w.writerow([row, value, f"школы нет в реестре ОО {load.school_year} / not in the registry"])


__all__ = ["ContractViolation", "LoadResult", "load_school_year"]
