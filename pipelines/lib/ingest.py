"""Load one source's files of one school year: read, stage, check the contract, then load or quarantine.

    data/raw/<source folder>/<school year>/<files>           (only ever read; several files load as one)
    data/raw/<source folder>/<any folder>/<files>            (a multi-year source: each row's year from a column)
        -> read_export / stream_export: text cells under canonical names
        -> the load's checked rows, written once into the warehouse (raw_loads."<source>__staging"),
           block by block: pupil codes pseudonymised on the way in, typed values, one column per rule
        -> contract: Great Expectations on that table
        -> failed: report, GE result and (unless it holds personal data) a copy of the file in
           data/quarantine/<source>/<year>/, a record in ingest.quarantine and ingest.load_log,
           ContractViolation raised, the staged table dropped; the warehouse keeps what it had
        -> passed: one transaction renames the staged table to the load's (raw_loads."<load id>"), keeps rows
           of unknown schools in ingest.rejected_rows, marks the previous load superseded (its table dropped),
           logs this one and redefines the view raw.<family> over the current loads

The same files (sha256) under the same contract version, matched against the same registry load, are not loaded
twice. Schools are matched to the registry of the row's school year by Логин ОО, ОГРН, ИНН or name
(registry_match.by); rows carry the matched login, whatever identified them in the file.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import yaml

from pipelines.lib import warehouse
from pipelines.lib.config_schema import validate_ingest
from pipelines.lib.contracts import ContractResult, Violation, data_docs_index, validate_staged
from pipelines.lib.pseudonymise import load_key
from pipelines.lib.readers import SOURCE_ROW, ExportReadError, key_column, read_export, stream_export
from pipelines.lib.registry_match import explain_unmatched, normalise_school_name, registry_keys, registry_rows
from pipelines.lib.sources import SourceSpec, families
from pipelines.lib.staging import (
    MATCH_KEY,
    SOURCE_FILE,
    Rule,
    first_duplicates,
    lit,
    open_stage,
    q,
    school_year_sql,
    stage_answer_options,
    stage_checked,
    stage_registry,
)
from pipelines.settings import Settings, config_dir

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
    files: tuple[Path, ...] = ()  # the files of the load (several when a folder holds parts)
    notes: tuple[str, ...] = ()  # what the person on duty should know of a load that passed (a sheet refused)


def ingest_settings() -> dict:
    path = config_dir() / "ingest.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate_ingest(raw, path)
    return raw


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_files(spec: SourceSpec, settings: Settings, school_year: str) -> list[Path]:
    """The files of a source's school year: every file in data/raw/<folder>/<school year>/ (one per municipality,
    or parts: they load together). A multi-year source's files lie in any folder under data/raw/<folder>/ and
    each holds some school years; all of them are read for any of its years."""
    pattern = f"*/{spec.file_glob}" if spec.multi_year else f"{school_year}/{spec.file_glob}"
    folder = settings.raw_dir / spec.folder
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(("~$", ".")))


def find_exports(spec: SourceSpec, settings: Settings, school_year: str) -> list[Path]:
    files = export_files(spec, settings, school_year)
    if not files:
        where = settings.raw_dir / spec.folder / ("*" if spec.multi_year else school_year)
        raise FileNotFoundError(
            f"{where}: нет файлов {spec.file_glob} источника «{spec.title_ru}» / "
            f"no {spec.file_glob} file of source {spec.name}"
        )
    return files


def school_years_in(spec: SourceSpec, path: Path) -> list[str]:
    """The school years a multi-year source's file holds (read as the load reads them)."""
    frame = read_export(spec, path, spec.multi_year.last_school_year or "").frame
    column = frame.select(pl.col(spec.multi_year.column).alias("v"))
    con = duckdb.connect()
    try:
        con.register("cells", column.to_arrow())
        sql = f"select distinct {school_year_sql('v', spec.multi_year.format)} as y from cells where v is not null"
        return sorted(y for (y,) in con.execute(sql).fetchall() if y)
    finally:
        con.close()


