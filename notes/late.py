"""Late landings: the only writer of applied_late (recorded not applied, shown by Canvas later).

Canvas may apply an action after the confirmation window closed. Such an
attempt, once Canvas shows the change (by the user's staff, at or after
the acceptance), becomes applied_late with the time Canvas shows; its
`resolved_at` (when it was recorded not applied) stays, and
`late_found_at` says when the portal saw it. Found by the periodic sweep
(`confirm_note_actions`: one batched read per user) or, at no Canvas cost,
by a page that has just read the note. One conditional UPDATE from
not_applied: nothing is recorded twice, whoever finds it first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from canvas_oauth.tokens import canvas_call
from integrations.canvas.exceptions import CanvasError
from integrations.canvas.plugin import plugin_client
from notes.confirmation import BATCH_SIZE, applied_entry, latest_change, since_of
from notes.models import NoteActionAttempt
from observability import metrics

logger = logging.getLogger(__name__)

Outcome = NoteActionAttempt.Outcome

#: How long after it was recorded not applied an attempt is still looked at.
LATE_HORIZON = timedelta(days=1)


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def attempt_late_record(
    *, attempt: NoteActionAttempt, entry: dict[str, Any], note: dict[str, Any] | None = None
) -> bool:
    """Record a not-applied attempt applied late at `entry`'s time; return if this wrote it."""
    fields: dict[str, Any] = {
        "outcome": Outcome.APPLIED_LATE,
        "applied_at": entry["at"],
        "late_found_at": _now(),
    }
    if note is not None:
        fields["note_state"] = note["state"]["code"][:8]
        fields["note_actions"] = ",".join(note.get("allowed_actions", []))[:128]
    updated = NoteActionAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.NOT_APPLIED).update(
        **fields
    )
    if updated:
        for name, value in fields.items():
            setattr(attempt, name, value)
        metrics.action_observe(action=attempt.action, outcome=Outcome.APPLIED_LATE)
        logger.info(
            "Note action %s on %s by user %s: applied late",
            attempt.action,
            attempt.note_id,
            attempt.user_id,
        )
    return bool(updated)


def attempt_late_from_note(*, attempt: NoteActionAttempt, note: dict[str, Any]) -> bool:
    """Record `attempt` applied late if the note just read shows its change as its last one.

    For a page that has read the note anyway: no Canvas call.
    """
    if attempt.outcome != Outcome.NOT_APPLIED:
        return False
    entry = applied_entry(attempt, latest_change(note))
    return entry is not None and attempt_late_record(attempt=attempt, entry=entry, note=note)


def attempts_find_late(*, now: datetime | None = None) -> int:
    """Read Canvas for recent not-applied attempts, one call per user; return how many landed."""
    now = now or _now()
    recent = (
        NoteActionAttempt.objects.filter(
            outcome=Outcome.NOT_APPLIED, resolved_at__gte=now - LATE_HORIZON
        )
        .select_related("user")
        .order_by("resolved_at", "pk")
    )
    by_user: dict[int, list[NoteActionAttempt]] = defaultdict(list)
    for attempt in recent:
        if attempt.user is not None and attempt.user.is_active and attempt.canvas_staff_id:
            by_user[attempt.user_id].append(attempt)
    landed = 0
    for attempts in by_user.values():
        for first in range(0, len(attempts), BATCH_SIZE):
            landed += _batch_find_late(attempts[first : first + BATCH_SIZE])
    return landed


def _batch_find_late(attempts: list[NoteActionAttempt]) -> int:
    """Read one user's notes once; record each attempt whose change Canvas now shows."""
    client = plugin_client()
    since = min(since_of(a) for a in attempts)
    ids = list(dict.fromkeys(a.note_id for a in attempts))
    try:
        notes = canvas_call(
            user=attempts[0].user,
            call=lambda token: client.notes_history(access_token=token, ids=ids, since=since),
        )["notes"]
    except CanvasError as exc:
        logger.warning("Looking for late landings: Canvas unreadable (%s)", exc.code)
        return 0
    landed = 0
    for attempt in attempts:
        note = notes.get(str(attempt.note_id))
        entry = note and applied_entry(attempt, note["history"])
        if entry:
            landed += attempt_late_record(attempt=attempt, entry=entry, note=note)
    return landed
