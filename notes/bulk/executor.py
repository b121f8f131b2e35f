"""Carrying out a run: sends items and reads them back, several at once (notes.threads).

The run's items go through the same service as a single click
(`note_action_perform`: audit row, the user's token, the confirmation
backstop), at most `NOTES_BULK_CONCURRENCY` Canvas calls at once, pausing
on a 429 for its Retry-After; each sent note is read back here
(`attempt_check`) while the rest are sent.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from integrations.canvas.exceptions import CanvasError, RateLimited
from notes import conf
from notes.actions import ACTIONS
from notes.attempts import note_action_perform
from notes.bulk.runs import CANCELLED_MESSAGE, items_skip_queued, run_expire_if_late
from notes.confirmation import attempt_check
from notes.models import BulkItem, BulkRun, NoteActionAttempt
from notes.replies import refusal_message
from notes.threads import calls_run
from observability import metrics

logger = logging.getLogger(__name__)

#: How many times an item is tried again after a 429 (never after anything else).
RATE_LIMIT_RETRIES = 5
#: When a run first reads back a note it sent. Reads share the run's Canvas
#: calls with the sends, so a run does not spend them on the first tenths of
#: a second, when Canvas has seldom applied anything yet (a single click is
#: read from 0.075 s: a person is watching that row).
FIRST_READ = timedelta(seconds=0.3)
#: What `run_execute` answers for a run that does not exist.
MISSING = "missing"
#: How often a run waiting out a Retry-After shows it is alive (the resume
#: job takes a run silent for longer than the pending window for dead).
HEARTBEAT_EVERY = 5.0
#: Why an item was not sent: its user lost the right (or the account) mid-run.
NO_LONGER_PERMITTED = "Not started: you are no longer permitted to sign notes."


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


class Job(StrEnum):
    """What a thread of the run does next."""

    SEND = "send"
    READ = "read"


class _Gate:
    """Shared by a run's threads: closed for a while after a 429 (Canvas's Retry-After)."""

    def __init__(self, beat: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._open_at = 0.0
        self._beat = beat  # called every HEARTBEAT_EVERY seconds while waiting

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, time.monotonic() + seconds)

    def wait(self) -> None:
        beaten = time.monotonic()
        while True:
            with self._lock:
                remaining = self._open_at - time.monotonic()
            if remaining <= 0:
                return
            if self._beat is not None and time.monotonic() - beaten >= HEARTBEAT_EVERY:
                self._beat()
                beaten = time.monotonic()
            time.sleep(min(remaining, 1.0))


class _Work:
    """A run's jobs, shared by its threads: notes to send in order, and sent ones to read.

    A thread takes a read that is due first (so outcomes land), else the next
    note to send, else waits for the next read to fall due. The run ends when
    nothing is left to send or read and no job is in progress. So the run
    confirms its own notes while it sends the rest, and never has more than
    its threads' worth of Canvas calls in flight.
    """

    def __init__(self, items: list[BulkItem]) -> None:
        self._cond = threading.Condition()
        self._items = deque(items)
        self._reads: list[tuple[float, int, int]] = []  # (due, tie-break, attempt id)
        self._busy = 0
        self._seq = 0

    def take(self) -> tuple[Job, Any] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._reads and self._reads[0][0] <= now:
                    self._busy += 1
                    return Job.READ, heapq.heappop(self._reads)[2]
                if self._items:
                    self._busy += 1
                    return Job.SEND, self._items.popleft()
                if not self._reads and not self._busy:
                    self._cond.notify_all()
                    return None
                self._cond.wait(timeout=self._reads[0][0] - now if self._reads else None)

    def read_later(self, attempt_id: int, due: datetime) -> None:
        delay = max(0.0, (due - timezone.now()).total_seconds())
        with self._cond:
            self._seq += 1
            heapq.heappush(self._reads, (time.monotonic() + delay, self._seq, attempt_id))
            self._cond.notify_all()

    def done(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()


def run_execute(*, run_id: int) -> str:
    """Run a queued (or resumed) run's waiting items to their outcomes; return its status."""
    now = _now()
    late = BulkRun.objects.filter(pk=run_id, status=BulkRun.Status.QUEUED).first()
    if late is not None and run_expire_if_late(run=late, now=now):
        return BulkRun.Status.EXPIRED
    claimed = BulkRun.objects.filter(
        pk=run_id, status__in=[BulkRun.Status.QUEUED, BulkRun.Status.RUNNING]
    ).update(status=BulkRun.Status.RUNNING, heartbeat_at=now)
    run = BulkRun.objects.select_related("user").filter(pk=run_id).first()
    if run is None or not claimed:
        return run.status if run else MISSING
    if run.user is None or not run.user.is_active:
        items_skip_queued(run_id=run.pk, message="Your account is no longer active.")
        return _finish(run)
    work = _Work(list(run.items.filter(status=BulkItem.Status.QUEUED).order_by("position")))
    # Items a dead worker sent are read again here too.
    for attempt_id in (
        NoteActionAttempt.objects.unresolved()
        .filter(bulk_item__run=run)
        .values_list("pk", flat=True)
    ):
        work.read_later(attempt_id, now)
    gate = _Gate(beat=lambda: _heartbeat(run))
    # Threads for the waiting on Canvas: each job is one call (two at a
    # read's deadline); the database work is a few short statements.
    loop = partial(_worker_loop, run, work, gate)
    calls_run([loop] * max(1, conf.bulk_concurrency()))
    return _finish(run)


