"""Load one source's file for one school year: read, check the contract, then load or quarantine.

    data/raw/<source>/<school year>/<file>
        -> read_export (text cells, canonical columns)
        -> contract (Great Expectations, before the warehouse is touched)
        -> passed: the school year's rows swapped in one transaction, logged in ingest.load_log
        -> failed: file, GE result and report copied to data/quarantine/, recorded in ingest.quarantine,
                   ContractViolation raised; the warehouse keeps what it had.

data/raw/ is only ever read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.lib import warehouse
from pipelines.lib.contracts import Violation, data_docs_index, validate
from pipelines.lib.readers import SOURCE_ROW, ExportReadError, read_export
from pipelines.lib.sources import SourceSpec
from pipelines.settings import Settings


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


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_export(spec: SourceSpec, settings: Settings, school_year: str) -> Path:
    folder = settings.raw_dir / spec.folder / school_year
    files = sorted(p for p in folder.glob(spec.file_glob) if p.is_file() and not p.name.startswith(("~$", ".")))
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise FileNotFoundError(
            f"{folder}: ожидался один файл {spec.file_glob} источника «{spec.title_ru}», найдено: {found} / "
            f"expected exactly one {spec.file_glob} file of source {spec.name}, found: {found}"
        )
    return files[0]


def registry_logins(settings: Settings, school_year: str) -> set[str]:
    with warehouse.connect(settings.warehouse_path) as con:
        if not warehouse.table_exists(con, "raw.school_registry"):
            return set()
        rows = con.execute("select school_login from raw.school_registry where school_year = ?", [school_year])
        return {r[0] for r in rows.fetchall()}


def _report(
    spec: SourceSpec, settings: Settings, path: Path, school_year: str, reason: str, violations: list[Violation]
) -> str:
    lines = [
        f"Файл {path} (источник «{spec.title_ru}», {school_year}) не загружен: {reason}.",
        f"File {path} (source {spec.name}, {school_year}) was not loaded: it breaks contract {spec.name} v{spec.contract_version}.",
    ]
    lines += [f"  - {v.describe()}" for v in violations]
    lines.append(f"Отчёт Great Expectations / GE Data Docs: {data_docs_index(settings.data_dir)}")
    lines.append("Данные, загруженные ранее, не изменены. Исправьте файл и положите его на место. / Data loaded earlier is unchanged; fix the file and drop it again.")
    return "\n".join(lines)


def _quarantine(
    spec: SourceSpec,
    settings: Settings,
    school_year: str,
    path: Path,
    digest: str,
    load_id: str,
    started,
    reason: str,
    violations: list[Violation],
    ge_result: dict | None,
    rows_read: int | None,
) -> ContractViolation:
    stamp = started.strftime("%Y%m%dT%H%M%S")
    target = settings.quarantine_dir / spec.name / school_year / f"{stamp}__{digest[:12]}__{path.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target)
    message = _report(spec, settings, path, school_year, reason, violations)
    Path(f"{target}.report.txt").write_text(message + "\n", encoding="utf-8")
    Path(f"{target}.validation.json").write_text(
        json.dumps(ge_result or {"reason": reason}, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    violation_rows = [
        {"rule": v.rule, "columns": v.columns, "headers": v.headers, "unexpected_count": v.unexpected_count, "rows": v.rows}
        for v in violations
    ]
    with warehouse.connect(settings.warehouse_path) as con:
        warehouse.record_quarantine(
            con,
            {
                "load_id": load_id,
                "source": spec.name,
                "school_year": school_year,
                "file_path": str(path),
                "file_sha256": digest,
                "contract_version": spec.contract_version,
                "reason": reason,
                "violations": violation_rows,
                "quarantine_path": str(target),
                "quarantined_at": warehouse.now(),
            },
            _log_row(spec, school_year, path, digest, load_id, started, rows_read, 0, rows_read, "quarantined"),
        )
    return ContractViolation(message, target, violations)


def _log_row(spec, school_year, path, digest, load_id, started, rows_read, rows_loaded, rows_rejected, status) -> dict:
    return {
        "load_id": load_id,
        "source": spec.name,
        "school_year": school_year,
        "file_path": str(path),
        "file_sha256": digest,
        "file_size_bytes": path.stat().st_size,
        "rows_read": rows_read,
        "rows_loaded": rows_loaded,
        "rows_rejected": rows_rejected,
        "contract_version": spec.contract_version,
        "status": status,
        "started_at": started,
        "finished_at": warehouse.now(),
    }


def load_school_year(spec: SourceSpec, settings: Settings, school_year: str) -> LoadResult:
    """Load the source's file of one school year, or quarantine it and raise ContractViolation."""
    started = warehouse.now()
    path = find_export(spec, settings, school_year)
    digest = sha256_of(path)
    load_id = f"{spec.name}:{school_year}:{started:%Y%m%dT%H%M%S}:{uuid.uuid4().hex[:8]}"

    with warehouse.connect(settings.warehouse_path) as con:
        current = warehouse.current_load(con, spec.name, school_year)
    if current is not None and current[1:] == (digest, spec.contract_version):
        return LoadResult(current[0], spec.name, school_year, path, digest, 0, 0, 0, (), unchanged=True)

    try:
        raw = read_export(spec, path)
    except ExportReadError as exc:
        columns = (exc.column,) if exc.column else ()
        rows = ((exc.row, None),) if exc.row else ()
        violation = Violation("read_export", columns, columns, 1, rows, exc.message_en)
        raise _quarantine(spec, settings, school_year, path, digest, load_id, started, exc.message_ru, [violation], None, None) from exc

    logins = registry_logins(settings, school_year) if spec.registry_match else None
    frame, result = validate(spec, raw, school_year, logins, settings.data_dir)
    if not result.success:
        raise _quarantine(
            spec, settings, school_year, path, digest, load_id, started,
            f"нарушен контракт {spec.name} v{spec.contract_version}", result.violations, result.ge_result, frame.height,
        )

    rows = _rows_to_load(spec, frame, path, load_id)
    log = _log_row(spec, school_year, path, digest, load_id, started, frame.height, rows.height, 0, "loaded")
    with warehouse.connect(settings.warehouse_path) as con:
        warehouse.replace_school_year(con, spec.table, school_year, rows.to_arrow(), log)
    return LoadResult(load_id, spec.name, school_year, path, digest, frame.height, rows.height, result.expectations, raw.ignored_headers)


def _rows_to_load(spec: SourceSpec, frame: pl.DataFrame, path: Path, load_id: str) -> pl.DataFrame:
    return frame.select(
        pl.col("school_year"),
        *spec.column_names,
        pl.lit(str(path)).alias("_source_file"),
        pl.col(SOURCE_ROW),
        pl.lit(load_id).alias("_load_id"),
    )


__all__ = ["ContractViolation", "LoadResult", "load_school_year"]
