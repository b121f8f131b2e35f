"""Scenario 3: many signed-in users acting back to back, against what the machine allows."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from bench.http import PortalUser, Result
from bench.procs import BenchError
from bench.scenarios.common import (
    Toggler,
    at_most,
    closed_loop,
    confirmations,
    cpu_since,
    drain_confirmations,
    new_note,
    not_run,
    worker_names,
)
from bench.stats import (
    cpu_ceiling,
    cpu_ms_per_action,
    ideal_rate,
    ratio_to_ideal,
    settle_lags,
    summarize,
)

if TYPE_CHECKING:
    from bench.runner import Run


def throughput(run: Run) -> dict[str, Any]:
    """Many signed-in users doing actions back to back against the sandbox at 50 ms."""
    if why := run.requires("make_connection", "note_action_perform", "action_url"):
        return not_run(why)
    s = run.settings
    names = [f"thr{i:02d}" for i in range(1, s.throughput_users + 1)]
    users = run.login_many(names)
    togglers = [Toggler(run, new_note(run, name)) for name in names]
    run.control.set_faults(latency_ms=s.throughput_latency_ms)
    solo = _unloaded(users[0], togglers[0])
    results, elapsed, cpu, window = _window(run, users, togglers)
    backlog = confirmations(run)
    lag = _confirm_lag(run, names, window=window)
    run.control.reset_faults()
    ok = [r for r in results if r.ok]
    errors = [r for r in results if not r.ok]
    rate = len(ok) / elapsed if elapsed else 0
    # CPU of each server's whole process group over the window, per successful action.
    cpu_ms = {name: cpu_ms_per_action(seconds, len(ok)) for name, seconds in cpu.items()}
    worker_cpu = [seconds for name, seconds in cpu.items() if name.startswith("worker")]
    cpu_ms["worker"] = cpu_ms_per_action(sum(worker_cpu), len(ok)) if worker_cpu else None
    ideal = _against_ideal(run, users=len(users), rate=rate, solo=solo, cpu_ms=cpu_ms)
    unconfirmed = backlog.get("unconfirmed")
    return {
        "users": len(users),
        "seconds": round(elapsed, 2),
        "sandbox_latency_ms": s.throughput_latency_ms,
        "workers": s.portal_workers,
        "threads": s.portal_threads,
        "cores": _cores(),
        "actions": len(ok),
        "actions_per_s": round(rate, 2),
        "errors": len(errors),
        "error_kinds": dict(Counter(f"{r.status} {r.level} {r.message}"[:120] for r in errors)),
        "unloaded_call_ms": solo,
        "loaded_call_ms": summarize(r.ms for r in ok),
        "portal_cpu_ms_per_action": cpu_ms["portal"],
        "sandbox_cpu_ms_per_action": cpu_ms["sandbox"],
        "worker_cpu_ms_per_action": cpu_ms["worker"],
        "canvas_requests_per_action": round(window["canvas_requests"] / len(ok), 2) if ok else None,
        # What the worker had not confirmed yet when the window closed (from /healthz).
        "unconfirmed_after": unconfirmed,
        "unconfirmed_share": None
        if unconfirmed is None or not ok
        else round(unconfirmed / len(ok), 4),
        "oldest_unconfirmed_s_after": backlog.get("oldest_unconfirmed_seconds"),
        **lag,
        "cpu_utilisation_of_all_cores": round(sum(cpu.values()) / (elapsed * _cores()), 3),
        **ideal,
        "goals": {
            "errors == 0": len(errors) == 0,
            "ratio_to_ideal >= 0.8": (
                None if ideal["ratio_to_ideal"] is None else ideal["ratio_to_ideal"] >= 0.8
            ),
            "portal_cpu_ms_per_action <= 6": at_most(cpu_ms["portal"], 6),
            "unconfirmed_after <= 1% of actions": (
                None if unconfirmed is None or not ok else unconfirmed <= 0.01 * len(ok)
            ),
            "confirm_lag_p99_s <= 2.0": at_most(lag["confirm_lag_p99_s"], 2.0),
        },
    }


def _cores() -> int:
    return os.cpu_count() or 1


def _window(
    run: Run, users: list[PortalUser], togglers: list[Toggler]
) -> tuple[list[Result], float, dict[str, float], dict[str, float]]:
    """Run the closed loop; return its results, length, each server's CPU seconds, its epochs.

    The last also holds the sandbox's plugin requests of the window.
    """
    results: list[Result] = []
    drain_confirmations(run)  # the worker starts the window idle
    servers = ["portal", "sandbox", *worker_names(run)]
    cpu_before = {name: run.stack.cpu_seconds(name) for name in servers}
    run.control.reset_stats()
    since = time.time()
    elapsed = closed_loop(users, togglers, seconds=run.settings.throughput_seconds, results=results)
    until = time.time()  # every load thread has returned: no action is answered later
    cpu = {name: run.stack.cpu_seconds(name) - cpu_before[name] for name in cpu_before}
    # The actions' POSTs and the worker's reads: every plugin request of the window.
    requests = run.control.stats().get("plugin_requests", 0)
    return results, elapsed, cpu, {"since": since, "until": until, "canvas_requests": requests}


def _confirm_lag(run: Run, usernames: list[str], *, window: dict[str, float]) -> dict[str, Any]:
    """Return how long the window's accepted actions took to settle: accepted -> resolved.

    Waits (bounded) for the worker to settle the backlog first, then reads
    every row the window's users completed in the window. Both ends are the
    portal's clock: `finished_at` (Canvas's 202 recorded, just before the
    answer) and `resolved_at` (the worker recording the outcome after its
    read). One still unsettled counts up to the read (a lower bound).
    """
    workers = worker_names(run)
    cpu_before = {name: run.stack.cpu_seconds(name) for name in workers}
    drained = drain_confirmations(run)
    worker_cpu = [cpu_since(run, name, before) for name, before in cpu_before.items()]
    out: dict[str, Any] = {
        "confirm_lag_p99_s": None,
        "drain_after_window": drained,
        "worker_cpu_s_drain": None if None in worker_cpu else round(sum(worker_cpu), 2),
    }
    try:
        read = run.task(
            "settle_times", since=window["since"], until=window["until"], usernames=usernames
        )
    except BenchError as exc:  # the other figures stand without it
        return {**out, "confirm_lag_error": str(exc)[:300]}
    lags = settle_lags(((row[0], row[1]) for row in read["rows"]), now=read["now"])
    p99 = lags["p99"]
    return {
        **out,
        "confirm_lag_p99_s": None if p99 is None else round(p99 / 1000, 2),
        "confirm_lag_ms": lags,
        "confirm_outcomes": dict(Counter(row[2] for row in read["rows"])),
    }


def _unloaded(user: PortalUser, toggler: Toggler) -> dict[str, Any]:
    """Return the unloaded per-call latency, measured now: the "per-call latency" of the ideal."""
    solo: list[float] = []
    for _ in range(25):
        result = user.action(toggler.note_id, toggler.next)
        toggler.after(result)
        if result.ok:
            solo.append(result.ms)
    return summarize(solo[5:])


def _against_ideal(
    run: Run, *, users: int, rate: float, solo: dict[str, Any], cpu_ms: dict[str, float | None]
) -> dict[str, Any]:
    """Return the two ceilings of the rate (handler slots, CPU) and the ratio to the lower."""
    s = run.settings
    slots = s.portal_workers * s.portal_threads
    io_ideal = ideal_rate(users=users, slots=slots, call_seconds=(solo["p50"] or 0) / 1000)
    # What the CPUs could sustain if the portal, the sandbox and the worker had them
    # to themselves (PostgreSQL's own CPU not counted, so a generous ceiling).
    ceiling = cpu_ceiling(
        cores=_cores(),
        cpu_ms_per_action=[cpu_ms["portal"], cpu_ms["sandbox"], cpu_ms["worker"] or 0.0],
    )
    to_ideal, bound = ratio_to_ideal(rate, io_ideal=io_ideal, cpu_ceiling=ceiling)
    return {
        "io_ideal_per_s": None if io_ideal is None else round(io_ideal, 2),
        "cpu_ceiling_per_s": None if ceiling is None else round(ceiling, 2),
        "ideal_bound": bound,
        "ratio_to_ideal": to_ideal,
    }
