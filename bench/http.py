"""HTTP clients of the bench: a signed-in portal user, direct plugin calls, the control API.

Every call has a (connect, read) timeout and only ever goes to 127.0.0.1.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests

PLUGIN_PATH = "/plugin-io/api/note_sign_api"
CONNECT_TIMEOUT = 3.05
# gunicorn closes an idle keep-alive connection after 2 s (its default); a
# request sent on it at that moment is lost before the portal sees it. A
# browser resends such a request; this client reconnects after 1 s idle.
IDLE_RECONNECT_S = 1.0
_TAGS = re.compile(r"<[^>]+>")
# The "in flight" fragment an accepted action answers with follows its attempt here.
_ATTEMPT_URL = re.compile(r'hx-get="[^"]*/notes/attempts/(\d+)/')
#: The status htmx stops polling on: the attempt is settled.
SETTLED = 286


@dataclass
class Result:
    """One call as the bench saw it."""

    ms: float
    status: int
    ok: bool
    level: str = ""
    message: str = ""
    text: str = field(default="", repr=False)
    #: The attempt an accepted action is now following (its "in flight" fragment).
    attempt_id: int | None = None
    #: Where a redirect pointed (the Location header), "" for none.
    location: str = ""

    @property
    def failed(self) -> bool:
        return not self.ok


def _visible_text(body: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", body)).split())


def attempt_id_in(body: str) -> int | None:
    """Return the attempt id an "in flight" fragment polls, or None for any other body."""
    match = _ATTEMPT_URL.search(body)
    return int(match.group(1)) if match else None


def toast_of(header: str | None) -> tuple[str, str]:
    """Return (level, message) of the toast in an HX-Trigger header, or ("", "")."""
    if not header:
        return "", ""
    try:
        toast = json.loads(header).get("toast") or {}
        return str(toast.get("level", "")), str(toast.get("message", ""))
    except (ValueError, AttributeError):
        return "", ""


def _describe(exc: Exception) -> str:
    """Name a client-side failure without the URL (which holds the note id)."""
    inner = exc.args[0] if exc.args else ""
    reason = getattr(inner, "reason", inner)
    return f"{type(exc).__name__}: {type(reason).__name__} {str(reason)[:80]}".strip()


class Control:
    """The sandbox's control API (faults, stats, tokens, notes)."""

    def __init__(self, base_url: str, *, timeout: float = 20.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.timeout = (CONNECT_TIMEOUT, timeout)

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.session.request(
            method,
            f"{self.base_url}/sandbox/control/{path}",
            json=payload,
            headers={"X-Sandbox-Control": "1"},
            timeout=self.timeout,
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"control {method} {path}: {response.status_code} {response.text[:200]}"
            )
        return response.json()

    def set_faults(self, **values: Any) -> dict:
        """Replace the fault settings (missing keys go back to 0/false/503/1)."""
        return self.call("POST", "faults", values)

    def reset_faults(self) -> dict:
        return self.call("POST", "reset-faults")

    def stats(self) -> dict:
        return self.call("GET", "stats")

    def reset_stats(self) -> dict:
        return self.call("POST", "reset-stats")

    def tokens(self, username: str, *, expires_in: int | None = None) -> dict:
        payload: dict[str, Any] = {"username": username}
        if expires_in is not None:
            payload["expires_in"] = expires_in
        return self.call("POST", "tokens", payload)

    def create_note(self, *, state: str, kind: str, provider: str, **extra: Any) -> dict:
        return self.call(
            "POST", "notes", {"state": state, "kind": kind, "provider": provider, **extra}
        )

    def note_state(self, note_id: str) -> str:
        return self.call("GET", f"notes/{note_id}")["state"]["code"]

    def effects(self, note_id: str) -> list[dict[str, Any]]:
        """Return the effects Canvas accepted for a note and their fate (pending, applied, ...)."""
        return self.call("GET", f"notes/{note_id}/effects")["effects"]


class Direct:
    """Call the plugin API directly with a bearer token (the baseline)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 20.0) -> None:
        self.api = base_url.rstrip("/") + PLUGIN_PATH
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = (CONNECT_TIMEOUT, timeout)

    def me(self) -> dict:
        response = self.session.get(f"{self.api}/me", timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def action(self, note_id: str, action: str) -> Result:
        started = time.perf_counter()
        response = self.session.post(f"{self.api}/notes/{note_id}/{action}", timeout=self.timeout)
        ms = (time.perf_counter() - started) * 1000
        return Result(ms=ms, status=response.status_code, ok=response.status_code == 202)

    def note(self, note_id: str) -> Result:
        started = time.perf_counter()
        response = self.session.get(f"{self.api}/notes/{note_id}", timeout=self.timeout)
        ms = (time.perf_counter() - started) * 1000
        return Result(ms=ms, status=response.status_code, ok=response.status_code == 200)


class PortalUser:
    """One signed-in portal user: a requests.Session with a real login and CSRF."""

    def __init__(self, base_url: str, username: str, *, timeout: float = 20.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.session = requests.Session()
        self.timeout = (CONNECT_TIMEOUT, timeout)
        self._last_used = 0.0

    def _connection_ready(self) -> None:
        """Start on a new connection if the pooled one sat idle near gunicorn's 2 s keep-alive."""
        now = time.monotonic()
        if now - self._last_used > IDLE_RECONNECT_S:
            self.session.close()
        self._last_used = now

    def login(self, password: str) -> None:
        """Sign in through /accounts/login/ like a browser; raise RuntimeError if refused."""
        url = f"{self.base_url}/accounts/login/"
        self.session.get(url, timeout=self.timeout).raise_for_status()
        response = self.session.post(
            url,
            data={
                "username": self.username,
                "password": password,
                "csrfmiddlewaretoken": self.csrf_token(),
            },
            headers={"Referer": url},
            timeout=self.timeout,
            allow_redirects=False,
        )
        if response.status_code != 302 or "portal_session" not in self.session.cookies:
            raise RuntimeError(f"sign-in of {self.username} failed: HTTP {response.status_code}")

    def clone(self) -> PortalUser:
        """Return another client on the same portal session (its own TCP connection)."""
        other = PortalUser(self.base_url, self.username, timeout=self.timeout[1])
        other.session.cookies.update(self.session.cookies)
        return other

    def fresh_connections(self) -> None:
        """Drop pooled keep-alive connections (the cookies stay).

        gunicorn closes an idle keep-alive connection after 2 s; a request
        sent on it just then fails before the portal sees it. A browser
        retries such a request on a new connection; this client instead
        starts each burst that follows a pause on new connections.
        """
        self.session.close()

    def csrf_token(self) -> str:
        return self.session.cookies.get("portal_csrftoken", "")

    def action(self, note_id: str, action: str) -> Result:
        """POST an action the way the worklist's htmx button does."""
        url = f"{self.base_url}/notes/{note_id}/{action}/"
        self._connection_ready()
        started = time.perf_counter()
        try:
            response = self.session.post(
                url,
                data={"view": "row", "next": "/notes/"},
                headers={
                    "HX-Request": "true",
                    "HX-Current-URL": f"{self.base_url}/notes/",
                    "X-CSRFToken": self.csrf_token(),
                    "Referer": f"{self.base_url}/notes/",
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            ms = (time.perf_counter() - started) * 1000
            return Result(ms=ms, status=0, ok=False, level="client", message=_describe(exc))
        finally:
            self._last_used = time.monotonic()
        ms = (time.perf_counter() - started) * 1000
        level, message = toast_of(response.headers.get("HX-Trigger"))
        # Accepted (or sent without an answer): the "in flight" fragment, no toast,
        # following the attempt until the worker settles it. A refusal has a toast.
        attempt_id = attempt_id_in(response.text) if response.status_code == 200 else None
        ok = response.status_code == 200 and (attempt_id is not None or level == "success")
        return Result(
            ms=ms,
            status=response.status_code,
            ok=ok,
            level=level,
            message=message,
            text=response.text,
            attempt_id=attempt_id,
        )

    def attempt(self, attempt_id: int) -> Result:
        """Poll an attempt as its "in flight" fragment does: 204 in flight, 286 settled + toast."""
        self._connection_ready()
        started = time.perf_counter()
        try:
            response = self.session.get(
                f"{self.base_url}/notes/attempts/{attempt_id}/",
                params={"view": "row"},
                headers={"HX-Request": "true", "HX-Current-URL": f"{self.base_url}/notes/"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            ms = (time.perf_counter() - started) * 1000
            return Result(ms=ms, status=0, ok=False, level="client", message=_describe(exc))
        finally:
            self._last_used = time.monotonic()
        ms = (time.perf_counter() - started) * 1000
        level, message = toast_of(response.headers.get("HX-Trigger"))
        return Result(
            ms=ms,
            status=response.status_code,
            ok=response.status_code in (204, SETTLED),
            level=level,
            message=message,
            text=response.text,
            attempt_id=attempt_id,
        )

    def form_post(self, path: str, data: dict[str, Any], *, referer: str = "/notes/") -> Result:
        """POST a form as the browser does (CSRF field, no htmx); redirects are not followed.

        ok: 200 (a page) or 302 (a redirect, its target in `location`).
        """
        self._connection_ready()
        started = time.perf_counter()
        try:
            response = self.session.post(
                f"{self.base_url}{path}",
                data={**data, "csrfmiddlewaretoken": self.csrf_token()},
                headers={"Referer": f"{self.base_url}{referer}"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            ms = (time.perf_counter() - started) * 1000
            return Result(ms=ms, status=0, ok=False, level="client", message=_describe(exc))
        finally:
            self._last_used = time.monotonic()
        ms = (time.perf_counter() - started) * 1000
        return Result(
            ms=ms,
            status=response.status_code,
            ok=response.status_code in (200, 302),
            text=response.text,
            location=response.headers.get("Location", ""),
        )

    def run_progress(self, run_id: int) -> Result:
        """Poll a bulk run's progress panel as its page does: 200 while going, 286 finished."""
        self._connection_ready()
        started = time.perf_counter()
        try:
            response = self.session.get(
                f"{self.base_url}/notes/runs/{run_id}/progress/",
                headers={
                    "HX-Request": "true",
                    "HX-Current-URL": f"{self.base_url}/notes/runs/{run_id}/",
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            ms = (time.perf_counter() - started) * 1000
            return Result(ms=ms, status=0, ok=False, level="client", message=_describe(exc))
        finally:
            self._last_used = time.monotonic()
        ms = (time.perf_counter() - started) * 1000
        return Result(
            ms=ms,
            status=response.status_code,
            ok=response.status_code in (200, SETTLED),
            text=response.text,
        )

    def page(self, path: str, *, error_texts: list[str]) -> Result:
        """GET a page; it failed if the status is not 200 or it shows a known error message."""
        self._connection_ready()
        started = time.perf_counter()
        try:
            response = self.session.get(
                f"{self.base_url}{path}", timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            ms = (time.perf_counter() - started) * 1000
            return Result(ms=ms, status=0, ok=False, level="client", message=_describe(exc))
        finally:
            self._last_used = time.monotonic()
        ms = (time.perf_counter() - started) * 1000
        text = _visible_text(response.text)
        shown = next((m for m in error_texts if m in text), "")
        return Result(
            ms=ms,
            status=response.status_code,
            ok=response.status_code == 200 and not shown,
            message=shown,
            text=response.text,
        )