def _worker_loop(run: BulkRun, work: _Work, gate: _Gate) -> None:
    while (job := work.take()) is not None:
        kind, target = job
        try:
            if kind is Job.SEND:
                attempt = _item_run(run, target, gate)
            else:
                check = attempt_check(attempt_id=target)
                if check.final:
                    metrics.bulk_item_observe(result=check.outcome)
                attempt = None if check.final else (target, check.retry_at)
            if isinstance(attempt, NoteActionAttempt) and attempt.in_flight:
                work.read_later(attempt.pk, _now() + FIRST_READ)
            elif isinstance(attempt, tuple):
                work.read_later(*attempt)
        finally:
            work.done()


def _heartbeat(run: BulkRun) -> None:
    """Show the run is alive (while it waits out a Retry-After, too)."""
    BulkRun.objects.filter(pk=run.pk).update(heartbeat_at=_now())


def _still_permitted(run: BulkRun, action: str) -> bool:
    """Return whether the run's user is still active and may still take `action` (read afresh)."""
    user = get_user_model().objects.filter(pk=run.user_id, is_active=True).first()
    return user is not None and user.has_perm(ACTIONS[action].perm)


def _finish(run: BulkRun) -> str:
    run.refresh_from_db(fields=["cancel_requested"])
    if run.cancel_requested:
        items_skip_queued(run_id=run.pk, message=CANCELLED_MESSAGE)
    status = BulkRun.Status.CANCELLED if run.cancel_requested else BulkRun.Status.DONE
    BulkRun.objects.filter(pk=run.pk, status=BulkRun.Status.RUNNING).update(
        status=status, finished_at=_now()
    )
    logger.info("Bulk run %s: %s", run.pk, status)
    return status


def _item_claim(run: BulkRun, item: BulkItem, gate: _Gate) -> bool:
    """Move the item from queued to sending (once), unless the run was cancelled."""
    if BulkRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
        return False  # skipped by _finish
    gate.wait()
    now = _now()
    if not BulkItem.objects.filter(pk=item.pk, status=BulkItem.Status.QUEUED).update(
        status=BulkItem.Status.SENDING, sending_at=now
    ):
        return False  # another worker took it
    BulkRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
    return True


def _item_run(run: BulkRun, item: BulkItem, gate: _Gate) -> NoteActionAttempt | None:
    """Send one item once (or not at all when the run was cancelled); return its attempt."""
    if not _item_claim(run, item, gate):
        return None
    if not _still_permitted(run, item.action):
        BulkItem.objects.filter(pk=item.pk).update(
            status=BulkItem.Status.SKIPPED, message=NO_LONGER_PERMITTED
        )
        metrics.bulk_item_observe(result=BulkItem.Status.SKIPPED)
        return None
    spec = ACTIONS[item.action]
    for _ in range(RATE_LIMIT_RETRIES + 1):
        try:
            # The run reads its own notes back; the background confirmation is
            # only the backstop (at the deadline) should this worker die.
            attempt = note_action_perform(
                user=run.user,
                note_id=item.note_id,
                action=item.action,
                request_id=run.request_id or f"bulk-{run.pk}",
                client_ip=run.client_ip,
                confirm_in_background=False,
            )
        except RateLimited as exc:
            # Refused before Canvas acted: safe to send again once it allows.
            gate.pause(exc.retry_after or 1.0)
            gate.wait()
            continue
        except CanvasError as exc:
            BulkItem.objects.filter(pk=item.pk).update(
                status=BulkItem.Status.REFUSED, message=refusal_message(exc, spec)[:300]
            )
            metrics.bulk_item_observe(result=BulkItem.Status.REFUSED)
            return None
        BulkItem.objects.filter(pk=item.pk).update(status=BulkItem.Status.SENT, attempt=attempt)
        return attempt
    BulkItem.objects.filter(pk=item.pk).update(
        status=BulkItem.Status.REFUSED, message=RateLimited.default_message
    )
    metrics.bulk_item_observe(result=BulkItem.Status.REFUSED)
    return None
