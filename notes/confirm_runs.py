"""The confirmation task's body: whose attempts one run reads, at once, and when each reads next.

A run of `notes.tasks.attempt_confirm` claims its attempt's user and up to
`NOTES_CONFIRM_CONCURRENCY - 1` other users whose reads are due, each with
one conditional UPDATE of the user's due attempts (`next_check_at` set a
lease ahead), so two runs never read the same user at once. It reads them
at once (one thread each, `notes.threads`), each user's attempts in one
batched call with that user's token (`notes.confirmation.attempts_check`),
and schedules each user's next read. So one worker waits on several Canvas
calls at a time, and the queued runs of users read this way find nothing
due and end without a read.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.db.models import Min, Q
from django.db.models.functions import Coalesce

from notes import conf, confirmation
from notes.confirmation import BATCH_SIZE, LEASE, attempt_confirmation_enqueue, attempts_check
from notes.models import NoteActionAttempt
from notes.threads import calls_run
from observability.context import log_context


def _due(now: datetime) -> Q:
    return Q(next_check_at__isnull=True) | Q(next_check_at__lte=now)


def _user_claim(user_id: int, *, now: datetime) -> bool:
    """Take the read of the user's due attempts for this run; return whether any were due.

    One conditional UPDATE: a run that finds none due (another run has just
    read them, or owns the read) reads nothing and schedules nothing, so the
    runs queued for one user's actions fold into one chain of reads.
    """
    claimed = (
        NoteActionAttempt.objects.unresolved()
        .filter(user_id=user_id)
        .filter(_due(now))
        .update(next_check_at=now + LEASE)
    )
    return bool(claimed)


def _claim(attempt_id: int, *, now: datetime) -> int | None:
    """Take the read of the attempt's user for this run; return the user id, or None."""
    user_id = (
        NoteActionAttempt.objects.filter(pk=attempt_id).values_list("user_id", flat=True).first()
    )
    if user_id is None or not _user_claim(user_id, now=now):
        return None
    return user_id


def _others_claim(*, besides: int | None, now: datetime, limit: int) -> list[int]:
    """Take the reads of up to `limit` other users whose reads are due, longest due first.

    A bulk run reads its own attempts back (its backstop reads them at the
    deadline), so attempts sent by one do not make their user due here.
    """
    if limit <= 0:
        return []
    due_users = (
        NoteActionAttempt.objects.unresolved()
        .filter(_due(now), user_id__isnull=False, bulk_item__isnull=True)
        .exclude(user_id=besides)
        .values("user_id")
        .annotate(due_at=Min(Coalesce("next_check_at", "finished_at", "started_at")))
        .order_by("due_at", "user_id")
        .values_list("user_id", flat=True)[:limit]
    )
    return [user_id for user_id in list(due_users) if _user_claim(user_id, now=now)]


def user_attempts_check(*, user_id: int, now: datetime) -> None:
    """Read Canvas once per 100 of the user's unconfirmed attempts; record what it shows."""
    attempts = list(
        NoteActionAttempt.objects.unresolved()
        .filter(user_id=user_id)
        .select_related("user")
        .order_by("finished_at", "pk")
    )
    for first in range(0, len(attempts), BATCH_SIZE):
        attempts_check(attempts=attempts[first : first + BATCH_SIZE], now=now)


def _user_read(user_id: int, *, now: datetime) -> None:
    """Read the claimed user's attempts; schedule the user's next read while any is in flight."""
    user_attempts_check(user_id=user_id, now=now)
    nxt = (
        NoteActionAttempt.objects.unresolved()
        .filter(user_id=user_id, next_check_at__isnull=False)
        .order_by("next_check_at", "pk")
        .values_list("pk", "next_check_at", "request_id")
        .first()
    )
    if nxt is not None:
        attempt_confirmation_enqueue(
            attempt_id=nxt[0], run_after=nxt[1], user_id=user_id, request_id=nxt[2]
        )


def _other_user_read(user_id: int, *, now: datetime) -> None:
    """Read another user's attempts, logging with that user's id and oldest request id."""
    request_id = (
        NoteActionAttempt.objects.unresolved()
        .filter(user_id=user_id)
        .order_by("finished_at", "pk")
        .values_list("request_id", flat=True)
        .first()
    )
    with log_context(request_id=request_id or None, user_id=user_id):
        _user_read(user_id, now=now)


def attempt_confirm_run(*, attempt_id: int) -> str:
    """Read Canvas for the attempt's user and other due users, at once; return its outcome.

    The body of the task `notes.tasks.attempt_confirm`: one chain of reads
    per user with actions in flight, each read covering all of them. One
    user is read inline (no thread).
    """
    now = confirmation._now()  # the one clock seam of the confirmation
    user_id = _claim(attempt_id, now=now)
    reads = [partial(_user_read, user_id, now=now)] if user_id is not None else []
    others = _others_claim(besides=user_id, now=now, limit=conf.confirm_concurrency() - len(reads))
    reads += [partial(_other_user_read, other, now=now) for other in others]
    calls_run(reads)
    row = NoteActionAttempt.objects.filter(pk=attempt_id).values_list("outcome", flat=True)
    return row.first() or "missing"
