"""Alerts to the person on duty: one message per failed run, by e-mail (SMTP) and/or an HTTP webhook.

    ingest run ends FAILURE (a file quarantined, or a step failed)  --alert_failed_runs-->  one message: which file,
        which rule, where the quarantine report is, how to rerun
    marts run ends FAILURE                                          --alert_failed_runs-->  one message: the failed
        step, what was published before it stopped, how to rerun
    daily_marts_refresh run succeeds (optional, off by default)     --alert_nightly_refresh-->  one line

Settings: `alerts:` in pipelines/config/operations.yaml (no channel configured: no alert sensor). The SMTP password
and a webhook URL holding a token come from environment variables named there; neither is ever logged.

A message is sent once per run and channel: each channel that delivered is recorded as a tag on the run
(eduwh/alert_email, eduwh/alert_webhook), so a sensor whose cursor is reset does not send it again. A channel that
fails is retried a few times in the same tick; if it still fails the sensor's tick shows the error.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.run_summary import CONTRACT_CHECK, RunSummary, summarise_run
from pipelines.lib.config_schema import Alerts, EmailAlerts, Services, WebhookAlerts
from pipelines.settings import PROJECT_ROOT, Settings, operations_settings

SENT_TAG = "eduwh/alert_{channel}"
ATTEMPTS, RETRY_SECONDS = 3, 5.0
NIGHTLY_SCHEDULE = "daily_marts_refresh"
LAUNCH = ".venv/bin/python -m pipelines.serve launch"


def channels(alerts: Alerts) -> dict[str, EmailAlerts | WebhookAlerts]:
    found = {"email": alerts.email, "webhook": alerts.webhook}
    return {name: c for name, c in found.items() if c is not None and c.enabled}


# ------------------------------------------------------------------------------------------------------ the message


@dataclass(frozen=True)
class Quarantined:
    """A file quarantined by the run, from the warehouse's register ingest.quarantine (or the run's events)."""

    source: str
    school_year: str
    file_path: str
    reason: str
    rules: list[str]  # "<rule>: <what it says>"
    quarantine_path: str

    @property
    def report_path(self) -> str:
        return f"{self.quarantine_path}.report.txt"


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str


def _quarantine_paths(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[str, str]]:
    """quarantine_path -> (source, first line of the check's description) of every failed contract of the run."""
    found = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.passed or evaluation.check_name != CONTRACT_CHECK:
            continue
        path = evaluation.metadata.get("quarantine_path")
        if path is not None:
            description = evaluation.description or ""
            found[str(getattr(path, "value", path))] = (evaluation.asset_key.path[-1], description)
    return found


def _rules_from(violations: list[dict]) -> list[str]:
    rules = []
    for v in violations:
        columns = ", ".join(
            f"«{h}» ({c})" for c, h in zip(v.get("columns") or [], v.get("headers") or [], strict=False)
        )
        where = f" — {columns}" if columns else ""
        count = f" ({v['unexpected_count']} строк / rows)" if v.get("unexpected_count") else ""
        rules.append(f"{v.get('rule')}{where}: {v.get('detail')}{count}")
    return rules


def quarantined_files(instance: dg.DagsterInstance, run: dg.DagsterRun, settings: Settings) -> list[Quarantined]:
    """The files the run quarantined: from ingest.quarantine, matched by the quarantine path each failed contract
    check names. While another run holds the warehouse (DuckDB has one writer), from the run's own events and the
    report files instead, which say the same."""
    events = _quarantine_paths(instance, run.run_id)
    if not events:
        return []
    partition = run.tags.get("dagster/partition", "")
    rows = []
    for attempt in range(3):
        try:
            with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
                rows = con.execute(
                    "select source, school_year, file_path, reason, violations, quarantine_path from ingest.quarantine "
                    "where quarantine_path in (select unnest(?::varchar[])) order by quarantined_at",
                    [list(events)],
                ).fetchall()
            break
        except duckdb.Error:
            time.sleep(1.0 + attempt)
    found = [
        Quarantined(source, year, path, reason, _rules_from(json.loads(violations or "[]")), qpath)
        for source, year, path, reason, violations, qpath in rows
    ]
    for qpath, (source, description) in events.items():
        if any(q.quarantine_path == qpath for q in found):
            continue
        lines = description.splitlines()
        first = lines[0] if lines else ""
        file_path = first.split(" (источник", 1)[0].removeprefix("Файл ").strip() if first.startswith("Файл ") else "?"
        reason = first.split(" не загружен: ", 1)[-1].rstrip(".") if " не загружен: " in first else first
        rules = [line.strip()[2:] for line in lines if line.startswith("  - ")]
        found.append(Quarantined(source, partition, file_path, reason, rules, qpath))
    return found


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step, the error that caused it) of every failed step: the innermost cause, not Dagster's wrapper."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = entry.dagster_event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        text = (error.message if error else "").strip()
        found.append((entry.dagster_event.step_key, text[:500]))
    if not found:  # the run failed outside its steps (it could not start, or was stopped)
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
            found.append(("run", (entry.message or "").strip()[:500]))
    return found


