"""Scenario 6: actions followed until settled, judged against what the sandbox applied."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bench import confirm as truth
from bench.http import SETTLED, PortalUser
from bench.scenarios.common import (
    ACTION_FOR_STATE,
    at_most,
    drain_confirmations,
    new_note,
    not_run,
)
from bench.stats import ratio, summarize

if TYPE_CHECKING:
    from bench.runner import Run


def confirm(run: Run) -> dict[str, Any]:
    """Actions through the portal followed to the end: confirmed in time, and truthfully."""
    if why := run.requires("make_connection", "note_action_perform", "action_url", "audit_model"):
        return not_run(why)
    s = run.settings
    names = [f"cnf{i:02d}" for i in range(1, s.confirm_users + 1)]
    users = run.login_many(names)
    notes = [new_note(run, name) for name in names]
    backlog = drain_confirmations(run)
    faults = {
        "latency_ms": s.confirm_latency_ms,
        "effect_delay_ms": s.confirm_effect_delay_ms,
        "effect_reject_rate": s.confirm_reject_rate,
        "seed": s.confirm_seed,
    }
    run.control.set_faults(**faults)
    started = time.monotonic()
    seen = _follow_all(run, users, notes)
    elapsed = time.monotonic() - started
    ids = [item["attempt_id"] for item in seen if item["attempt_id"] is not None]
    # Unresolved: still unsettled once every deadline (NOTES_CONFIRM_SECONDS after
    # the portal's answer, which came before `answered`) and the margin have passed.
    last = max((item["answered"] for item in seen), default=time.monotonic())
    time.sleep(max(0.0, last + s.confirm_seconds + s.confirm_margin_s + 0.5 - time.monotonic()))
    rows = run.task("attempts", ids=ids)
    effects = {note_id: run.control.effects(note_id) for note_id in notes}
    run.control.reset_faults()
    checked = _checked(run, seen, rows=rows, effects=effects)
    return {
        "users": len(users),
        "actions": len(seen),
        "seconds": round(elapsed, 1),
        "faults": faults,
        "confirm_seconds": s.confirm_seconds,
        "confirm_workers": s.confirm_workers,
        "poll_every_ms": s.confirm_poll_ms,
        "backlog_before": backlog,
        "refused": len(seen) - len(checked),
        "refusals": [item["refused"] for item in seen if "refused" in item][:5],
        **_figures(run, checked, attempts=rows["attempts"]),
    }


def _follow_all(run: Run, users: list[PortalUser], notes: list[str]) -> list[dict[str, Any]]:
    """Have every user act on its own note, in parallel; return every action followed."""
    s = run.settings
    # Each user acts on its own note, one action at a time (the next waits for the
    # last to settle, so it is chosen from the note's true state).
    per_user = [s.confirm_actions // len(users)] * len(users)
    for index in range(s.confirm_actions % len(users)):
        per_user[index] += 1
    give_up_s = s.confirm_seconds + s.confirm_margin_s + 10

    def user_loop(index: int) -> list[dict]:
        return [
            follow(
                users[index],
                notes[index],
                run.control,
                poll_s=s.confirm_poll_ms / 1000,
                give_up_s=give_up_s,
            )
            for _ in range(per_user[index])
        ]

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        return [item for chunk in pool.map(user_loop, range(len(users))) for item in chunk]


def follow(user: PortalUser, note_id: str, control, *, poll_s: float, give_up_s: float) -> dict:
    """Send one action and poll its attempt until settled (286); return what was seen.

    `ms` runs from just before the POST is sent to the arrival of the 286.
    """
    action = ACTION_FOR_STATE.get(control.note_state(note_id), "lock")
    started = time.perf_counter()
    sent = user.action(note_id, action)
    seen: dict[str, Any] = {
        "answered": time.monotonic(),
        "note_id": note_id,
        "action": action,
        "post_status": sent.status,
        "post_ms": round(sent.ms, 2),
        "attempt_id": sent.attempt_id,
        "polls": 0,
        "poll_statuses": Counter(),
        "poll_ms": [],
    }
    if sent.attempt_id is None:
        seen["refused"] = f"{sent.status} {sent.level}: {sent.message or sent.text[:80]}"[:160]
        return seen
    _poll(user, seen, started=started, poll_s=poll_s, give_up_s=give_up_s)
    seen["poll_statuses"] = {str(k): v for k, v in seen["poll_statuses"].items()}
    return seen


def _poll(
    user: PortalUser, seen: dict[str, Any], *, started: float, poll_s: float, give_up_s: float
) -> None:
    """Poll the attempt in `seen` until it settles, answers oddly or the deadline passes."""
    deadline = started + give_up_s
    next_poll = time.perf_counter()
    while time.perf_counter() < deadline:
        next_poll += poll_s
        time.sleep(max(0.0, next_poll - time.perf_counter()))
        polled = user.attempt(seen["attempt_id"])
        seen["polls"] += 1
        seen["poll_ms"].append(polled.ms)
        seen["poll_statuses"][polled.status] += 1
        if polled.status == SETTLED:
            seen["ms"] = round((time.perf_counter() - started) * 1000, 2)
            seen["said"] = truth.said_outcome(polled.level)
            seen["message"] = polled.message
            return
        if polled.status not in (204, 0):
            seen["odd"] = f"{polled.status} {polled.text[:80]}"
            return


def _checked(
    run: Run, seen: list[dict[str, Any]], *, rows: dict[str, Any], effects: dict[str, list]
) -> list[dict[str, Any]]:
    """Judge every followed attempt: what the portal said and recorded, what was true."""
    s = run.settings
    now = truth.when(rows["now"])
    attempts = rows["attempts"]
    checked = []
    for item in seen:
        if item["attempt_id"] is None:
            continue
        row = attempts.get(str(item["attempt_id"]), {})
        fact = truth.sandbox_truth(row, effects.get(item["note_id"], [])) if row else "none"
        said = item.get("said") or row.get("outcome", "missing")
        checked.append(
            {
                **item,
                "recorded": row.get("outcome", "missing"),
                "truth": fact,
                "wrong": truth.is_wrong(said, fact),
                "overdue": bool(row)
                and truth.overdue(
                    row,
                    now=now,
                    confirm_seconds=s.confirm_seconds,
                    margin_seconds=s.confirm_margin_s,
                ),
            }
        )
    return checked


def _figures(run: Run, checked: list[dict[str, Any]], *, attempts: dict) -> dict[str, Any]:
    """Return the scenario's figures from the judged attempts."""
    delay = run.settings.confirm_effect_delay_ms
    # Where the time goes: Canvas's 202 -> the worker settling the row (Canvas's
    # and the portal's clocks are this machine's), then the next poll sees it.
    settle_ms = [
        truth.ms_between(attempts[str(c["attempt_id"])], "accepted_at", "resolved_at")
        for c in checked
        if c.get("said") == "confirmed" and str(c["attempt_id"]) in attempts
    ]
    summary = summarize(c["ms"] for c in checked if c.get("said") == "confirmed")
    recorded = Counter(c["recorded"] for c in checked)
    wrong = [c for c in checked if c["wrong"]]
    unresolved = sum(1 for c in checked if c["overdue"])
    p50 = ratio(summary["p50"], delay)
    return {
        "settled": sum(1 for c in checked if "said" in c),
        "never_settled": sum(1 for c in checked if "said" not in c),
        "odd_polls": [c["odd"] for c in checked if "odd" in c][:5],
        "confirmed": recorded.get("confirmed", 0),
        "not_applied": recorded.get("not_applied", 0),
        "unknown": recorded.get("unknown", 0),
        "outcomes": dict(recorded),
        "truth": dict(Counter(c["truth"] for c in checked)),
        "said_vs_recorded_differ": sum(
            1 for c in checked if "said" in c and c["said"] != c["recorded"]
        ),
        "confirmed_ms": summary,
        "not_applied_ms": summarize(c["ms"] for c in checked if c.get("said") == "not_applied"),
        "post_ms": summarize(c["post_ms"] for c in checked),
        # resolved_at is taken as the outcome is recorded, after the read that showed it.
        "accepted_to_resolved_ms": summarize(ms for ms in settle_ms if ms is not None),
        "polls_per_action": summarize(c["polls"] for c in checked),
        "poll_ms": summarize(ms for c in checked for ms in c["poll_ms"]),
        "p50_ratio_to_delay": p50,
        "p99_ratio_to_delay": ratio(summary["p99"], delay),
        "wrong_outcomes": len(wrong),
        "wrong_samples": [
            {k: c.get(k) for k in ("attempt_id", "action", "said", "recorded", "truth", "message")}
            for c in wrong[:5]
        ],
        "unresolved": unresolved,
        "goals": {
            "p50_ratio_to_delay <= 2.0": at_most(p50, 2.0),
            "wrong_outcomes == 0": len(wrong) == 0,
            "unresolved == 0": unresolved == 0,
        },
    }
