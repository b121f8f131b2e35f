"""The plugin API's lists: `GET /notes` (filters, order, cursor pages) and `GET /notes/counts`."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat
from note_sign_api import transitions

from canvas_sandbox.clinic.content import staged_count
from canvas_sandbox.clinic.exceptions import InvalidCursor, InvalidNoteId, TooManyIds
from canvas_sandbox.clinic.models import Note, Staff
from canvas_sandbox.clinic.policy import to_sign_ids
from canvas_sandbox.clinic.selectors import events_by_note, note_id_validate
from canvas_sandbox.clinic.shapes import note_summary
from canvas_sandbox.clinic.times import instant_parse, iso, now
from canvas_sandbox.clinic.visibility import clinic_day_bounds, notes_visible_to

#: The states `open` counts: Canvas's editable ones (CurrentNoteStateEvent.editable).
OPEN_STATES = "NEW,CVD,PSH,ULK,RST,UND"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
#: The most notes one `GET /notes/history` may ask for.
MAX_IDS = 100

#: GET /notes `order`: newest date of service first (the default) or oldest first.
NEWEST = "newest"
OLDEST = "oldest"


def _order_parse(order: str | None) -> str:
    """Return the list order: "oldest" when asked for, else "newest" (unknown values too)."""
    return OLDEST if (order or "").strip() == OLDEST else NEWEST


def _cursor_encode(note: Note, order: str) -> str:
    payload = json.dumps({"d": note.datetime_of_service.isoformat(), "i": str(note.id), "o": order})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _cursor_decode(cursor: str, order: str) -> tuple[dt.datetime, str]:
    """Return the (date of service, id) a cursor points after, or raise InvalidCursor.

    A cursor is only good for the order it was made in; one without an
    order (made before lists had one) was made newest first.
    """
    if len(cursor) > 200 or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        when, note_id = position["d"], position["i"]
        made_in = position.get("o", NEWEST)
        after = dt.datetime.fromisoformat(when)
        note_id = note_id_validate(note_id=note_id)
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, InvalidNoteId) as exc:
        raise InvalidCursor() from exc
    if after.tzinfo is None or made_in != order:
        raise InvalidCursor()
    return after, note_id


def _limit_parse(limit: str | None) -> int:
    """Return the page size: digits clamped to 1..100, 50 when absent or unreadable."""
    text = (limit or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, int(text)))


def _codes(value: str | None) -> list[str]:
    return [code.strip() for code in (value or "").split(",") if code.strip()]


def _summary_notes(actor: Staff) -> QuerySet[Note]:
    """Return the notes `actor` may see, with what a summary reads and only those columns."""
    return notes_visible_to(actor).select_related(
        "note_type", "patient", "provider__supervisor", "supervising_provider"
    ).only(
        "id", "title", "datetime_of_service", "state",
        "note_type__name", "note_type__category", "note_type__is_sig_required",
        "patient__key", "patient__first_name", "patient__last_name",
        "provider__key", "provider__first_name", "provider__last_name",
        "provider__supervisor__key",
        "supervising_provider__key", "supervising_provider__first_name",
        "supervising_provider__last_name",
    ).annotate(staged_commands=staged_count())  # fmt: skip


def _by_kind(
    notes: QuerySet[Note], *, actor: Staff, state: str | None, category: str | None,
    provider: str | None, patient: str | None,
) -> QuerySet[Note]:  # fmt: skip
    """Filter by category (default: those that accept an action), state, provider, patient."""
    categories = [code.lower() for code in _codes(category)]
    notes = notes.filter(note_type__category__in=categories or transitions.ACTIONABLE_CATEGORIES)
    codes = [code.upper() for code in _codes(state)]
    if codes:
        notes = notes.filter(state__in=codes)
    provider = (provider or "").strip()
    if provider == "me":
        notes = notes.filter(provider=actor)
    elif provider:
        notes = notes.filter(provider__key=provider)
    patient = (patient or "").strip()
    if patient:
        # As the plugin does: the whole string, case-insensitive, in "first last".
        full_name = Concat("patient__first_name", Value(" "), "patient__last_name")
        notes = notes.alias(patient_name=full_name).filter(patient_name__icontains=patient)
    return notes


def _by_time(
    notes: QuerySet[Note], *, date: str | None, start: str | None, end: str | None
) -> QuerySet[Note]:
    """Filter by the date of service's day in the installation's zone and by [start, end).

    Unreadable bounds are ignored.
    """
    try:
        day = dt.date.fromisoformat((date or "").strip()) if (date or "").strip() else None
    except ValueError:
        day = None
    if day is not None:
        day_start, day_end = clinic_day_bounds(day=day)
        notes = notes.filter(datetime_of_service__gte=day_start, datetime_of_service__lt=day_end)
    after, before = instant_parse(start), instant_parse(end)
    if after is not None:
        notes = notes.filter(datetime_of_service__gte=after)
    if before is not None:
        notes = notes.filter(datetime_of_service__lt=before)
    return notes


def _filtered_notes(
    *,
    actor: Staff,
    queue: str | None = None,
    state: str | None = None,
    category: str | None = None,
    provider: str | None = None,
    patient: str | None = None,
    date: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> QuerySet[Note]:
    """Return the notes the list's filters select (see note_list)."""
    notes = _by_kind(
        _summary_notes(actor),
        actor=actor, state=state, category=category, provider=provider, patient=patient,
    )  # fmt: skip
    notes = _by_time(notes, date=date, start=start, end=end)
    if (queue or "").strip() == "to_sign":
        notes = notes.filter(pk__in=to_sign_ids(actor=actor, notes=notes))
    return notes


