"""Reads of the portal's own data: a user's audit trail."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from notes.models import NoteActionAttempt


def attempt_list_for_user(
    *, user: AbstractBaseUser, note_id: uuid.UUID | None = None
) -> QuerySet[NoteActionAttempt]:
    """Return the user's own audit rows, newest first (optionally for one note)."""
    rows = NoteActionAttempt.objects.filter(user=user)
    if note_id is not None:
        rows = rows.filter(note_id=note_id)
    return rows.order_by("-started_at", "-id")
