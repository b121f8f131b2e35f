"""The client of the note_sign_api plugin API (contract: docs/plugin-api.md).

Every call goes through `integrations.canvas.http` and returns parsed,
shape-checked data or raises an `integrations.canvas.exceptions` error. The
access token is sent in the Authorization header only and never logged.
The plugin decides what is allowed; this module only speaks its protocol.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import quote

import requests
from django.utils.dateparse import parse_datetime

from integrations.canvas import http
from integrations.canvas.exceptions import (
    ActionNotAllowed,
    ActionRejected,
    AlreadySigned,
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
from integrations.canvas.settings import canvas_settings

logger = logging.getLogger(__name__)

#: Note state codes and their Canvas labels.
STATE_LABELS: dict[str, str] = {
    "NEW": "Created",
    "PSH": "Pushed",
    "LKD": "Locked",
    "ULK": "Unlocked",
    "DLT": "Deleted",
    "RLK": "Relocked",
    "RST": "Restored",
    "RCL": "Recalled",
    "UND": "Undeleted",
    "DSC": "Discharged",
    "SGN": "Signed",
    "SCH": "Scheduling",
    "BKD": "Booked",
    "CVD": "Checked in",
    "CLD": "Cancelled",
    "NSW": "No show",
    "RVT": "Reverted",
    "CNF": "Confirmed",
}

#: The keys of `GET /notes/counts`, each a count of notes.
COUNT_KEYS = ("to_sign", "overdue", "open", "today")

# An upstream message is shown to a person only after trimming.
_MAX_UPSTREAM_MESSAGE = 300
_UNREADABLE = "Canvas sent an answer the portal doesn't understand. Please try again later."
# Canonical 8-4-4-4-12 hex only (ASCII, no braces or urn: prefix).
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_ACTION_RE = re.compile(r"[a-z_]{1,32}", re.ASCII)
_STATE_RE = re.compile(r"[A-Z]{2,4}", re.ASCII)


def note_id_parse(*, value: Any) -> uuid.UUID:
    """Return the UUID in `value` (surrounding spaces allowed) or raise InvalidNoteId.

    Runs before any upstream call: huge, non-ASCII or malformed ids never
    leave the portal.
    """
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidNoteId()
    text = value.strip().lower()
    if not _UUID_RE.fullmatch(text):
        raise InvalidNoteId()
    return uuid.UUID(text)


def state_not_allowed_message(state: str) -> str:
    """Return the sentence for a 409 on a note in `state` (any action)."""
    if not state:
        return ActionNotAllowed.default_message
    return f"This note is {STATE_LABELS.get(state, state)}; that action isn't allowed."


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


def _raise_for_status(response: requests.Response, *, is_action: bool) -> None:
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
        raise NotNoteProvider(**kwargs) if code == NotNoteProvider.code else Forbidden(**kwargs)
    if status == 404:
        raise NoteNotFound(**kwargs)
    if status == 409:
        state = _state_of(body)
        if code == AlreadySigned.code:
            raise AlreadySigned(state=state, **kwargs)
        raise ActionNotAllowed(state_not_allowed_message(state), state=state, **kwargs)
    if status == 422:
        raise ActionRejected(upstream_message or None, **kwargs)
    if status == 429:
        raise RateLimited(retry_after=_retry_after(response), **kwargs)
    if status == 504 and is_action:
        # A gateway gave up waiting: the action may have run behind it.
        raise OutcomeUnknown(**kwargs)
    raise CanvasUnavailable(**kwargs)


def _retry_after(response: requests.Response) -> float | None:
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


def _when(value: Any) -> datetime | None:
    """Return an ISO date-time with its offset as an aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _state(value: Any) -> dict[str, str]:
    """Return `{"code", "label"}` of a state object, or raise CanvasUnavailable."""
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        raise CanvasUnavailable(_UNREADABLE)
    code = value["code"]
    return {
        "code": code,
        "label": _text(value.get("label"), required=False) or STATE_LABELS.get(code, code),
    }


