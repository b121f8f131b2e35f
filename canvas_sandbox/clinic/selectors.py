"""Reads: who a bearer token belongs to, notes, summaries, faults and stats."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone
from note_sign_api import transitions
from oauth2_provider.models import get_access_token_model

from canvas_sandbox.clinic import conf
from canvas_sandbox.clinic.exceptions import (
    Forbidden,
    InvalidCursor,
    InvalidNoteId,
    NoteNotFound,
    Unauthenticated,
)
from canvas_sandbox.clinic.models import (
    FaultConfig,
    Note,
    NoteStateEvent,
    PendingEffect,
    RequestCounter,
    Staff,
)

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def _now() -> dt.datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def staff_from_authorization(*, header: str, now: dt.datetime | None = None) -> Staff:
    """Return the active staff member a `Bearer` Authorization header belongs to.

    Raise Unauthenticated for a missing header, another scheme, or an
    unknown, expired or revoked token; Forbidden when the token's user is
    not active staff.
    """
    scheme, _, raw = header.strip().partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw or len(raw) > 512:
        raise Unauthenticated()
    checksum = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    token = (
        get_access_token_model()
        .objects.select_related("user")
        .filter(token_checksum=checksum)
        .first()
    )
    if token is None or token.expires <= (now or _now()):
        raise Unauthenticated()
    user = token.user
    staff = Staff.objects.filter(user=user).first() if user is not None else None
    if user is None or not user.is_active or staff is None:
        raise Forbidden()
    staff.user = user
    return staff


def note_id_validate(*, note_id: str) -> str:
    """Return `note_id` normalised to lower case, or raise InvalidNoteId."""
    value = note_id.lower()
    if len(value) != 36 or not _UUID_RE.fullmatch(value):
        raise InvalidNoteId()
    return value


def note_get(*, note_id: str) -> Note:
    """Return the note with this id (validated first), or raise NoteNotFound."""
    value = note_id_validate(note_id=note_id)
    note = (
        Note.objects.select_related("note_type", "patient", "provider", "supervising_provider")
        .filter(pk=value)
        .first()
    )
    if note is None:
        raise NoteNotFound()
    return note


#: One history entry: (state, staff key or None, when).
Event = tuple[str, str | None, dt.datetime]


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


def note_facts(*, note: Note, events: list[Event]) -> transitions.NoteFacts:
    """Return what the transition rules need to know about a note."""
    return transitions.NoteFacts(
        category=note.note_type.category,
        is_sig_required=note.note_type.is_sig_required,
        state=note.state,
        provider_id=note.provider.key,
        supervising_provider_id=note.supervising_provider.key if note.supervising_provider else "",
        signed_since_lock=transitions.signed_since_lock((s, a or "") for s, a, _ in events),
    )


def _person(record: Any) -> dict[str, str] | None:
    """Return `{"id", "name"}` for a patient or staff member, or None (as the plugin does)."""
    if record is None:
        return None
    return {"id": record.key, "name": record.name}


def _iso(when: dt.datetime) -> str:
    """Return an instant in UTC, always with microseconds (so strings sort as times)."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


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
    facts = note_facts(note=note, events=events)
    caller_id = caller.key if caller is not None else note.provider.key
    changed = events[-1] if events else None
    return {
        "id": str(note.id),
        "title": note.title,
        "datetime_of_service": note.datetime_of_service.astimezone(dt.UTC).isoformat(),
        "state": {
            "code": note.state,
            "label": transitions.STATE_LABELS[note.state],
            "changed_at": _iso(changed[2]) if changed else None,
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
        "allowed_actions": transitions.allowed_actions(
            facts, caller_id=caller_id, signing_policy=conf.signing_policy()
        ),
    }


def note_history(*, note_id: str) -> list[dict[str, Any]]:
    """Return a note's state history, oldest first (control API: with the action)."""
    note = note_get(note_id=note_id)
    return [
        {
            "state": event.state,
            "action": event.action,
            "actor": event.actor.key if event.actor else None,
            "at": _iso(event.created),
        }
        for event in note.state_events.select_related("actor").order_by("created", "id")
    ]


def _instant_parse(value: str | None) -> dt.datetime | None:
    """Return an ISO date-time (naive = UTC; a "+" read as a space is restored), or None."""
    text = (value or "").strip().replace(" ", "+")
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def note_history_api(*, note: Note, since: str | None, now: dt.datetime | None = None) -> dict:
    """Return `GET /notes/<id>/history`: `{"history": [{"state", "at", "by"}], "as_of"}`.

    Oldest first; `since` (an ISO date-time; unreadable values are ignored)
    keeps the entries at or after it.
    """
    as_of = now or _now()
    events = NoteStateEvent.objects.filter(note=note)
    after = _instant_parse(since)
    if after is not None:
        events = events.filter(created__gte=after)
    rows = events.order_by("created", "id").values_list("state", "created", "actor__key")
    return {
        "history": [{"state": state, "at": _iso(at), "by": by} for state, at, by in rows],
        "as_of": _iso(as_of),
    }


def staff_me(*, staff: Staff) -> dict[str, Any]:
    """Return the contract's `GET /me` body for a staff member."""
    return {"user_id": str(staff.user_id), "staff": {"id": staff.key, "name": staff.name}}


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


def _summary_notes() -> QuerySet[Note]:
    """Return notes with what a summary reads, and only those columns."""
    return Note.objects.select_related(
        "note_type", "patient", "provider", "supervising_provider"
    ).only(
        "id", "title", "datetime_of_service", "state",
        "note_type__name", "note_type__category", "note_type__is_sig_required",
        "patient__key", "patient__first_name", "patient__last_name",
        "provider__key", "provider__first_name", "provider__last_name",
        "supervising_provider__key", "supervising_provider__first_name",
        "supervising_provider__last_name",
    )  # fmt: skip


def to_sign_ids(*, actor: Staff, notes: QuerySet[Note] | None = None) -> list[Any]:
    """Return the ids of the notes `actor` must sign (transitions.to_sign_action).

    A query narrows the candidates (own notes in a state lock & sign or sign
    may start from, supervised notes that are signed); the rules decide.
    """
    base = notes if notes is not None else _summary_notes()
    candidates = list(
        base.filter(
            note_type__category__in=transitions.ACTIONABLE_CATEGORIES,
            note_type__is_sig_required=True,
        ).filter(
            Q(provider=actor, state__in=_TO_SIGN_OWN_STATES)
            | Q(supervising_provider=actor, state="SGN")
        )
    )
    events = events_by_note(note_ids=[note.pk for note in candidates])
    return [
        note.pk
        for note in candidates
        if transitions.to_sign_action(
            note_facts(note=note, events=events.get(str(note.pk), [])), caller_id=actor.key
        )
    ]


_TO_SIGN_OWN_STATES = ("NEW", "PSH", "ULK", "UND", "CVD", "NSW", "LKD")


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
    notes = _summary_notes()
    categories = [code.lower() for code in _codes(category)]
    if categories:
        notes = notes.filter(note_type__category__in=categories)
    else:
        notes = notes.filter(note_type__category__in=transitions.ACTIONABLE_CATEGORIES)
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
    try:
        day = dt.date.fromisoformat((date or "").strip()) if (date or "").strip() else None
    except ValueError:
        day = None
    if day is not None:
        midnight = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        notes = notes.filter(
            datetime_of_service__gte=midnight,
            datetime_of_service__lt=midnight + dt.timedelta(days=1),
        )
    after, before = _instant_parse(start), _instant_parse(end)
    if after is not None:
        notes = notes.filter(datetime_of_service__gte=after)
    if before is not None:
        notes = notes.filter(datetime_of_service__lt=before)
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
    substring of "first last"), `date` (a UTC date of service), `start`/`end`
    (the query's `from`/`to`: ISO date-times, date of service in [from, to)).
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
    - open: the caller's own notes in an open state (NEW, ULK);
    - today: notes with a date of service in [day_start, day_end).
    A missing or unreadable bound gives 0 for its count.
    """
    to_sign = _filtered_notes(actor=actor, queue="to_sign")
    overdue = _instant_parse(overdue_before)
    start, end = _instant_parse(day_start), _instant_parse(day_end)
    return {
        "to_sign": to_sign.count(),
        "overdue": to_sign.filter(datetime_of_service__lt=overdue).count() if overdue else 0,
        "open": _filtered_notes(actor=actor, provider="me", state="NEW,ULK").count(),
        "today": (
            _filtered_notes(actor=actor, start=day_start, end=day_end).count()
            if start and end
            else 0
        ),
    }


def fault_config_get() -> FaultConfig:
    """Return the shared fault settings (the environment's defaults until changed)."""
    config = FaultConfig.objects.filter(pk=1).first()
    if config is None:
        config = FaultConfig(pk=1, **conf.fault_defaults())
    return config


def fault_config_data(*, config: FaultConfig) -> dict[str, Any]:
    """Return the fault settings as the control API shows them."""
    return {
        "latency_ms": config.latency_ms,
        "error_rate": config.error_rate,
        "error_status": config.error_status,
        "token_endpoint_down": config.token_endpoint_down,
        "html_instead_of_json": config.html_instead_of_json,
        "seed": config.seed,
        "effect_reject_rate": config.effect_reject_rate,
        "effect_delay_ms": config.effect_delay_ms,
        "counter": config.counter,
    }


def note_effects(*, note_id: str) -> list[dict[str, Any]]:
    """Return every effect accepted for a note and what became of it (control API)."""
    note = note_get(note_id=note_id)
    return [
        {
            "effect": effect.effect,
            "action": effect.action,
            "by": effect.actor.key if effect.actor else None,
            "accepted_at": _iso(effect.accepted_at),
            "due_at": _iso(effect.due_at),
            "status": effect.status,
            "applied_at": _iso(effect.applied_at) if effect.applied_at else None,
        }
        for effect in PendingEffect.objects.filter(note=note)
        .select_related("actor")
        .order_by("due_at", "id")
    ]


def stats_get() -> dict[str, Any]:
    """Return the request counts every sandbox process has recorded."""
    counts = dict(RequestCounter.objects.values_list("name", "value"))
    token_requests = {"authorization_code": 0, "refresh_token": 0}
    for name, value in counts.items():
        if name.startswith("token:"):
            token_requests[name.removeprefix("token:")] = value
    return {
        "token_requests": token_requests,
        "revocations": counts.get("revocations", 0),
        "plugin_requests": counts.get("plugin_requests", 0),
    }
