"""Steps that run inside the portal (its settings, the bench's database).

`python -m bench.portal_tasks <task>` reads JSON on stdin and prints one JSON
line: seeding linked users with canvas_oauth's real encryption, expiring a
token, reading the audit log, and the in-process measurements of
bench.portal_profile. Run by bench.runner with the same environment as the
bench's gunicorn portal.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import time
from typing import Any

from bench.portal_profile import action_profile, worklist


def probe() -> dict[str, str]:
    """Return, per piece the scenarios need, "" if present or why it is missing."""
    from django.urls import NoReverseMatch, reverse

    missing: dict[str, str] = {}

    def check(name: str, fn) -> None:
        try:
            fn()
            missing[name] = ""
        except (ImportError, AttributeError, NoReverseMatch, LookupError) as exc:
            missing[name] = f"{type(exc).__name__}: {exc}"

    check(
        "access_token_get",
        lambda: importlib.import_module("canvas_oauth.tokens").access_token_get,
    )
    check("make_connection", lambda: importlib.import_module("tests.factories").make_connection)
    check(
        "note_action_perform",
        lambda: importlib.import_module("notes.attempts").note_action_perform,
    )
    check("audit_model", lambda: importlib.import_module("notes.models").NoteActionAttempt)
    check("worklist_url", lambda: reverse("notes:worklist"))
    check("bulk_url", lambda: reverse("notes:bulk"))
    check("bulk_model", lambda: importlib.import_module("notes.models").BulkRun)
    check(
        "action_url",
        lambda: reverse(
            "notes:action",
            kwargs={"note_id": "3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f", "action": "lock"},
        ),
    )
    return missing


def seed(*, users: list[dict[str, Any]], password: str) -> dict[str, int]:
    """Create local users in "Providers", each linked with its real sandbox tokens."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import transaction

    from tests.factories import make_connection

    # One hash for every bench user: hashing 50 times would only slow set-up.
    hashed = make_password(password)
    providers, _ = Group.objects.get_or_create(name="Providers")
    model = get_user_model()
    with transaction.atomic():
        for spec in users:
            user = model.objects.create(
                username=spec["username"], email=f"{spec['username']}@bench.invalid"
            )
            user.password = hashed
            user.save(update_fields=["password"])
            user.groups.add(providers)
            make_connection(
                user,
                access_token=spec["access_token"],
                refresh_token=spec["refresh_token"],
                expires_in=int(spec["expires_in"]),
                staff_id=spec["staff_id"],
                staff_name=spec["staff_name"],
                canvas_user_id=spec["canvas_user_id"],
            )
    return {"users": len(users)}


def expire(*, usernames: list[str]) -> dict[str, Any]:
    """Mark the users' access tokens as expired an hour ago (stale tokens to refresh)."""
    from datetime import timedelta

    from django.utils import timezone

    from canvas_oauth.models import CanvasConnection

    count = CanvasConnection.objects.filter(user__username__in=usernames).update(
        access_expires_at=timezone.now() - timedelta(hours=1)
    )
    return {"updated": count}


def connection(*, username: str) -> dict[str, Any]:
    """Return the status and refresh bookkeeping of a user's Canvas link (no tokens)."""
    from canvas_oauth.models import CanvasConnection

    row = CanvasConnection.objects.filter(user__username=username).first()
    if row is None:
        return {"status": None}
    return {
        "status": row.status,
        "refresh_count": row.refresh_count,
        "last_error_code": row.last_error_code,
        "expires_in_s": None
        if row.access_expires_at is None
        else round(row.access_expires_at.timestamp() - time.time()),
    }


