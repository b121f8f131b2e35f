"""Reads: the worklist, one note, a user's own audit trail."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from canvas_oauth.services import access_token_get
from notes import conf
from notes.client import get_client
from notes.constants import ACTION_LABELS, ACTION_PERMISSIONS, ACTIONS, CONFIRM
from notes.exceptions import InvalidNoteId, Unauthenticated
from notes.models import NoteActionAttempt

T = TypeVar("T")

# Canonical 8-4-4-4-12 hex only (ASCII, no braces or urn: prefix).
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)


@dataclass(frozen=True)
class Tab:
    """One worklist tab: which states, whose notes, which day."""

    key: str
    label: str
    states: tuple[str, ...] = ()
    mine: bool = False
    today: bool = False


TABS: dict[str, Tab] = {
    tab.key: tab
    for tab in (
        Tab("signature", "Awaiting my signature", states=("LKD",), mine=True),
        Tab("open", "Open", states=("NEW", "ULK")),
        Tab("today", "Today's appointments", states=("BKD", "RVT"), today=True),
        Tab("all", "All"),
    )
}
DEFAULT_TAB = "signature"


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


def actions_permitted(*, user: AbstractBaseUser) -> list[str]:
    """Return the actions the user's permissions allow, in ACTIONS order."""
    return [a for a in ACTIONS if user.has_perm(f"notes.{ACTION_PERMISSIONS[a]}")]


def note_with_actions(*, user: AbstractBaseUser, note: dict[str, Any]) -> dict[str, Any]:
    """Return the summary plus `actions`: allowed in its state AND permitted to the user."""
    permitted = set(actions_permitted(user=user))
    actions = [
        {"name": a, "label": ACTION_LABELS[a], "confirm": CONFIRM.get(a, "")}
        for a in note.get("allowed_actions", [])
        if a in permitted
    ]
    return {**note, "actions": actions}


def _with_token(*, user: AbstractBaseUser, call: Callable[[str], T]) -> T:
    """Run a read with the user's token; on a 401 refresh once and retry once (reads are safe)."""
    token = access_token_get(user=user)
    try:
        return call(token)
    except Unauthenticated:
        return call(access_token_get(user=user, force_refresh=True, rejected_token=token))


def _today() -> date:
    # The plugin's `date` filter is the date of service in UTC.
    return timezone.now().astimezone(UTC).date()


def note_list_for_user(
    *,
    user: AbstractBaseUser,
    tab: str,
    patient: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Return one worklist page: `{"tab", "notes": [summary + actions], "next_cursor"}`.

    Raises canvas_oauth errors (not linked, reconnect needed, ...) and NotesError.
    """
    spec = TABS.get(tab) or TABS[DEFAULT_TAB]
    page_date = (today or _today()) if spec.today else None
    patient = (patient or "").strip()[:100] or None
    client = get_client()

    def call(token: str) -> dict[str, Any]:
        return client.note_list(
            access_token=token,
            state=list(spec.states) or None,
            provider="me" if spec.mine else None,
            patient=patient,
            date=page_date,
            limit=limit or conf.page_size(),
            cursor=cursor or None,
        )

    page = _with_token(user=user, call=call)
    return {
        "tab": spec,
        "notes": [note_with_actions(user=user, note=n) for n in page["notes"]],
        "next_cursor": page["next_cursor"],
    }


def note_get_for_user(*, user: AbstractBaseUser, note_id: Any) -> dict[str, Any]:
    """Return one note's summary plus the actions this user may take on it."""
    note_uuid = note_id_parse(value=note_id)
    client = get_client()
    note = _with_token(
        user=user, call=lambda token: client.note_get(access_token=token, note_id=str(note_uuid))
    )
    return note_with_actions(user=user, note=note)


def attempt_list_for_user(
    *, user: AbstractBaseUser, note_id: uuid.UUID | None = None
) -> QuerySet[NoteActionAttempt]:
    """Return the user's own audit rows, newest first (optionally for one note)."""
    rows = NoteActionAttempt.objects.filter(user=user)
    if note_id is not None:
        rows = rows.filter(note_id=note_id)
    return rows.order_by("-started_at", "-id")