def combined_sha256(digests: list[str]) -> str:
    """One file: its SHA-256. Several: the SHA-256 of their SHA-256s in file order (a load's identity)."""
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def write_survey_answer_options(con, specs: dict[str, SourceSpec]) -> None:
    """raw.survey_answer_options from the questionnaires and survey_scales.yaml: every answer option of every
    closed question, in the form's order, with its score and whether it counts in the top-2 box. The marts read
    it; nothing else holds a copy of the options."""
    rows = []
    for spec in specs.values():
        if not spec.survey:
            continue
        for question in spec.survey.questions:
            if question.type == "text":
                continue
            for order, (text, score) in enumerate(spec.survey.answer_options(question).items(), start=1):
                top = spec.survey.is_top_box(question, text)
                rows.append(
                    (spec.survey.questionnaire, question.code, question.type, question.scale, order, text, score, top)
                )
    with warehouse.transaction(con):
        con.execute(
            "create or replace table raw.survey_answer_options (questionnaire varchar, question_code varchar, "
            "question_type varchar, scale_code varchar, option_order integer, answer_text varchar, "
            "answer_score double, is_top_box boolean)"
        )
        if rows:
            con.executemany("insert into raw.survey_answer_options values (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def ensure_source_tables(settings: Settings, specs: dict[str, SourceSpec]) -> None:
    """Every family's raw table (the union of its sources' columns), empty until its first file: dbt builds
    before a family's first file arrives (a region without surveys, a benchmark with pupil files only); and
    the survey answer options derived from the questionnaires."""
    with warehouse.connect(settings.warehouse_path) as con:
        for members in families(specs).values():
            columns = {name: sql_type for spec in members for name, sql_type in spec.raw_columns}
            warehouse.ensure_raw_table(con, members[0].table, list(columns.items()))
        write_survey_answer_options(con, specs)


def load_registry(settings: Settings, school_year: str) -> list[tuple]:
    """The registry rows of a school year, which a load of that year matches its schools against (check-export;
    a load reads them on its own connection). Read-only: trying a file writes nothing, and works while another
    process reads the warehouse."""
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        return registry_rows(con, [school_year])


class NoRowsForYear(Exception):
    """A multi-year source's files hold no row of the school year asked for: nothing to load."""


@dataclass
class _Load:
    """What one load knows as it goes; turns into the log rows."""

    spec: SourceSpec
    settings: Settings
    school_year: str
    paths: list[Path]
    digests: list[str]
    load_id: str
    started: object
    rows_read: int | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    registry_load_id: str | None = None
    registry: list[tuple] = field(default_factory=list)  # registry rows matched against
    keyed_headers: dict[tuple[str, str], str] = field(default_factory=dict)
    rows_per_file: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase: read, validate, load
    notes: list[str] = field(default_factory=list)  # sheets of a workbook refused while the others load

    @property
    def digest(self) -> str:
        return combined_sha256(self.digests)

    @property
    def path(self) -> Path:
        """The file, or for a load of several files the folder holding them."""
        if len(self.paths) == 1:
            return self.paths[0]
        parents = {p.parent for p in self.paths}
        return parents.pop() if len(parents) == 1 else self.paths[0].parent.parent

    @property
    def label(self) -> str:
        return str(self.path) if len(self.paths) == 1 else f"{self.path} ({', '.join(p.name for p in self.paths)})"

    def log_row(self, status: str, rows_loaded: int, rows_rejected: int | None, match_rate=None, message=None) -> dict:
        return {
            "load_id": self.load_id,
            "source": self.spec.name,
            "school_year": self.school_year,
            "file_path": str(self.path),
            "file_sha256": self.digest,
            "file_size_bytes": sum(p.stat().st_size for p in self.paths),
            "files": len(self.paths),
            "rows_read": self.rows_read,
            "rows_loaded": rows_loaded,
            "rows_rejected": rows_rejected,
            "rows_dropped": sum(self.dropped.values()),
            "match_rate": match_rate,
            "match_method": self.spec.registry_match.by if self.spec.registry_match else None,
            "contract_version": self.spec.contract_version,
            "status": status,
            "message": message,
            "registry_load_id": self.registry_load_id,
            "started_at": self.started,
            "finished_at": warehouse.now(),
        }

    def file_rows(self) -> list[dict]:
        return [
            {
                "load_id": self.load_id,
                "file_path": str(p),
                "file_sha256": d,
                "file_size_bytes": p.stat().st_size,
                "rows_read": self.rows_per_file.get(p.name),
            }
            for p, d in zip(self.paths, self.digests, strict=True)
        ]

    @property
    def quarantine_folder(self) -> Path:
        return self.settings.quarantine_dir / self.spec.name / self.school_year

    @property
    def stamp(self) -> str:
        return f"{self.started:%Y%m%dT%H%M%S}__{self.digest[:12]}"


@dataclass(frozen=True)
class _Checked:
    """Where a load's checked rows are: a table of a DuckDB file (the warehouse, or check-export's scratch file)."""

    path: Path
    table: str  # in the file's default schema

    @property
    def sql(self) -> str:
        return q(self.table)


def _staged_in_warehouse(spec: SourceSpec, settings: Settings) -> _Checked:
    """A load's staged table, as Great Expectations reads it: through a view of the default schema (GE's check of
    a compound key drops the schema of the table it reads)."""
    return _Checked(settings.warehouse_path, f"{spec.name}__checked")


def _unmatched_notes(load: _Load, checked: _Checked, config: dict, limit: int = 10) -> list[str]:
    """For the report: each school the registry did not find (or found twice), with the nearest registry names."""
    rm = load.spec.registry_match
    if rm is None:
        return []
    with open_stage(checked.path, config["duckdb_memory_limit"]) as con:
        values = con.execute(
            f"select {q(rm.column + '__unknown')}, min({q(SOURCE_ROW)}) from {checked.sql} "
            f"where {q(rm.column + '__unknown')} is not null and school_year = ? group by 1 order by 2 limit {limit}",
            [load.school_year],
        ).fetchall()
    return [
        f"  школа/school «{value}» (строка/row {row}): {explain_unmatched(load.registry, rm.by, load.school_year, value)}"
        for value, row in values
    ]


def _report(load: _Load, reason: str, violations: list[Violation], copied: bool, notes: list[str]) -> str:
    spec = load.spec
    others = (
        f" Файлы загружаются вместе: ни один из {len(load.paths)} не загружен. / The {len(load.paths)} files load "
        "together: none was loaded."
        if len(load.paths) > 1
        else ""
    )
    lines = [
        f"Файл {load.label} (источник «{spec.title_ru}», {load.school_year}) не загружен: {reason}.{others}",
        (
            f"File {load.label} (source {spec.name}, {load.school_year}) was not loaded: it breaks contract "
            f"{spec.name} v{spec.contract_version} ({spec.config_path.name if spec.config_path else spec.name})."
        ),
    ]
    lines += [f"  - {v.describe()}" for v in violations]
    lines += notes
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


def _quarantine(
    load: _Load, reason: str, violations: list[Violation], ge_result: dict | None, notes: list[str] = ()
) -> ContractViolation:
    """Keep the evidence (files and a warehouse record) and return the error to raise."""
    folder = load.quarantine_folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{load.stamp}__{load.path.name}"
    copied = not load.spec.pseudonymise
    if copied:
        for path in load.paths:
            shutil.copy2(path, folder / f"{load.stamp}__{path.name}" if len(load.paths) > 1 else target)
    message = _report(load, reason, violations, copied, list(notes))
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
            "files": v.files,
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
            load.file_rows(),
        )
    return ContractViolation(message, target, violations)


