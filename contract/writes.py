"""The write phase (CONTRACT_WRITE=yes only): lock, unlock, sign, check-in, each confirmed.

Each action is sent once and confirmed through the note's history: an
entry in the expected state, by this staff member, at or after the
202's `accepted_at`, polled with backoff until a deadline. The delays
(Canvas's: accepted_at -> the entry's `at`; the wall clock: send -> seen)
suggest NOTES_CONFIRM_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any

from contract.context import Run, shown
from contract.report import Case, failed, passed, unobservable

DEADLINE_SECONDS = 60.0
#: lock then unlock, then sign (lock_sign) on each test note, as far as each is offered.
NOTE_STEPS = ("lock", "unlock", "lock_sign")


@dataclass(frozen=True)
class Applied:
    """One confirmed effect: which action, Canvas's delay and the wall-clock delay (seconds)."""

    action: str
    canvas_seconds: float
    wall_seconds: float


def _instant(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _entry_find(entries: Any, *, state: str, by: str | None, since: dt.datetime) -> dict | None:
    for entry in entries if isinstance(entries, list) else []:
        at = _instant(entry.get("at")) if isinstance(entry, dict) else None
        if at and at >= since and entry.get("state") == state and entry.get("by") == by:
            return entry
    return None


def action_confirm(run: Run, *, note_id: str, action: str) -> tuple[Applied | None, str]:
    """Send `action` and poll the history until it shows; return (timing or None, what was seen)."""
    sent = time.monotonic()
    answer = run.post(f"/notes/{note_id}/{action}")
    body = answer.body if isinstance(answer.body, dict) else {}
    accepted = _instant(body.get("accepted_at"))
    expected = (body.get("expected_state") or {}).get("code")
    if answer.status != 202 or accepted is None or not expected:
        return None, f"{action}: {shown(answer)}; expected 202 with accepted_at, expected_state"
    pause = 0.05
    while time.monotonic() - sent < DEADLINE_SECONDS:
        history = run.get(f"/notes/{note_id}/history")
        entries = history.body.get("history") if isinstance(history.body, dict) else None
        entry = _entry_find(entries, state=expected, by=run.staff_id, since=accepted)
        if entry is not None:
            canvas = (_instant(entry["at"]) - accepted).total_seconds()
            return Applied(action, canvas, time.monotonic() - sent), f"{action} -> {expected}"
        time.sleep(pause)  # bounded polling with backoff until the deadline
        pause = min(pause * 2, 0.5)
    return (
        None,
        f"{action}: no {expected} entry by this staff member within {DEADLINE_SECONDS:.0f} s",
    )


def _allowed(run: Run, note_id: str) -> tuple[list[str], dict]:
    answer = run.get(f"/notes/{note_id}")
    body = answer.body if isinstance(answer.body, dict) else {}
    return list(body.get("allowed_actions") or []), body


def case_note_actions(run: Run, timings: list[Applied]) -> list[Case]:
    """Lock, unlock and sign (lock_sign) each test note, as far as each is offered."""
    cases: list[Case] = []
    for index, note_id in enumerate(run.target.note_ids, start=1):
        for action in NOTE_STEPS:
            name = f"write.{action}.{index}"
            allowed, body = _allowed(run, note_id)
            if action not in allowed:
                state = (body.get("state") or {}).get("code")
                cases.append(
                    unobservable(name, f"{action} not offered in {state}", note_id=note_id)
                )
                continue
            applied, seen = action_confirm(run, note_id=note_id, action=action)
            if applied is None:
                cases.append(failed(name, seen, note_id=note_id))
                continue
            timings.append(applied)
            cases.append(
                passed(
                    name,
                    f"{seen} confirmed: Canvas {applied.canvas_seconds:.2f} s, "
                    f"wall {applied.wall_seconds:.2f} s",
                    note_id=note_id,
                )
            )
    return cases


def case_checkin(run: Run, timings: list[Applied]) -> Case:
    """Check in the test appointment; observe whether its note becomes an encounter note."""
    name = "write.checkin"
    note_id = run.target.appointment_id
    if not note_id:
        return unobservable(name, "no test appointment (CONTRACT_APPOINTMENT_ID)")
    allowed, body = _allowed(run, note_id)
    if "checkin" not in allowed:
        state = (body.get("state") or {}).get("code")
        return unobservable(name, f"checkin not offered on the test appointment in {state}")
    applied, seen = action_confirm(run, note_id=note_id, action="checkin")
    if applied is None:
        return failed(name, seen, note_id=note_id)
    timings.append(applied)
    after = (_allowed(run, note_id)[1].get("note_type") or {}).get("category")
    if after != "appointment":
        return passed(name, f"{seen}; the note is now a {after} note (converted)", category=after)
    return failed(
        name,
        f"{seen}; the note stays an appointment note: check-in does not convert it into an "
        "encounter note, so the visit cannot be locked and signed from the portal",
        "no setting covers this: sign the visit in Canvas, and report the instance to the "
        "portal's maintainers before go-live",
        category=after,
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def case_confirm_seconds(run: Run, timings: list[Applied]) -> Case:
    """p50, p99 and max of the delays; suggest NOTES_CONFIRM_SECONDS = max(10, ceil(3 x p99))."""
    name = "write.confirm_seconds"
    if not timings:
        return unobservable(name, "no effect was confirmed")
    wall = [t.wall_seconds for t in timings]
    canvas = [t.canvas_seconds for t in timings]
    stats = {
        "samples": len(timings),
        "canvas_p50": round(_quantile(canvas, 0.5), 3),
        "canvas_p99": round(_quantile(canvas, 0.99), 3),
        "canvas_max": round(max(canvas), 3),
        "wall_p50": round(_quantile(wall, 0.5), 3),
        "wall_p99": round(_quantile(wall, 0.99), 3),
        "wall_max": round(max(wall), 3),
    }
    suggested = max(10, math.ceil(3 * max(stats["wall_p99"], stats["canvas_p99"])))
    stats["suggested_confirm_seconds"] = suggested
    current = run.target.portal.confirm_seconds
    seen = (
        f"{len(timings)} effects: Canvas p50 {stats['canvas_p50']} s, p99 {stats['canvas_p99']} s, "
        f"max {stats['canvas_max']} s; wall p50 {stats['wall_p50']} s, p99 {stats['wall_p99']} s, "
        f"max {stats['wall_max']} s; suggested NOTES_CONFIRM_SECONDS={suggested} "
        f"(portal: {current:g})"
    )
    if current < suggested:
        return failed(name, seen, f"NOTES_CONFIRM_SECONDS={suggested}", **stats)
    return passed(name, seen, **stats)


def write_phase(run: Run) -> list[Case]:
    """Run every write case; the timing case comes last."""
    timings: list[Applied] = []
    cases = case_note_actions(run, timings)
    cases.append(case_checkin(run, timings))
    cases.append(case_confirm_seconds(run, timings))
    return cases