def summary_parse(data: Any) -> dict[str, Any]:
    """Return a note summary with the shape the portal relies on, or raise CanvasUnavailable."""
    if not isinstance(data, dict):
        raise CanvasUnavailable(_UNREADABLE)
    state = _state(data.get("state"))
    note_type = data.get("note_type") or {}
    allowed = data.get("allowed_actions") or []
    if not isinstance(note_type, dict) or not isinstance(allowed, list):
        raise CanvasUnavailable(_UNREADABLE)
    try:
        # The id goes into the portal's URLs: only a real UUID is accepted.
        note_id = str(uuid.UUID(_text(data.get("id"))))
    except ValueError:
        raise CanvasUnavailable(_UNREADABLE) from None
    return {
        "id": note_id,
        "title": _text(data.get("title"), required=False),
        "datetime_of_service": _when(data.get("datetime_of_service")),
        "state": {
            **state,
            "changed_at": _when(data["state"].get("changed_at")),
            "changed_by": _text(data["state"].get("changed_by"), required=False),
        },
        "note_type": {
            "name": _text(note_type.get("name"), required=False),
            "category": _text(note_type.get("category"), required=False),
            "is_sig_required": bool(note_type.get("is_sig_required")),
        },
        "patient": _named(data.get("patient")),
        "provider": _named(data.get("provider")),
        "supervising_provider": (
            _named(data["supervising_provider"]) if data.get("supervising_provider") else None
        ),
        # As sent; the portal keeps the actions it knows.
        "allowed_actions": [a for a in allowed if isinstance(a, str)],
    }


