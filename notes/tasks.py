"""Background work of the notes app, on Django's tasks API (django-tasks' backport).

Moving to Django 6 changes only the import (`django.tasks`). The database
backend (django-tasks-db) needs no broker: `python manage.py db_worker`
runs them, on as many hosts as you like.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError
from django_tasks import task

from notes.bulk import run_execute
from notes.confirmation import attempt_check

logger = logging.getLogger(__name__)


@task()
def confirm_attempt(attempt_id: int) -> str:
    """Read Canvas once for the attempt; settle it, or run again later (waiting longer each time).

    Returns the attempt's outcome after this run (the task's result).
    """
    check = attempt_check(attempt_id=attempt_id)
    if check.retry_at is not None:
        confirm_attempt.using(run_after=check.retry_at).enqueue(attempt_id)
    return check.outcome


def confirmation_enqueue(attempt_id: int, *, run_after: datetime | None = None) -> None:
    """Start confirming an attempt (now, or at `run_after`).

    If the queue cannot be written, `resolve_note_actions` settles it.
    """
    try:
        task = confirm_attempt.using(run_after=run_after) if run_after else confirm_attempt
        task.enqueue(attempt_id)
    except DatabaseError:
        logger.exception("Could not enqueue the confirmation of attempt %s", attempt_id)


@task()
def bulk_run(run_id: int) -> str:
    """Carry out a bulk run's waiting items (see notes.bulk); return the run's status."""
    return run_execute(run_id=run_id)
