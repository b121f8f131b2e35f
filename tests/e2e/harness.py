"""Real servers and a real browser for the end-to-end suite.

`Servers.start()` runs the Canvas sandbox (tests/live.py) and the portal as
separate processes on free 127.0.0.1 ports: the portal with DEBUG off and
HTTPS off, a temporary migrated and seeded SQLite database, collected
static files and its log captured to a file (at DEBUG level, so the
secrets scan reads everything the portal could log). `Browser` wraps
Playwright's Chromium and records console errors, page errors, CSP
violations, 5xx responses and serious or critical accessibility violations
(axe-core, see a11y.py) on every page it loads or screenshots, and saves a
screenshot per step.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet

from tests.e2e.a11y import DIRTY_TRACKER, AxeAudit
from tests.helpers import free_port
from tests.live import LiveSandbox

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "canvas-demo"
#: The task worker as `make run` starts it, polling its queue every 0.05 s when idle.
WORKER_ARGS = ["--interval", "0.05", "--no-reload", "--no-startup-delay"]


def chromium_missing_reason() -> str | None:
    """Return why the browser tests cannot run here, or None if they can."""
    if not Path(CHROMIUM).is_file():
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


class Portal:
    """The portal as a real server process (runserver, DEBUG off) and its task workers.

    Its database is a temporary SQLite file, or, with `postgres_url`, a fresh
    PostgreSQL database on that server, dropped at stop().
    """

    def __init__(
        self,
        *,
        port: int,
        canvas_base_url: str,
        postgres_url: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.workdir = Path(tempfile.mkdtemp(prefix="portal-e2e-"))
        self.db_path = self.workdir / "portal.sqlite3"
        self.log_path = self.workdir / "portal.log"
        self.secret_key = secrets.token_urlsafe(50)
        self.workers: list[subprocess.Popen] = []
        self._postgres: tuple[str, str] | None = None  # (admin URL, database name)
        database_url = f"sqlite:///{self.db_path}"
        if postgres_url:
            database_url = self._postgres_create(postgres_url)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CANVAS_"))},
            "DJANGO_ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_HTTPS": "false",
            "DJANGO_SECRET_KEY": self.secret_key,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_STATIC_ROOT": str(self.workdir / "static"),
            "DJANGO_LOG_LEVEL": "DEBUG",
            "DATABASE_URL": database_url,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "CANVAS_BASE_URL": canvas_base_url,
            "CANVAS_CLIENT_ID": "canvas-note-portal-dev",
            "PYTHONUNBUFFERED": "1",
            # Settle an action Canvas never applies after 4 s, not 30 (the suite waits for it).
            "NOTES_CONFIRM_SECONDS": "4",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None
        self._log = None

    def _postgres_create(self, server_url: str) -> str:
        import psycopg

        name = f"portal_live_{os.getpid()}_{secrets.token_hex(3)}"
        parts = urlsplit(server_url)
        admin_url = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        self._postgres = (admin_url, name)
        return parts._replace(path=f"/{name}").geturl()

    def manage(self, *args: str) -> str:
        """Run a management command against this portal's database; return its output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self, *, workers: int = 1) -> None:
        """Prepare the database and static files, start the server and workers; wait till ready."""
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("seed_demo", "--force")
        self.manage("collectstatic", "--no-input", "-v", "0")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The portal exited early:\n{self.log()[-3000:]}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=(0.5, 2)).ok:
                    for _ in range(workers):
                        self.start_worker()
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)  # bounded polling for the server to start
        raise RuntimeError("The portal did not answer within 60 s")

    def start_worker(self, queue: str = "default,bulk") -> subprocess.Popen:
        """Start one more task worker (`manage.py db_worker`) on `queue` (both lanes by default)."""
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--queue-name", queue, *WORKER_ARGS],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(worker)
        return worker

    def healthz(self) -> dict[str, Any]:
        return requests.get(f"{self.base_url}/healthz", timeout=(0.5, 5)).json()

    def log(self) -> str:
        """Return everything the portal process wrote."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the portal's database directly (the test process has its own settings).

        Placeholders are `?` on both databases.
        """
        if self._postgres:
            import psycopg

            url = urlsplit(self.env["DATABASE_URL"]).geturl()
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as db:
                return db.execute(sql.replace("?", "%s"), params).fetchall()
        with sqlite3.connect(self.db_path, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    def query_write(self, sql: str, params: tuple = ()) -> None:
        """Change the portal's database directly (e.g. end every session)."""
        with sqlite3.connect(self.db_path, timeout=10) as db:
            db.execute(sql, params)

    def session_values(self, key: str) -> list[Any]:
        """Return every value stored under `key` anywhere in any session."""
        from django.core import signing

        found: list[Any] = []

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    if k == key:
                        found.append(v)
                    walk(v)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        for (data,) in self.query("SELECT session_data FROM django_session"):
            try:
                decoded = signing.loads(
                    data,
                    key=self.secret_key,
                    salt="django.contrib.sessions.SessionStore",
                    serializer=signing.JSONSerializer,
                )
            except signing.BadSignature:
                continue
            walk(decoded)
        return found

    def stop(self) -> None:
        """Stop the server and its workers, remove its temporary folder (and database)."""
        for proc in [self.process, *self.workers]:
            if proc and proc.poll() is None:
                proc.terminate()
        for proc in [self.process, *self.workers]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log:
            self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self._postgres:
            import psycopg

            admin_url, name = self._postgres
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Servers:
    """The sandbox and the portal, wired to each other."""

    def __init__(self) -> None:
        self.sandbox: LiveSandbox | None = None
        self.portal: Portal | None = None

    def start(
        self,
        *,
        effect_delay_ms: int = 300,
        workers: int = 1,
        postgres_url: str | None = None,
        portal_env: dict[str, str] | None = None,
    ) -> Servers:
        """Start both; like Canvas, the sandbox applies effects `effect_delay_ms` after a 202."""
        port = free_port()
        callback = f"http://127.0.0.1:{port}/canvas/callback/"
        self.sandbox = LiveSandbox.start(
            extra_env={
                "SANDBOX_REDIRECT_URIS": callback,
                "SANDBOX_LOG_LEVEL": "DEBUG",
                "SANDBOX_EFFECT_DELAY_MS": str(effect_delay_ms),
            }
        )
        self.portal = Portal(
            port=port,
            canvas_base_url=self.sandbox.base_url,
            postgres_url=postgres_url,
            extra_env=portal_env,
        )
        self.portal.start(workers=workers)
        return self

    def logs(self) -> dict[str, str]:
        """Return each server's full log so far."""
        return {
            "portal": self.portal.log() if self.portal else "",
            "sandbox": self.sandbox.log(tail=10_000_000) if self.sandbox else "",
        }

    def issued_tokens(self) -> set[str]:
        """Return every access and refresh token the sandbox has ever issued."""
        db_path = Path(self.sandbox.workdir) / "sandbox.sqlite3"
        tokens: set[str] = set()
        with sqlite3.connect(db_path, timeout=10) as db:
            for table in ["oauth2_provider_accesstoken", "oauth2_provider_refreshtoken"]:
                tokens.update(row[0] for row in db.execute(f"SELECT token FROM {table}"))
        return {t for t in tokens if t}

    def stop(self) -> None:
        if self.portal:
            self.portal.stop()
        if self.sandbox:
            self.sandbox.stop()


_artifacts_cleared = False


def _fresh_artifacts() -> None:
    """Empty the screenshot folder once per test run, so it shows this run only."""
    global _artifacts_cleared
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if not _artifacts_cleared:
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()
        _artifacts_cleared = True


class Browser:
    """Chromium through Playwright, with every failure signal recorded.

    Accessibility: axe-core audits each page a test opens with `new_page()`
    after every navigation the test waits for (`goto`, `reload`, `go_back`,
    `go_forward`, `wait_for_url`, `wait_for_load_state`) and at every
    `shot()` (the states after htmx swaps; also on pages not opened here).
    Serious and critical violations go to `problems`, each once per URL,
    rule and element, except on `A11Y_REPORT_ONLY` paths; the file
    artifacts/a11y.json lists every audit with all its violations.
    """

    #: Paths whose audits are reported in a11y.json but do not fail the tests
    #: (none: the admin's own findings are fixed in canvas_oauth/admin.py and
    #: static/css/admin.css).
    A11Y_REPORT_ONLY: tuple[str, ...] = ()

    #: The page methods after which a page is audited (the test waited for a page to load).
    AUDITED_WAITS = (
        "goto",
        "reload",
        "go_back",
        "go_forward",
        "wait_for_url",
        "wait_for_load_state",
    )

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        self.problems: list[str] = []
        # Pages a test visits on purpose to see an error page: Chromium logs
        # "Failed to load resource: ... 404" for them, which is expected there.
        self.expected_failures: set[tuple[str, int]] = set()
        self.requested_urls: list[str] = []
        self.shots: list[Path] = []
        self.client_errors: list[str] = []
        self.pages: list = []
        self.a11y = AxeAudit()
        _fresh_artifacts()

    def new_page(self, *, width: int = 1366, height: int = 768):
        """Open a fresh context (its own cookies) and page that report their problems."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.expose_function(
            "__reportCspViolation",
            lambda text: self.problems.append(f"CSP violation: {text}"),
        )
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', function (e) {"
            " window.__reportCspViolation(e.violatedDirective + ' blocked ' + e.blockedURI"
            " + ' on ' + e.documentURI); });"
        )
        page.on("console", lambda msg: self._on_console(page, msg))
        page.on("pageerror", lambda exc: self.problems.append(f"page error on {page.url}: {exc}"))
        page.on("request", lambda request: self.requested_urls.append(request.url))
        page.on("response", self._on_response)
        page.set_default_timeout(15_000)
        page.add_init_script(DIRTY_TRACKER)
        for name in self.AUDITED_WAITS:
            setattr(page, name, self._audited(page, name, getattr(page, name)))
        self.pages.append(page)
        return page

    def _audited(self, page, name: str, wait):
        def wait_then_audit(*args, **kwargs):
            result = wait(*args, **kwargs)
            self.check_accessibility(page, f"after {name}")
            return result

        return wait_then_audit

    def check_accessibility(self, page, step: str = "") -> None:
        """Run axe-core on the page as it is now; record serious and critical violations."""
        if page.is_closed():
            return
        failing = not urlsplit(page.url).path.startswith(self.A11Y_REPORT_ONLY)
        self.problems.extend(self.a11y.check(page, step, failing=failing))

    def _on_response(self, response) -> None:
        if response.status >= 500:
            self.problems.append(f"HTTP {response.status} from {response.url}")
        elif response.status >= 400:
            # Not a failure by itself (error pages are visited on purpose),
            # but it names the URL behind a "Failed to load resource" error.
            self.client_errors.append(f"HTTP {response.status} from {response.url}")

    def _on_console(self, page, msg) -> None:
        if msg.type != "error":
            return
        for url, status in self.expected_failures:
            if page.url == url and f"status of {status} " in msg.text:
                return
        self.problems.append(f"console error on {page.url}: {msg.text}")

    def shot(self, page, name: str) -> Path:
        """Save a full-page screenshot under tests/e2e/artifacts/."""
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        # After the screenshot, so that it shows the state the test waited for.
        self.check_accessibility(page, f"shot {name}")
        return path

    def shoot_open_pages(self, prefix: str) -> None:
        """Screenshot every page still open (after a failure) and close them."""
        for index, page in enumerate(self.pages):
            if not page.is_closed():
                try:
                    page.screenshot(path=str(ARTIFACTS / f"{prefix}-{index}.png"), full_page=True)
                    page.context.close()
                except Exception:  # best effort after a failure
                    pass
        self.pages.clear()

    def close(self) -> None:
        try:
            self.a11y.write_report(ARTIFACTS / "a11y.json")
            self.browser.close()
        finally:
            self._pw.stop()