def run_url(services: Services, run_id: str) -> str:
    base = services.public_url or f"http://{services.host}:{services.webserver_port}"
    return f"{base.rstrip('/')}/runs/{run_id}"


def _shown(path: str) -> str:
    """A path as the person on duty types it: relative to the project when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return path


def failure_alert(instance: dg.DagsterInstance, run: dg.DagsterRun, settings: Settings, services: Services) -> Alert:
    """The message of a failed run: quarantined files first (file, rule, report, how to rerun), then the failed
    steps, then the run summary (files, rows, marts published) and the link to the run's log."""
    summary: RunSummary = summarise_run(instance, run.run_id)
    partition = run.tags.get("dagster/partition")
    quarantined = quarantined_files(instance, run, settings)
    short = run.run_id[:8]
    where = f" {partition}" if partition else ""
    lines = []
    if quarantined:
        names = ", ".join(f"{q.source} {q.school_year}" for q in quarantined)
        subject = f"[eduwh] Файл в карантине / file quarantined: {names}"
        lines.append(
            f"Запуск {run.job_name}{where} ({short}) завершился с ошибкой: {len(quarantined)} файл(ов) в карантине. / "
            f"Run {run.job_name}{where} failed: {len(quarantined)} file(s) quarantined."
        )
        for q in quarantined:
            lines += [
                "",
                f"Файл / file: {q.file_path}",
                f"Источник / source: {q.source}, учебный год / school year: {q.school_year}",
                f"Причина / reason: {q.reason}",
            ]
            lines += [f"Правило / rule: {rule}" for rule in q.rules] or ["Правило / rule: —"]
            lines += [
                f"Отчёт / report: {q.report_path}",
                f"Папка карантина / quarantine folder: {Path(q.quarantine_path).parent}",
            ]
        lines += [
            "",
            "Как перезапустить / how to rerun:",
            (
                "  Исправьте файл и скопируйте его снова в ту же папку data/raw/<источник>/<учебный год>/: датчик "
                "raw_files_sensor увидит новое содержимое (SHA-256) и сам запустит загрузку, затем витрины. / "
                "Fix the file and copy it again into the same folder: the sensor sees the new content and starts the "
                "load, then the marts, by itself."
            ),
        ]
        years = sorted({q.school_year for q in quarantined if q.school_year})
        for year in years:
            lines.append(
                f"  Загрузить год заново без замены файлов / reload the year as it is: {LAUNCH} ingest_school_year "
                f"--partition {year} (или в UI / or in the UI: Jobs → ingest_school_year → Materialize, {year})"
            )
        lines.append(
            "  Данные, загруженные ранее, не изменены; витрины, не зависящие от этого файла, обновляются. / "
            "Data loaded earlier is unchanged; marts that do not depend on this file are refreshed."
        )
    else:
        subject = f"[eduwh] Сбой запуска / run failed: {run.job_name}{where} ({short})"
        lines.append(
            f"Запуск {run.job_name}{where} ({short}) завершился с ошибкой. / Run {run.job_name}{where} failed."
        )
        for step, error in failed_steps(instance, run.run_id):
            lines.append(f"Сбой шага / failed step: {step}: {error}")
        relaunch = f"{LAUNCH} {run.job_name}" + (f" --partition {partition}" if partition else "")
        lines += [
            "",
            (
                "Как перезапустить / how to rerun: устраните причину (журнал запуска ниже), затем / fix the cause "
                "(see the run's log), then:"
            ),
            f"  в UI / in the UI: Runs → {short} → Re-execute all, или / or: {relaunch}",
        ]
    lines += ["", summary.message(), "", f"Журнал запуска / run log: {run_url(services, run.run_id)}"]
    return Alert(subject, "\n".join(lines))


def nightly_alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Alert:
    summary = summarise_run(instance, run.run_id)
    line = (
        f"[eduwh] Ночное обновление витрин выполнено / nightly refresh done ({run.run_id[:8]}): моделей dbt / "
        f"dbt models {summary.models_built}, витрин опубликовано / marts published {len(summary.published)}"
        + (f", тестов dbt не прошло / dbt tests failed {summary.dbt_tests_failed}" if summary.dbt_tests_failed else "")
    )
    return Alert(line, line)


# ---------------------------------------------------------------------------------------------------- delivery


def _secret(env_name: str | None, what: str) -> str | None:
    if env_name is None:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise RuntimeError(
            f"{what}: переменная окружения {env_name} не задана / environment variable {env_name} is not set"
        )
    return value


