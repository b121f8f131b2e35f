"""The one HTTP session policy for every call to Canvas.

Thread safety, decided once: one `requests.Session` per process, shared by
every thread (gunicorn's threads, the task worker's bulk threads), so
connections to Canvas are pooled and reused. That is safe because the
session is never changed after it is built and holds no per-call state:
cookies are refused (a cookie jar is the mutable part of a Session), the
token, timeouts and parameters travel with each call, and urllib3's
connection pool hands each connection to one thread at a time.
`tests/integrations/test_http.py` hammers it from many threads.

Every call has a (connect, read) timeout and never follows a redirect. A
GET whose pooled keep-alive connection was dropped by the server is sent
once more on a fresh connection; nothing else is ever resent (an action or
a token request is not idempotent).

Every call's time is recorded (`portal_canvas_request_seconds`) under its
route template: the URL's path with ids replaced, never a note id.
"""

from __future__ import annotations

import http.cookiejar
import logging
import os
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth
import requests.utils
from django.core.signals import setting_changed
from django.dispatch import receiver
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
)

from integrations.canvas.settings import PREFIX, canvas_settings
from observability import metrics

logger = logging.getLogger(__name__)

USER_AGENT = "canvas-note-portal/0.1"


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Refuse every cookie: Canvas's API is stateless, and the jar is shared."""

    def set_ok(self, cookie, request) -> bool:
        return False


class BearerAuth(requests.auth.AuthBase):
    """Send an access token as a bearer token (and keep it out of reprs)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth ***>"


class TransportError(Exception):
    """No HTTP answer came back. Never leaves the integration package.

    `sent`: the request may have reached Canvas (so a POST may have acted).
    `read_timeout`: the request was sent and the answer did not come in time.
    """

    def __init__(self, kind: str, *, sent: bool, read_timeout: bool = False) -> None:
        self.kind, self.sent, self.read_timeout = kind, sent, read_timeout
        super().__init__(kind)


def session_build() -> requests.Session:
    """Return a new session with the policy above (for the process, or a test).

    The environment is read once, here, not on every call (`trust_env` off):
    an egress proxy (HTTPS_PROXY, NO_PROXY) and a CA bundle
    (REQUESTS_CA_BUNDLE) still apply, ~/.netrc never adds credentials, and
    each call saves requests' scan of the environment.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(canvas_settings.BASE_URL))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    session.cookies.set_policy(_NoCookies())
    # max_retries=0: urllib3 never resends anything behind our back.
    adapter = HTTPAdapter(
        pool_connections=4, pool_maxsize=canvas_settings.HTTP_POOL_SIZE, max_retries=0
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
    return session


_session: requests.Session | None = None
_session_lock = threading.Lock()


def session_get() -> requests.Session:
    """Return the process-wide session (built on first use)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                _session = session_build()
    return _session


def session_reset() -> None:
    """Close the process-wide session; the next call builds a new one."""
    global _session
    with _session_lock:
        old, _session = _session, None
    if old is not None:
        old.close()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    # The session's policy comes from the settings: a changed CANVAS_* setting
    # (override_settings in tests) drops it, and the next call builds a new one.
    if setting.startswith(PREFIX):
        session_reset()


def _reason(exc: requests.ConnectionError) -> Any:
    reason = exc.args[0] if exc.args else None
    return reason.reason if isinstance(reason, MaxRetryError) else reason


def _nothing_was_sent(exc: requests.ConnectionError) -> bool:
    """Return whether a connection error happened before the request left."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    return isinstance(_reason(exc), NewConnectionError | ConnectTimeoutError)


def _connection_dropped(exc: requests.ConnectionError) -> bool:
    """Return whether the server closed a reused keep-alive connection instead of answering."""
    return isinstance(_reason(exc), ProtocolError)


#: A path segment that may be an id (a UUID, a number, a token-like value).
_ID_SEGMENT = re.compile(r".*\d.*|.{41,}")


def endpoint_template(url: str) -> str:
    """Return `url`'s path with every segment that may be an id replaced by `{id}`."""
    segments = urlsplit(url).path.split("/")
    return "/".join("{id}" if _ID_SEGMENT.fullmatch(s) else s for s in segments) or "/"


def request(
    method: str,
    url: str,
    *,
    session: requests.Session | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one request to Canvas under the policy; raise TransportError without an answer."""
    session = session or session_get()
    kwargs.update(timeout=canvas_settings.timeouts, allow_redirects=False)
    started = time.perf_counter()
    status: int | str = "no_answer"
    try:
        response = _send(session, method, url, **kwargs)
        status = response.status_code
        return response
    except TransportError as exc:
        status = "timeout" if exc.read_timeout else "no_answer"
        raise
    finally:
        metrics.canvas_request_observe(
            endpoint=endpoint_template(url),
            method=method,
            status=status,
            seconds=time.perf_counter() - started,
        )


def _send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    try:
        try:
            return session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            if method != "GET" or not _connection_dropped(exc):
                raise
            logger.info("Canvas GET: pooled connection dropped; sending it once more")
            return session.request(method, url, **kwargs)
    except requests.ReadTimeout:
        raise TransportError("read timeout", sent=True, read_timeout=True) from None
    except requests.ConnectionError as exc:
        raise TransportError(type(exc).__name__, sent=not _nothing_was_sent(exc)) from None
    except requests.RequestException as exc:
        raise TransportError(type(exc).__name__, sent=False) from None
