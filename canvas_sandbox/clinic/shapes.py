"""The plugin API's JSON shapes: a note's summary, its history and the caller (contract v3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from note_sign_api import transitions

from canvas_sandbox.clinic import conf, times
from canvas_sandbox.clinic.content import note_staged_commands
from canvas_sandbox.clinic.models import Note, NoteStateEvent, Staff
from canvas_sandbox.clinic.policy import note_allowed_actions, note_queue_action
from canvas_sandbox.clinic.selectors import Event, events_by_note
from canvas_sandbox.clinic.times import iso


def _person(record: Any) -> dict[str, str] | None:
    """Return `{"id", "name"}` for a patient or staff member, or None (as the plugin does)."""
    if record is None:
        return None
    return {"id": record.key, "name": record.name}


def note_summary(
    *, note: Note, caller: Staff | None = None, events: list[Event] | None = None
) -> dict[str, Any]:
    """Return the contract's summary of a note, with the actions `caller` may take now.

    Without a caller (the control API) `allowed_actions` are those of the
    note's provider.
    """
    if events is None:
        events = events_by_note(note_ids=[note.pk]).get(str(note.pk), [])
    note_type = note.note_type
    caller_id = caller.key if caller is not None else note.provider.key
    changed = events[-1] if events else None
    return {
        "id": str(note.id),
        "title": note.title,
        "datetime_of_service": note.datetime_of_service.astimezone(dt.UTC).isoformat(),
        "state": {
            "code": note.state,
            "label": transitions.STATE_LABELS[note.state],
            "changed_at": iso(changed[2]) if changed else None,
            "changed_by": changed[1] if changed else None,
        },
        "note_type": {
            "name": note_type.name,
            "category": note_type.category,
            "is_sig_required": note_type.is_sig_required,
        },
        "patient": _person(note.patient),
        "provider": _person(note.provider),
        "supervising_provider": _person(note.supervising_provider),
        "allowed_actions": note_allowed_actions(note=note, events=events, caller_id=caller_id),
        **_queue_fields(note=note, events=events, caller_id=caller_id),
        "staged_commands": note_staged_commands(note=note),
    }


def _queue_fields(*, note: Note, events: list[Event], caller_id: str) -> dict[str, Any]:
    """Return `queue_action` and, for a co-signature, `signed_by` (the latest other signer)."""
    action = note_queue_action(note=note, events=events, caller_id=caller_id)
    signed_by = None
    if action == transitions.QueueAction.COSIGN:
        signers = [(by, at) for state, by, at in events if state == "SGN" and by != caller_id]
        if signers:
            by, at = signers[-1]
            # Almost always the note's provider, already loaded: no query per row.
            staff = (
                note.provider
                if note.provider.key == by
                else Staff.objects.filter(key=by).only("key", "first_name", "last_name").first()
            )
            if staff is not None:
                signed_by = {"id": staff.key, "name": staff.name, "at": iso(at)}
    return {"queue_action": action, "signed_by": signed_by}


def note_history_api(*, note: Note, since: str | None, now: dt.datetime | None = None) -> dict:
    """Return `GET /notes/<id>/history`: `{"history": [{"state", "at", "by"}], "as_of"}`.

    Oldest first; `since` (an ISO date-time; unreadable values are ignored)
    keeps the entries at or after it.
    """
    as_of = now or times.now()
    events = NoteStateEvent.objects.filter(note=note)
    after = times.instant_parse(since)
    if after is not None:
        events = events.filter(created__gte=after)
    rows = events.order_by("created", "id").values_list("state", "created", "actor__key")
    return {
        "history": [{"state": state, "at": iso(at), "by": by} for state, at, by in rows],
        "as_of": iso(as_of),
    }


def staff_me(*, staff: Staff) -> dict[str, Any]:
    """Return the contract's `GET /me` body for a staff member."""
    return {
        "user_id": str(staff.user_id),
        # The sandbox keeps no per-staff zone (Staff.last_known_timezone): null.
        "staff": {"id": staff.key, "name": staff.name, "time_zone": None},
        "installation_time_zone": conf.clinic_time_zone(),
    }
