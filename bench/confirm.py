"""Scenario 6's bookkeeping: what the portal said about an action against what Canvas did.

Plain Python (no Django, no HTTP), so it is tested on its own. The portal's
side is an attempt as `bench.portal_tasks.attempts` returns it (ISO times);
Canvas's side is the sandbox control API's list of a note's effects, each
with the `accepted_at` of the 202 that created it and its fate (`status`:
pending, applied, or refused / vetoed / rejected when Canvas dropped it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

#: The toast level of a settled attempt (the 286 answer) -> what the portal said.
SAID = {"success": "confirmed", "error": "not_applied", "warning": "unknown"}
#: Outcomes the portal has not settled yet (NoteActionAttempt.objects.unresolved()).
UNRESOLVED = ("accepted", "unknown")
#: An attempt without Canvas's accepted_at (no answer came back) is matched to
#: the effects its user's staff got accepted within this much of its request.
CLOCK_ALLOWANCE = timedelta(seconds=5)


def when(value: str | None) -> datetime | None:
    """Parse an ISO date-time (None or "" -> None)."""
    return datetime.fromisoformat(value) if value else None


def said_outcome(level: str) -> str:
    """Return what a settled attempt's toast level says: confirmed, not_applied or unknown."""
    return SAID.get(level, f"level {level or 'none'}")


def effects_of(attempt: dict[str, Any], effects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the note's effects that Canvas accepted for this attempt.

    The same `accepted_at` instant as the 202 the portal recorded; without
    one (the answer never came back), the effects of the attempt's staff
    accepted between its start and its end, give or take the allowance.
    """
    accepted = when(attempt.get("accepted_at"))
    staff = attempt.get("canvas_staff_id") or None
    mine = [e for e in effects if staff is None or e.get("by") in (None, staff)]
    if accepted is not None:
        return [e for e in mine if when(e["accepted_at"]) == accepted]
    start = when(attempt.get("started_at"))
    end = when(attempt.get("finished_at")) or start
    if start is None:
        return []
    low, high = start - CLOCK_ALLOWANCE, end + CLOCK_ALLOWANCE
    return [e for e in mine if low <= when(e["accepted_at"]) <= high]


def sandbox_truth(attempt: dict[str, Any], effects: Iterable[dict[str, Any]]) -> str:
    """Return what Canvas did with the attempt's action.

    "applied" (every effect landed), "not_applied" (none did), "partial",
    "pending" (an effect is not due yet) or "none" (Canvas accepted nothing).
    """
    found = effects_of(attempt, effects)
    if not found:
        return "none"
    statuses = [e["status"] for e in found]
    if "pending" in statuses:
        return "pending"
    applied = statuses.count("applied")
    if applied == len(statuses):
        return "applied"
    return "not_applied" if applied == 0 else "partial"


def is_wrong(said: str, truth: str) -> bool:
    """Return whether the portal's word contradicts Canvas.

    Confirmed when Canvas did not apply the action, or not applied when it
    did. "unknown" never is: the portal then says it could not tell.
    """
    if said == "confirmed":
        return truth != "applied"
    if said == "not_applied":
        return truth in ("applied", "partial")
    return False


def overdue(
    attempt: dict[str, Any], *, now: datetime, confirm_seconds: float, margin_seconds: float
) -> bool:
    """Return whether an attempt is still unresolved past its deadline and the margin.

    The deadline is NOTES_CONFIRM_SECONDS after the portal got Canvas's
    answer (or after it started, with no answer recorded).
    """
    if attempt.get("outcome") not in UNRESOLVED or attempt.get("resolved_at"):
        return False
    base = when(attempt.get("finished_at")) or when(attempt.get("started_at"))
    if base is None:
        return True
    return now > base + timedelta(seconds=confirm_seconds + margin_seconds)


def ms_between(attempt: dict[str, Any], first: str, last: str) -> float | None:
    """Return the milliseconds between two of an attempt's times (None if either is missing)."""
    start, end = when(attempt.get(first)), when(attempt.get(last))
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 2)
