"""Alerts for real: a file of a tiny region breaks its contract in a real (in-process) ingest run, which ends
FAILURE; the alert sensor is evaluated on that run as the daemon does and sends exactly one e-mail to a real SMTP
server (aiosmtpd, with a login) and one JSON POST to a real HTTP server, both on 127.0.0.1, saying which file,
which rule, where the quarantine report is and how to rerun. A second evaluation sends nothing more, and the SMTP
password is in no log."""

from __future__ import annotations

import email
import json
import logging
import shutil
import socket
import threading
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from dagster._serdes import serialize_value

from pipelines.defs.alerts import failure_alert
from pipelines.lib.config_schema import Services
from pipelines.sample_region import RegionParams, generate_region
from pipelines.serve import prepare_instance
from pipelines.settings import CONFIG_DIR, Settings

REGION = RegionParams(seed=11, municipalities=2, schools=24, years=2, first_year=2023, pupils_per_grade=10)
YEAR = REGION.school_years[-1]
FOLDERS = ("school_registry", "olympiad_results")
PASSWORD = "s3cret-Parol-not-in-logs-7f1c"  # smtplib logs in with ASCII only
PASSWORD_ENV = "EDUWH_TEST_SMTP_PASSWORD"
USER = "duty-bot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd handler and authenticator: keeps every message and every login it was given."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):  # authenticator
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == (USER, PASSWORD))

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=mailbox, auth_require_tls=False, auth_required=True
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
def webhook_server():
    posts: list[tuple[str, dict, dict]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append((self.path, dict(self.headers), json.loads(body.decode("utf-8"))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield posts, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def break_one_count(path: Path) -> str:
    """Make the first data row's «Участников» negative (the contract says min 0); returns the encoding kept."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    lines = text.splitlines()
    header = lines[0].split(";")
    column = header.index("Участников")
    cells = lines[1].split(";")
    cells[column] = "-5"
    lines[1] = ";".join(cells)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return encoding


def _failed_ingest_run(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """A real ingest run of YEAR that fails (what the test put in data/raw/ decides how)."""
    instance.add_dynamic_partitions("school_year", [YEAR])
    result = defs.resolve_job_def("ingest_school_year").execute_in_process(
        instance=instance, partition_key=YEAR, raise_on_error=False
    )
    assert not result.success
    return result


def _evaluate_alert_sensor(repo, instance: dg.DagsterInstance, run_id: str) -> None:
    """One tick of alert_failed_runs on the failed run, as the daemon makes it."""
    failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1].dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_failed_runs",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        repository_def=repo,
    ).for_run_failure()
    repo.get_sensor_def("alert_failed_runs")(context)


def test_quarantined_file_sends_one_email_and_one_webhook(
    tmp_path, monkeypatch, smtp_server, webhook_server, caplog, capfd
):
    mailbox, smtp_port = smtp_server
    posts, hook_port = webhook_server
    caplog.set_level(logging.DEBUG)

    # a region whose olympiad file of the year has one negative count
    data = tmp_path / "data"
    generate_region(REGION, tmp_path / "incoming" / "raw", tmp_path / "incoming" / "truth")
    for folder in FOLDERS:
        shutil.copytree(tmp_path / "incoming" / "raw" / folder / YEAR, data / "raw" / folder / YEAR)
    [broken] = (data / "raw" / "olympiad_results" / YEAR).glob("*.csv")
    break_one_count(broken)

    # the configuration with both alert channels on
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    operations = yaml.safe_load((config / "operations.yaml").read_text(encoding="utf-8"))
    operations["alerts"] = {
        "email": {
            "host": "127.0.0.1", "port": smtp_port, "tls": "none", "sender": "eduwh@example.ru",
            "recipients": ["duty@example.ru", "deputy@example.ru"], "username": USER, "password_env": PASSWORD_ENV,
        },
        "webhook": {"url": f"http://127.0.0.1:{hook_port}/hook", "extra_fields": {"chat_id": "-100123"}},
    }  # fmt: skip
    operations["services"] = {"host": "127.0.0.1", "webserver_port": 3999}
    (config / "operations.yaml").write_text(yaml.safe_dump(operations, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("EDUWH_CONFIG_DIR", str(config))
    monkeypatch.setenv("EDUWH_DATA_DIR", str(data))
    monkeypatch.setenv("EDUWH_PUBLISH_TARGETS", "parquet")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.delenv("EDUWH_POSTGRES_CONNINFO", raising=False)

    from pipelines.definitions import build_definitions

    defs = build_definitions()
    repo = defs.get_repository_def()
    assert "alert_failed_runs" in {s.name for s in repo.sensor_defs}
    assert "alert_nightly_refresh" not in {s.name for s in repo.sensor_defs}  # off by default

    # the instance the services use (SQLite in a DAGSTER_HOME of the test's), a real failing ingest run
    home = prepare_instance({"DAGSTER_HOME": str(tmp_path / "dagster_home")}).home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(_failed_ingest_run(defs, instance).run_id)
        assert run.status == dg.DagsterRunStatus.FAILURE

        # what the alert must say, found independently: the report file the quarantine wrote
        [report] = (data / "quarantine" / "olympiad_results" / YEAR).glob("*.report.txt")
        assert str(broken) in report.read_text(encoding="utf-8")

        for _ in range(2):  # the second evaluation of the same run sends nothing more
            _evaluate_alert_sensor(repo, instance, run.run_id)

        assert len(mailbox.messages) == 1 and len(posts) == 1
        assert mailbox.logins == [(USER, PASSWORD)]  # logged in with the password from the environment
        assert mailbox.envelopes == [("eduwh@example.ru", ["duty@example.ru", "deputy@example.ru"])]
        message = mailbox.messages[0]
        body = message.get_content()
        subject = message["Subject"]
        assert "olympiad_results" in subject and YEAR in subject and "карантин" in subject
        for text in (body, posts[0][2]["text"]):
            assert f"Файл / file: {broken}" in text
            assert "Правило / rule: expect_column_values_to_be_between" in text and "«Участников»" in text
            assert f"Отчёт / report: {report}" in text
            assert "Исправьте файл и скопируйте его снова" in text and "Fix the file and copy it again" in text
            assert f"pipelines.serve launch ingest_school_year --partition {YEAR}" in text
            assert f"http://127.0.0.1:3999/runs/{run.run_id}" in text
            assert "Итог запуска / run summary (ingest_school_year" in text
        path, headers, payload = posts[0]
        assert path == "/hook" and headers["Content-Type"].startswith("application/json")
        assert payload["chat_id"] == "-100123" and payload["run_id"] == run.run_id and payload["subject"] == subject

        # the run remembers what was sent, and says so in its log
        tags = instance.get_run_by_id(run.run_id).tags
        assert {"eduwh/alert_email", "eduwh/alert_webhook"} <= set(tags)
        run_log = "\n".join(  # every field of every event
            json.dumps(json.loads(serialize_value(entry)), ensure_ascii=False)
            for entry in instance.all_logs(run.run_id)
        )
        assert "Оповещение отправлено / alert sent" in run_log

        # while another run holds the warehouse (one DuckDB writer), the same facts come from the run's events
        with duckdb.connect(str(data / "warehouse.duckdb")):
            held = failure_alert(instance, instance.get_run_by_id(run.run_id), Settings(data), Services())
        rules = [line for line in held.text.splitlines() if line.startswith("Правило / rule: ")]
        assert f"Файл / file: {broken}" in held.text and f"Отчёт / report: {report}" in held.text
        assert len(rules) == 1 and "expect_column_values_to_be_between" in rules[0] and "«Участников»" in rules[0]
        assert rules[0].startswith("Правило / rule: столбец/column")  # the report's wording: not the register's

    captured = capfd.readouterr()
    for where, text in (
        ("run event log", run_log),
        ("Python logs", caplog.text),
        ("stdout/stderr", captured.out + captured.err),
        ("the e-mail", message.as_string()),
        ("the webhook body", json.dumps(payload, ensure_ascii=False)),
        ("the tags", json.dumps(tags, ensure_ascii=False)),
    ):
        assert PASSWORD not in text, f"the SMTP password shows in {where}"
    with capfd.disabled():
        print("\n--- e-mail as sent ---\nSubject: " + subject + "\n\n" + body)


def test_shipped_configuration_has_no_alert_sensor(monkeypatch):
    """Off by default: the shipped operations.yaml configures no channel, so no alert sensor exists."""
    from pipelines.defs.alerts import channels
    from pipelines.settings import operations_settings

    monkeypatch.setenv("EDUWH_CONFIG_DIR", str(CONFIG_DIR))
    assert channels(operations_settings().alerts) == {}


def test_failed_step_without_quarantine_says_the_step_and_how_to_rerun(tmp_path, monkeypatch, webhook_server):
    """A run that fails for another reason than a contract (here: a pseudonymisation key that is too short) is
    alerted too, with the failed step and the command that reruns it."""
    posts, hook_port = webhook_server
    data = tmp_path / "data"
    generate_region(REGION, tmp_path / "incoming" / "raw", tmp_path / "incoming" / "truth")
    for folder in ("school_registry", "vpr_pupil_results"):
        shutil.copytree(tmp_path / "incoming" / "raw" / folder / YEAR, data / "raw" / folder / YEAR)
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    operations = yaml.safe_load((config / "operations.yaml").read_text(encoding="utf-8"))
    operations["alerts"] = {"webhook": {"url_env": "EDUWH_TEST_WEBHOOK_URL"}}
    (config / "operations.yaml").write_text(yaml.safe_dump(operations, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("EDUWH_CONFIG_DIR", str(config))
    monkeypatch.setenv("EDUWH_DATA_DIR", str(data))
    monkeypatch.setenv("EDUWH_PUBLISH_TARGETS", "parquet")
    monkeypatch.setenv("EDUWH_PSEUDONYM_KEY", "too-short")
    monkeypatch.setenv("EDUWH_TEST_WEBHOOK_URL", f"http://127.0.0.1:{hook_port}/token-in-url")
    monkeypatch.delenv("EDUWH_POSTGRES_CONNINFO", raising=False)

    from pipelines.definitions import build_definitions

    defs = build_definitions()
    repo = defs.get_repository_def()
    home = prepare_instance({"DAGSTER_HOME": str(tmp_path / "dagster_home")}).home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = _failed_ingest_run(defs, instance)
        assert not list((data / "quarantine").rglob("*.report.txt"))  # nothing quarantined: a failed step
        _evaluate_alert_sensor(repo, instance, result.run_id)
        run_log = "\n".join(
            json.dumps(json.loads(serialize_value(entry)), ensure_ascii=False)
            for entry in instance.all_logs(result.run_id)
        )
    assert len(posts) == 1 and posts[0][0] == "/token-in-url"
    text = posts[0][2]["text"]
    assert f"Сбой запуска / run failed: ingest_school_year {YEAR}" in posts[0][2]["subject"]
    [step] = [line for line in text.splitlines() if line.startswith("Сбой шага / failed step: ")]
    assert "vpr_pupil_results" in step and "shorter than 32 characters" in step
    assert f"pipelines.serve launch ingest_school_year --partition {YEAR}" in text
    assert "token-in-url" not in run_log  # the webhook's URL (it may hold a token) is not logged
    print("\n--- webhook text as sent ---\n" + text)
