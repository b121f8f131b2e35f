"""Database reads only: a user's audit trail and the confirmations still to do (never Canvas)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from notes import conf
from notes.models import NoteActionAttempt


def attempt_list_for_user(
    *, user: AbstractBaseUser, note_id: uuid.UUID | None = None
) -> QuerySet[NoteActionAttempt]:
    """Return the user's own audit rows, newest first (optionally for one note)."""
    rows = NoteActionAttempt.objects.filter(user=user)
    if note_id is not None:
        rows = rows.filter(note_id=note_id)
    return rows.order_by("-started_at", "-id")


def attempt_latest_by_note(
    *, user: AbstractBaseUser, note_ids: Iterable[uuid.UUID | str], since: datetime
) -> dict[str, NoteActionAttempt]:
    """Return the user's latest attempt since `since` on each of these notes, by note id.

    One query; refused attempts (failed) are left out, so what remains is
    an action Canvas may be applying or its final outcome.
    """
    ids = [uuid.UUID(str(note_id)) for note_id in note_ids]
    if not ids:
        return {}
    rows = (
        NoteActionAttempt.objects.filter(user=user, note_id__in=ids, started_at__gte=since)
        .exclude(outcome=NoteActionAttempt.Outcome.FAILED)
        .order_by("note_id", "-started_at", "-id")
    )
    latest: dict[str, NoteActionAttempt] = {}
    for row in rows:
        latest.setdefault(str(row.note_id), row)
    return latest


def confirmation_health(*, now: datetime | None = None) -> dict[str, object]:
    """Return how many attempts await confirmation and the oldest one's age (one query).

    `behind` is true when the oldest is a minute past its deadline: no
    worker is confirming (or `confirm_note_actions` has not run).
    """
    found = NoteActionAttempt.objects.unresolved().aggregate(
        count=Count("pk"), oldest=Min("finished_at")
    )
    age = ((now or timezone.now()) - found["oldest"]).total_seconds() if found["oldest"] else 0.0
    return {
        "unconfirmed": found["count"],
        "oldest_unconfirmed_seconds": round(max(age, 0.0), 1),
        "behind": age > conf.confirm_window().total_seconds() + 60,
    }


def attempt_get_for_user(*, user: AbstractBaseUser, attempt_id: int) -> NoteActionAttempt:
    """Return one of the user's own attempts (a database read, never Canvas); raise DoesNotExist."""
    return NoteActionAttempt.objects.get(pk=attempt_id, user=user)
