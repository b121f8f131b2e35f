"""Reads: who a bearer token belongs to, notes, summaries, faults and stats."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from typing import Any

from django.db.models import Q, QuerySet
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
from canvas_sandbox.clinic.models import FaultConfig, Note, RequestCounter, Staff

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
    note = Note.objects.select_related("note_type", "patient", "provider").filter(pk=value).first()
    if note is None:
        raise NoteNotFound()
    return note


def note_summary(*, note: Note) -> dict[str, Any]:
    """Return the contract's summary of a note, with the actions its state allows."""
    note_type = note.note_type
    return {
        "id": str(note.id),
        "title": note.title,
        "datetime_of_service": note.datetime_of_service.astimezone(dt.UTC).isoformat(),
        "state": {"code": note.state, "label": transitions.STATE_LABELS[note.state]},
        "note_type": {
            "name": note_type.name,
            "category": note_type.category,
            "is_sig_required": note_type.is_sig_required,
        },
        "patient": {"id": note.patient.key, "name": note.patient.name},
        "provider": {"id": note.provider.key, "name": note.provider.name},
        "allowed_actions": transitions.allowed_actions(
            note.state, category=note_type.category, is_sig_required=note_type.is_sig_required
        ),
    }


def note_history(*, note_id: str) -> list[dict[str, Any]]:
    """Return a note's state history, oldest first (control API)."""
    note = note_get(note_id=note_id)
    return [
        {
            "state": event.state,
            "action": event.action,
            "actor": event.actor.key if event.actor else None,
            "at": event.created.isoformat(),
        }
        for event in note.state_events.select_related("actor").order_by("created", "id")
    ]


def staff_me(*, staff: Staff) -> dict[str, Any]:
    """Return the contract's `GET /me` body for a staff member."""
    return {"user_id": str(staff.user_id), "staff": {"id": staff.key, "name": staff.name}}


def _cursor_encode(note: Note) -> str:
    payload = json.dumps({"d": note.datetime_of_service.isoformat(), "i": str(note.id)})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[dt.datetime, str]:
    if len(cursor) > 200 or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        when, note_id = position["d"], position["i"]
        after = dt.datetime.fromisoformat(when)
        note_id = note_id_validate(note_id=note_id)
    except (binascii.Error, ValueError, TypeError, KeyError, InvalidNoteId) as exc:
        raise InvalidCursor() from exc
    if after.tzinfo is None:
        raise InvalidCursor()
    return after, note_id


def _limit_parse(limit: str | None) -> int:
    """Return the page size: digits clamped to 1..100, 50 when absent or unreadable."""
    text = (limit or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, int(text)))


def note_list(
    *,
    actor: Staff,
    state: str | None = None,
    provider: str | None = None,
    patient: str | None = None,
    date: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Return one page of note summaries and the cursor of the next page.

    Filters follow the contract: `state` is a comma list of state codes,
    `provider` is `me` or a staff id, `patient` a case-insensitive substring
    of the patient's name, `date` a UTC date of service (YYYY-MM-DD). Blank
    or unparseable filters are ignored; `limit` is clamped to 1..100.
    Order: date of service descending, then id.
    """
    notes: QuerySet[Note] = Note.objects.select_related("note_type", "patient", "provider")
    codes = [code.strip().upper() for code in (state or "").split(",") if code.strip()]
    if codes:
        notes = notes.filter(state__in=codes)
    provider = (provider or "").strip()
    if provider == "me":
        notes = notes.filter(provider=actor)
    elif provider:
        notes = notes.filter(provider__key=provider)
    for word in (patient or "").split():
        notes = notes.filter(
            Q(patient__first_name__icontains=word) | Q(patient__last_name__icontains=word)
        )
    try:
        day = dt.date.fromisoformat((date or "").strip()) if (date or "").strip() else None
    except ValueError:
        day = None
    if day is not None:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        notes = notes.filter(
            datetime_of_service__gte=start, datetime_of_service__lt=start + dt.timedelta(days=1)
        )
    if cursor:
        position, after_id = _cursor_decode(cursor)
        notes = notes.filter(
            Q(datetime_of_service__lt=position) | Q(datetime_of_service=position, id__gt=after_id)
        )
    size = _limit_parse(limit)
    page = list(notes.order_by("-datetime_of_service", "id")[: size + 1])
    next_cursor = _cursor_encode(page[size - 1]) if len(page) > size else None
    return {
        "notes": [note_summary(note=note) for note in page[:size]],
        "next_cursor": next_cursor,
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
        "counter": config.counter,
    }


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