def send_email(config: EmailAlerts, alert: Alert) -> str:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message.set_content(alert.text, charset="utf-8")
    password = _secret(config.password_env, "SMTP")
    timeout = float(config.timeout_seconds)
    if config.tls == "ssl":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
    with smtp:
        if config.tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            try:
                smtp.login(config.username, password or "")
            except UnicodeError:  # smtplib sends AUTH in ASCII; the exception would not show the password anyway
                raise RuntimeError(
                    "SMTP: имя пользователя и пароль должны быть в ASCII / user name and password must be ASCII"
                ) from None
        refused = smtp.send_message(message)
    if refused:
        raise RuntimeError(f"SMTP: адреса отклонены / recipients refused: {', '.join(refused)}")
    return f"e-mail → {', '.join(config.recipients)}"


def send_webhook(config: WebhookAlerts, alert: Alert, extra: dict) -> str:
    url = config.url or _secret(config.url_env, "webhook")
    body = {**config.extra_fields, config.text_field: alert.text, **extra}
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=float(config.timeout_seconds)) as response:
            status = response.status
    except urllib.error.HTTPError as exc:  # the URL may hold a token: name the status only
        raise RuntimeError(f"webhook: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise RuntimeError(f"webhook: нет соединения / no connection ({exc.reason})") from None
    return f"webhook (HTTP {status})"


def deliver(
    instance: dg.DagsterInstance, run: dg.DagsterRun, alerts: Alerts, alert: Alert, log: Callable[[str], None]
) -> list[str]:
    """Send the alert on every configured channel that has not delivered it for this run yet; record each
    delivery as a run tag and in the run's log. Raises after trying every channel if one failed."""
    errors, sent = [], []
    extra = {"run_id": run.run_id, "job": run.job_name, "subject": alert.subject}
    for name, config in channels(alerts).items():
        tag = SENT_TAG.format(channel=name)
        if tag in run.tags:
            log(f"{name}: уже отправлено / already sent for run {run.run_id[:8]} ({run.tags[tag]})")
            continue
        for attempt in range(1, ATTEMPTS + 1):
            try:
                done = send_email(config, alert) if name == "email" else send_webhook(config, alert, extra)
            except (OSError, smtplib.SMTPException, RuntimeError) as exc:
                # the messages of smtplib and urllib never hold the password; the URL is not shown
                problem = f"{type(exc).__name__}: {exc}"
                log(f"{name}: не отправлено, попытка {attempt} / not sent, attempt {attempt}: {problem}")
                if attempt == ATTEMPTS:
                    errors.append(f"{name}: {problem}")
                else:
                    time.sleep(RETRY_SECONDS)
                continue
            instance.add_run_tags(run.run_id, {tag: datetime.now(UTC).isoformat(timespec="seconds")})
            sent.append(done)
            break
    if sent:
        message = f"Оповещение отправлено / alert sent: {'; '.join(sent)} — «{alert.subject}»"
        log(message)
        instance.report_engine_event(message, run)
    if errors:
        raise RuntimeError(f"оповещение не отправлено / alert not sent: {'; '.join(errors)}")
    return sent


# ------------------------------------------------------------------------------------------------------ sensors


def build_alert_sensors(
    ingest_job: dg.UnresolvedAssetJobDefinition, marts_job: dg.UnresolvedAssetJobDefinition
) -> list[dg.SensorDefinition]:
    """The alert sensors, if operations.yaml configures a channel under `alerts:`; none otherwise."""
    operations = operations_settings()
    alerts = operations.alerts
    if not channels(alerts):
        return []

    @dg.run_failure_sensor(
        name="alert_failed_runs",
        monitored_jobs=[ingest_job, marts_job],
        minimum_interval_seconds=alerts.minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One message per failed ingest or marts run (a quarantined file: which file, which rule, the "
        "report, how to rerun) by e-mail and/or webhook (operations.yaml `alerts:`).",
    )
    def alert_failed_runs(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        alert = failure_alert(context.instance, run, Settings.from_env(), operations.services)
        deliver(context.instance, run, alerts, alert, context.log.info)

    sensors = [alert_failed_runs]
    if alerts.nightly_success_summary:

        @dg.run_status_sensor(
            name="alert_nightly_refresh",
            run_status=dg.DagsterRunStatus.SUCCESS,
            monitored_jobs=[marts_job],
            minimum_interval_seconds=alerts.minimum_interval_seconds,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="One line when the daily marts refresh succeeds (operations.yaml "
            "`alerts.nightly_success_summary`).",
        )
        def alert_nightly_refresh(context: dg.RunStatusSensorContext):
            run = context.dagster_run
            if run.tags.get("dagster/schedule_name") == NIGHTLY_SCHEDULE:
                deliver(context.instance, run, alerts, nightly_alert(context.instance, run), context.log.info)

        sensors.append(alert_nightly_refresh)
    return sensors
