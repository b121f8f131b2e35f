"""Scenario 5: 503s, latency spikes and a token outage never give a 500 or an unaudited action."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from bench.http import PortalUser, Result
from bench.scenarios.common import Toggler, closed_loop, new_note, not_run

if TYPE_CHECKING:
    from bench.runner import Run

_NOT_ALLOWED = re.compile(r"^This note is .+; (it can't be|that action isn't allowed)")


def faults(run: Run) -> dict[str, Any]:
    """503s, latency spikes and a token endpoint outage: no 500s, every attempt audited."""
    if why := run.requires("make_connection", "note_action_perform", "action_url", "audit_model"):
        return not_run(why)
    s = run.settings
    names = [f"flt{i:02d}" for i in range(1, s.faults_users + 1)]
    users = run.login_many(names)
    togglers = [Toggler(run, new_note(run, name)) for name in names]
    audit_before = run.task("audit")["max_id"]
    phases = _Phases(run, names)
    phases.thread.start()
    results: list[Result] = []
    closed_loop(users, togglers, seconds=s.faults_seconds, results=results)
    phases.stop.set()
    phases.thread.join(timeout=30)
    run.control.reset_faults()
    recovery = _recover(users, togglers)
    audit = run.task("audit", since_id=audit_before)
    links = Counter(run.task("connection", username=n).get("status") for n in names)
    figures = _judged(results, recovery, audit=audit, known=run.messages)
    goals = figures.pop("goals")
    return {
        "users": len(users),
        "seconds": s.faults_seconds,
        "timeline": phases.timeline,
        **figures,
        "links_after": dict(links),
        "goals": {**goals, "links still active": set(links) == {"active"}},
    }


class _Phases:
    """Change the sandbox's faults in three phases, in a thread, until stopped."""

    def __init__(self, run: Run, names: list[str]) -> None:
        self.run = run
        self.names = names
        s = run.settings
        self.third = s.faults_seconds / 3
        self.base = {"error_rate": s.faults_error_rate, "error_status": 503, "seed": 11}
        self.timeline: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self.play, daemon=True)

    def set_faults(self, **values: Any) -> None:
        self.run.control.set_faults(**{**self.base, **values})
        self.timeline.append({"t": round(time.monotonic() - self.t0, 1), **values})

    def play(self) -> None:
        s = self.run.settings
        # Phase 1: 10 % 503s at 50 ms.
        self.set_faults(latency_ms=50)
        if self.stop.wait(self.third):
            return
        # Phase 2: latency spikes, some beyond the portal's read timeout.
        spikes = [s.faults_spike_ms, 50, s.faults_timeout_spike_ms, 50]
        end = time.monotonic() + self.third
        i = 0
        while time.monotonic() < end:
            self.set_faults(latency_ms=spikes[i % len(spikes)])
            i += 1
            if self.stop.wait(min(3.0, max(0.0, end - time.monotonic()))):
                return
        # Phase 3: the token endpoint is down while half the users need a refresh.
        self.set_faults(latency_ms=50, token_endpoint_down=True)
        started = time.monotonic()
        self.run.task("expire", usernames=self.names[: max(1, len(self.names) // 2)])
        self.stop.wait(max(0.0, self.third - (time.monotonic() - started)))


def _recover(users: list[PortalUser], togglers: list[Toggler]) -> list[Result]:
    """With Canvas healthy again every user can act (and refreshes its token)."""
    recovery = []
    for user, toggler in zip(users, togglers, strict=True):
        user.fresh_connections()
        result = user.action(toggler.note_id, toggler.next)
        toggler.after(result)
        recovery.append(result)
    return recovery


def _judged(
    results: list[Result], recovery: list[Result], *, audit: dict[str, Any], known: list[str]
) -> dict[str, Any]:
    """Return what the people saw against what the audit log holds."""
    attempts = len(results) + len(recovery)
    statuses = Counter(r.status for r in results + recovery)
    failures = [r for r in results + recovery if not r.ok]
    unclear = [r for r in failures if not _clear(r, known)]
    portal_500s = statuses.get(500, 0)
    return {
        "attempts": attempts,
        "accepted": attempts - len(failures),
        "failures": len(failures),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "portal_500s": portal_500s,
        "portal_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "audit_rows": audit["total"],
        "audit_by_outcome": audit["by_outcome"],
        "audit_by_error_code": audit["by_error_code"],
        "unclear_errors": len(unclear),
        "unclear_samples": [
            f"{r.status} {r.level} {r.message or r.text[:120]}" for r in unclear[:5]
        ],
        "error_messages": dict(Counter(f"{r.level}: {r.message}"[:160] for r in failures)),
        "recovery_failures": sum(1 for r in recovery if not r.ok),
        "goals": {
            "portal_500s == 0": portal_500s == 0,
            "audit_rows == attempts": audit["total"] == attempts,
            "no pending audit rows": audit["by_outcome"].get("pending", 0) == 0,
            "every failure a clear error": not unclear,
        },
    }


def _clear(result: Result, known: list[str]) -> bool:
    """Return whether a failed action told the person clearly what happened."""
    if result.status >= 500 or result.status == 0 or not result.message:
        return False
    if result.level not in ("error", "warning"):
        return False
    message = result.message
    return any(text in message for text in known) or bool(_NOT_ALLOWED.match(message))
