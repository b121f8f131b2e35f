"""The HTTP client of the note_sign_api plugin: the only module that imports requests.

One `PluginClient` per process (`get_client()`) over one `requests.Session`,
so connections to Canvas are pooled and reused. Every call has a connect and
a read timeout (notes.conf), never follows redirects, never retries, and
returns parsed, shape-checked data or raises a `notes.exceptions` error:
`requests` exceptions never leave this module. Tokens are sent in the
Authorization header only and never logged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import requests
import requests.auth
from django.utils.dateparse import parse_datetime
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
)

from notes import conf
from notes.constants import ACTION_DONE, ACTIONS, STATE_LABELS
from notes.exceptions import (
    ActionNotAllowed,
    ActionRejected,
    CanvasUnavailable,
    Forbidden,
    InvalidNoteId,
    NoteNotFound,
    OutcomeUnknown,
    RateLimited,
    Unauthenticated,
)

logger = logging.getLogger(__name__)

USER_AGENT = "canvas-note-portal/0.1"
# An upstream message is shown to a person only after trimming.
_MAX_UPSTREAM_MESSAGE = 300
_UNREADABLE = "Canvas sent an answer the portal doesn't understand. Please try again later."


class _BearerAuth(requests.auth.AuthBase):
    """Send the access token as a bearer token (and keep it out of reprs)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<_BearerAuth ***>"


def _new_session() -> requests.Session:
    session = requests.Session()
    size = conf.pool_size()
    # max_retries=0: nothing is ever resent behind the caller's back (an
    # action is not idempotent).
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
    return session


def _nothing_was_sent(exc: requests.ConnectionError) -> bool:
    """Return whether a connection error happened before the request left.

    Only then is it safe to call a failed POST "unavailable" rather than
    "outcome unknown".
    """
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _connection_dropped(exc: requests.ConnectionError) -> bool:
    """Return whether the server closed the connection instead of answering.

    That is what a reused keep-alive connection looks like when the server
    timed it out a moment before; a refused or timed-out connect is not.
    """
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, ProtocolError)


