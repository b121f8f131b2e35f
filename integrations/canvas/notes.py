"""Notes as the plugin sends them: anything not in the contract's shape is CanvasUnavailable.

Pure parsing (no HTTP): note ids, state codes and their labels, and the
shapes of `/me`, note summaries, pages, counts, histories and action replies.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from django.db import models
from django.utils.dateparse import parse_datetime

from core.zones import zone_valid
from integrations.canvas.exceptions import ActionNotAllowed, CanvasUnavailable, InvalidNoteId

#: The sentence for an answer the portal cannot read.
UNREADABLE = "Canvas sent an answer the portal doesn't understand. Please try again later."
# Canonical 8-4-4-4-12 hex only (ASCII, no braces or urn: prefix).
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)


class NoteState(models.TextChoices):
    """A note's state code in Canvas, and its Canvas label."""

    NEW = "NEW", "Created"
    PUSHED = "PSH", "Pushed"
    LOCKED = "LKD", "Locked"
    UNLOCKED = "ULK", "Unlocked"
    DELETED = "DLT", "Deleted"
    RELOCKED = "RLK", "Relocked"
    RESTORED = "RST", "Restored"
    RECALLED = "RCL", "Recalled"
    UNDELETED = "UND", "Undeleted"
    DISCHARGED = "DSC", "Discharged"
    SIGNED = "SGN", "Signed"
    SCHEDULING = "SCH", "Scheduling"
    BOOKED = "BKD", "Booked"
    CHECKED_IN = "CVD", "Checked in"
    CANCELLED = "CLD", "Cancelled"
    NO_SHOW = "NSW", "No show"
    REVERTED = "RVT", "Reverted"
    CONFIRMED = "CNF", "Confirmed"


#: Note state codes and their Canvas labels.
STATE_LABELS: dict[str, str] = dict(NoteState.choices)

#: The keys of `GET /notes/counts`, each a count of notes.
COUNT_KEYS = ("to_sign", "overdue", "open", "today")


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


# -- values -------------------------------------------------------------------
#: A Canvas staff id: Canvas's are 32 hex digits; any plain key up to 64 characters passes.
_STAFF_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: An IANA zone name: letters, digits and `/_+-` (never a path that climbs).
_ZONE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")


def _text(value: Any, *, required: bool = True) -> str:
    if isinstance(value, str):
        return value
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise CanvasUnavailable(UNREADABLE)


def _named(value: Any) -> dict[str, str]:
    if value is None:
        return {"id": "", "name": ""}
    if not isinstance(value, dict):
        raise CanvasUnavailable(UNREADABLE)
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


def staged_count_parse(value: Any) -> int:
    """Return a summary's `staged_commands` (contract v3): 0 when absent or unreadable."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def state_parse(value: Any) -> dict[str, str]:
    """Return `{"code", "label"}` of a state object, or raise CanvasUnavailable."""
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        raise CanvasUnavailable(UNREADABLE)
    code = value["code"]
    return {
        "code": code,
        "label": _text(value.get("label"), required=False) or STATE_LABELS.get(code, code),
    }


# -- answers ------------------------------------------------------------------
def zone_name_parse(value: Any) -> str:
    """Return `value` when it is an IANA time zone name this machine knows, else ""."""
    if not isinstance(value, str) or not _ZONE_RE.fullmatch(value):
        return ""
    return value if zone_valid(value) else ""


def me_parse(data: Any) -> dict[str, Any]:
    """Return `{"user_id", "staff": {"id", "name", "time_zone"}, "installation_time_zone"}`.

    From `GET /me` (a staff id required). The zones (contract v3) are IANA
    names or "" when absent or unreadable: a bad zone is ignored, not fatal.
    """
    if not isinstance(data, dict) or not isinstance(data.get("staff"), dict):
        raise CanvasUnavailable(UNREADABLE)
    staff = data["staff"]
    staff_id = _text(staff.get("id"))
    # The staff id lands in audit rows, logs and history comparisons: checked
    # like every other code from Canvas (no newline, markup or overlong value).
    if not _STAFF_ID_RE.fullmatch(staff_id):
        raise CanvasUnavailable(UNREADABLE)
    return {
        "user_id": _text(data.get("user_id"), required=False),
        "staff": {
            "id": staff_id,
            "name": _text(staff.get("name"), required=False),
            "time_zone": zone_name_parse(staff.get("time_zone")),
        },
        "installation_time_zone": zone_name_parse(data.get("installation_time_zone")),
    }


def summary_parse(data: Any) -> dict[str, Any]:
    """Return a note summary with the shape the portal relies on, or raise CanvasUnavailable."""
    if not isinstance(data, dict):
        raise CanvasUnavailable(UNREADABLE)
    state = state_parse(data.get("state"))
    note_type = data.get("note_type") or {}
    allowed = data.get("allowed_actions") or []
    if not isinstance(note_type, dict) or not isinstance(allowed, list):
        raise CanvasUnavailable(UNREADABLE)
    try:
        # The id goes into the portal's URLs: only a real UUID is accepted.
        note_id = str(uuid.UUID(_text(data.get("id"))))
    except ValueError:
        raise CanvasUnavailable(UNREADABLE) from None
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
        **_queue_fields(data),
        # Contract v3: commands not yet committed (0 from an older plugin).
        "staged_commands": staged_count_parse(data.get("staged_commands")),
    }


#: The `queue_action`s of contract v3 (the to_sign queue's one button per note).
QUEUE_ACTIONS = ("sign", "lock_sign", "cosign")


def _queue_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Return contract v3's `queue_action` and `signed_by` when sent (absent: not added)."""
    fields: dict[str, Any] = {}
    if data.get("queue_action") in QUEUE_ACTIONS:
        fields["queue_action"] = data["queue_action"]
    signed_by = data.get("signed_by")
    if isinstance(signed_by, dict):
        fields["signed_by"] = {**_named(signed_by), "at": _when(signed_by.get("at"))}
    return fields


