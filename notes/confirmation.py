"""Confirming what Canvas accepted: the only writer of an attempt's final outcome.

A 202 means Canvas *accepted* an action; it applies the effects after
answering and may still refuse them. An attempt that Canvas accepted (or
whose answer never came back) is confirmed here, by reading the note
through the user's own token (`canvas_call`, so a refresh stays
single-flight), until its outcome is final:

- **confirmed** when the history holds an expected state entered by the
  user's Canvas staff at or after the acceptance;
- **not_applied** when a read made at or after the deadline
  (`NOTES_CONFIRM_SECONDS` after the answer) still shows no such change;
- **unknown** when Canvas could not be read by then (the link was lost,
  Canvas was down): the portal says no more than it saw.

Reads are batched by user (a token is per user): one call
(`GET /notes/history`) reads every note the user has an action in flight
on, so Canvas reads grow with the users who have actions in flight, not
with the actions. The background task (notes.tasks.attempt_confirm, its
body in notes.confirm_runs) holds one chain of reads per user
(`next_check_at`, claimed with a conditional UPDATE), reads several users
at once and schedules each one's next read, waiting longer each time. An outcome is
recorded with one conditional UPDATE, so two confirmers never disagree:
the first writes, the second finds the outcome final.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from canvas_oauth.tokens import canvas_call
from integrations.canvas.exceptions import CanvasError, RateLimited
from integrations.canvas.plugin import plugin_client
from notes import conf
from notes.actions import ACTIONS
from notes.models import NoteActionAttempt
from notes.tasks import attempt_confirm
from observability import metrics

logger = logging.getLogger(__name__)

Outcome = NoteActionAttempt.Outcome

#: An attempt whose answer never came back has no Canvas time of acceptance:
#: its history is read from its start on the portal's clock, less this much
#: for the two clocks to disagree.
CLOCK_ALLOWANCE = timedelta(seconds=5)
#: The shortest wait between reads, and the longest. Each wait is a quarter
#: of the time since the answer, within these bounds: reads at about 0,
#: 0.075, 0.15, 0.225, 0.3, 0.375, 0.47, 0.59, 0.73, 0.92, 1.15 ... s (Canvas
#: applies effects within a second or so, and a person is watching the
#: row), then every 5 s until the deadline: about 30 reads for an action
#: Canvas never applies.
FIRST_WAIT = timedelta(seconds=0.075)
#: The most notes one batched read asks for (the plugin's limit).
BATCH_SIZE = 100
#: How long a confirmer holds a user's attempts while it reads Canvas for them.
LEASE = timedelta(seconds=60)
LONGEST_WAIT = timedelta(seconds=5)
WAIT_FRACTION = 4


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


@dataclass(frozen=True)
class Check:
    """The result of one check: the attempt's outcome now, and when to read again."""

    outcome: str
    #: When to read again; None once the attempt's outcome is final.
    retry_at: datetime | None = None

    @property
    def final(self) -> bool:
        return self.retry_at is None


def deadline_of(attempt: NoteActionAttempt) -> datetime:
    """Return when an unconfirmed attempt is recorded as not applied."""
    return (attempt.finished_at or attempt.started_at) + conf.confirm_window()


def expected_states_of(attempt: NoteActionAttempt) -> tuple[str, ...]:
    """Return the states whose appearance proves the attempt applied."""
    if attempt.expected_state:
        return (attempt.expected_state,)
    spec = ACTIONS.get(attempt.action)
    return spec.final_states if spec else ()


def since_of(attempt: NoteActionAttempt) -> datetime:
    return attempt.accepted_at or (attempt.started_at - CLOCK_ALLOWANCE)


def applied_entry(attempt: NoteActionAttempt, history: list[dict[str, Any]]) -> dict | None:
    """Return the history entry that proves the attempt applied, or None."""
    if not attempt.canvas_staff_id:
        return None  # nobody to attribute the change to: never confirm on a guess
    states, since = expected_states_of(attempt), since_of(attempt)
    for entry in history:
        if (
            entry["state"] in states
            and entry["by"] == attempt.canvas_staff_id
            and entry["at"] is not None
            and entry["at"] >= since
        ):
            return entry
    return None


