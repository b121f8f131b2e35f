"""What several scenarios share: notes that toggle, closed-loop load, the worker's backlog."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

import requests

from bench.http import PortalUser, Result

if TYPE_CHECKING:
    from bench.runner import Run

NEXT = {"lock": "unlock", "unlock": "lock"}
# A note in NEW/ULK takes "lock", in LKD takes "unlock": a toggle that never ends.
ACTION_FOR_STATE = {"NEW": "lock", "ULK": "lock", "LKD": "unlock"}


def not_run(why: str) -> dict[str, str]:
    """Return the figures of a scenario that could not run, saying why."""
    return {"status": f"not run: {why}"}


def at_most(value: float | None, limit: float) -> bool | None:
    """Return whether `value` is within `limit` (None if it was not measured)."""
    return None if value is None else value <= limit


class Toggler:
    """Lock and unlock one note forever, keeping track of which action comes next."""

    def __init__(self, run: Run, note_id: str) -> None:
        self.run = run
        self.note_id = note_id
        self.next = "lock"

    def after(self, result: Result) -> None:
        if result.ok:
            self.next = NEXT[self.next]
        else:
            # Unknown or refused: ask the sandbox (control API, no faults) what the note is.
            state = self.run.control.note_state(self.note_id)
            self.next = ACTION_FOR_STATE.get(state, "lock")


def new_note(run: Run, username: str, state: str = "NEW") -> str:
    """Create an encounter note of `username` in the sandbox; return its id."""
    return run.control.create_note(state=state, kind="encounter", provider=username)["id"]


#: The stack's name of the one worker on the "bulk" lane (it carries out bulk runs).
BULK_WORKER = "bulk1"


def worker_names(run: Run) -> list[str]:
    """Return the names of the "default" lane's workers (they confirm) in the run's stack."""
    return [f"worker{i}" for i in range(1, run.settings.confirm_workers + 1)]


def cpu_since(run: Run, name: str, before: float | None) -> float | None:
    """Return the CPU seconds server `name` used since `before` (None if unknown)."""
    now = run.stack.cpu_seconds(name)
    return None if now is None or before is None else round(now - before, 2)


def run_timeout_margin(users: list[PortalUser]) -> float:
    """Return how long past its window a load thread may still be in a call."""
    return (users[0].timeout[1] + users[0].timeout[0]) * 2 if users else 0


def closed_loop(
    users: list[PortalUser], togglers: list[Toggler], *, seconds: float, results: list
) -> float:
    """Run every user in its own thread, back to back, until the deadline; return elapsed s."""
    barrier = threading.Barrier(len(users) + 1)
    lock = threading.Lock()
    state = {"deadline": 0.0}

    def work(user: PortalUser, toggler: Toggler) -> None:
        barrier.wait(timeout=60)
        while time.monotonic() < state["deadline"]:
            result = user.action(toggler.note_id, toggler.next)
            with contextlib.suppress(Exception):  # the control API is not under test here
                toggler.after(result)
            with lock:
                results.append(result)

    threads = [
        threading.Thread(target=work, args=pair, daemon=True)
        for pair in zip(users, togglers, strict=True)
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    state["deadline"] = started + seconds
    barrier.wait(timeout=60)
    for thread in threads:
        # Bounded: a call cannot outlive its client timeout.
        thread.join(timeout=seconds + run_timeout_margin(users))
    return time.monotonic() - started


def confirmations(run: Run) -> dict[str, Any]:
    """Return /healthz's "confirmations" (unconfirmed, oldest_unconfirmed_seconds, behind)."""
    try:
        response = requests.get(f"{run.portal_url}/healthz", timeout=(3.05, 10))
        return response.json().get("confirmations") or {}
    except (requests.RequestException, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:160]}


def drain_confirmations(run: Run, *, timeout: float | None = None) -> dict[str, Any]:
    """Wait (bounded) until the worker has settled every accepted action; say how it went."""
    timeout = timeout if timeout is not None else run.settings.confirm_seconds + 60
    started = time.monotonic()
    deadline = started + timeout
    first = health = confirmations(run)
    while health.get("unconfirmed") and time.monotonic() < deadline:
        time.sleep(0.2)
        health = confirmations(run)
    return {
        "drained": health.get("unconfirmed") == 0,
        "unconfirmed_at_start": first.get("unconfirmed"),
        "unconfirmed_left": health.get("unconfirmed"),
        "waited_s": round(time.monotonic() - started, 1),
    }