def note_page_parse(data: Any) -> dict[str, Any]:
    """Return `{"notes", "next_cursor", "count"}` from `GET /notes`."""
    if not isinstance(data, dict) or not isinstance(data.get("notes"), list):
        raise CanvasUnavailable(UNREADABLE)
    next_cursor = data.get("next_cursor")
    if next_cursor is not None and not isinstance(next_cursor, str):
        raise CanvasUnavailable(UNREADABLE)
    count = data.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise CanvasUnavailable(UNREADABLE)
    return {
        "notes": [summary_parse(item) for item in data["notes"]],
        "next_cursor": next_cursor or None,
        "count": count,
    }


def counts_parse(data: Any) -> dict[str, int]:
    """Return the COUNT_KEYS counts from `GET /notes/counts` (each a non-negative int)."""
    if not isinstance(data, dict):
        raise CanvasUnavailable(UNREADABLE)
    counts = {}
    for key in COUNT_KEYS:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CanvasUnavailable(UNREADABLE)
        counts[key] = value
    return counts


def history_parse(data: Any) -> dict[str, Any]:
    """Return `{"history": [{"state", "at", "by"}, ...], "as_of"}` from a note's history."""
    if not isinstance(data, dict) or not isinstance(data.get("history"), list):
        raise CanvasUnavailable(UNREADABLE)
    history = []
    for item in data["history"]:
        at = _when(item.get("at")) if isinstance(item, dict) else None
        if at is None or not isinstance(item.get("state"), str):
            raise CanvasUnavailable(UNREADABLE)
        history.append(
            {"state": item["state"], "at": at, "by": _text(item.get("by"), required=False)}
        )
    return {"history": history, "as_of": _when(data.get("as_of"))}


def notes_history_parse(data: Any) -> dict[str, Any]:
    """Return `{"notes": {id: {"state", "allowed_actions", "history"}}, "as_of"}` (v3 batch).

    Ids are canonical UUID strings; a state carries its last change
    (`changed_at`, `changed_by`) as in a summary; history entries parse as
    in `history_parse`. Anything else raises CanvasUnavailable.
    """
    if not isinstance(data, dict) or not isinstance(data.get("notes"), dict):
        raise CanvasUnavailable(UNREADABLE)
    notes = {}
    for raw_id, item in data["notes"].items():
        if not isinstance(item, dict) or not isinstance(item.get("state"), dict):
            raise CanvasUnavailable(UNREADABLE)
        try:
            note_id = str(uuid.UUID(_text(raw_id)))
        except ValueError:
            raise CanvasUnavailable(UNREADABLE) from None
        allowed = item.get("allowed_actions") or []
        if not isinstance(allowed, list):
            raise CanvasUnavailable(UNREADABLE)
        notes[note_id] = {
            "state": {
                **state_parse(item["state"]),
                "changed_at": _when(item["state"].get("changed_at")),
                "changed_by": _text(item["state"].get("changed_by"), required=False),
            },
            "allowed_actions": [a for a in allowed if isinstance(a, str)],
            "history": history_parse({"history": item.get("history")})["history"],
        }
    return {"notes": notes, "as_of": _when(data.get("as_of"))}


def action_reply_parse(data: dict[str, Any], *, note_id: uuid.UUID, action: str) -> dict[str, Any]:
    """Return what Canvas accepted from an action's 202 body (already known to be a dict)."""
    effects = data.get("effects")
    try:
        expected = state_parse(data["expected_state"]) if data.get("expected_state") else None
    except CanvasUnavailable:
        expected = None  # accepted all the same: only the prediction is unreadable
    from_state = data.get("from_state")
    return {
        "note_id": str(note_id),
        "action": action,
        "effects": [e for e in effects if isinstance(e, str)] if isinstance(effects, list) else [],
        "from_state": from_state if isinstance(from_state, str) else "",
        "expected_state": expected,
        "accepted_at": _when(data.get("accepted_at")),
    }