def _stage_streamed(
    load: _Load, path: Path, con, table: str, key, block_bytes: int, progress: Progress | None
) -> list[Rule]:
    spec = load.spec
    export = stream_export(spec, path, load.school_year, block_bytes)
    load.headers = {**export.headers, **load.headers}
    load.ignored += export.ignored_headers
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
        con,
        spec,
        load.school_year,
        list(export.headers),
        export.batches(),
        key,
        export.headers,
        report,
        trimmed=True,
        source_file=path.name,
        table=table,
    )
    if staged.repeated_headers:
        reason = "повтор строки заголовка / repeated header row"
        load.dropped[reason] = load.dropped.get(reason, 0) + staged.repeated_headers
    load.rows_per_file[path.name] = staged.rows + len(export.invalid_rows)
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


def _remove_staging_files(stage_dir: Path) -> None:
    """A staging file left by a killed load of the versions that staged outside the warehouse (the lock is held)."""
    for old in stage_dir.glob("*.duckdb*"):
        old.unlink()


def _drop_leftover_staging(con, spec: SourceSpec, settings: Settings, stage_dir: Path) -> None:
    """Drop the staged table a load of this source left when it was killed before its rows were swapped in or
    quarantined (the same file loaded again is then unchanged and stages nothing). Only when no load of the
    source holds the lock: a running load's table is in use."""
    if not stage_dir.is_dir():
        return
    with (stage_dir / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        con.execute(f"drop view if exists {_staged_in_warehouse(spec, settings).sql}")
        con.execute(f"drop table if exists {warehouse.staging_table(spec.name)}")
        _remove_staging_files(stage_dir)


def load_school_year(
    spec: SourceSpec, settings: Settings, school_year: str, progress: Progress | None = None
) -> LoadResult:
    """Load the source's files of one school year (one load, however many files), or quarantine them and raise
    ContractViolation. A multi-year source loads the rows of that school year from all its files."""
    t0 = time.perf_counter()
    started = warehouse.now()
    paths = find_exports(spec, settings, school_year)
    digests = [sha256_of(p) for p in paths]
    load_id = f"{spec.name}:{school_year}:{started:%Y%m%dT%H%M%S}:{uuid.uuid4().hex[:8]}"
    load = _Load(spec, settings, school_year, paths, digests, load_id, started)

    stage_dir = settings.data_dir / "staging" / spec.name
    with warehouse.connect(settings.warehouse_path) as con:
        warehouse.ensure_raw_table(con, spec.table, spec.raw_columns)
        current = warehouse.current_load(con, spec.name, school_year)
        registry = warehouse.current_load(con, REGISTRY_SOURCE, school_year) if spec.registry_match else None
        load.registry_load_id = registry[0] if registry else None
        # nothing new: the same files, under the same contract, matched against the same registry
        if current is not None and current[1:] == (load.digest, spec.contract_version, load.registry_load_id):
            _drop_leftover_staging(con, spec, settings, stage_dir)
            return LoadResult(current[0], spec.name, school_year, load.path, load.digest, 0, 0, 0, (), unchanged=True)
        if spec.registry_match:  # the rows of the registry load just read, on the same connection
            load.registry = registry_rows(con, [school_year])

    config = ingest_settings()
    key = load_key(config["default_key_file"], settings.data_dir) if spec.pseudonymise else None
    # A source's loads stage in one table, so its GE validation definition stays the same and is not saved again
    # for every load. They take turns on it: one run at a time does that already, and the lock (a file in
    # data/staging/<source>/) makes two processes on the same data directory (a daemon's run and `make demo`)
    # wait for each other. The lock goes with the process, also when it is killed.
    stage_dir.mkdir(parents=True, exist_ok=True)
    lock = (stage_dir / ".lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    checked, staged = _staged_in_warehouse(spec, settings), warehouse.staging_table(spec.name)
    swapped = False
    try:
        try:
            t_read = time.perf_counter()
            _remove_staging_files(stage_dir)
            with open_stage(checked.path, config["duckdb_memory_limit"]) as con:
                # a staged table left by a killed load of this source goes first
                con.execute(f"drop table if exists {staged}")
                rules = _stage(load, con, staged, config, key, progress)
                con.execute(f"create or replace view {checked.sql} as select * from {staged}")
            load.timings["read"] = time.perf_counter() - t_read
        except ExportReadError as exc:
            columns = (exc.column,) if exc.column else ()
            rows = ((exc.row, None),) if exc.row else ()
            files = (exc.path.name,) * len(rows) if len(load.paths) > 1 else ()
            violation = Violation("read_export", columns, columns, 1, rows, exc.message_en, files=files)
            where = f" (файл {exc.path.name})" if len(load.paths) > 1 else ""
            raise _quarantine(load, exc.message_ru + where, [violation], None) from exc

        result = validate_staged(
            f"{spec.name}.v{spec.contract_version}",
            spec.name,
            checked.path,
            rules,
            load.headers,
            load.label,
            settings.data_dir,
            config["duckdb_memory_limit"],
            key_column(spec),
            load.keyed_headers,
            several_files=len(load.paths) > 1,
            run_name=f"{spec.name} {school_year}",
            table=checked.table,
        )
        load.timings["validate"] = result.seconds
        if not result.success:
            _add_duplicate_rows(result, checked, config)
            raise _quarantine(
                load,
                f"нарушен контракт {spec.name} v{spec.contract_version}",
                result.violations,
                result.ge_result,
                _unmatched_notes(load, checked, config),
            )
        t_swap = time.perf_counter()
        loaded, rejected, match_rate = _swap_in(load, staged, checked, config["duckdb_memory_limit"])
        swapped = True
        load.timings["load"] = time.perf_counter() - t_swap
    finally:
        if not swapped:  # refused, or failed: its rows go (a kill leaves them for the next load to drop)
            with open_stage(checked.path, config["duckdb_memory_limit"]) as con:
                con.execute(f"drop view if exists {checked.sql}")
                con.execute(f"drop table if exists {staged}")
        lock.close()
    return LoadResult(
        load_id,
        spec.name,
        school_year,
        load.path,
        load.digest,
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
        files=tuple(load.paths),
        notes=tuple(load.notes),
    )


def _stage(load: _Load, scon, table: str, config: dict, key, progress: Progress | None) -> list[Rule]:
    """Read the load's files into the checked table `table` on the connection; return the contract's rules."""
    spec = load.spec
    rules: list[Rule] = []
    if spec.registry_match:
        stage_registry(scon, registry_keys(load.registry, spec.registry_match.by))
    if spec.survey:
        stage_answer_options(scon, spec)
    for path in load.paths:
        if spec.stream:
            rules = _stage_streamed(load, path, scon, table, key, config["stream_block_bytes"], progress)
            continue
        raw = read_export(spec, path, load.school_year)
        load.headers = {**raw.headers, **load.headers}
        load.keyed_headers = {**raw.keyed_headers, **load.keyed_headers}
        load.ignored += raw.ignored_headers
        for reason, n in raw.dropped.items():
            load.dropped[reason] = load.dropped.get(reason, 0) + n
        load.rows_per_file[path.name] = raw.rows_read
        load.notes += [f"{path.name}: {ru} / {en}" for _, ru, en in raw.refused_sheets]
        frame = raw.frame
        if spec.registry_match and spec.registry_match.by == "name":
            column = pl.col(spec.registry_match.column)
            frame = frame.with_columns(
                column.map_elements(normalise_school_name, return_dtype=pl.String).alias(MATCH_KEY)
            )
        names = [c for c in frame.columns if c != SOURCE_ROW]
        rules = stage_checked(
            scon, spec, load.school_year, names, [frame.to_arrow()], key, source_file=path.name, table=table
        ).rules
    if spec.multi_year:
        year_rows = scon.execute(f"select count(*) from {table} where school_year = ?", [load.school_year])
        load.rows_read = year_rows.fetchone()[0]
    else:
        load.rows_read = sum(load.rows_per_file.values())
    return rules


def check_export(
    spec: SourceSpec,
    path: Path,
    school_year: str,
    work_dir: Path,
    registry: list[tuple] | set[str] | None = None,
) -> tuple[pl.DataFrame, ContractResult, _Load]:
    """Run a file through reading and its contract without touching the warehouse: the checked rows, the
    result and what the reader saw. `registry`: registry rows (see registry_match.registry_rows), or just the
    logins of the school year. Raises ExportReadError when the file cannot be read at all."""
    config = ingest_settings()
    load = _Load(spec, Settings(work_dir), school_year, [path], [sha256_of(path)], "check", warehouse.now())
    if isinstance(registry, set):
        registry = [(school_year, login, None, None, None, None) for login in sorted(registry)]
    load.registry = registry or []
    key = load_key(config["default_key_file"], work_dir) if spec.pseudonymise else None
    checked = _Checked(work_dir / "staging" / f"check-{uuid.uuid4().hex[:8]}.duckdb", "checked")
    try:
        with open_stage(checked.path, config["duckdb_memory_limit"]) as con:
            rules = _stage(load, con, checked.sql, config, key, None)
        result = validate_staged(
            spec.name,
            f"{spec.name} check",
            checked.path,
            rules,
            load.headers,
            str(path),
            None,
            config["duckdb_memory_limit"],
            key_column(spec),
            load.keyed_headers,
        )
        if not result.success:
            _add_duplicate_rows(result, checked, config)
        with open_stage(checked.path, config["duckdb_memory_limit"]) as con:
            frame = con.sql(f"select * from {checked.sql} order by {q(SOURCE_ROW)}").pl()
    finally:
        for leftover in checked.path.parent.glob(f"{checked.path.name}*"):
            leftover.unlink()
    return frame, result, load


def _add_duplicate_rows(result: ContractResult, checked: _Checked, config: dict) -> None:
    """GE does not list the rows of a repeated key on SQL data: find the first ones for the report (with their
    files: two files of one folder may hold the same school)."""
    with open_stage(checked.path, config["duckdb_memory_limit"]) as con:
        several = con.execute(f"select count(distinct {q(SOURCE_FILE)}) > 1 from {checked.sql}").fetchone()[0]
        for i, v in enumerate(result.violations):
            if v.rule in {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"} and not v.rows:
                found = first_duplicates(con, v.columns, table=checked.sql)
                result.violations[i] = Violation(
                    v.rule,
                    v.columns,
                    v.headers,
                    v.unexpected_count,
                    tuple((row, values) for row, values, _ in found),
                    v.detail,
                    v.unexpected_percent,
                    files=tuple(file for _, _, file in found) if several else (),
                )


def _swap_in(load: _Load, staged: str, checked: _Checked, memory_limit: str) -> tuple[int, int, float | None]:
    """Make the staged rows the load's: one transaction renames the staged table to the load's table, keeps the
    rows of unknown schools aside and shows the accepted rows of the load's school year in raw.<family>. The
    view GE read the staged table through goes first, on the same connection."""
    spec = load.spec
    unknown = f"{spec.registry_match.column}__unknown" if spec.registry_match else None
    this_year = f"school_year = {lit(load.school_year)}"
    accepted = f"where {this_year}" + (f" and {q(unknown)} is null" if unknown else "")
    typed = ", ".join(f"cast({q(c)} as {t}) as {q(c)}" for c, t in spec.raw_columns)
    select_rows = (
        f"select school_year, {typed}, {_file_path_sql(load)} as _source_file, {q(SOURCE_ROW)}, "
        f"{lit(load.load_id)} as _load_id, {lit(spec.name)} as _source "
        f"from {warehouse.load_table(load.load_id)} {accepted}"
    )
    with warehouse.connect(load.settings.warehouse_path, memory_limit=memory_limit) as con:
        con.execute(f"drop view if exists {checked.sql}")
        total, rejected = con.execute(
            f"select count(*), count({q(unknown)}) from {staged} where {this_year}"
            if unknown
            else f"select count(*), 0 from {staged} where {this_year}"
        ).fetchone()
        if spec.multi_year and total == 0:
            raise NoRowsForYear(
                f"{spec.name}: в файлах нет строк {load.school_year} / the files hold no rows of {load.school_year}"
            )
        # the share of rows whose school is in the registry, as the contract's `mostly` counts it
        match_rate = (1 - rejected / total if total else 1.0) if unknown else None
        loaded = total - rejected
        notes = list(load.notes)
        rejected_sql = None
        if rejected:
            notes.insert(0, f"{rejected} строк неизвестных школ отклонено / rows of unknown schools rejected")
            rejected_sql = _rejected_rows(load, con, staged, unknown)
        log = load.log_row("loaded", loaded, rejected, match_rate, "; ".join(notes) or None)
        family = spec.table.split(".")[1]
        warehouse.swap_in_load(con, family, staged, select_rows, rejected_sql, log, load.file_rows())
    return loaded, rejected, match_rate


def _file_path_sql(load: _Load) -> str:
    """A staged row's file as its full path (staging knows the file by name; a school-year folder holds each
    name once)."""
    cases = " ".join(f"when {lit(p.name)} then {lit(str(p))}" for p in load.paths)
    return f"case {q(SOURCE_FILE)} {cases} end"


def _rejected_rows(load: _Load, con, staged: str, unknown: str) -> str:
    """Rows of schools not found in the registry (or whose name fits several), each with why and the nearest
    registry names: written as a CSV beside a short report in the quarantine folder, and returned as the SELECT
    that keeps them in ingest.rejected_rows (values as loaded: pupil codes are already pseudonyms). The reasons
    are worked out once per distinct value; the rows themselves stay in SQL (registered table `unmatched`)."""
    spec = load.spec
    values = con.execute(
        f"select distinct {q(unknown)} from {staged} where school_year = ? and {q(unknown)} is not null",
        [load.school_year],
    ).fetchall()
    reasons = {v: explain_unmatched(load.registry, spec.registry_match.by, load.school_year, v) for (v,) in values}
    con.register("unmatched", pa.table({"value": list(reasons), "reason": list(reasons.values())}))
    rows_sql = (
        f"select {q(SOURCE_FILE)} as file_name, {_file_path_sql(load)} as file_path, {q(SOURCE_ROW)} as source_row, "
        f"c.{q(unknown)} as value, u.reason from {staged} as c join unmatched as u on u.value = c.{q(unknown)} "
        f"where c.school_year = {lit(load.school_year)}"
    )
    folder = load.quarantine_folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{load.stamp}__{load.path.stem}.rejected_rows.csv"
    with target.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(
            [
                "Файл / file",
                "Строка файла / file row",
                f"Столбец / column: {spec.registry_match.column}",
                "Причина / reason",
            ]
        )
        w.writerows(
            con.execute(f"select file_name, source_row, value, reason from ({rows_sql}) order by 1, 2").fetchall()
        )
    return (
        f"select {lit(load.load_id)} as load_id, {lit(spec.name)} as source, {lit(load.school_year)} as school_year, "
        f"file_path, source_row, {lit(spec.registry_match.column)} as column_name, value, reason from ({rows_sql})"
    )


__all__ = ["ContractViolation", "LoadResult", "NoRowsForYear", "load_school_year"]