def _error_body(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
    """Return (code, message, body) from a contract error body; tolerate any other body."""
    try:
        body = response.json()
    except ValueError:
        return "", "", {}
    if not isinstance(body, dict):
        return "", "", {}
    error = body.get("error")
    if not isinstance(error, dict):
        return "", "", body
    code = error.get("code") if isinstance(error.get("code"), str) else ""
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    return code, message[:_MAX_UPSTREAM_MESSAGE].strip(), body


def _state_of(body: dict[str, Any]) -> str:
    state = body.get("state")
    if state is None and isinstance(body.get("error"), dict):
        state = body["error"].get("state")
    if isinstance(state, dict):
        state = state.get("code")
    return state if isinstance(state, str) and len(state) <= 8 else ""


def _not_allowed_message(state: str, action: str | None) -> str:
    if not state:
        return ActionNotAllowed.default_message
    label = STATE_LABELS.get(state, state)
    if action in ACTION_DONE:
        return f"This note is {label}; it can't be {ACTION_DONE[action]}."
    return f"This note is {label}; that action isn't allowed."


def _raise_for_status(response: requests.Response, *, action: str | None) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    code, upstream_message, body = _error_body(response)
    kwargs: dict[str, Any] = {"status": status}
    if code:
        kwargs["code"] = code
    if status == 400:
        raise InvalidNoteId(**kwargs)
    if status == 401:
        raise Unauthenticated(**kwargs)
    if status == 403:
        raise Forbidden(**kwargs)
    if status == 404:
        raise NoteNotFound(**kwargs)
    if status == 409:
        state = _state_of(body)
        raise ActionNotAllowed(_not_allowed_message(state, action), state=state, **kwargs)
    if status == 422:
        raise ActionRejected(upstream_message or None, **kwargs)
    if status == 429:
        raise RateLimited(**kwargs)
    if status == 504 and action is not None:
        # A gateway gave up waiting: the action may have run behind it.
        raise OutcomeUnknown(**kwargs)
    raise CanvasUnavailable(**kwargs)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # HTML error pages, truncated bodies, empty bodies
        raise CanvasUnavailable(_UNREADABLE, status=response.status_code) from None


def _text(value: Any, *, required: bool = True) -> str:
    if isinstance(value, str):
        return value
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise CanvasUnavailable(_UNREADABLE)


def _named(value: Any) -> dict[str, str]:
    if value is None:
        return {"id": "", "name": ""}
    if not isinstance(value, dict):
        raise CanvasUnavailable(_UNREADABLE)
    return {
        "id": _text(value.get("id"), required=False),
        "name": _text(value.get("name"), required=False),
    }


def _summary_or_none(data: Any) -> dict[str, Any] | None:
    """Return the summary an action's answer carries, or None when it has none usable.

    The action itself succeeded either way: an unreadable summary only means
    the caller reads the note again.
    """
    if data is None:
        return None
    try:
        return _summary(data)
    except CanvasUnavailable:
        return None


def _summary(data: Any) -> dict[str, Any]:
    """Return a note summary with the shape the portal relies on, or raise."""
    if not isinstance(data, dict):
        raise CanvasUnavailable(_UNREADABLE)
    state = data.get("state")
    if not isinstance(state, dict) or not isinstance(state.get("code"), str):
        raise CanvasUnavailable(_UNREADABLE)
    code = state["code"]
    note_type = data.get("note_type") or {}
    allowed = data.get("allowed_actions") or []
    if not isinstance(note_type, dict) or not isinstance(allowed, list):
        raise CanvasUnavailable(_UNREADABLE)
    raw_dos = data.get("datetime_of_service")
    dos: datetime | None = None
    if isinstance(raw_dos, str) and raw_dos:
        try:
            dos = parse_datetime(raw_dos)
        except ValueError:
            dos = None
    try:
        # The id goes into the portal's URLs: only a real UUID is accepted.
        note_id = str(uuid.UUID(_text(data.get("id"))))
    except ValueError:
        raise CanvasUnavailable(_UNREADABLE) from None
    return {
        "id": note_id,
        "title": _text(data.get("title"), required=False),
        "datetime_of_service": dos,
        "state": {
            "code": code,
            "label": _text(state.get("label"), required=False) or STATE_LABELS.get(code, code),
        },
        "note_type": {
            "name": _text(note_type.get("name"), required=False),
            "category": _text(note_type.get("category"), required=False),
            "is_sig_required": bool(note_type.get("is_sig_required")),
        },
        "patient": _named(data.get("patient")),
        "provider": _named(data.get("provider")),
        # Only actions the portal knows, in its order.
        "allowed_actions": [a for a in ACTIONS if a in allowed],
    }


class PluginClient:
    """Call the note_sign_api plugin of the configured Canvas instance."""

    def __init__(self, *, session: requests.Session | None = None) -> None:
        self.session = session or _new_session()

    # -- endpoints --------------------------------------------------------

    def me(self, *, access_token: str) -> dict[str, Any]:
        """Return `{"user_id", "staff": {"id", "name"}}` for the token's user."""
        data = self._request("GET", "me", access_token=access_token)
        if not isinstance(data, dict) or not isinstance(data.get("staff"), dict):
            raise CanvasUnavailable(_UNREADABLE)
        staff = data["staff"]
        staff_id = _text(staff.get("id"))
        if not staff_id:
            raise CanvasUnavailable(_UNREADABLE)
        return {
            "user_id": _text(data.get("user_id"), required=False),
            "staff": {"id": staff_id, "name": _text(staff.get("name"), required=False)},
        }

    def note_list(
        self,
        *,
        access_token: str,
        state: list[str] | None = None,
        provider: str | None = None,
        patient: str | None = None,
        date: date | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Return `{"notes": [summary, ...], "next_cursor": str | None}`."""
        params: dict[str, str] = {"limit": str(int(limit))}
        if state:
            params["state"] = ",".join(state)
        if provider:
            params["provider"] = provider
        if patient:
            params["patient"] = patient
        if date:
            params["date"] = date if isinstance(date, str) else date.isoformat()
        if cursor:
            params["cursor"] = cursor
        data = self._request("GET", "notes", access_token=access_token, params=params)
        if not isinstance(data, dict) or not isinstance(data.get("notes"), list):
            raise CanvasUnavailable(_UNREADABLE)
        next_cursor = data.get("next_cursor")
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise CanvasUnavailable(_UNREADABLE)
        return {
            "notes": [_summary(item) for item in data["notes"]],
            "next_cursor": next_cursor or None,
        }

    def note_get(self, *, access_token: str, note_id: str) -> dict[str, Any]:
        """Return one note's summary."""
        path = f"notes/{quote(str(note_id), safe='')}"
        return _summary(self._request("GET", path, access_token=access_token))

    def note_action(self, *, access_token: str, note_id: str, action: str) -> dict[str, Any]:
        """Perform `action`; return `{"note_id", "action", "effects", "from_state", "note"}`.

        `note` is the note's summary after the action when the plugin sends
        one (an extension of the contract, see docs/plugin-api.md), else None.
        Never retried here: a read timeout raises OutcomeUnknown.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        path = f"notes/{quote(str(note_id), safe='')}/{action}"
        data = self._request("POST", path, access_token=access_token, action=action)
        if not isinstance(data, dict):
            raise OutcomeUnknown(_UNREADABLE)
        effects = data.get("effects") or []
        return {
            "note_id": _text(data.get("note_id"), required=False) or str(note_id),
            "action": _text(data.get("action"), required=False) or action,
            "effects": [e for e in effects if isinstance(e, str)]
            if isinstance(effects, list)
            else [],
            "from_state": _text(data.get("from_state"), required=False),
            "note": _summary_or_none(data.get("note")),
        }

    # -- plumbing ---------------------------------------------------------

    def _send(
        self, method: str, url: str, *, params: dict[str, str] | None, access_token: str
    ) -> requests.Response:
        return self.session.request(
            method,
            url,
            params=params,
            auth=_BearerAuth(access_token),
            timeout=conf.timeouts(),
            allow_redirects=False,
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        access_token: str,
        params: dict[str, str] | None = None,
        action: str | None = None,
    ) -> Any:
        url = conf.plugin_api_url() + path
        started = time.monotonic()
        try:
            try:
                response = self._send(method, url, params=params, access_token=access_token)
            except requests.ConnectionError as exc:
                # A pooled keep-alive connection the server closed just as we
                # reused it. A GET changes nothing, so it goes again once, on a
                # fresh connection; a POST never does (its outcome is unknown).
                if method != "GET" or not _connection_dropped(exc):
                    raise
                logger.info("Canvas GET /%s: pooled connection dropped; retrying once", path)
                response = self._send(method, url, params=params, access_token=access_token)
        except requests.ReadTimeout:
            logger.warning("Canvas %s /%s: read timeout", method, path)
            if method == "POST":
                raise OutcomeUnknown() from None
            raise CanvasUnavailable() from None
        except requests.ConnectionError as exc:
            sent = not _nothing_was_sent(exc)
            logger.warning("Canvas %s /%s: connection error (%s)", method, path, type(exc).__name__)
            if method == "POST" and sent:
                raise OutcomeUnknown() from None
            raise CanvasUnavailable() from None
        except requests.RequestException as exc:
            logger.warning("Canvas %s /%s: %s", method, path, type(exc).__name__)
            raise CanvasUnavailable() from None
        elapsed_ms = int((time.monotonic() - started) * 1000)
        level = logging.INFO if response.status_code < 400 else logging.WARNING
        logger.log(
            level, "Canvas %s /%s -> %s in %d ms", method, path, response.status_code, elapsed_ms
        )
        try:
            _raise_for_status(response, action=action)  # 3xx included: never followed
            return _json(response)
        finally:
            response.close()


_client: PluginClient | None = None
_client_lock = threading.Lock()


def get_client() -> PluginClient:
    """Return the process-wide client (one connection pool per process)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = PluginClient()
    return _client
