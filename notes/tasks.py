"""Background tasks of the notes app: thin shells that import their service inside the body.

So this module imports no other notes module at import time and never
closes an import cycle; enqueueing lives with the services
(`notes.confirmation.attempt_confirmation_enqueue`, `notes.bulk.runs`).
On Django's tasks API (django-tasks' backport): moving to Django 6 changes
only the import (`django.tasks`). The database backend (django-tasks-db)
needs no broker: `python manage.py db_worker` runs them, on as many hosts
as you like.
"""

from __future__ import annotations

from django_tasks import task


@task()
def attempt_confirm(attempt_id: int) -> str:
    """Read Canvas once for the attempt; record its outcome, or run again later.

    Returns the attempt's outcome after this run (the task's result).
    """
    from notes.confirmation import attempt_confirm_run

    return attempt_confirm_run(attempt_id=attempt_id)


#: The task's name before the vocabulary's: rows queued under it still run.
confirm_attempt = attempt_confirm


@task()
def bulk_run(run_id: int) -> str:
    """Carry out a bulk run's waiting items (see notes.bulk.executor); return the run's status."""
    from notes.bulk.executor import run_execute

    return run_execute(run_id=run_id)
