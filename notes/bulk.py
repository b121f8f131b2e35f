"""Close my day: sign many notes in one run, on the worker.

A run is planned from the signing queue as Canvas shows it when the person
confirms (never from what the page posted): each note gets the one action
that fits it (lock & sign an open note, sign a locked one, co-sign one
already signed by its provider). The run is a background task; its items go
through the same service as a single click (`note_action_perform`: audit
row, the user's token, the confirmation task), at most
`NOTES_BULK_CONCURRENCY` at once, pausing on a 429 for its Retry-After.

Nothing is sent twice: an item moves queued -> sending with a conditional
UPDATE before its one call, and an item whose answer never came is
confirmed by reading (its attempt), never re-sent. A worker that dies
leaves its run to `resolve_note_actions`, which links or requeues the
items it had started and runs the rest.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections, transaction
from django.db.models import Count, Q
from django.utils import timezone

from canvas_oauth.tokens import canvas_call
from integrations.canvas.exceptions import CanvasError, RateLimited
from integrations.canvas.plugin import plugin_client
from notes import conf
from notes.actions import ACTIONS
from notes.confirmation import attempt_check
from notes.exceptions import ActionNotPermitted, BulkOverlap, NothingToSign
from notes.models import BulkItem, BulkRun, NoteActionAttempt

logger = logging.getLogger(__name__)

Outcome = NoteActionAttempt.Outcome

#: The most notes one run takes (the queue is read 100 at a time).
MAX_NOTES = 500
#: How many times an item is tried again after a 429 (never after anything else).
RATE_LIMIT_RETRIES = 5
#: When a run first reads back a note it sent. Reads share the run's Canvas
#: calls with the sends, so a run does not spend them on the first tenths of
#: a second, when Canvas has seldom applied anything yet (a single click is
#: read from 0.075 s: a person is watching that row).
FIRST_READ = timedelta(seconds=0.3)


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


# -- planning ----------------------------------------------------------------------


def bulk_action_for(note: dict[str, Any]) -> str | None:
    """Return the action that signs this note for its caller, or None if none does."""
    allowed = set(note.get("allowed_actions", []))
    if note["state"]["code"] in ("NEW", "ULK") and "lock_sign" in allowed:
        return "lock_sign"
    if "sign" in allowed:
        return "sign"
    return None


def bulk_label(note: dict[str, Any], action: str) -> str:
    """Return what the action is called for this note: Lock & sign, Sign or Co-sign."""
    if action == "sign" and note["state"]["code"] == "SGN":
        return "Co-sign"
    return ACTIONS[action].label


@dataclass(frozen=True)
class PlannedNote:
    note: dict[str, Any]
    action: str
    label: str


@dataclass(frozen=True)
class Plan:
    """What a run would do: the notes in queue order, and a sentence for the confirmation."""

    notes: list[PlannedNote] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.notes)

    @property
    def by_label(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for planned in self.notes:
            counts[planned.label] = counts.get(planned.label, 0) + 1
        return counts

    @property
    def title(self) -> str:
        noun = "note" if self.count == 1 else "notes"
        labels = set(self.by_label)
        verb = labels.pop() if len(labels) == 1 else "Sign"
        return f"{verb} {self.count} {noun}"


def queue_read(*, user: AbstractBaseUser) -> list[dict[str, Any]]:
    """Return the user's whole signing queue (oldest first), up to MAX_NOTES notes."""
    notes: list[dict[str, Any]] = []
    cursor = None
    while len(notes) < MAX_NOTES:
        page = canvas_call(
            user=user,
            call=lambda token, cursor=cursor: plugin_client().note_list(
                access_token=token, queue="to_sign", order="oldest", limit=100, cursor=cursor
            ),
        )
        notes.extend(page["notes"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return notes[:MAX_NOTES]


def plan_for_user(*, user: AbstractBaseUser, note_ids: list[str] | None) -> Plan:
    """Plan a run over the queue as Canvas shows it now: all of it, or the chosen notes in it.

    Notes no longer in the queue (signed meanwhile) and notes no action
    signs are left out.
    """
    if not any(user.has_perm(ACTIONS[a].perm) for a in ("sign", "lock_sign")):
        raise ActionNotPermitted()
    chosen = None if note_ids is None else {str(n).strip().lower() for n in note_ids}
    planned = []
    for note in queue_read(user=user):
        if chosen is not None and note["id"] not in chosen:
            continue
        action = bulk_action_for(note)
        if action is None or not user.has_perm(ACTIONS[action].perm):
            continue
        planned.append(PlannedNote(note=note, action=action, label=bulk_label(note, action)))
    if not planned:
        raise NothingToSign()
    return Plan(notes=planned)


def run_start(*, user: AbstractBaseUser, plan: Plan) -> BulkRun:
    """Record a run for the plan and queue it; refuse notes already in one of the user's runs."""
    ids = [p.note["id"] for p in plan.notes]
    with transaction.atomic():
        # One run at a time per person decides overlaps: lock their user row.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        busy = BulkItem.objects.filter(
            run__user=user,
            run__status__in=[BulkRun.Status.QUEUED, BulkRun.Status.RUNNING],
            note_id__in=ids,
        ).count()
        if busy:
            raise BulkOverlap(busy)
        run = BulkRun.objects.create(
            user=user, username=user.get_username(), label=plan.title, created_at=_now()
        )
        BulkItem.objects.bulk_create(
            BulkItem(
                run=run,
                position=index,
                note_id=planned.note["id"],
                action=planned.action,
                note_type=(planned.note["note_type"]["name"] or "")[:100],
                date_of_service=planned.note["datetime_of_service"],
                label=planned.label,
            )
            for index, planned in enumerate(plan.notes)
        )
        transaction.on_commit(lambda: _enqueue(run.pk))
    logger.info("Bulk run %s by user %s: %s", run.pk, user.pk, run.label)
    return run


def _enqueue(run_id: int) -> None:
    from notes.tasks import bulk_run  # the task module imports this one

    bulk_run.enqueue(run_id)


def run_cancel(*, user: AbstractBaseUser, run_id: int) -> BulkRun:
    """Stop the items of a run that have not started; the others go on to their outcome."""
    run = BulkRun.objects.get(pk=run_id, user=user)
    BulkRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    # A run no worker has picked up yet is cancelled at once.
    if BulkRun.objects.filter(pk=run.pk, status=BulkRun.Status.QUEUED).update(
        status=BulkRun.Status.CANCELLED, finished_at=_now()
    ):
        _skip_queued(run.pk, "Cancelled before it started.")
    run.refresh_from_db()
    return run


def _skip_queued(run_id: int, message: str) -> None:
    BulkItem.objects.filter(run_id=run_id, status=BulkItem.Status.QUEUED).update(
        status=BulkItem.Status.SKIPPED, message=message
    )


# -- running -----------------------------------------------------------------------


class _Gate:
    """Shared by a run's threads: closed for a while after a 429 (Canvas's Retry-After)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_at = 0.0

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, time.monotonic() + seconds)

    def wait(self) -> None:
        while True:
            with self._lock:
                remaining = self._open_at - time.monotonic()
            if remaining <= 0:
                return
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

    def take(self) -> tuple[str, Any] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._reads and self._reads[0][0] <= now:
                    self._busy += 1
                    return "read", heapq.heappop(self._reads)[2]
                if self._items:
                    self._busy += 1
                    return "send", self._items.popleft()
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
    claimed = BulkRun.objects.filter(
        pk=run_id, status__in=[BulkRun.Status.QUEUED, BulkRun.Status.RUNNING]
    ).update(status=BulkRun.Status.RUNNING, heartbeat_at=now)
    run = BulkRun.objects.select_related("user").filter(pk=run_id).first()
    if run is None or not claimed:
        return run.status if run else "missing"
    if run.user is None or not run.user.is_active:
        _skip_queued(run.pk, "Your account is no longer active.")
        return _finish(run)
    work = _Work(list(run.items.filter(status=BulkItem.Status.QUEUED).order_by("position")))
    # Items a dead worker sent are read again here too.
    for attempt_id in (
        NoteActionAttempt.objects.unresolved()
        .filter(bulk_item__run=run)
        .values_list("pk", flat=True)
    ):
        work.read_later(attempt_id, now)
    gate = _Gate()
    concurrency = max(1, conf.bulk_concurrency())
    if concurrency == 1:
        _worker_loop(run, work, gate)
    else:
        # Threads for the waiting on Canvas: each job is one call (two at a
        # read's deadline); the database work is a few short statements.
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [
                pool.submit(_worker_loop_in_thread, run, work, gate) for _ in range(concurrency)
            ]:
                future.result()
    return _finish(run)


def _worker_loop(run: BulkRun, work: _Work, gate: _Gate) -> None:
    while (job := work.take()) is not None:
        kind, target = job
        try:
            if kind == "send":
                attempt = _item_run(run, target, gate)
            else:
                check = attempt_check(attempt_id=target)
                attempt = None if check.settled else (target, check.retry_at)
            if isinstance(attempt, NoteActionAttempt) and attempt.in_flight:
                work.read_later(attempt.pk, _now() + FIRST_READ)
            elif isinstance(attempt, tuple):
                work.read_later(*attempt)
        finally:
            work.done()


def _worker_loop_in_thread(run: BulkRun, work: _Work, gate: _Gate) -> None:
    try:
        _worker_loop(run, work, gate)
    finally:
        connections.close_all()  # this thread's own database connections


def _finish(run: BulkRun) -> str:
    run.refresh_from_db(fields=["cancel_requested"])
    if run.cancel_requested:
        _skip_queued(run.pk, "Cancelled before it started.")
    status = BulkRun.Status.CANCELLED if run.cancel_requested else BulkRun.Status.DONE
    BulkRun.objects.filter(pk=run.pk, status=BulkRun.Status.RUNNING).update(
        status=status, finished_at=_now()
    )
    logger.info("Bulk run %s: %s", run.pk, status)
    return status


def _item_run(run: BulkRun, item: BulkItem, gate: _Gate) -> NoteActionAttempt | None:
    """Send one item once (or not at all when the run was cancelled); return its attempt."""
    # Imported here: services imports the tasks, which import this module.
    from notes.services import note_action_perform, refusal_message

    if BulkRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
        return None  # skipped by _finish
    gate.wait()
    now = _now()
    if not BulkItem.objects.filter(pk=item.pk, status=BulkItem.Status.QUEUED).update(
        status=BulkItem.Status.SENDING, sending_at=now
    ):
        return None  # another worker took it
    BulkRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
    spec = ACTIONS[item.action]
    for _ in range(RATE_LIMIT_RETRIES + 1):
        try:
            # The run reads its own notes back; the background confirmation is
            # only the backstop (at the deadline) should this worker die.
            attempt = note_action_perform(
                user=run.user,
                note_id=item.note_id,
                action=item.action,
                request_id=f"bulk-{run.pk}",
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
            return None
        BulkItem.objects.filter(pk=item.pk).update(status=BulkItem.Status.SENT, attempt=attempt)
        return attempt
    BulkItem.objects.filter(pk=item.pk).update(
        status=BulkItem.Status.REFUSED, message=RateLimited.default_message
    )
    return None


def runs_resume(*, now: datetime | None = None) -> int:
    """Resume the runs whose worker died: link or requeue their started items, run the rest.

    An item left "sending" either has its audit row (it was sent: the
    attempt is its outcome, confirmed like any other) or has none (nothing
    was sent: it goes back to the queue). Returns how many runs were resumed.
    """
    now = now or _now()
    stale = now - conf.pending_window() - timedelta(seconds=30)
    resumed = 0
    going = BulkRun.objects.filter(status__in=[BulkRun.Status.QUEUED, BulkRun.Status.RUNNING])
    silent = Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, created_at__lt=stale)
    for run in going.filter(silent):
        for item in run.items.filter(status=BulkItem.Status.SENDING):
            attempt = (
                NoteActionAttempt.objects.filter(
                    user_id=run.user_id,
                    note_id=item.note_id,
                    action=item.action,
                    started_at__gte=item.sending_at,
                    bulk_item__isnull=True,
                )
                .order_by("started_at")
                .first()
            )
            if attempt is not None:
                BulkItem.objects.filter(pk=item.pk).update(
                    status=BulkItem.Status.SENT, attempt=attempt
                )
            else:
                BulkItem.objects.filter(pk=item.pk, status=BulkItem.Status.SENDING).update(
                    status=BulkItem.Status.QUEUED, sending_at=None
                )
        BulkRun.objects.filter(pk=run.pk).update(status=BulkRun.Status.QUEUED, heartbeat_at=now)
        _enqueue(run.pk)
        resumed += 1
    return resumed


# -- progress ----------------------------------------------------------------------


#: What a person sees for an item, by its state.
RESULT_LABELS = {
    "waiting": "Waiting",
    "in_flight": "In progress",
    "confirmed": "Signed",
    "not_applied": "Not applied",
    "refused": "Refused",
    "unknown": "Unknown",
    "skipped": "Not started",
}


def item_result(item: BulkItem) -> str:
    """Return the item's result key (see RESULT_LABELS), from its attempt once it has one."""
    if item.status == BulkItem.Status.REFUSED:
        return "refused"
    if item.status == BulkItem.Status.SKIPPED:
        return "skipped"
    attempt = item.attempt
    if attempt is None:
        return "waiting" if item.status == BulkItem.Status.QUEUED else "in_flight"
    if attempt.in_flight:
        return "in_flight"
    if attempt.outcome == Outcome.CONFIRMED:
        return "confirmed"
    if attempt.outcome == Outcome.NOT_APPLIED:
        return "not_applied"
    if attempt.outcome == Outcome.FAILED:
        return "refused"
    return "unknown"


@dataclass(frozen=True)
class Progress:
    run: BulkRun
    items: list[tuple[BulkItem, str]]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def rows(self) -> list[tuple[BulkItem, str, str]]:
        """Return (item, result key, what a person reads) for each item, in run order."""
        return [(item, result, RESULT_LABELS[result]) for item, result in self.items]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(RESULT_LABELS, 0)
        for _, result in self.items:
            counts[result] += 1
        return counts

    @property
    def done(self) -> int:
        counts = self.counts
        return self.total - counts["waiting"] - counts["in_flight"]

    @property
    def finished(self) -> bool:
        return self.run.status in (BulkRun.Status.DONE, BulkRun.Status.CANCELLED) and (
            self.done == self.total
        )

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def run_progress(*, user: AbstractBaseUser, run_id: int) -> Progress:
    """Return a run of the user's and where each item stands (database reads only)."""
    run = BulkRun.objects.get(pk=run_id, user=user)
    items = list(run.items.select_related("attempt").order_by("position"))
    return Progress(run=run, items=[(item, item_result(item)) for item in items])


def run_list_for_user(*, user: AbstractBaseUser):
    """Return the user's runs, newest first."""
    return BulkRun.objects.filter(user=user).order_by("-created_at", "-id")


def runs_with_counts_for_user(*, user: AbstractBaseUser):
    """Return the user's runs, newest first, each with `total` and `done` (items settled)."""
    settled = (
        Q(items__status__in=[BulkItem.Status.REFUSED, BulkItem.Status.SKIPPED])
        | Q(items__attempt__resolved_at__isnull=False)
        | Q(items__attempt__outcome=Outcome.FAILED)
    )
    return run_list_for_user(user=user).annotate(
        total=Count("items"), done=Count("items", filter=settled)
    )
