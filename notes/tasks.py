"""Background tasks of the notes app: thin shells that import their service inside the body.

So this module imports no other notes module at import time and never
closes an import cycle; enqueueing lives with the services
(`notes.confirmation.attempt_confirmation_enqueue`, `notes.bulk.runs`).
On Django's tasks API (django-tasks' backport): moving to Django 6 changes
only the import (`django.tasks`). The database backend (django-tasks-db)
needs no broker. Two lanes: confirmations on "default"
(`db_worker --queue-name default`), bulk runs on "bulk"
(`db_worker --queue-name bulk`), on as many hosts as you like. Each body
runs inside `log_context`, so its log lines carry the request and user id.
"""

from __future__ import annotations

from django_tasks import task

from observability.context import log_context

#: The queue of bulk runs: their own worker(s), so a click's confirmation
#: never waits behind a run (settings.TASKS, scripts/run_dev.py).
BULK_QUEUE = "bulk"


@task()
def attempt_confirm(attempt_id: int, user_id: int | None = None, request_id: str = "") -> str:
    """Read Canvas once for the attempt and its user's others; record outcomes, or run again.

    Returns the attempt's outcome after this run (the task's result).
    `user_id` and `request_id` only tag the log lines (rows queued without
    them still run).
    """
    from notes.confirm_runs import attempt_confirm_run

    with log_context(request_id=request_id or None, user_id=user_id):
        return attempt_confirm_run(attempt_id=attempt_id)


#: The task's name before the vocabulary's: rows queued under it still run.
confirm_attempt = attempt_confirm


@task(queue_name=BULK_QUEUE)
def bulk_run(run_id: int, user_id: int | None = None, request_id: str = "") -> str:
    """Carry out a bulk run's waiting items (see notes.bulk.executor); return the run's status."""
    from notes.bulk.executor import run_execute

    with log_context(request_id=request_id or None, user_id=user_id):
        return run_execute(run_id=run_id)
