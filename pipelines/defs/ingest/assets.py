"""One ingest asset per source config: the school year's file, checked by its contract, in raw.<source>.

The contract is a blocking asset check executed inside the load, before the warehouse is touched: a file
that breaks it fails the check and the run, is quarantined, and nothing downstream reads it.
"""

import errno

import dagster as dg
import duckdb

from pipelines.defs.ingest.partitions import school_year_partitions
from pipelines.defs.resources import WarehouseResource
from pipelines.lib.ingest import REGISTRY_SOURCE, ContractViolation, NoRowsForYear, export_files, load_school_year
from pipelines.lib.sources import SourceSpec, load_sources
from pipelines.settings import operations_config

CONTRACT_CHECK = "contract"
TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EIO, errno.ETIMEDOUT}


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying: the warehouse file locked by another process, a busy or flaky file system.
    A broken contract or a malformed file is not: retrying cannot fix it."""
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        return True
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def asset_key_for(spec: SourceSpec) -> dg.AssetKey:
    """One asset per source (two questionnaires may share the table raw.survey_answers)."""
    return dg.AssetKey(["raw", spec.name])


def build_ingest_asset(spec: SourceSpec, registry_key: dg.AssetKey | None) -> dg.AssetsDefinition:
    key = asset_key_for(spec)
    deps = [registry_key] if spec.registry_match and registry_key else []

    @dg.asset(
        key=key,
        partitions_def=school_year_partitions,
        group_name="ingest",
        deps=deps,
        output_required=False,  # not every family arrives every school year
        kinds={"duckdb", spec.format},
        description=f"{spec.title_ru}. Loaded from data/raw/{spec.folder}/"
        f"{'<any folder>' if spec.multi_year else '<school year>'}/{spec.file_glob} into {spec.table} (family "
        f"{spec.family}) after its contract ({spec.config_path.name if spec.config_path else spec.name}) passes.",
        check_specs=[
            dg.AssetCheckSpec(
                CONTRACT_CHECK,
                asset=key,
                blocking=True,
                description=f"Great Expectations contract {spec.name} v{spec.contract_version}: types, required "
                "columns, ranges, keys, school year, registry match.",
            )
        ],
        metadata={"contract_version": spec.contract_version, "table": spec.table, "family": spec.family},
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse_files: WarehouseResource):
        school_year = context.partition_key
        if not export_files(spec, warehouse_files.settings, school_year):
            note = (
                f"нет файла в data/raw/{spec.folder}/{school_year}/ — нечего загружать и проверять / "
                "no file for this school year: nothing loaded, nothing checked"
            )
            context.log.info(f"{spec.name} {school_year}: {note}")
            # no materialization; the check's output is required, so it says plainly that nothing was checked
            yield dg.AssetCheckResult(check_name=CONTRACT_CHECK, passed=True, description=note, metadata={"file": "—"})
            return
        try:
            loaded = load_school_year(spec, warehouse_files.settings, school_year, progress=context.log.info)
        except NoRowsForYear as absent:
            context.log.info(str(absent))
            yield dg.AssetCheckResult(check_name=CONTRACT_CHECK, passed=True, description=str(absent))
            return
        except ContractViolation as bad:
            context.log.error(bad.message)
            yield dg.AssetCheckResult(
                check_name=CONTRACT_CHECK,
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=bad.message,
                metadata={
                    "quarantine_path": str(bad.quarantine_path),
                    "violations": len(bad.violations),
                },
            )
            raise dg.Failure(description=bad.message, metadata={"quarantine_path": str(bad.quarantine_path)}) from None
        except Exception as exc:
            if not is_transient(exc):
                raise
            retries = operations_config()["retries"]
            context.log.warning(
                f"{spec.name} {school_year}: временный сбой, повтор через {retries['ingest_delay_seconds']} с / "
                f"transient failure, retrying: {exc}"
            )
            raise dg.RetryRequested(
                max_retries=int(retries["ingest_max_retries"]), seconds_to_wait=float(retries["ingest_delay_seconds"])
            ) from exc
        if loaded.unchanged:
            context.log.info(
                f"{spec.name} {school_year}: {loaded.file_path} is already loaded ({loaded.load_id}); nothing to do"
            )
        else:
            dropped = ", ".join(f"{reason}: {n}" for reason, n in loaded.rows_dropped.items()) or "0"
            files = ", ".join(p.name for p in loaded.files)
            context.log.info(
                f"{spec.name} {school_year}: {files}: строк в файле/rows read {loaded.rows_read:,}, "
                f"загружено/loaded {loaded.rows_loaded:,}, отклонено/rejected {loaded.rows_rejected:,}, "
                f"отброшено по правилам/dropped by design {dropped}; "
                f"{loaded.expectations} expectations passed; {loaded.seconds:.1f} s "
                f"({', '.join(f'{phase} {sec:.1f} s' for phase, sec in loaded.timings.items())})"
            )
            for note in loaded.notes:  # e.g. a sheet of the workbook refused while its other years load
                context.log.warning(f"{spec.name} {school_year}: {note}")
        yield dg.MaterializeResult(
            metadata={
                "file": str(loaded.file_path),
                "files": [str(p) for p in loaded.files] or [str(loaded.file_path)],
                "file_sha256": loaded.file_sha256,
                "rows_read": loaded.rows_read,
                "rows_loaded": loaded.rows_loaded,
                "rows_rejected": loaded.rows_rejected,
                "rows_dropped": sum(loaded.rows_dropped.values()),
                **({"match_rate": loaded.match_rate} if loaded.match_rate is not None else {}),
                "load_id": loaded.load_id,
                **{f"seconds_{phase}": round(sec, 2) for phase, sec in loaded.timings.items()},
                "unchanged": loaded.unchanged,
                "ignored_headers": list(loaded.ignored_headers),
                **({"notes": list(loaded.notes)} if loaded.notes else {}),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=CONTRACT_CHECK,
                    passed=True,
                    metadata={"expectations": loaded.expectations, "rows_checked": loaded.rows_read},
                )
            ],
        )

    return _ingest


def build_ingest_assets() -> list[dg.AssetsDefinition]:
    specs = load_sources()
    registry_key = asset_key_for(specs[REGISTRY_SOURCE]) if REGISTRY_SOURCE in specs else None
    return [build_ingest_asset(spec, registry_key) for spec in specs.values()]
