"""Database reads of notes: one note by id, state histories and accepted effects."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from canvas_sandbox.clinic.exceptions import InvalidNoteId, NoteNotFound
from canvas_sandbox.clinic.models import Note, NoteStateEvent, PendingEffect, Staff
from canvas_sandbox.clinic.times import iso
from canvas_sandbox.clinic.visibility import notes_visible_to

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)

#: One history entry: (state, staff key or None, when).
Event = tuple[str, str | None, dt.datetime]


def note_id_validate(*, note_id: str) -> str:
    """Return `note_id` normalised to lower case, or raise InvalidNoteId."""
    value = note_id.lower()
    if len(value) != 36 or not _UUID_RE.fullmatch(value):
        raise InvalidNoteId()
    return value


def note_get(*, note_id: str, viewer: Staff | None = None) -> Note:
    """Return the note with this id (validated first), or raise NoteNotFound.

    With a `viewer` (a plugin API caller), a note they may not see is not found either.
    """
    value = note_id_validate(note_id=note_id)
    notes = Note.objects.all() if viewer is None else notes_visible_to(viewer)
    note = (
        notes.select_related("note_type", "patient", "provider__supervisor", "supervising_provider")
        .filter(pk=value)
        .first()
    )
    if note is None:
        raise NoteNotFound()
    return note


def events_by_note(*, note_ids: Iterable[Any]) -> dict[str, list[Event]]:
    """Return each note's state history, oldest first, in one query."""
    events: dict[str, list[Event]] = defaultdict(list)
    rows = (
        NoteStateEvent.objects.filter(note_id__in=list(note_ids))
        .order_by("created", "id")
        .values_list("note_id", "state", "actor__key", "created")
    )
    for note_id, state, actor, created in rows:
        events[str(note_id)].append((state, actor, created))
    return events


def note_history(*, note_id: str) -> list[dict[str, Any]]:
    """Return a note's state history, oldest first (control API: with the action)."""
    note = note_get(note_id=note_id)
    return [
        {
            "state": event.state,
            "action": event.action,
            "actor": event.actor.key if event.actor else None,
            "at": iso(event.created),
        }
        for event in note.state_events.select_related("actor").order_by("created", "id")
    ]


def note_effects(*, note_id: str) -> list[dict[str, Any]]:
    """Return every effect accepted for a note and what became of it (control API)."""
    note = note_get(note_id=note_id)
    return [
        {
            "effect": effect.effect,
            "action": effect.action,
            "by": effect.actor.key if effect.actor else None,
            "accepted_at": iso(effect.accepted_at),
            "due_at": iso(effect.due_at),
            "status": effect.status,
            "applied_at": iso(effect.applied_at) if effect.applied_at else None,
        }
        for effect in PendingEffect.objects.filter(note=note)
        .select_related("actor")
        .order_by("due_at", "id")
    ]
