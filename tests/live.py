"""A real Canvas sandbox over HTTP for tests: `from tests.live import sandbox`.

`sandbox()` starts ONE sandbox per test process (a threaded `runserver`
subprocess on a free port with a temporary, migrated and seeded SQLite
database), stops it when the interpreter exits, and returns a `LiveSandbox`.
Tests that need other settings (a redirect URI, a short token lifetime,
PostgreSQL, several gunicorn workers) start their own with
`LiveSandbox.start(extra_env={...})` and `.stop()` it.

The server's output goes to a log file in the instance's temporary folder
(`.log_path`), never to the test output.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import html.parser
import json as json_module
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_CLIENT_ID = "canvas-note-portal-dev"
CONFIDENTIAL_CLIENT_ID = "canvas-note-portal-confidential"
CONFIDENTIAL_CLIENT_SECRET = "canvas-demo-secret"
DEMO_PASSWORD = "canvas-demo"
TEST_REDIRECT_URI = "http://testserver/canvas/callback/"
PLUGIN_PATH = "/plugin-io/api/note_sign_api"
TIMEOUT = (3.05, 30)
#: The `launch` parameter Canvas requires for staff authorization (the portal sends this).
LAUNCH = "e30="


class SandboxError(RuntimeError):
    """The live sandbox did not start, or answered a helper call unexpectedly."""


def pkce_pair() -> tuple[str, str]:
    """Return a fresh (code_verifier, S256 code_challenge) pair."""
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    """Return the S256 code challenge of `verifier`."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class _FormParser(html.parser.HTMLParser):
    """Collect the first form's hidden inputs (the consent page's fields)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._forms = 0
        self._in_target = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._in_target = values.get("id") == "authorizationForm"
        elif tag == "input" and self._in_target and values.get("type") == "hidden":
            self.fields[values.get("name", "")] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_target = False


class LiveSandbox:
    """One running sandbox process and helpers to drive it over HTTP."""

    client_id = PUBLIC_CLIENT_ID
    confidential_client_id = CONFIDENTIAL_CLIENT_ID
    client_secret = CONFIDENTIAL_CLIENT_SECRET
    password = DEMO_PASSWORD
    redirect_uri = TEST_REDIRECT_URI

    def __init__(
        self,
        *,
        base_url: str,
        process: subprocess.Popen,
        workdir: Path,
        env: dict[str, str],
        log_file: Any,
    ) -> None:
        """Wrap a started process (use `LiveSandbox.start()`)."""
        self.base_url = base_url
        self.process = process
        self.workdir = workdir
        self.env = env
        self.log_path = workdir / "sandbox.log"
        self._log_file = log_file
        self._on_stop: list[Any] = []
        self.http = requests.Session()

    # --- life cycle ---------------------------------------------------------
    @classmethod
    def start(
        cls,
        extra_env: dict[str, str] | None = None,
        *,
        database_url: str | None = None,
        workers: int | None = None,
        threads: int = 8,
        seed: bool = True,
        timeout: float = 60.0,
    ) -> LiveSandbox:
        """Start a sandbox on a free 127.0.0.1 port and wait until it answers.

        Default: a threaded `runserver` (no reloader) on a temporary SQLite
        database, migrated and seeded. `database_url` points it elsewhere
        (e.g. PostgreSQL); `workers` serves with gunicorn (gthread workers,
        `threads` each) instead, for multi-process runs. `extra_env` adds
        SANDBOX_* settings; SANDBOX_REDIRECT_URIS always includes
        http://testserver/canvas/callback/.
        """
        workdir = Path(tempfile.mkdtemp(prefix="canvas-sandbox-"))
        env = {key: value for key, value in os.environ.items() if not key.startswith("SANDBOX_")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "canvas_sandbox.settings",
                "PYTHONUNBUFFERED": "1",
                "SANDBOX_DATABASE_URL": database_url or f"sqlite:///{workdir / 'sandbox.sqlite3'}",
                "SANDBOX_LOG_LEVEL": "WARNING",
                # Plaintext token columns, so harnesses can list every issued
                # token (issued_tokens()) and look for leaks.
                "SANDBOX_HASH_TOKENS": "false",
            }
        )
        extra = dict(extra_env or {})
        uris = f"{TEST_REDIRECT_URI} {extra.pop('SANDBOX_REDIRECT_URIS', '')}".strip()
        env["SANDBOX_REDIRECT_URIS"] = uris
        env.update(extra)
        log_file = open(workdir / "sandbox.log", "ab")  # noqa: SIM115 - closed by stop()
        last_error: SandboxError | None = None
        if workers:
            # gunicorn only serves: prepare the database first, once.
            for command in (["migrate", "--no-input", "-v", "0"], ["seed"] if seed else []):
                if (
                    command
                    and subprocess.run(
                        [sys.executable, "-m", "canvas_sandbox", *command],
                        cwd=ROOT,
                        env=env,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        timeout=300,
                        check=False,
                    ).returncode
                ):
                    log_file.close()
                    log = (workdir / "sandbox.log").read_text(errors="replace")[-4000:]
                    raise SandboxError(f"`{' '.join(command)}` failed:\n{log}")
        for _attempt in range(3):
            port = free_port()
            if workers:
                args = [
                    sys.executable, "-m", "gunicorn", "canvas_sandbox.wsgi:application",
                    "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                    "--worker-class", "gthread", "--threads", str(threads),
                    "--log-level", "warning",
                ]  # fmt: skip
            else:
                args = [sys.executable, "-m", "canvas_sandbox", "serve", f"127.0.0.1:{port}"]
                if not seed:
                    args.append("--no-seed")
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
            instance = cls(
                base_url=f"http://127.0.0.1:{port}",
                process=process,
                workdir=workdir,
                env=env,
                log_file=log_file,
            )
            try:
                instance._wait_ready(timeout)
            except SandboxError as error:
                last_error = error
                instance._terminate()
                continue
            atexit.register(instance.stop)
            return instance
        log_file.close()
        raise last_error or SandboxError("The sandbox did not start.")

    @classmethod
    def start_on_postgres(cls, server_url: str, **kwargs: Any) -> LiveSandbox:
        """Start a sandbox on a fresh PostgreSQL database, dropped again at stop().

        `server_url` is any postgres:// URL on the server to use (its database
        name is replaced); `kwargs` go to `start()` (e.g. `workers=2`).
        """
        import psycopg

        name = f"canvas_sandbox_test_{os.getpid()}_{secrets.token_hex(3)}"
        parts = urlsplit(server_url)
        admin_url = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        try:
            instance = cls.start(database_url=parts._replace(path=f"/{name}").geturl(), **kwargs)
        except BaseException:
            drop()
            raise
        instance._on_stop.append(drop)
        return instance

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(f"The sandbox exited early; see {self.log_path}:\n{self.log()}")
            try:
                if self.http.get(self.url("/healthz"), timeout=(0.5, 2)).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)  # bounded polling for the server to start
        raise SandboxError(f"The sandbox did not answer within {timeout}s; see {self.log_path}")

    def _terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def stop(self) -> None:
        """Stop the server and delete its temporary folder (database and log)."""
        self._terminate()
        self.http.close()
        if not self._log_file.closed:
            self._log_file.close()
        while self._on_stop:
            self._on_stop.pop()()
        if not os.environ.get("SANDBOX_KEEP_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self, tail: int = 4000) -> str:
        """Return the end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def issued_tokens(self) -> set[str]:
        """Return every access and refresh token this sandbox still stores (for leak checks).

        Needs plaintext token storage (SANDBOX_HASH_TOKENS=false, the default here).
        """
        script = (
            "import django, json; django.setup(); "
            "from oauth2_provider.models import AccessToken, RefreshToken; "
            "print(json.dumps([t for m in (AccessToken, RefreshToken) "
            "for t in m.objects.values_list('token', flat=True) if t]))"
        )
        result = subprocess.run(
            [sys.executable, "-c", f"import canvas_sandbox; {script}"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise SandboxError(f"Could not list tokens: {result.stderr[-2000:]}")
        return set(json_module.loads(result.stdout))

    def run_command(self, *args: str) -> subprocess.CompletedProcess:
        """Run `python -m canvas_sandbox <args>` against this instance's database."""
        return subprocess.run(
            [sys.executable, "-m", "canvas_sandbox", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # --- URLs ---------------------------------------------------------------
    def url(self, path: str) -> str:
        """Return the absolute URL of a sandbox path."""
        return urljoin(self.base_url + "/", path.lstrip("/"))

    @property
    def authorize_url(self) -> str:
        """The OAuth authorization endpoint."""
        return self.url("/auth/authorize/")

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return self.url("/auth/token/")

    @property
    def revoke_url(self) -> str:
        """The OAuth revocation endpoint (RFC 7009)."""
        return self.url("/auth/revoke_token/")

    @property
    def api_url(self) -> str:
        """The plugin API root, without a trailing slash (under SANDBOX_PLUGIN_NAME if set)."""
        name = self.env.get("SANDBOX_PLUGIN_NAME")
        return self.url(f"/plugin-io/api/{name}" if name else PLUGIN_PATH)

    # --- plugin API and OAuth -----------------------------------------------
    def api(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """Call the plugin API (`path` like "/notes"), with a bearer token if given."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", TIMEOUT)
        return self.http.request(method, self.api_url + path, headers=headers, **kwargs)

    def authorize_redirect(
        self,
        *,
        username: str = "provider",
        password: str = DEMO_PASSWORD,
        redirect_uri: str = TEST_REDIRECT_URI,
        code_challenge: str | None = None,
        state: str = "test-state",
        scope: str = "offline_access",
        client_id: str | None = None,
        code_challenge_method: str | None = "S256",
        allow: bool = True,
        launch: str | None = LAUNCH,
    ) -> str:
        """Sign in and answer the consent page over HTTP; return the final redirect URL.

        Omitted challenge/method/launch parameters (None) are left out of the
        request (to test refusals). The returned URL is the client's redirect
        URI with `code` and `state`, or with `error` when the server refused.
        """
        params = {
            "response_type": "code",
            "client_id": client_id or self.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
        }
        if launch is not None:
            params["launch"] = launch
        if code_challenge is not None:
            params["code_challenge"] = code_challenge
        if code_challenge_method is not None:
            params["code_challenge_method"] = code_challenge_method
        browser = requests.Session()
        try:
            response = browser.get(
                self.authorize_url, params=params, allow_redirects=False, timeout=TIMEOUT
            )
            authorize_page = response.url
            if response.status_code == 302 and "/login/" in response.headers["Location"]:
                login_url = urljoin(self.base_url, response.headers["Location"])
                browser.get(login_url, timeout=TIMEOUT)
                next_url = parse_qs(urlsplit(login_url).query).get("next", [""])[0]
                response = browser.post(
                    self.url("/login/"),
                    data={
                        "username": username,
                        "password": password,
                        "next": next_url,
                        "csrfmiddlewaretoken": browser.cookies.get("sandbox_csrftoken", ""),
                    },
                    allow_redirects=False,
                    timeout=TIMEOUT,
                )
                if response.status_code != 302:
                    raise SandboxError(f"Sign-in as {username!r} failed ({response.status_code}).")
                authorize_page = urljoin(self.base_url, response.headers["Location"])
                response = browser.get(authorize_page, allow_redirects=False, timeout=TIMEOUT)
            if response.status_code == 302:
                return response.headers["Location"]
            if response.status_code != 200:
                raise SandboxError(f"The authorize page answered {response.status_code}.")
            parser = _FormParser()
            parser.feed(response.text)
            if not parser.fields:
                raise SandboxError("The authorize page showed no consent form (an error page).")
            data = dict(parser.fields)
            if allow:
                data["allow"] = "Authorize"
            response = browser.post(
                authorize_page,
                data=data,
                headers={"Referer": authorize_page},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            if response.status_code != 302:
                raise SandboxError(f"The consent form answered {response.status_code}.")
            return response.headers["Location"]
        finally:
            browser.close()

    def authorize_code(
        self,
        *,
        username: str = "provider",
        password: str = DEMO_PASSWORD,
        redirect_uri: str = TEST_REDIRECT_URI,
        code_challenge: str,
        state: str = "test-state",
        scope: str = "offline_access",
        client_id: str | None = None,
    ) -> str:
        """Return an authorization code for `username` (S256 challenge), checking `state`."""
        location = self.authorize_redirect(
            username=username,
            password=password,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            state=state,
            scope=scope,
            client_id=client_id,
        )
        query = parse_qs(urlsplit(location).query)
        if "code" not in query:
            raise SandboxError(f"No code in the redirect: {query.get('error')}")
        if query.get("state") != [state]:
            raise SandboxError("The redirect's state does not match.")
        return query["code"][0]

    def exchange_code(
        self,
        *,
        code: str,
        code_verifier: str,
        redirect_uri: str = TEST_REDIRECT_URI,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> requests.Response:
        """POST the authorization_code grant to /auth/token/ and return the response."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": code_verifier,
            "redirect_uri": redirect_uri,
            "client_id": client_id or self.client_id,
        }
        if client_secret is not None:
            data["client_secret"] = client_secret
        return self.http.post(self.token_url, data=data, timeout=TIMEOUT)

    def refresh(
        self,
        refresh_token: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = "offline_access",
    ) -> requests.Response:
        """POST the refresh_token grant to /auth/token/ and return the response.

        `scope` is sent as Canvas requires (None leaves it out: invalid_scope).
        """
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id or self.client_id,
        }
        if scope is not None:
            data["scope"] = scope
        if client_secret is not None:
            data["client_secret"] = client_secret
        return self.http.post(self.token_url, data=data, timeout=TIMEOUT)

    def tokens_for(self, username: str = "provider") -> dict[str, Any]:
        """Run the whole code flow (sign-in, consent, exchange) and return the token JSON."""
        verifier, challenge = pkce_pair()
        code = self.authorize_code(username=username, code_challenge=challenge)
        response = self.exchange_code(code=code, code_verifier=verifier)
        if response.status_code != 200:
            raise SandboxError(f"Code exchange answered {response.status_code}: {response.text}")
        return response.json()

    # --- control API --------------------------------------------------------
    def control(self, method: str, path: str, json: Any = None) -> Any:
        """Call the control API (`path` like "faults") and return its JSON; raise on 4xx/5xx."""
        response = self.http.request(
            method,
            self.url(f"/sandbox/control/{path.lstrip('/')}"),
            json=json,
            headers={"X-Sandbox-Control": "1"},
            timeout=TIMEOUT,
        )
        if response.status_code >= 400:
            raise SandboxError(f"control {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def issue_tokens(self, username: str, *, expires_in: int | None = None) -> dict[str, Any]:
        """Mint a real token pair for `username` (optionally already expired)."""
        body: dict[str, Any] = {"username": username}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self.control("POST", "tokens", body)

    def create_note(
        self, *, state: str, kind: str | None = None, provider: str = "provider", **kw: Any
    ) -> dict[str, Any]:
        """Create a note and return its summary.

        kind: encounter, encounter_nosig, appointment, inpatient, data, letter,
        message; or, without kind, category= and is_sig_required= (any
        category). `kw`: supervising_provider (username; "" for none; default
        the provider's supervisor), patient, date, title, veto.
        """
        body = {"state": state, "provider": provider, **kw}
        if kind is not None:
            body["kind"] = kind
        return self.control("POST", "notes", body)

    def set_plugin_variables(self, **values: Any) -> dict[str, str]:
        """Set the installed plugin's variables (None: back to the environment's); return all."""
        return self.control("POST", "plugin-variables", values)["variables"]

    def set_canvas_settings(self, **values: Any) -> dict[str, bool]:
        """Set Canvas's own settings (restrict_signing_to_provider); return them."""
        return self.control("POST", "canvas-settings", values)["settings"]

    def add_to_care_team(self, patient: str, staff: str, status: str = "active") -> dict:
        """Put the staff user `staff` on the care team of the patient named `patient`."""
        return self.control(
            "POST", "care-team", {"patient": patient, "staff": staff, "status": status}
        )

    def note(self, note_id: str) -> dict[str, Any]:
        """Return a note's summary (no token needed; due effects land first)."""
        return self.control("GET", f"notes/{note_id}")

    def history(self, note_id: str) -> list[dict[str, Any]]:
        """Return a note's state history, oldest first: {"state", "action", "actor", "at"}."""
        return self.control("GET", f"notes/{note_id}/history")["history"]

    def effects(self, note_id: str) -> list[dict[str, Any]]:
        """Return the effects accepted for a note and their status (pending, applied, ...)."""
        return self.control("GET", f"notes/{note_id}/effects")["effects"]

    def veto(self, note_id: str, veto: bool = True) -> dict[str, Any]:
        """Make Canvas refuse (or stop refusing) lock and sign effects on a note."""
        return self.control("POST", f"notes/{note_id}/veto", {"veto": veto})

    def wait_for_effects(self, note_id: str, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Poll until none of the note's accepted effects is pending; return them."""
        deadline = time.monotonic() + timeout
        while True:
            effects = self.effects(note_id)
            if all(e["status"] != "pending" for e in effects) or time.monotonic() >= deadline:
                return effects
            time.sleep(0.05)  # bounded polling for a delayed effect

    def wait_for_state(self, note_id: str, code: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Poll the note until it is in `code` (delayed effects); return it or raise."""
        deadline = time.monotonic() + timeout
        while True:
            note = self.note(note_id)
            if note["state"]["code"] == code or time.monotonic() >= deadline:
                break
            time.sleep(0.05)  # bounded polling for a delayed effect
        if note["state"]["code"] != code:
            raise SandboxError(f"note {note_id} is {note['state']['code']}, not {code}")
        return note

    def add_command(
        self, note_id: str, schema_key: str, *, data: dict | None = None, **kw: Any
    ) -> dict[str, Any]:
        """Add a command to a note's content (kw: state, originator); return the content."""
        body = {"schema_key": schema_key, "data": data or {}, **kw}
        return self.control("POST", f"notes/{note_id}/commands", body)

    def content(self, note_id: str) -> dict[str, Any]:
        """Return a note's content (its commands) without a token."""
        return self.control("GET", f"notes/{note_id}/commands")

    def set_faults(self, **kw: Any) -> dict[str, Any]:
        """Replace the fault settings and return them.

        Missing keys: 0/false/503/1, and effect_delay_ms the environment's
        SANDBOX_EFFECT_DELAY_MS. Also effect_reject_rate (0..1).
        """
        return self.control("POST", "faults", kw)

    def reset_faults(self) -> dict[str, Any]:
        """Put the fault settings back to the defaults."""
        return self.control("POST", "reset-faults")

    def stats(self) -> dict[str, Any]:
        """Return the request counts."""
        return self.control("GET", "stats")

    def reset_stats(self) -> dict[str, Any]:
        """Zero the request counts."""
        return self.control("POST", "reset-stats")

    def revoke_user(self, username: str) -> dict[str, Any]:
        """Revoke every token of `username`."""
        return self.control("POST", "revoke", {"username": username})


_shared: LiveSandbox | None = None
_lock = threading.Lock()


def sandbox() -> LiveSandbox:
    """Return this test process's shared sandbox, starting it on first use."""
    global _shared
    with _lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = LiveSandbox.start()
        return _shared