def audit(*, since_id: int = 0) -> dict[str, Any]:
    """Count audit rows after `since_id`, by outcome and error code."""
    from django.db.models import Count, Max

    from notes.models import NoteActionAttempt

    rows = NoteActionAttempt.objects.filter(pk__gt=since_id)
    by_outcome = dict(rows.values_list("outcome").annotate(n=Count("id")).order_by())
    by_code = dict(rows.values_list("error_code").annotate(n=Count("id")).order_by())
    top = NoteActionAttempt.objects.aggregate(m=Max("id"))["m"] or 0
    return {
        "total": sum(by_outcome.values()),
        "by_outcome": by_outcome,
        "by_error_code": by_code,
        "max_id": top,
    }


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _attempt_row(row) -> dict[str, Any]:
    """Return an audit row as the bench reads it (ISO times, no note content)."""
    return {
        "id": row.pk,
        "note_id": str(row.note_id),
        "action": row.action,
        "outcome": row.outcome,
        "error_code": row.error_code,
        "canvas_staff_id": row.canvas_staff_id,
        "expected_state": row.expected_state,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "accepted_at": _iso(row.accepted_at),
        "applied_at": _iso(row.applied_at),
        "resolved_at": _iso(row.resolved_at),
    }


def attempts(*, ids: list[int]) -> dict[str, Any]:
    """Return these audit rows as the confirmation left them (ISO times), and the time now."""
    from django.utils import timezone

    from notes.models import NoteActionAttempt

    rows = {str(row.pk): _attempt_row(row) for row in NoteActionAttempt.objects.filter(pk__in=ids)}
    return {"now": timezone.now().isoformat(), "attempts": rows}


def settle_times(*, since: float, until: float, usernames: list[str]) -> dict[str, Any]:
    """Return when each action these users had accepted in [since, until] settled (epochs).

    An action counts when the portal completed its row in the window
    (`finished_at`, the portal's clock, just before its answer) with an
    outcome the worker confirms: refused (failed) and pending rows are left
    out. Each row: [finished_at, resolved_at or None, outcome]. `now` is the
    portal's clock as the rows were read.
    """
    from datetime import UTC, datetime

    from django.utils import timezone

    from notes.models import NoteActionAttempt

    rows = (
        NoteActionAttempt.objects.filter(
            username__in=usernames,
            finished_at__gte=datetime.fromtimestamp(since, tz=UTC),
            finished_at__lte=datetime.fromtimestamp(until, tz=UTC),
        )
        .exclude(outcome__in=("pending", "failed"))
        .values_list("finished_at", "resolved_at", "outcome")
    )
    return {
        "now": timezone.now().timestamp(),
        "rows": [
            [finished.timestamp(), resolved.timestamp() if resolved else None, outcome]
            for finished, resolved, outcome in rows
        ],
    }


def bulk_run(*, run_id: int) -> dict[str, Any]:
    """Return a bulk run, its items with their attempts, and the worker's tasks for it.

    `tasks`: the run's own task (notes.tasks.bulk_run) and every confirmation
    check (notes.tasks.attempt_confirm) of its attempts, from django-tasks-db's
    table: when each was enqueued, started and finished.
    """
    from django.utils import timezone

    from notes import conf
    from notes.models import BulkRun

    run = BulkRun.objects.get(pk=run_id)
    items = []
    for item in run.items.select_related("attempt").order_by("position"):
        items.append(
            {
                "position": item.position,
                "note_id": str(item.note_id),
                "action": item.action,
                "status": item.status,
                "message": item.message,
                "sending_at": _iso(item.sending_at),
                "attempt": _attempt_row(item.attempt) if item.attempt_id else None,
            }
        )
    out: dict[str, Any] = {
        "now": timezone.now().isoformat(),
        "concurrency": conf.bulk_concurrency(),
        "confirm_seconds": conf.confirm_window().total_seconds(),
        "run": {
            "id": run.pk,
            "label": run.label,
            "status": run.status,
            "cancel_requested": run.cancel_requested,
            "created_at": _iso(run.created_at),
            "heartbeat_at": _iso(run.heartbeat_at),
            "finished_at": _iso(run.finished_at),
        },
        "items": items,
    }
    out["tasks"] = _run_tasks(run, items)
    return out


