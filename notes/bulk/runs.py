"""A run's life outside its worker: start, cancel and resume runs (the run rows and the task).

Nothing is sent twice: an item moves queued -> sending with a conditional
UPDATE before its one call (notes.bulk.executor), and an item whose answer
never came is confirmed by reading (its attempt), never re-sent. A worker
that dies leaves its run to `confirm_note_actions`, which links or requeues
the items it had started and runs the rest (`runs_resume`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notes import conf
from notes.bulk.planning import Plan
from notes.exceptions import RunInProgress
from notes.models import BulkItem, BulkRun, NoteActionAttempt
from notes.tasks import bulk_run
from observability import metrics

logger = logging.getLogger(__name__)

#: Why an item never started after a cancel.
CANCELLED_MESSAGE = "Cancelled before it started."
#: Why an item never started when its run waited too long for a worker.
EXPIRED_MESSAGE = "Not started: the run waited too long for the portal. Start it again."
GOING = (BulkRun.Status.QUEUED, BulkRun.Status.RUNNING)


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def run_enqueue(*, run: BulkRun) -> None:
    """Hand the run to a bulk worker (the task `notes.tasks.bulk_run`, on its own queue)."""
    bulk_run.enqueue(run.pk, user_id=run.user_id, request_id=run.request_id)


def run_active_for_user(*, user: AbstractBaseUser) -> BulkRun | None:
    """Return the user's run that is still going, or None."""
    return BulkRun.objects.filter(user=user, status__in=GOING).order_by("created_at").first()


def run_start(
    *, user: AbstractBaseUser, plan: Plan, request_id: str = "", client_ip: str | None = None
) -> BulkRun:
    """Record a run for the plan and queue it; one run at a time per person.

    Raises RunInProgress (with the going run's id) when the user has one.
    The request's id and client address are recorded on the run and its
    audit rows.
    """
    with transaction.atomic():
        # One run at a time per person: lock their user row to decide it.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        going = run_active_for_user(user=user)
        if going is not None:
            raise RunInProgress(going.pk)
        run = BulkRun.objects.create(
            user=user,
            username=user.get_username(),
            label=plan.title,
            created_at=_now(),
            request_id=(request_id or "")[:64],
            client_ip=client_ip or None,
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
                # Left out by the plan (e.g. commands not committed): never sent.
                status=BulkItem.Status.SKIPPED if planned.skip else BulkItem.Status.QUEUED,
                message=planned.skip[:300],
            )
            for index, planned in enumerate(plan.notes)
        )
        transaction.on_commit(lambda: run_enqueue(run=run))
    logger.info("Bulk run %s by user %s: %s", run.pk, user.pk, run.label)
    return run


def items_skip_queued(*, run_id: int, message: str) -> None:
    """Mark the run's items that have not started as skipped, saying why."""
    skipped = BulkItem.objects.filter(run_id=run_id, status=BulkItem.Status.QUEUED).update(
        status=BulkItem.Status.SKIPPED, message=message
    )
    for _ in range(skipped):
        metrics.bulk_item_observe(result=BulkItem.Status.SKIPPED)


def run_expire_if_late(*, run: BulkRun, now: datetime) -> bool:
    """Expire a queued run no worker started within NOTES_BULK_START_WITHIN; return if it did.

    Nothing of it was sent: its notes are not signed hours after the person asked.
    """
    if run.created_at >= now - conf.bulk_start_within():
        return False
    if not BulkRun.objects.filter(pk=run.pk, status=BulkRun.Status.QUEUED).update(
        status=BulkRun.Status.EXPIRED, finished_at=now
    ):
        return False
    items_skip_queued(run_id=run.pk, message=EXPIRED_MESSAGE)
    logger.info("Bulk run %s: expired before it started", run.pk)
    return True


def run_cancel(*, user: AbstractBaseUser, run_id: int) -> BulkRun:
    """Stop the items of a run that have not started; the others go on to their outcome."""
    run = BulkRun.objects.get(pk=run_id, user=user)
    BulkRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    # A run no worker has picked up yet is cancelled at once.
    if BulkRun.objects.filter(pk=run.pk, status=BulkRun.Status.QUEUED).update(
        status=BulkRun.Status.CANCELLED, finished_at=_now()
    ):
        items_skip_queued(run_id=run.pk, message=CANCELLED_MESSAGE)
    run.refresh_from_db()
    return run


def _item_relink(run: BulkRun, item: BulkItem) -> None:
    """Link an item a dead worker left "sending" to its attempt, or put it back in the queue."""
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
        BulkItem.objects.filter(pk=item.pk).update(status=BulkItem.Status.SENT, attempt=attempt)
    else:
        BulkItem.objects.filter(pk=item.pk, status=BulkItem.Status.SENDING).update(
            status=BulkItem.Status.QUEUED, sending_at=None
        )


def runs_resume(*, now: datetime | None = None) -> int:
    """Resume the runs whose worker died: link or requeue their started items, run the rest.

    An item left "sending" either has its audit row (it was sent: the
    attempt is its outcome, confirmed like any other) or has none (nothing
    was sent: it goes back to the queue). Returns how many runs were resumed.
    """
    now = now or _now()
    stale = now - conf.pending_window() - timedelta(seconds=30)
    resumed = 0
    silent = Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, created_at__lt=stale)
    for run in BulkRun.objects.filter(status__in=GOING).filter(silent):
        if run.status == BulkRun.Status.QUEUED and run_expire_if_late(run=run, now=now):
            continue
        for item in run.items.filter(status=BulkItem.Status.SENDING):
            _item_relink(run, item)
        BulkRun.objects.filter(pk=run.pk).update(status=BulkRun.Status.QUEUED, heartbeat_at=now)
        run_enqueue(run=run)
        resumed += 1
    return resumed