def note_list(
    *,
    actor: Staff,
    limit: str | None = None,
    cursor: str | None = None,
    order: str | None = None,
    **filters: str | None,
) -> dict[str, Any]:
    """Return one page of note summaries, the next page's cursor and the total count.

    Filters: `queue` (`to_sign`), `state` (comma list of codes), `category`
    (comma list; without it only categories that accept an action are
    listed), `provider` (`me` or a staff id), `patient` (case-insensitive
    substring of "first last"), `date` (the date of service's day, in the
    installation's zone), `start`/`end` (the query's `from`/`to`: ISO
    date-times, date of service in [from, to)).
    Blank or unparseable filters are ignored; `limit` is clamped to 1..100.
    Order: date of service descending (`order=newest`, the default; unknown
    values too) or ascending (`order=oldest`), then id. A cursor is only good
    for the order it was made in.
    """
    notes = _filtered_notes(actor=actor, **filters)
    count = notes.count()
    direction = _order_parse(order)
    if cursor:
        position, after_id = _cursor_decode(cursor, direction)
        beyond = (
            Q(datetime_of_service__gt=position)
            if direction == OLDEST
            else Q(datetime_of_service__lt=position)
        )
        notes = notes.filter(beyond | Q(datetime_of_service=position, id__gt=after_id))
    size = _limit_parse(limit)
    by_date = "datetime_of_service" if direction == OLDEST else "-datetime_of_service"
    page = list(notes.order_by(by_date, "id")[: size + 1])
    next_cursor = _cursor_encode(page[size - 1], direction) if len(page) > size else None
    events = events_by_note(note_ids=[note.pk for note in page[:size]])
    return {
        "notes": [
            note_summary(note=note, caller=actor, events=events.get(str(note.pk), []))
            for note in page[:size]
        ],
        "next_cursor": next_cursor,
        "count": count,
    }


def note_counts(
    *,
    actor: Staff,
    day_start: str | None,
    day_end: str | None,
    overdue_before: str | None,
) -> dict[str, int]:
    """Return `GET /notes/counts`: every worklist tab's count for `actor` in one call.

    - to_sign: `queue=to_sign`;
    - overdue: of those, notes whose date of service is before `overdue_before`;
    - open: the caller's own notes in an editable state (NEW, CVD, PSH, ULK, RST, UND);
    - today: notes with a date of service in [day_start, day_end).
    A missing or unreadable bound gives 0 for its count.
    """
    to_sign = _filtered_notes(actor=actor, queue="to_sign")
    overdue = instant_parse(overdue_before)
    start, end = instant_parse(day_start), instant_parse(day_end)
    return {
        "to_sign": to_sign.count(),
        "overdue": to_sign.filter(datetime_of_service__lt=overdue).count() if overdue else 0,
        "open": _filtered_notes(actor=actor, provider="me", state=OPEN_STATES).count(),
        "today": (
            _filtered_notes(actor=actor, start=day_start, end=day_end).count()
            if start and end
            else 0
        ),
    }


def _ids_parse(ids: str | None) -> list[str]:
    """Return the distinct note ids of a comma list; raise TooManyIds or InvalidNoteId."""
    parts = _codes(ids)
    if len(set(parts)) > MAX_IDS:
        raise TooManyIds()
    return list(dict.fromkeys(note_id_validate(note_id=part) for part in parts))


def notes_history(*, actor: Staff, ids: str | None, since: str | None) -> dict[str, Any]:
    """Return `GET /notes/history` (contract v3): each note's state, actions and history.

    Up to 100 ids (400 too_many_ids beyond, 400 invalid_note_id for one that
    is not a UUID); an unknown note is absent. The history keeps the
    entries at or after `since` (unreadable: ignored). Two queries, whatever
    the number of notes: the notes, then every one of their state changes.
    """
    as_of = now()
    note_ids = _ids_parse(ids)
    notes = list(_summary_notes(actor).filter(pk__in=note_ids)) if note_ids else []
    events = events_by_note(note_ids=[note.pk for note in notes]) if notes else {}
    after = instant_parse(since)
    body: dict[str, Any] = {}
    for note in notes:
        history = events.get(str(note.pk), [])
        summary = note_summary(note=note, caller=actor, events=history)
        body[str(note.id)] = {
            "state": summary["state"],
            "allowed_actions": summary["allowed_actions"],
            "history": [
                {"state": state, "at": iso(at), "by": by}
                for state, by, at in history
                if after is None or at >= after
            ],
        }
    return {"notes": body, "as_of": iso(as_of)}