def _run_tasks(run, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the worker's task rows of a bulk run: its own, and every check of its attempts."""
    from datetime import timedelta

    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {"run": None, "checks": []}
    ids = {item["attempt"]["id"] for item in items if item["attempt"]}
    rows = DBTaskResult.objects.filter(
        enqueued_at__gte=run.created_at - timedelta(seconds=5)
    ).values_list("task_path", "args_kwargs", "status", "enqueued_at", "started_at", "finished_at")
    for path, args_kwargs, status, enqueued, started, finished in rows:
        args = (args_kwargs or {}).get("args") or []
        times = {
            "status": status,
            "enqueued_at": _iso(enqueued),
            "started_at": _iso(started),
            "finished_at": _iso(finished),
        }
        if path.endswith(".bulk_run") and args[:1] == [run.pk]:
            out["run"] = times
        elif (
            path.endswith((".attempt_confirm", ".confirm_attempt")) and args[:1] and args[0] in ids
        ):
            out["checks"].append({"attempt_id": args[0], **times})
    return out


def lane_load(*, since: float, until: float, queue: str = "default") -> dict[str, Any]:
    """Return what one worker lane ran between two epochs, by whose attempt and kind of task.

    Per (username of the attempt checked, "now" or "scheduled"): tasks
    started in the window, the seconds they ran, and the p50 ms each waited
    past its due time (enqueued, or `run_after` when scheduled) before a
    worker took it. A task due "now" sorts after every due scheduled one
    (django-tasks-db orders by priority, then run_after).
    """
    from datetime import UTC, datetime

    from django_tasks_db.models import DBTaskResult, get_date_max

    from bench.stats import percentile
    from notes.models import NoteActionAttempt

    rows = list(
        DBTaskResult.objects.filter(
            queue_name=queue,
            started_at__gte=datetime.fromtimestamp(since, tz=UTC),
            started_at__lte=datetime.fromtimestamp(until, tz=UTC),
        ).values_list("args_kwargs", "run_after", "enqueued_at", "started_at", "finished_at")
    )
    ids = {(a or {}).get("args", [None])[0] for a, *_ in rows}
    users = dict(NoteActionAttempt.objects.filter(pk__in=ids).values_list("pk", "username"))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for args_kwargs, run_after, enqueued, started, finished in rows:
        attempt_id = (args_kwargs or {}).get("args", [None])[0]
        now = run_after == get_date_max()
        key = (users.get(attempt_id, "?"), "now" if now else "scheduled")
        group = groups.setdefault(key, {"tasks": 0, "ran_s": 0.0, "waits": []})
        group["tasks"] += 1
        group["ran_s"] += (finished - started).total_seconds() if finished else 0.0
        group["waits"].append((started - (enqueued if now else run_after)).total_seconds() * 1000)
    return {
        "groups": [
            {
                "username": user,
                "kind": kind,
                "tasks": g["tasks"],
                "ran_s": round(g["ran_s"], 2),
                "wait_p50_ms": round(percentile(g["waits"], 50), 1),
            }
            for (user, kind), g in sorted(groups.items())
        ]
    }


def messages() -> dict[str, list[str]]:
    """Return every default message a person can be shown for a notes or link error."""
    from canvas_oauth import exceptions as oauth_exceptions
    from integrations.canvas import exceptions as canvas_exceptions
    from notes import exceptions as notes_exceptions

    found: set[str] = set()
    for module in (canvas_exceptions, oauth_exceptions, notes_exceptions):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            text = getattr(cls, "default_message", None) or getattr(cls, "message", None)
            if isinstance(text, str) and text:
                found.add(text)
    return {"messages": sorted(found)}


TASKS = {
    "action_profile": action_profile,
    "probe": probe,
    "seed": seed,
    "expire": expire,
    "connection": connection,
    "audit": audit,
    "attempts": attempts,
    "settle_times": settle_times,
    "lane_load": lane_load,
    "bulk_run": bulk_run,
    "messages": messages,
    "worklist": worklist,
}


def main() -> None:
    """Run the task named on the command line with keyword arguments from stdin."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.portal_settings")
    import django

    django.setup()
    task = TASKS[sys.argv[1]]
    kwargs = json.loads(sys.stdin.read() or "{}")
    print(json.dumps(task(**kwargs), default=str))


if __name__ == "__main__":
    main()
