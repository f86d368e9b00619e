"""Superset dashboards as code (pipelines/dashboards.py, deploy/superset/): the dashboards of the repository imported
into a real Superset (its own venv, .venv-superset/, built once per clone: minutes the first time) served on
127.0.0.1 the way `make dashboards` serves it, reading the marts of the session's region from a real PostgreSQL
server (tests/postgres_server.py); checked through Superset's REST API, screenshotted by headless Chromium (Debian's
/usr/bin/chromium, driven over the DevTools protocol on a pipe), exported back and compared with the repository.

The screenshots are kept as test artifacts, dashboard-<slug>.png in $EDUWH_TEST_ARTIFACTS or tests/artifacts/
(gitignored).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import secrets
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
import yaml

from pipelines import dashboards
from pipelines.lib.publish_postgres import publish_to_postgres
from tests.postgres_server import free_port, running_postgres

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("EDUWH_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
EXPECTED = {
    "shnor": "ШНОР: список и переходы",
    "municipality-vs-region": "Результаты муниципалитета против региона",
    "surveys": "Мониторинговые опросы",
}
BROWSER_TIMEOUT_S = 120.0
HTTP_TIMEOUT_S = 60.0


class Superset:
    """A running Superset: its setup, environment and an API session logged in as the admin."""

    def __init__(self, setup: dashboards.SupersetSetup, env: dict[str, str], password: str, timings: dict[str, float]):
        self.setup, self.env, self.password, self.timings = setup, env, password, timings
        self.api = requests.Session()
        answer = self.api.post(
            f"{setup.url}/api/v1/security/login",
            json={"username": setup.admin_user, "password": password, "provider": "db", "refresh": False},
            timeout=HTTP_TIMEOUT_S,
        )
        answer.raise_for_status()
        self.api.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        answer = self.api.get(f"{self.setup.url}{path}", params=params or None, timeout=HTTP_TIMEOUT_S)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text[:2000]}"
        return answer.json()

    def dashboards(self) -> dict[str, dict]:
        found = self.get("/api/v1/dashboard/", q="(page_size:100)")["result"]
        return {d["slug"]: d for d in found}

    def browser_session_cookie(self) -> str:
        """A logged-in browser session (Flask's `session` cookie): the CSRF token of a new session, then the login
        form posted with it, as a browser would."""
        browser = requests.Session()
        token = self.api.get(f"{self.setup.url}/api/v1/security/csrf_token/", timeout=HTTP_TIMEOUT_S)
        token.raise_for_status()
        browser.cookies.update(self.api.cookies)
        form = {"username": self.setup.admin_user, "password": self.password, "csrf_token": token.json()["result"]}
        answer = browser.post(f"{self.setup.url}/login/", data=form, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
        assert answer.status_code == 302, f"login form: {answer.status_code} {answer.text[:500]}"
        me = browser.get(f"{self.setup.url}/api/v1/me/", timeout=HTTP_TIMEOUT_S)
        assert me.status_code == 200 and me.json()["result"]["username"] == self.setup.admin_user
        return browser.cookies["session"]


@pytest.fixture(scope="module")
def superset(loaded_region) -> Iterator[Superset]:
    """PostgreSQL with the region's published marts in schema `marts`, and Superset prepared and started by the
    functions `make dashboards` runs (pipelines.dashboards.prepare and the same gunicorn command line)."""
    region = loaded_region[0]
    install_s = dashboards.install()
    marts = sorted(p for p in region.settings.marts_dir.iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory(prefix="eduwh-superset-") as tmp:
        os.chmod(tmp, 0o711)  # PostgreSQL runs as `nobody` when we are root (tests/postgres_server.py)
        with running_postgres(Path(tmp)) as conninfo:
            published = {p["mart"] for p in publish_to_postgres(conninfo, "marts", marts)}
            assert {"school_flags", "list_transitions", "municipality_summary", "survey_results"} <= published
            password = secrets.token_urlsafe(12)
            env = {
                **os.environ,
                "EDUWH_DATA_DIR": str(region.settings.data_dir),
                "EDUWH_SUPERSET_HOME": str(Path(tmp) / "superset-home"),
                "EDUWH_SUPERSET_PORT": str(free_port()),
                "EDUWH_SUPERSET_DATABASE": "postgres",
                "EDUWH_POSTGRES_CONNINFO": conninfo,
                "EDUWH_SUPERSET_ADMIN_PASSWORD": password,
                "SUPERSET_SECRET_KEY": secrets.token_urlsafe(42),
            }
            setup = dashboards.SupersetSetup.from_env(env)
            assert setup.host == "127.0.0.1" and setup.database == "postgres"
            timings = {"install": install_s, **dashboards.prepare(setup, env)}
            started = time.monotonic()
            server = dashboards.start(setup, env, log=Path(tmp) / "superset.log")
            timings["boot"] = time.monotonic() - started
            try:
                yield Superset(setup, env, password, timings)
            finally:
                dashboards.stop(server)
                assert server.poll() is not None
                print("\nSuperset timings (s):", {k: round(v, 1) for k, v in timings.items()})


def test_marts_uri_from_the_publishing_conninfo(tmp_path: Path) -> None:
    """EDUWH_POSTGRES_CONNINFO (conninfo or URL, as for publishing) becomes the psycopg2 URI Superset uses, with
    every character of the password kept; the DuckDB variant opens the analysts' file read-only."""
    env = {"EDUWH_DATA_DIR": str(tmp_path), "EDUWH_SUPERSET_DATABASE": "postgres"}
    setup = dashboards.SupersetSetup.from_env(env)
    conninfo = "host=db.example port=6543 dbname=эду user=reader password='p@ss:w/rd %x' sslmode=require"
    uri = dashboards.marts_uri(setup, {"EDUWH_POSTGRES_CONNINFO": conninfo})
    parts = urlsplit(uri)
    assert parts.scheme == "postgresql+psycopg2" and (parts.hostname, parts.port) == ("db.example", 6543)
    assert (unquote(parts.username), unquote(parts.password)) == ("reader", "p@ss:w/rd %x")
    assert unquote(parts.path) == "/эду" and parts.query == "sslmode=require"
    url = dashboards.marts_uri(setup, {"EDUWH_POSTGRES_CONNINFO": "postgresql://u:secret@127.0.0.1:5432/marts"})
    assert url == "postgresql+psycopg2://u:secret@127.0.0.1:5432/marts"
    with pytest.raises(dashboards.DashboardsError, match="EDUWH_POSTGRES_CONNINFO"):
        dashboards.marts_uri(setup, {})
    duck = dashboards.SupersetSetup.from_env({**env, "EDUWH_SUPERSET_DATABASE": "analyst_duckdb"})
    assert dashboards.marts_uri(duck, {}) == f"duckdb:///{tmp_path / 'marts' / 'analyst.duckdb'}?access_mode=read_only"
    assert duck.marts_schema == "main" and setup.marts_schema == "marts"
    with pytest.raises(dashboards.DashboardsError, match="analyst_duckdb"):
        dashboards.SupersetSetup.from_env({**env, "EDUWH_SUPERSET_DATABASE": "mysql"})


def _chart_rows(superset: Superset, chart_id: int) -> int:
    """Rows of the chart's saved query (its query_context) run by Superset against the marts."""
    data = superset.get(f"/api/v1/chart/{chart_id}/data/", format="json", type="full")
    assert len(data["result"]) >= 1
    for result in data["result"]:
        assert not result.get("error"), result["error"]
    return min(result["rowcount"] for result in data["result"])


def test_dashboards_exist_and_every_chart_returns_rows(superset: Superset) -> None:
    found = superset.dashboards()
    assert {slug: d["dashboard_title"] for slug, d in found.items() if slug in EXPECTED} == EXPECTED
    repo_charts = {yaml.safe_load(p.read_text())["uuid"] for p in (dashboards.DASHBOARDS_DIR / "charts").glob("*.yaml")}
    seen = set()
    for slug in EXPECTED:
        charts = superset.get(f"/api/v1/dashboard/{found[slug]['id']}/charts")["result"]
        assert len(charts) >= 3, f"{slug}: {len(charts)} charts"
        for chart in charts:
            assert _chart_rows(superset, chart["id"]) > 0, f"{slug}: chart «{chart['slice_name']}» returned no rows"
            seen.add(chart["id"])
        assert any(c["form_data"]["viz_type"] == "table" for c in charts)
        assert any(c["form_data"]["viz_type"] != "table" for c in charts)
    assert len(seen) == len(repo_charts)


def test_chart_labels_are_russian(superset: Superset) -> None:
    """Chart names, column labels and metric labels in Russian (Cyrillic), as the users read them."""
    for chart in superset.get("/api/v1/chart/", q="(page_size:100)")["result"]:
        assert any("а" <= ch.lower() <= "я" for ch in chart["slice_name"]), chart["slice_name"]
    for dataset in superset.get("/api/v1/dataset/", q="(page_size:100)")["result"]:
        detail = superset.get(f"/api/v1/dataset/{dataset['id']}")["result"]
        unlabelled = [c["column_name"] for c in detail["columns"] if not c.get("verbose_name")]
        assert not unlabelled, f"{dataset['table_name']}: columns without a Russian label: {unlabelled}"


def test_export_gives_back_the_repository_files(superset: Superset, tmp_path: Path) -> None:
    """`python -m pipelines.dashboards export` of what was imported reproduces the repository's files (same
    objects, same content; file names carry Superset's ids and the bundle's timestamp is new): the repository is an
    export, and changing a dashboard = exporting it again."""
    written = dashboards.export(superset.setup, tmp_path / "export", superset.env)
    assert any(name.startswith("dashboards/") for name in written)

    def by_uuid(root: Path) -> dict[str, dict]:
        configs = {}
        for path in root.rglob("*.yaml"):
            if path.name != "metadata.yaml":
                config = yaml.safe_load(path.read_text(encoding="utf-8"))
                configs[config["uuid"]] = config
        return configs

    exported, repo = by_uuid(tmp_path / "export"), by_uuid(dashboards.DASHBOARDS_DIR)
    assert sorted(exported) == sorted(repo)
    for uuid, config in repo.items():
        assert exported[uuid] == config, f"{uuid} ({config.get('slice_name') or config.get('dashboard_title')})"
    database = next((tmp_path / "export" / "databases").glob("*.yaml")).read_text()
    assert dashboards.URI_PLACEHOLDER in database
    assert superset.env["EDUWH_SUPERSET_ADMIN_PASSWORD"] not in database and "127.0.0.1" not in database


def test_the_same_charts_on_the_analysts_duckdb_file(superset: Superset) -> None:
    """EDUWH_SUPERSET_DATABASE=analyst_duckdb: the import (prepare's last step) points the dashboards' database at
    the analysts' file (duckdb-engine in Superset's venv, DuckDB 1.4, read-only); every chart returns the rows it
    returns from PostgreSQL (both are built from the same Parquet marts) and the file is left as it was."""
    charts = superset.get("/api/v1/chart/", q="(page_size:100)")["result"]
    on_postgres = {c["id"]: _chart_rows(superset, c["id"]) for c in charts}
    env = {**superset.env, "EDUWH_SUPERSET_DATABASE": "analyst_duckdb"}
    setup = dashboards.SupersetSetup.from_env(env)
    analyst = setup.data_dir / "marts" / "analyst.duckdb"
    before = analyst.read_bytes()
    dashboards.import_dashboards(setup, env)
    try:
        databases = superset.get("/api/v1/database/")["result"]
        assert [d["backend"] for d in databases] == ["duckdb"]
        on_duckdb = {c["id"]: _chart_rows(superset, c["id"]) for c in charts}
    finally:
        dashboards.import_dashboards(superset.setup, superset.env)  # back to PostgreSQL for the other tests
    assert on_duckdb == on_postgres
    assert analyst.read_bytes() == before


# --- the screenshot -------------------------------------------------------------------------------------------------


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: commands in on fd 3, answers out
    on fd 4, JSON messages ended by NUL): no WebDriver, no extra package."""

    def __init__(self, user_data_dir: Path, log: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Copies at fds >= 10 (no clash with 3 and 4), which a small exec wrapper makes the browser's fds 3 and 4.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        wrapper = (
            "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
            "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])"
        )
        command = [
            sys.executable, "-c", wrapper, str(high_r), str(high_w),
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--lang=ru-RU", f"--user-data-dir={user_data_dir}",
            "--remote-debugging-pipe", "about:blank",
        ]  # fmt: skip
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                pass_fds=(high_r, high_w), start_new_session=True,
            )  # fmt: skip
        for fd in (to_browser_r, from_browser_w, high_r, high_w):
            os.close(fd)
        self._next_id, self._buffer = 0, b""

    def send(self, method: str, session: str | None = None, timeout: float = 60.0, **params: Any) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._next_id:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer["result"]
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise TimeoutError(f"Chromium did not answer {method} (exit code {self.process.poll()})")
            ready, _, _ = select.select([self._from_browser], [], [], 1.0)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the pipe during {method}")
                self._buffer += chunk

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.send("Browser.close", timeout=10)
                self.process.wait(10)
        except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)
            os.close(self._to_browser)
            os.close(self._from_browser)


def _png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced truecolour PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, previous = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up, up_left = previous[x], previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r[i] for i in range(len(r)) if i % bpp < 3) for r in rows] if bpp == 4 else rows


def _filter_options(text: str) -> list[str]:
    """The option counts of the filter bar's selects («5 вариантов»: shown once a select's options are loaded)."""
    return re.findall(r"(\d+) вариант", text)


@pytest.mark.parametrize("slug", list(EXPECTED))
def test_dashboard_screenshot_in_headless_chromium(superset: Superset, slug: str) -> None:
    """Logged in as a browser is, every chart of the dashboard drawn (no error), the title, chart names and filters
    on the page, and a screenshot that is not blank saved as an artifact."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: make test installs Debian's chromium (make system-packages)"
    title = EXPECTED[slug]
    dashboard = superset.dashboards()[slug]
    charts = superset.get(f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
    metadata = json.loads(superset.get(f"/api/v1/dashboard/{dashboard['id']}")["result"]["json_metadata"])
    filters = [f["name"] for f in metadata["native_filter_configuration"]]
    n_charts = len(charts)
    cookie = superset.browser_session_cookie()
    url = f"{superset.setup.url}/superset/dashboard/{slug}/?standalone=1&show_filters=1"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"dashboard-{slug}.png"
    profile = Path(tempfile.mkdtemp(prefix="eduwh-chromium-"))
    browser = DevTools(profile, ARTIFACTS / "chromium.log")
    try:
        target_id = browser.send("Target.createTarget", url="about:blank")["targetId"]
        page = browser.send("Target.attachToTarget", targetId=target_id, flatten=True)["sessionId"]
        browser.send("Network.enable", page)
        browser.send("Network.setCookie", page, name="session", value=cookie, url=superset.setup.url, httpOnly=True)
        browser.send(
            "Emulation.setDeviceMetricsOverride", page, width=1600, height=1300, deviceScaleFactor=1, mobile=False
        )
        browser.send("Page.navigate", page, url=url)
        # Ready: every chart of the dashboard drawn (a table, or an ECharts canvas) and no spinner left.
        probe = """(() => {
            const holders = [...document.querySelectorAll('.dashboard-component-chart-holder')];
            const drawn = holders.filter(h => h.querySelector('table, canvas, svg'));
            return JSON.stringify({
                path: location.pathname, text: document.body ? document.body.innerText : '',
                holders: holders.length, drawn: drawn.length,
                loading: document.querySelectorAll('.loading, [data-test="loading-indicator"]').length,
                errors: [...document.querySelectorAll('[role="alert"], .ant-alert-error')].map(e => e.innerText)});
        })()"""
        deadline, state = time.monotonic() + BROWSER_TIMEOUT_S, {}
        while time.monotonic() < deadline:
            value = browser.send("Runtime.evaluate", page, expression=probe, returnByValue=True)["result"]["value"]
            state = json.loads(value)
            drawn = state["holders"] >= n_charts and state["drawn"] >= n_charts and not state["loading"]
            if drawn and len(_filter_options(state["text"])) >= len(filters):
                break
            time.sleep(1.0)
        else:
            pytest.fail(f"the dashboard did not finish drawing in {BROWSER_TIMEOUT_S:.0f} s: {str(state)[:3000]}")
        time.sleep(2.0)  # chart animations
        shot = browser.send("Page.captureScreenshot", page, format="png", timeout=60)
        target.write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)

    assert state["path"].startswith("/superset/dashboard/"), state["path"]  # not sent to the login page
    assert title in state["text"], state["text"][:2000]
    assert not [e for e in state["errors"] if e.strip()], state["errors"]
    for chart in charts:
        assert chart["slice_name"] in state["text"], chart["slice_name"]
    # the filter bar (show_filters=1) with the dashboard's native filters, their options loaded from the marts
    assert filters and all(name in state["text"] for name in filters), (filters, state["text"][:1000])
    assert all(int(n) > 0 for n in _filter_options(state["text"])), state["text"][:1000]
    width, height, rows = _png_pixels(target.read_bytes())
    assert (width, height) == (1600, 1300)
    pixels = [row[i : i + 3] for row in rows[::4] for i in range(0, len(row), 12)]  # every 4th pixel, every 4th row
    colours = set(pixels)
    brightness = [sum(p) / 3 for p in pixels]
    mean = sum(brightness) / len(brightness)
    variance = sum((b - mean) ** 2 for b in brightness) / len(brightness)
    assert len(colours) > 50 and variance > 100, f"blank-looking screenshot: {len(colours)} colours, var {variance:.0f}"
    print(f"\nscreenshot: {target} ({width}x{height}, {len(colours)} colours, brightness variance {variance:.0f})")
