"""The plugin's HTTP answers to errors: each status maps to one typed error, once, here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from integrations.canvas.exceptions import (
    ActionNotAllowed,
    ActionRejected,
    AlreadySigned,
    CanvasError,
    CanvasUnavailable,
    Forbidden,
    InvalidNoteId,
    NoteNotFound,
    NotNoteProvider,
    OutcomeUnknown,
    RateLimited,
    Unauthenticated,
    upstream_code,
)
from integrations.canvas.notes import UNREADABLE, state_not_allowed_message

# An upstream message is shown to a person only after trimming.
_MAX_UPSTREAM_MESSAGE = 300
_STATE_RE = re.compile(r"[A-Z]{2,4}", re.ASCII)


def error_body(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
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
    code = upstream_code(error["code"]) if "code" in error else ""
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    return code, message[:_MAX_UPSTREAM_MESSAGE].strip(), body


def _state_of(body: dict[str, Any]) -> str:
    state = body.get("state")
    if state is None and isinstance(body.get("error"), dict):
        state = body["error"].get("state")
    if isinstance(state, dict):
        state = state.get("code")
    return state if isinstance(state, str) and _STATE_RE.fullmatch(state) else ""


#: Statuses whose error depends on nothing but the status.
_BY_STATUS: dict[int, type[CanvasError]] = {
    400: InvalidNoteId,
    401: Unauthenticated,
    404: NoteNotFound,
}


def raise_for_status(response: requests.Response, *, is_action: bool) -> None:
    """Raise the typed error of a non-2xx answer (3xx included); return on a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    code, upstream_message, body = error_body(response)
    kwargs: dict[str, Any] = {"status": status}
    if code:
        kwargs["code"] = code
    simple = _BY_STATUS.get(status)
    if simple is not None:
        raise simple(**kwargs)
    if status == 403:
        raise NotNoteProvider(**kwargs) if code == NotNoteProvider.code else Forbidden(**kwargs)
    if status == 409:
        state = _state_of(body)
        if code == AlreadySigned.code:
            raise AlreadySigned(state=state, **kwargs)
        raise ActionNotAllowed(state_not_allowed_message(state), state=state, **kwargs)
    if status == 422:
        raise ActionRejected(upstream_message or None, **kwargs)
    if status == 429:
        raise RateLimited(retry_after=retry_after(response), **kwargs)
    if status == 504 and is_action:
        # A gateway gave up waiting: the action may have run behind it.
        raise OutcomeUnknown(**kwargs)
    raise CanvasUnavailable(**kwargs)


def retry_after(response: requests.Response) -> float | None:
    """Return a 429's Retry-After in seconds (delta-seconds or an HTTP date), if readable."""
    value = (response.headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return min(float(value), 3600.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), 3600.0)


def json_parse(response: requests.Response) -> Any:
    """Return a 2xx answer's JSON body; an unreadable body is CanvasUnavailable."""
    try:
        return response.json()
    except ValueError:  # HTML error pages, truncated bodies, empty bodies
        raise CanvasUnavailable(UNREADABLE, status=response.status_code) from None