def latest_change(note: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the note's last history entry, as its state carries it."""
    state = note["state"]
    return [{"state": state["code"], "at": state.get("changed_at"), "by": state.get("changed_by")}]


def _in_flight_of(attempt: NoteActionAttempt) -> list[NoteActionAttempt]:
    """Return `attempt` and its user's other unconfirmed attempts: one batch read's worth."""
    others = (
        NoteActionAttempt.objects.unresolved()
        .filter(user_id=attempt.user_id)
        .exclude(pk=attempt.pk)
        .order_by("finished_at", "pk")[: BATCH_SIZE - 1]
    )
    return [attempt, *others]


def attempt_check(*, attempt_id: int) -> Check:
    """Read Canvas for an accepted or unknown attempt; record its outcome or say when to read again.

    One call reads this attempt's note and those of every other attempt
    of its user still in flight (`notes_history`: each note's state, its
    last change and its history since the oldest acceptance), so Canvas
    reads grow with the users who have actions in flight, not with the
    actions; every attempt the read settles is recorded, and the others get
    their next read (`next_check_at`).
    """
    attempt = NoteActionAttempt.objects.select_related("user").filter(pk=attempt_id).first()
    if attempt is None:
        return Check(outcome="missing")
    if not attempt.in_flight or attempt.outcome == Outcome.PENDING:
        return Check(outcome=attempt.outcome)  # final already (or not ours to confirm yet)
    checks = attempts_check(attempts=_in_flight_of(attempt), now=_now())
    return checks[attempt.pk]


def attempts_check(*, attempts: list[NoteActionAttempt], now: datetime) -> dict[int, Check]:
    """Check unconfirmed attempts of one user with one Canvas read; return each one's Check."""
    user = attempts[0].user
    if user is None or not user.is_active:
        return {
            a.pk: _outcome_record(a, outcome=Outcome.UNKNOWN, error_code="user_inactive")
            for a in attempts
        }
    try:
        notes = _canvas_read(attempts, user=user)
    except CanvasError as exc:
        logger.warning("Confirming %d attempt(s): Canvas unreadable (%s)", len(attempts), exc.code)
        wait = exc.retry_after if isinstance(exc, RateLimited) else None
        checks = {a.pk: _unreadable(a, now=now, code=exc.code, wait=wait) for a in attempts}
    else:
        checks = {a.pk: _judge(a, notes.get(str(a.note_id)), now=now) for a in attempts}
    for attempt in attempts:
        if checks[attempt.pk].retry_at is not None:
            NoteActionAttempt.objects.filter(pk=attempt.pk).unresolved().update(
                next_check_at=checks[attempt.pk].retry_at
            )
    return checks


def _unreadable(
    attempt: NoteActionAttempt, *, now: datetime, code: str, wait: float | None
) -> Check:
    """Canvas could not be read: unknown at the deadline, else read again later."""
    deadline = deadline_of(attempt)
    if now >= deadline:
        return _outcome_record(attempt, outcome=Outcome.UNKNOWN, error_code=code)
    return Check(outcome=attempt.outcome, retry_at=_next_read(attempt, now, deadline, wait))


def _judge(attempt: NoteActionAttempt, note: dict[str, Any] | None, *, now: datetime) -> Check:
    """Record what one read shows of one attempt's note, or say when to read again."""
    deadline = deadline_of(attempt)
    if note is None:
        # Canvas shows no such note to this user (deleted, or no longer theirs).
        if now >= deadline:
            return _outcome_record(attempt, outcome=Outcome.UNKNOWN, error_code="note_not_found")
        return Check(outcome=attempt.outcome, retry_at=_next_read(attempt, now, deadline, None))
    entry = applied_entry(attempt, latest_change(note)) or applied_entry(attempt, note["history"])
    if entry is not None:
        return _outcome_record(
            attempt, outcome=Outcome.CONFIRMED, applied_at=entry["at"], note=note
        )
    if now >= deadline:
        if not attempt.canvas_staff_id:
            return _outcome_record(
                attempt, outcome=Outcome.UNKNOWN, error_code="no_staff_id", note=note
            )
        return _outcome_record(attempt, outcome=Outcome.NOT_APPLIED, note=note)
    return Check(outcome=attempt.outcome, retry_at=_next_read(attempt, now, deadline, None))


def _canvas_read(attempts: list[NoteActionAttempt], *, user: Any) -> dict[str, dict[str, Any]]:
    """Return the attempts' notes by id, each with its state and history, in one call.

    The history starts at the oldest attempt's acceptance, so a change that
    another one has already followed is still found.
    """
    client = plugin_client()
    since = min(since_of(a) for a in attempts)
    ids = list(dict.fromkeys(a.note_id for a in attempts))
    return canvas_call(
        user=user,
        call=lambda token: client.notes_history(access_token=token, ids=ids, since=since),
    )["notes"]


def _next_read(
    attempt: NoteActionAttempt, now: datetime, deadline: datetime, wait_seconds: float | None
) -> datetime:
    """Return when to read again: later each time, never past the deadline's read."""
    elapsed = now - (attempt.finished_at or attempt.started_at)
    wait = min(max(elapsed / WAIT_FRACTION, FIRST_WAIT), LONGEST_WAIT)
    if wait_seconds is not None:
        wait = max(wait, timedelta(seconds=wait_seconds))
    return min(now + wait, max(deadline, now + FIRST_WAIT))


def _outcome_record(
    attempt: NoteActionAttempt,
    *,
    outcome: str,
    error_code: str = "",
    applied_at: datetime | None = None,
    note: dict[str, Any] | None = None,
) -> Check:
    """Write the final outcome once; return what the row says after (maybe another's write)."""
    fields: dict[str, Any] = {"outcome": outcome, "resolved_at": _now(), "applied_at": applied_at}
    if error_code:
        fields["error_code"] = error_code[:64]
    if note is not None:
        # The note as Canvas showed it, as codes, so the page can redraw its
        # row without calling Canvas.
        fields["note_state"] = note["state"]["code"][:8]
        fields["note_actions"] = ",".join(note.get("allowed_actions", []))[:128]
    updated = NoteActionAttempt.objects.filter(pk=attempt.pk).unresolved().update(**fields)
    if not updated:
        attempt.refresh_from_db(fields=["outcome"])
        return Check(outcome=attempt.outcome)
    metrics.action_observe(action=attempt.action, outcome=outcome)
    sent_at = attempt.finished_at or attempt.started_at
    metrics.confirmation_lag_observe(
        seconds=(fields["resolved_at"] - sent_at).total_seconds(), outcome=outcome
    )
    logger.info(
        "Note action %s on %s by user %s: %s",
        attempt.action,
        attempt.note_id,
        attempt.user_id,
        outcome,
    )
    return Check(outcome=outcome)


def attempts_confirm_overdue(*, now: datetime | None = None) -> dict[str, int]:
    """Confirm every attempt still in flight past its deadline (a dead worker); count outcomes.

    Pending rows older than the double-submit window (a request that died
    after sending) become unknown first, and are then read like the rest.
    """
    now = now or _now()
    window = conf.pending_window()
    # The request had ended (one way or another) by the end of its window.
    NoteActionAttempt.objects.filter(outcome=Outcome.PENDING, started_at__lt=now - window).update(
        outcome=Outcome.UNKNOWN, error_code="abandoned", finished_at=F("started_at") + window
    )
    counts: dict[str, int] = {}
    due = NoteActionAttempt.objects.unresolved().filter(
        finished_at__lte=now - conf.confirm_window()
    )
    for attempt_id in list(due.order_by("finished_at").values_list("pk", flat=True)):
        check = attempt_check(attempt_id=attempt_id)
        counts[check.outcome] = counts.get(check.outcome, 0) + 1
    return counts


def attempt_confirmation_enqueue(
    *,
    attempt_id: int,
    run_after: datetime | None = None,
    user_id: int | None = None,
    request_id: str = "",
    queue_name: str = "",
) -> None:
    """Start confirming an attempt (now, or at `run_after`), with its user's others.

    Always with a due time: django-tasks-db orders a worker's due tasks by
    run_after and gives a task without one the year 9999, so a click's first
    read would wait behind every scheduled read already due. `queue_name`
    (a bulk run's backstop goes on its own lane) defaults to the task's.
    `user_id` and `request_id` tag the task's log lines. If the queue cannot
    be written, `confirm_note_actions` confirms it.
    """
    lane = {"queue_name": queue_name} if queue_name else {}
    try:
        task = attempt_confirm.using(run_after=run_after or _now(), **lane)
        task.enqueue(attempt_id, user_id=user_id, request_id=request_id)
    except DatabaseError:
        logger.exception("Could not enqueue the confirmation of attempt %s", attempt_id)