class PluginClient:
    """Call the note_sign_api plugin of the configured Canvas instance."""

    def __init__(self, *, session: requests.Session | None = None) -> None:
        self.session = session

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
        queue: str | None = None,
        state: list[str] | None = None,
        provider: str | None = None,
        patient: str | None = None,
        date: date | str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        """Return `{"notes": [summary, ...], "next_cursor": str | None, "count": int | None}`.

        `count` is the total matching (contract v2), None from a plugin that
        does not send it. `date_from`/`date_to` (aware) ask for a date of
        service in [from, to): a clinic's own day, whatever its zone.
        `order` is `"oldest"` (date of service oldest first) or `"newest"`
        (the plugin's default); a cursor is only good with the order it came
        from (another answers 400 `invalid_cursor`).
        """
        params: dict[str, str] = {"limit": str(int(limit))}
        if queue:
            params["queue"] = queue
        if state:
            params["state"] = ",".join(state)
        if provider:
            params["provider"] = provider
        if patient:
            params["patient"] = patient
        if date:
            params["date"] = date if isinstance(date, str) else date.isoformat()
        if date_from is not None:
            params["from"] = date_from.isoformat()
        if date_to is not None:
            params["to"] = date_to.isoformat()
        if cursor:
            params["cursor"] = cursor
        if order:
            params["order"] = order
        data = self._request("GET", "notes", access_token=access_token, params=params)
        if not isinstance(data, dict) or not isinstance(data.get("notes"), list):
            raise CanvasUnavailable(_UNREADABLE)
        next_cursor = data.get("next_cursor")
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise CanvasUnavailable(_UNREADABLE)
        count = data.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise CanvasUnavailable(_UNREADABLE)
        return {
            "notes": [summary_parse(item) for item in data["notes"]],
            "next_cursor": next_cursor or None,
            "count": count,
        }

    def note_counts(
        self,
        *,
        access_token: str,
        overdue_before: datetime | None,
        day_start: datetime | None,
        day_end: datetime | None,
    ) -> dict[str, int]:
        """Return the caller's worklist counts: `{"to_sign", "overdue", "open", "today"}`.

        `to_sign`: the `to_sign` queue; `overdue`: those of them with a date
        of service before `overdue_before`; `open`: the caller's own NEW and
        ULK notes; `today`: notes of any state with a date of service in
        [`day_start`, `day_end`). The bounds are aware datetimes; Canvas
        answers 0 for a count whose bound is missing (None is not sent).
        """
        bounds = {
            "overdue_before": overdue_before,
            "day_start": day_start,
            "day_end": day_end,
        }
        params = {name: when.isoformat() for name, when in bounds.items() if when is not None}
        data = self._request(
            "GET", "notes/counts", access_token=access_token, params=params or None
        )
        if not isinstance(data, dict):
            raise CanvasUnavailable(_UNREADABLE)
        counts = {}
        for key in COUNT_KEYS:
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CanvasUnavailable(_UNREADABLE)
            counts[key] = value
        return counts

    def note_get(self, *, access_token: str, note_id: Any) -> dict[str, Any]:
        """Return one note's summary."""
        path = f"notes/{note_id_parse(value=note_id)}"
        return summary_parse(self._request("GET", path, access_token=access_token))

    def note_history(
        self, *, access_token: str, note_id: Any, since: datetime | None = None
    ) -> dict[str, Any]:
        """Return `{"history": [{"state", "at", "by"}, ...], "as_of"}`, oldest first."""
        path = f"notes/{note_id_parse(value=note_id)}/history"
        params = {"since": since.isoformat()} if since is not None else None
        data = self._request("GET", path, access_token=access_token, params=params)
        if not isinstance(data, dict) or not isinstance(data.get("history"), list):
            raise CanvasUnavailable(_UNREADABLE)
        history = []
        for item in data["history"]:
            at = _when(item.get("at")) if isinstance(item, dict) else None
            if at is None or not isinstance(item.get("state"), str):
                raise CanvasUnavailable(_UNREADABLE)
            history.append(
                {"state": item["state"], "at": at, "by": _text(item.get("by"), required=False)}
            )
        return {"history": history, "as_of": _when(data.get("as_of"))}

    def note_action(self, *, access_token: str, note_id: Any, action: str) -> dict[str, Any]:
        """Ask Canvas to perform `action`; return what it accepted.

        `{"note_id", "action", "effects", "from_state", "expected_state":
        {"code", "label"} | None, "accepted_at": datetime | None}`. A 202
        means accepted, not done: Canvas applies the effects after answering
        and may refuse them. Never resent: a read timeout raises OutcomeUnknown.
        """
        if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
            raise ValueError(f"not an action name: {action!r}")
        note_uuid = note_id_parse(value=note_id)
        path = f"notes/{note_uuid}/{quote(action, safe='')}"
        data = self._request("POST", path, access_token=access_token)
        if not isinstance(data, dict):
            raise OutcomeUnknown(_UNREADABLE)
        effects = data.get("effects")
        try:
            expected = _state(data["expected_state"]) if data.get("expected_state") else None
        except CanvasUnavailable:
            expected = None  # accepted all the same: only the prediction is unreadable
        from_state = data.get("from_state")
        return {
            "note_id": str(note_uuid),
            "action": action,
            "effects": [e for e in effects if isinstance(e, str)]
            if isinstance(effects, list)
            else [],
            "from_state": from_state if isinstance(from_state, str) else "",
            "expected_state": expected,
            "accepted_at": _when(data.get("accepted_at")),
        }

    # -- plumbing ---------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        access_token: str,
        params: dict[str, str] | None = None,
    ) -> Any:
        started = time.monotonic()
        try:
            response = http.request(
                method,
                canvas_settings.plugin_api_url + path,
                params=params,
                auth=http.BearerAuth(access_token),
                session=self.session,
            )
        except http.TransportError as exc:
            logger.warning("Canvas %s /%s: %s", method, path, exc.kind)
            if method == "POST" and exc.sent:
                raise OutcomeUnknown() from None
            raise CanvasUnavailable() from None
        elapsed_ms = int((time.monotonic() - started) * 1000)
        level = logging.INFO if response.status_code < 400 else logging.WARNING
        logger.log(
            level, "Canvas %s /%s -> %s in %d ms", method, path, response.status_code, elapsed_ms
        )
        try:
            _raise_for_status(response, is_action=method == "POST")  # 3xx included
            return _json(response)
        finally:
            response.close()


@cache
def plugin_client() -> PluginClient:
    """Return the process-wide client (it holds no state; the session is http's)."""
    return PluginClient()
