"""What a run did, in one message for the person on duty: files loaded, rows, rows rejected, files quarantined,
marts published. Read from the run's own events; written into the run's log by the run-status sensors and
printed by `make demo`."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

CONTRACT_CHECK = "contract"


@dataclass
class RunSummary:
    run_id: str
    job_name: str
    files_loaded: list[str] = field(default_factory=list)  # "<source> <year>"
    files_unchanged: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    quarantined: list[str] = field(default_factory=list)  # "<source> <year>: <message>"
    notes: list[str] = field(default_factory=list)  # "<source> <year>: <note>" of loads that passed (sheet refused)
    failed_steps: list[str] = field(default_factory=list)
    failed_assets: list[dg.AssetKey] = field(default_factory=list)  # raw assets whose contract failed
    models_built: int = 0
    dbt_tests_failed: int = 0
    published: list[str] = field(default_factory=list)

    @property
    def loaded_anything(self) -> bool:
        return bool(self.files_loaded)

    def message(self) -> str:
        parts = [f"Итог запуска / run summary ({self.job_name}, {self.run_id[:8]}):"]
        if self.files_loaded or self.files_unchanged or self.quarantined:
            parts.append(
                f"файлов загружено / files loaded {len(self.files_loaded)}"
                f" (строк в файлах / rows read {self.rows_read:,}, загружено / loaded {self.rows_loaded:,},"
                f" отклонено / rejected {self.rows_rejected:,});"
                f" без изменений / unchanged {self.files_unchanged};"
                f" в карантине / quarantined {len(self.quarantined)}"
            )
        if self.models_built or self.published:
            parts.append(
                f"моделей dbt / dbt models built {self.models_built}; витрин опубликовано / marts published "
                f"{len(self.published)}"
            )
        if self.dbt_tests_failed:
            parts.append(f"тестов dbt не прошло / dbt tests failed {self.dbt_tests_failed}")
        lines = [" ".join(parts)]
        lines += [f"  карантин / quarantined: {q}" for q in self.quarantined]
        lines += [f"  замечание / note: {n}" for n in self.notes]
        quarantined_steps = {"__".join(key.path) for key in self.failed_assets}
        lines += [
            f"  сбой шага / failed step: {s}" for s in self.failed_steps if s.split(":", 1)[0] not in quarantined_steps
        ]
        if self.published:
            lines.append(f"  опубликовано / published: {', '.join(self.published)}")
        return "\n".join(lines)


def _value(metadata: dict, key: str, default=0):
    entry = metadata.get(key)
    return default if entry is None else getattr(entry, "value", entry)


def summarise_run(instance: dg.DagsterInstance, run_id: str) -> RunSummary:
    run = instance.get_run_by_id(run_id)
    summary = RunSummary(run_id, run.job_name if run else "?")
    partition = (run.tags.get("dagster/partition") if run else None) or ""
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            key, metadata = materialization.asset_key, materialization.metadata
            if key.path[0] == "raw":
                if _value(metadata, "unchanged", False):
                    summary.files_unchanged += 1
                else:
                    summary.files_loaded.append(f"{key.path[-1]} {partition}".strip())
                    summary.rows_read += int(_value(metadata, "rows_read"))
                    summary.rows_loaded += int(_value(metadata, "rows_loaded"))
                    summary.rows_rejected += int(_value(metadata, "rows_rejected"))
                    notes = _value(metadata, "notes", [])
                    summary.notes += [f"{key.path[-1]} {partition}: {n}".strip() for n in notes]
            elif key.path[0] == "published":
                summary.published.append("/".join(key.path[1:]))
            else:
                summary.models_built += 1
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                continue
            if evaluation.asset_key.path[0] == "raw" and evaluation.check_name == CONTRACT_CHECK:
                first_line = (evaluation.description or "").splitlines()[0] if evaluation.description else ""
                summary.quarantined.append(f"{evaluation.asset_key.path[-1]} {partition}: {first_line}".strip())
                summary.failed_assets.append(evaluation.asset_key)
            else:
                summary.dbt_tests_failed += 1
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            summary.failed_steps.append(f"{event.step_key}: {(error.message if error else '').strip()[:300]}")
    return summary
