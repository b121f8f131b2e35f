"""The seven measured scenarios. Each takes the Run and returns its figures as a dict.

A scenario whose portal piece is missing returns {"status": "not run: <why>"}.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from bench import bulk as bulk_pages
from bench import confirm as truth
from bench.http import SETTLED, PortalUser, Result
from bench.stats import cpu_ceiling, cpu_ms_per_action, ideal_rate, ratio, ratio_to_ideal, summarize

if TYPE_CHECKING:
    from bench.runner import Run

NEXT = {"lock": "unlock", "unlock": "lock"}
# A note in NEW/ULK takes "lock", in LKD takes "unlock": a toggle that never ends.
ACTION_FOR_STATE = {"NEW": "lock", "ULK": "lock", "LKD": "unlock"}
_NOT_ALLOWED = re.compile(r"^This note is .+; (it can't be|that action isn't allowed)")


def _not_run(why: str) -> dict[str, str]:
    return {"status": f"not run: {why}"}


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


def _note(run: Run, username: str, state: str = "NEW") -> str:
    return run.control.create_note(state=state, kind="encounter", provider=username)["id"]


# -- 1. overhead ---------------------------------------------------------------


def overhead(run: Run) -> dict[str, Any]:
    """Portal vs direct latency of the same note action, interleaved, at 0 and 50 ms."""
    if why := run.requires("make_connection", "note_action_perform", "action_url"):
        return _not_run(why)
    s = run.settings
    portal = run.login("ovh")
    direct = run.direct("ovh")
    p_note, d_note = Toggler(run, _note(run, "ovh")), Toggler(run, _note(run, "ovh"))
    rng = random.Random(7)
    out: dict[str, Any] = {"iterations": s.overhead_iterations, "samples_ms": {}}
    for latency in s.overhead_latencies_ms:
        run.control.set_faults(latency_ms=latency)
        series: dict[str, list[float]] = {"direct": [], "portal": []}
        errors = Counter()

        def portal_call(record: bool, series=series, errors=errors) -> None:
            result = portal.action(p_note.note_id, p_note.next)
            p_note.after(result)
            if not result.ok:
                errors["portal"] += 1
            elif record:
                series["portal"].append(result.ms)

        def direct_call(record: bool, series=series, errors=errors) -> None:
            # What the portal sends upstream while the person waits: the action alone.
            result = direct.action(d_note.note_id, d_note.next)
            d_note.after(result)
            if not result.ok:
                errors["direct"] += 1
            elif record:
                series["direct"].append(result.ms)

        for _ in range(10):  # warm-up: connections, caches, worker start-up
            portal_call(False)
            direct_call(False)
        # The worker's reads of earlier actions must not be counted below.
        drained_before = drain_confirmations(run)
        run.control.reset_stats()
        for _ in range(s.overhead_iterations):
            calls = [portal_call, direct_call]
            rng.shuffle(calls)  # interleaved, random order: noise hits both alike
            for call in calls:
                call(True)
        # Every Canvas request an action causes: the request's own and, once the
        # worker has confirmed them all, its reads of the note's history and state.
        drained_after = drain_confirmations(run)
        plugin_requests = run.control.stats().get("plugin_requests", 0)
        n = s.overhead_iterations
        summaries = {name: summarize(values) for name, values in series.items()}
        key = f"{latency}ms"
        out[key] = {
            **summaries,
            "errors": dict(errors),
            "canvas_requests_per_portal_action_with_confirmation": (
                round((plugin_requests - n) / n, 2) if drained_after["drained"] else None
            ),
            "confirmation_drain": {"before": drained_before, "after": drained_after},
        }
        for q in ("p50", "p95", "p99"):
            out[f"{q}_ratio_{key}"] = ratio(summaries["portal"][q], summaries["direct"][q])
        out["samples_ms"][key] = {k: [round(v, 2) for v in vals] for k, vals in series.items()}
    # Where the portal's time goes: the action view in-process, Canvas at 0 ms.
    run.control.set_faults(latency_ms=0)
    try:
        out["in_process_profile"] = run.task(
            "action_profile",
            username="ovh",
            note_id=p_note.note_id,
            first=p_note.next,
            count=max(10, s.overhead_iterations // 5),
        )
    except Exception as exc:
        out["in_process_profile"] = {"status": f"not run: {exc}"}
    # The distinct counts seen over the profiled actions; the worst one is the figure.
    counts = out["in_process_profile"].get("queries_per_action") or []
    out["sql_queries_per_action"] = max(counts) if counts else None
    floor = []
    for _ in range(30):
        floor.append(portal.page("/healthz", error_texts=[]).ms)
    out["portal_healthz_ms"] = summarize(floor[5:])
    run.control.reset_faults()
    out["goals"] = {
        "p50_ratio_50ms <= 1.15": _le(out.get("p50_ratio_50ms"), 1.15),
        "p99_ratio_50ms <= 1.3": _le(out.get("p99_ratio_50ms"), 1.3),
        "sql_queries_per_action <= 7": _le(out["sql_queries_per_action"], 7),
    }
    return out


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


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


# -- 2. worklist ---------------------------------------------------------------


def worklist(run: Run) -> dict[str, Any]:
    """Render time and SQL queries of /notes/ with 10 and 50 notes per page."""
    if why := run.requires("make_connection", "worklist_url"):
        return _not_run(why)
    s = run.settings
    for _ in range(max(s.worklist_sizes) + 10):
        _note(run, "wl", state="LKD")  # the default tab: locked notes awaiting my signature
    run.control.set_faults(latency_ms=0)
    figures = run.task(
        "worklist", timeout=300, username="wl", sizes=s.worklist_sizes, renders=s.worklist_renders
    )
    out: dict[str, Any] = {"renders": s.worklist_renders, "sandbox_latency_ms": 0}
    for size in s.worklist_sizes:
        f = figures[str(size)]
        queries = f["queries"]
        out[f"queries_{size}"] = queries[0] if len(queries) == 1 else queries
        out[f"render_ms_{size}"] = f["render_ms"]
        out[f"notes_shown_{size}"] = f["notes_shown"]
        out[f"statuses_{size}"] = f["statuses"]
        out[f"query_shapes_{size}"] = f["query_shapes"]
    q10, q50 = out.get("queries_10"), out.get("queries_50")
    out["goals"] = {"queries_10 == queries_50": None if q10 is None else q10 == q50}
    return out


# -- 3. throughput -------------------------------------------------------------


def _closed_loop(
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


def _workers(run: Run) -> list[str]:
    """Return the names of the worker processes in the run's stack."""
    return [f"worker{i}" for i in range(1, run.settings.confirm_workers + 1)]


def run_timeout_margin(users: list[PortalUser]) -> float:
    return (users[0].timeout[1] + users[0].timeout[0]) * 2 if users else 0


def throughput(run: Run) -> dict[str, Any]:
    """Many signed-in users doing actions back to back against the sandbox at 50 ms."""
    if why := run.requires("make_connection", "note_action_perform", "action_url"):
        return _not_run(why)
    s = run.settings
    names = [f"thr{i:02d}" for i in range(1, s.throughput_users + 1)]
    users = run.login_many(names)
    togglers = [Toggler(run, _note(run, name)) for name in names]
    run.control.set_faults(latency_ms=s.throughput_latency_ms)
    # Unloaded per-call latency, measured now: the "per-call latency" of the ideal.
    solo: list[float] = []
    for _ in range(25):
        result = users[0].action(togglers[0].note_id, togglers[0].next)
        togglers[0].after(result)
        if result.ok:
            solo.append(result.ms)
    solo_summary = summarize(solo[5:])
    results: list[Result] = []
    drain_confirmations(run)  # the worker starts the window idle
    servers = ["portal", "sandbox", *_workers(run)]
    cpu_before = {name: run.stack.cpu_seconds(name) for name in servers}
    elapsed = _closed_loop(users, togglers, seconds=s.throughput_seconds, results=results)
    cpu = {name: run.stack.cpu_seconds(name) - cpu_before[name] for name in cpu_before}
    backlog = confirmations(run)
    run.control.reset_faults()
    ok = [r for r in results if r.ok]
    errors = [r for r in results if not r.ok]
    rate = len(ok) / elapsed if elapsed else 0
    slots = s.portal_workers * s.portal_threads
    io_ideal = ideal_rate(
        users=len(users), slots=slots, call_seconds=(solo_summary["p50"] or 0) / 1000
    )
    # CPU of each server's whole process group over the window, per successful action.
    cpu_ms = {name: cpu_ms_per_action(seconds, len(ok)) for name, seconds in cpu.items()}
    worker_cpu = [cpu[name] for name in servers[2:]]
    worker_ms = cpu_ms_per_action(sum(worker_cpu), len(ok)) if worker_cpu else None
    cores = os.cpu_count() or 1
    # What the CPUs could sustain if the portal, the sandbox and the worker had them
    # to themselves (PostgreSQL's own CPU not counted, so a generous ceiling).
    ceiling = cpu_ceiling(
        cores=cores, cpu_ms_per_action=[cpu_ms["portal"], cpu_ms["sandbox"], worker_ms or 0.0]
    )
    to_ideal, bound = ratio_to_ideal(rate, io_ideal=io_ideal, cpu_ceiling=ceiling)
    return {
        "users": len(users),
        "seconds": round(elapsed, 2),
        "sandbox_latency_ms": s.throughput_latency_ms,
        "workers": s.portal_workers,
        "threads": s.portal_threads,
        "cores": cores,
        "actions": len(ok),
        "actions_per_s": round(rate, 2),
        "errors": len(errors),
        "error_kinds": dict(Counter(f"{r.status} {r.level} {r.message}"[:120] for r in errors)),
        "unloaded_call_ms": solo_summary,
        "loaded_call_ms": summarize(r.ms for r in ok),
        "portal_cpu_ms_per_action": cpu_ms["portal"],
        "sandbox_cpu_ms_per_action": cpu_ms["sandbox"],
        "worker_cpu_ms_per_action": worker_ms,
        # What the worker had not confirmed yet when the window closed (from /healthz).
        "unconfirmed_after": backlog.get("unconfirmed"),
        "oldest_unconfirmed_s_after": backlog.get("oldest_unconfirmed_seconds"),
        "cpu_utilisation_of_all_cores": round(sum(cpu.values()) / (elapsed * cores), 3),
        "io_ideal_per_s": None if io_ideal is None else round(io_ideal, 2),
        "cpu_ceiling_per_s": None if ceiling is None else round(ceiling, 2),
        "ideal_bound": bound,
        "ratio_to_ideal": to_ideal,
        "goals": {
            "errors == 0": len(errors) == 0,
            "ratio_to_ideal >= 0.8": None if to_ideal is None else to_ideal >= 0.8,
            "portal_cpu_ms_per_action <= 6": _le(cpu_ms["portal"], 6),
        },
    }


# -- 4. refresh storm ----------------------------------------------------------


def refresh_storm(run: Run) -> dict[str, Any]:
    """One expired token, many simultaneous requests over several processes: one refresh."""
    if why := run.requires("make_connection", "access_token_get", "worklist_url"):
        return _not_run(why)
    s = run.settings
    base = run.login("storm")
    clients = [base.clone() for _ in range(s.storm_requests)]
    for _ in range(3):
        _note(run, "storm", state="LKD")
    run.control.set_faults(latency_ms=50)
    rounds = []
    for _ in range(s.storm_rounds):
        before = run.task("connection", username="storm")
        run.task("expire", usernames=["storm"])
        run.control.reset_stats()
        log_offset = run.access_log.stat().st_size if run.access_log.exists() else 0
        for client in clients:
            client.fresh_connections()
        results: list[Result] = [None] * len(clients)  # type: ignore[list-item]
        barrier = threading.Barrier(len(clients))

        def hit(index: int, barrier=barrier, results=results) -> None:
            barrier.wait(timeout=60)
            results[index] = clients[index].page("/notes/", error_texts=run.messages)

        threads = [
            threading.Thread(target=hit, args=(i,), daemon=True) for i in range(len(clients))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=s.client_timeout * 2 + 60)
        stats = run.control.stats()
        after = run.task("connection", username="storm")
        pids = _pids_serving(run.access_log, log_offset, path="/notes/")
        done = [r for r in results if r is not None]
        failed = [r for r in done if not r.ok]
        rounds.append(
            {
                "requests": len(clients),
                "refresh_requests": stats.get("token_requests", {}).get("refresh_token", 0),
                "failed_requests": len(failed) + (len(clients) - len(done)),
                "failures": dict(Counter(f"{r.status} {r.message}"[:120] for r in failed)),
                "latency_ms": summarize(r.ms for r in done),
                "worker_pids_serving": len(pids),
                "requests_per_worker": sorted(pids.values(), reverse=True),
                "connection_status": after.get("status"),
                "refresh_count_delta": (after.get("refresh_count") or 0)
                - (before.get("refresh_count") or 0),
                "token_valid_for_s": after.get("expires_in_s"),
            }
        )
    run.control.reset_faults()
    per_round = [r["refresh_requests"] for r in rounds]
    failed = sum(r["failed_requests"] for r in rounds)
    return {
        "portal_processes": s.portal_workers,
        "threads_per_process": s.portal_threads,
        "concurrent_requests": s.storm_requests,
        "rounds": rounds,
        "refresh_requests": max(per_round),
        "refresh_requests_per_round": per_round,
        "failed_requests": failed,
        "goals": {
            "refresh_requests == 1 (every round)": all(n == 1 for n in per_round),
            "failed_requests == 0": failed == 0,
        },
    }


def _pids_serving(log: Path | None, offset: int, *, path: str) -> Counter:
    """Count the requests for `path` per gunicorn worker pid logged after `offset`."""
    if log is None or not log.exists():
        return Counter()
    time.sleep(0.5)  # gunicorn writes the access line after the response
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    pids: Counter = Counter()
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[1] == path:
            pids[parts[0]] += 1
    return pids


# -- 5. faults -----------------------------------------------------------------


def faults(run: Run) -> dict[str, Any]:
    """503s, latency spikes and a token endpoint outage: no 500s, every attempt audited."""
    if why := run.requires("make_connection", "note_action_perform", "action_url", "audit_model"):
        return _not_run(why)
    s = run.settings
    names = [f"flt{i:02d}" for i in range(1, s.faults_users + 1)]
    users = run.login_many(names)
    togglers = [Toggler(run, _note(run, name)) for name in names]
    audit_before = run.task("audit")["max_id"]
    third = s.faults_seconds / 3
    timeline: list[dict[str, Any]] = []
    stop = threading.Event()
    base = {"error_rate": s.faults_error_rate, "error_status": 503, "seed": 11}

    def set_faults(**values: Any) -> None:
        run.control.set_faults(**{**base, **values})
        timeline.append({"t": round(time.monotonic() - t0, 1), **values})

    def controller() -> None:
        # Phase 1: 10 % 503s at 50 ms.
        set_faults(latency_ms=50)
        if stop.wait(third):
            return
        # Phase 2: latency spikes, some beyond the portal's read timeout.
        spikes = [s.faults_spike_ms, 50, s.faults_timeout_spike_ms, 50]
        end = time.monotonic() + third
        i = 0
        while time.monotonic() < end:
            set_faults(latency_ms=spikes[i % len(spikes)])
            i += 1
            if stop.wait(min(3.0, max(0.0, end - time.monotonic()))):
                return
        # Phase 3: the token endpoint is down while half the users need a refresh.
        set_faults(latency_ms=50, token_endpoint_down=True)
        started = time.monotonic()
        run.task("expire", usernames=names[: max(1, len(names) // 2)])
        stop.wait(max(0.0, third - (time.monotonic() - started)))

    t0 = time.monotonic()
    ctl = threading.Thread(target=controller, daemon=True)
    ctl.start()
    results: list[Result] = []
    _closed_loop(users, togglers, seconds=s.faults_seconds, results=results)
    stop.set()
    ctl.join(timeout=30)
    run.control.reset_faults()
    # Recovery: with Canvas healthy again every user can act (and refreshes its token).
    recovery = []
    for user, toggler in zip(users, togglers, strict=True):
        user.fresh_connections()
        result = user.action(toggler.note_id, toggler.next)
        toggler.after(result)
        recovery.append(result)
    attempts = len(results) + len(recovery)
    audit = run.task("audit", since_id=audit_before)
    statuses = Counter(r.status for r in results + recovery)
    failures = [r for r in results + recovery if not r.ok]
    unclear = [r for r in failures if not _clear(r, run.messages)]
    links = Counter(run.task("connection", username=n).get("status") for n in names)
    portal_500s = statuses.get(500, 0)
    return {
        "users": len(users),
        "seconds": s.faults_seconds,
        "timeline": timeline,
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
        "links_after": dict(links),
        "goals": {
            "portal_500s == 0": portal_500s == 0,
            "audit_rows == attempts": audit["total"] == attempts,
            "no pending audit rows": audit["by_outcome"].get("pending", 0) == 0,
            "every failure a clear error": not unclear,
            "links still active": set(links) == {"active"},
        },
    }


# -- 6. confirm -----------------------------------------------------------------


def _follow(user: PortalUser, note_id: str, control, *, poll_s: float, give_up_s: float) -> dict:
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
    deadline = started + give_up_s
    next_poll = time.perf_counter()
    while time.perf_counter() < deadline:
        next_poll += poll_s
        time.sleep(max(0.0, next_poll - time.perf_counter()))
        polled = user.attempt(sent.attempt_id)
        seen["polls"] += 1
        seen["poll_ms"].append(polled.ms)
        seen["poll_statuses"][polled.status] += 1
        if polled.status == SETTLED:
            seen["ms"] = round((time.perf_counter() - started) * 1000, 2)
            seen["said"] = truth.said_outcome(polled.level)
            seen["message"] = polled.message
            break
        if polled.status not in (204, 0):
            seen["odd"] = f"{polled.status} {polled.text[:80]}"
            break
    seen["poll_statuses"] = {str(k): v for k, v in seen["poll_statuses"].items()}
    return seen


def confirm(run: Run) -> dict[str, Any]:
    """Actions through the portal followed to the end: confirmed in time, and truthfully."""
    if why := run.requires("make_connection", "note_action_perform", "action_url", "audit_model"):
        return _not_run(why)
    s = run.settings
    names = [f"cnf{i:02d}" for i in range(1, s.confirm_users + 1)]
    users = run.login_many(names)
    notes = [_note(run, name) for name in names]
    backlog = drain_confirmations(run)
    faults = {
        "latency_ms": s.confirm_latency_ms,
        "effect_delay_ms": s.confirm_effect_delay_ms,
        "effect_reject_rate": s.confirm_reject_rate,
        "seed": s.confirm_seed,
    }
    run.control.set_faults(**faults)
    # Each user acts on its own note, one action at a time (the next waits for the
    # last to settle, so it is chosen from the note's true state).
    per_user = [s.confirm_actions // len(users)] * len(users)
    for index in range(s.confirm_actions % len(users)):
        per_user[index] += 1
    give_up_s = s.confirm_seconds + s.confirm_margin_s + 10

    def user_loop(index: int) -> list[dict]:
        return [
            _follow(
                users[index],
                notes[index],
                run.control,
                poll_s=s.confirm_poll_ms / 1000,
                give_up_s=give_up_s,
            )
            for _ in range(per_user[index])
        ]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        seen = [item for chunk in pool.map(user_loop, range(len(users))) for item in chunk]
    elapsed = time.monotonic() - started
    ids = [item["attempt_id"] for item in seen if item["attempt_id"] is not None]
    # Unresolved: still unsettled once every deadline (NOTES_CONFIRM_SECONDS after
    # the portal's answer, which came before `answered`) and the margin have passed.
    last = max((item["answered"] for item in seen), default=time.monotonic())
    time.sleep(max(0.0, last + s.confirm_seconds + s.confirm_margin_s + 0.5 - time.monotonic()))
    rows = run.task("attempts", ids=ids)
    now = truth.when(rows["now"])
    attempts = rows["attempts"]
    effects = {note_id: run.control.effects(note_id) for note_id in notes}
    run.control.reset_faults()

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
    delay = s.confirm_effect_delay_ms
    # Where the time goes: Canvas's 202 -> the worker settling the row (Canvas's
    # and the portal's clocks are this machine's), then the next poll sees it.
    settle_ms = [
        truth.ms_between(attempts[str(c["attempt_id"])], "accepted_at", "resolved_at")
        for c in checked
        if c.get("said") == "confirmed" and str(c["attempt_id"]) in attempts
    ]
    confirmed_ms = [c["ms"] for c in checked if c.get("said") == "confirmed"]
    not_applied_ms = [c["ms"] for c in checked if c.get("said") == "not_applied"]
    summary = summarize(confirmed_ms)
    recorded = Counter(c["recorded"] for c in checked)
    wrong = [c for c in checked if c["wrong"]]
    unresolved = sum(1 for c in checked if c["overdue"])
    p50 = ratio(summary["p50"], delay)
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
        "not_applied_ms": summarize(not_applied_ms),
        "post_ms": summarize(c["post_ms"] for c in checked),
        # resolved_at is taken as the confirming check begins (before its reads).
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
            "p50_ratio_to_delay <= 2.0": _le(p50, 2.0),
            "wrong_outcomes == 0": len(wrong) == 0,
            "unresolved == 0": unresolved == 0,
        },
    }


# -- 7. bulk: close my day --------------------------------------------------------

#: One provider per run, each with a signing queue of its own (the seed gives
#: bench staff no notes): the first run with every effect applied, the second
#: with a share of them refused.
BULK_USERS = ("blk01", "blk02")
#: Item results that are not final yet (the run is still going).
_GOING = ("waiting", "in_flight")


def _bulk_poll(
    user: PortalUser, run_id: int, *, started: float, poll_s: float, give_up_s: float
) -> dict[str, Any]:
    """Poll a run's progress panel until it answers 286 (or the deadline); return what was seen.

    `wall_ms` runs from `started` (just before the confirming POST) to the 286's arrival.
    """
    seen: dict[str, Any] = {"polls": 0, "statuses": Counter(), "failures": Counter()}
    timeline: list[list[int]] = []  # [ms, done] each time the count of done items moves
    poll_ms: list[float] = []
    deadline = started + give_up_s
    next_poll = time.perf_counter()
    while time.perf_counter() < deadline:
        next_poll = max(next_poll + poll_s, time.perf_counter())
        time.sleep(max(0.0, next_poll - time.perf_counter()))
        polled = user.run_progress(run_id)
        at = (time.perf_counter() - started) * 1000
        seen["polls"] += 1
        seen["statuses"][polled.status] += 1
        poll_ms.append(polled.ms)
        if not polled.ok:
            seen["failures"][f"{polled.status} {polled.message or polled.text[:80]}"[:120]] += 1
            continue
        panel = bulk_pages.progress_of(polled.text)
        if not timeline or timeline[-1][1] != panel["done"]:
            timeline.append([round(at), panel["done"]])
        seen["panel"] = panel
        if polled.status == SETTLED:
            seen["wall_ms"] = round(at, 1)
            break
    seen["statuses"] = {str(k): v for k, v in seen["statuses"].items()}
    seen["failures"] = dict(seen["failures"])
    seen["timeline"] = timeline
    seen["poll_ms"] = summarize(poll_ms)
    return seen


def _first(values) -> float | None:
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _last(values) -> float | None:
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _cpu_since(run: Run, name: str, before: float | None) -> float | None:
    """Return the CPU seconds server `name` used since `before` (None if unknown)."""
    now = run.stack.cpu_seconds(name)
    return None if now is None or before is None else round(now - before, 2)


def _bulk_once(run: Run, username: str, *, reject_rate: float) -> dict[str, Any]:
    """Make a queue of notes, sign it in one run, follow it to 286; judge every item."""
    s = run.settings
    user = run.login(username)
    # Half open (lock & sign), half locked (sign): both kinds the queue holds.
    notes = [_note(run, username, state=("NEW", "LKD")[i % 2]) for i in range(s.bulk_notes)]
    backlog = drain_confirmations(run)  # the worker starts idle
    faults = {
        "latency_ms": s.bulk_latency_ms,
        "effect_delay_ms": s.bulk_effect_delay_ms,
        "effect_reject_rate": reject_rate,
        "seed": s.bulk_seed,
    }
    run.control.set_faults(**faults)
    out: dict[str, Any] = {
        "faults": faults,
        "backlog_before": backlog,
        "notes": len(notes),
        # The machine is shared: how busy it was as the run began.
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    failures: Counter = Counter()
    try:
        # "Close my day" on the whole queue: the confirmation page lists what it signs.
        plan = user.form_post("/notes/bulk/", {"scope": "queue"}, referer="/notes/?tab=to_sign")
        planned = bulk_pages.planned_notes(plan.text) if plan.status == 200 else []
        if plan.status != 200:
            failures[f"plan: {plan.status} {plan.message or plan.text[:80]}"[:120]] += 1
        mine = set(notes)
        out.update(
            plan_status=plan.status,
            plan_ms=round(plan.ms, 1),
            plan_title=bulk_pages.plan_title(plan.text) if plan.status == 200 else "",
            queue_extra=sum(1 for n in planned if n not in mine),
            queue_missing=len(mine - set(planned)),
        )
        # The run must sign exactly the notes made for it: if the queue held
        # others (or lacked some), post only ours (the selected-notes form).
        chosen = planned if planned and set(planned) == mine else notes
        out["posted"] = "queue" if chosen is planned else "selected"
        servers = ["portal", "sandbox", *_workers(run)]
        cpu_before = {name: run.stack.cpu_seconds(name) for name in servers}
        start_epoch = time.time()
        started = time.perf_counter()
        sent = user.form_post(
            "/notes/bulk/", {"confirm": "1", "note": chosen}, referer="/notes/?tab=to_sign"
        )
        out["post_status"] = sent.status
        out["post_ms"] = round(sent.ms, 1)
        run_id = bulk_pages.run_id_in(sent.location) if sent.status == 302 else None
        out["run_id"] = run_id
        if run_id is None:
            failures[f"confirm: {sent.status} {sent.location or sent.text[:80]}"[:120]] += 1
            out.update(failures=dict(failures), http_failures=sum(failures.values()))
            return out
        seen = _bulk_poll(
            user,
            run_id,
            started=started,
            poll_s=s.bulk_poll_ms / 1000,
            give_up_s=s.bulk_give_up_s,
        )
        failures.update({f"progress: {k}": v for k, v in seen.pop("failures").items()})
        # CPU of each server's process group from the confirming POST to the 286.
        cpu = {name: _cpu_since(run, name, before) for name, before in cpu_before.items()}
        rows = run.task("bulk_run", run_id=run_id)
        effects = {note_id: run.control.effects(note_id) for note_id in chosen}
    finally:
        run.control.reset_faults()
    items = rows["items"]
    judged = []
    for item in items:
        result = bulk_pages.item_result(item)
        fact = bulk_pages.item_truth(item, effects.get(item["note_id"], []))
        judged.append((item, result, fact, bulk_pages.is_wrong(result, fact)))
    results = Counter(result for _, result, _, _ in judged)
    attempts = [item["attempt"] for item in items if item["attempt"]]
    checks = (rows.get("tasks") or {}).get("checks") or []
    task = (rows.get("tasks") or {}).get("run") or {}

    def after(value: str | None) -> float | None:
        return bulk_pages.ms_after(value, start_epoch)

    calls = [
        (after(a["started_at"]), after(a["finished_at"]))
        for a in attempts
        if a["started_at"] and a["finished_at"]
    ]
    run_finished = after(rows["run"]["finished_at"])
    # Where the time goes, in ms after the confirming POST was sent (the
    # database's times and the bench's are this machine's clock).
    timing = {
        "post_answered": out["post_ms"],
        "run_created": after(rows["run"]["created_at"]),
        "task_started": after(task.get("started_at")),
        "first_sent": _first(after(i["sending_at"]) for i in items),
        "last_sent": _last(after(i["sending_at"]) for i in items),
        "last_answer": _last(end for _, end in calls),
        "run_finished": run_finished,
        "first_check_started": _first(after(c["started_at"]) for c in checks),
        "last_resolved": _last(after(a["resolved_at"]) for a in attempts),
        "progress_286": seen.get("wall_ms"),
    }
    panel = seen.get("panel") or {}
    shown = {k: v for k, v in (panel.get("counts") or {}).items() if v}
    recorded = {k: v for k, v in results.items() if v}
    wrong = [(item, result, fact) for item, result, fact, bad in judged if bad]
    going = sum(results.get(k, 0) for k in _GOING)
    out.update(
        {
            "run_status": rows["run"]["status"],
            "items": len(items),
            "concurrency_setting": rows.get("concurrency"),
            "wall_ms": seen.get("wall_ms"),
            "never_finished": "wall_ms" not in seen,
            "ms_after_post": timing,
            "send_phase_ms": None
            if timing["last_answer"] is None or timing["first_sent"] is None
            else round(timing["last_answer"] - timing["first_sent"], 1),
            "call_ms": summarize(end - start for start, end in calls),
            # An item's call split at Canvas's acceptance: the portal's work and
            # the request up to Canvas's decision, then Canvas's answer (its
            # latency is added after the work) and the portal completing the row.
            "to_accepted_ms": summarize(
                ms
                for a in attempts
                if (ms := truth.ms_between(a, "started_at", "accepted_at")) is not None
            ),
            "accepted_to_answer_ms": summarize(
                ms
                for a in attempts
                if (ms := truth.ms_between(a, "accepted_at", "finished_at")) is not None
            ),
            "max_concurrent_calls": bulk_pages.max_overlap(calls) if calls else None,
            "accepted_to_resolved_ms": summarize(
                ms
                for a in attempts
                if a["outcome"] == "confirmed"
                and (ms := truth.ms_between(a, "accepted_at", "resolved_at")) is not None
            ),
            "confirmation_checks": len(checks),
            # One check: the worker's task reading Canvas once for one attempt.
            "check_ms": summarize(
                end - start
                for c in checks
                if (start := after(c["started_at"])) is not None
                and (end := after(c["finished_at"])) is not None
            ),
            "checks_started_before_run_finished": sum(
                1
                for c in checks
                if run_finished is not None
                and (t := after(c["started_at"])) is not None
                and t < run_finished
            ),
            "results": recorded,
            "by_action": dict(Counter(item["action"] for item in items)),
            "truth": dict(Counter(fact for _, _, fact, _ in judged)),
            "panel": {"done": panel.get("done"), "total": panel.get("total"), "counts": shown},
            "panel_matches_db": shown == {k: v for k, v in recorded.items() if k != "waiting"}
            and panel.get("done") == len(items) - going,
            "confirmed": results.get("confirmed", 0),
            "not_applied": results.get("not_applied", 0),
            "refused": results.get("refused", 0),
            "unknown": results.get("unknown", 0),
            "skipped": results.get("skipped", 0),
            "unsettled": going,
            "wrong_outcomes": len(wrong),
            "wrong_samples": [
                {
                    "position": item["position"],
                    "action": item["action"],
                    "said": result,
                    "truth": fact,
                    "message": item["message"],
                }
                for item, result, fact in wrong[:5]
            ],
            "refusals": [i["message"] for i in items if i["status"] == "refused"][:5],
            "polls": seen["polls"],
            "poll_statuses": seen["statuses"],
            "poll_ms": seen["poll_ms"],
            "timeline_ms_done": seen["timeline"],
            "cpu_s_post_to_286": cpu,
            # The bench's own polling is load too: the portal's CPU from the
            # POST to the 286 (the POST, the polls) per poll.
            "portal_cpu_ms_per_poll": None
            if cpu.get("portal") is None or not seen["polls"]
            else round(cpu["portal"] * 1000 / seen["polls"], 1),
            # Per item, in ms after the POST: sent, Canvas accepted, answered, resolved.
            "items_ms": [
                [
                    item["position"],
                    item["action"],
                    after(item["sending_at"]),
                    after((item["attempt"] or {}).get("accepted_at")),
                    after((item["attempt"] or {}).get("finished_at")),
                    after((item["attempt"] or {}).get("resolved_at")),
                    result,
                ]
                for item, result, _, _ in judged
            ],
            "failures": dict(failures),
            "http_failures": sum(failures.values()),
        }
    )
    return out


def bulk(run: Run) -> dict[str, Any]:
    """One provider signs a whole queue in one run ("close my day"): how fast, how truthfully."""
    pieces = ("make_connection", "note_action_perform", "audit_model", "bulk_url", "bulk_model")
    if why := run.requires(*pieces):
        return _not_run(why)
    s = run.settings
    clean = _bulk_once(run, BULK_USERS[0], reject_rate=0.0)
    refusing = _bulk_once(run, BULK_USERS[1], reject_rate=s.bulk_reject_rate)
    concurrency = clean.get("concurrency_setting") or refusing.get("concurrency_setting") or 4
    ideal = bulk_pages.ideal_ms(
        notes=s.bulk_notes,
        call_ms=s.bulk_latency_ms,
        concurrency=concurrency,
        effect_delay_ms=s.bulk_effect_delay_ms,
    )
    to_ideal = ratio(clean.get("wall_ms"), ideal)
    # Errors of the clean run: anything but a signed or not-applied item, and
    # every HTTP answer that was not the expected one.
    errors = clean.get("http_failures", 0) + sum(
        clean.get(k, 0) for k in ("refused", "unknown", "skipped", "unsettled")
    )
    errors += max(0, s.bulk_notes - clean.get("items", 0))  # never made into items
    confirmed = clean.get("confirmed", 0)
    wrong = refusing.get("wrong_outcomes")
    return {
        "notes": s.bulk_notes,
        "concurrency": concurrency,
        "latency_ms": s.bulk_latency_ms,
        "effect_delay_ms": s.bulk_effect_delay_ms,
        "reject_rate": s.bulk_reject_rate,
        "confirm_workers": s.confirm_workers,
        "confirm_seconds": s.confirm_seconds,
        "poll_every_ms": s.bulk_poll_ms,
        "ideal_ms": round(ideal, 1),
        "wall_ms": clean.get("wall_ms"),
        "ratio_to_ideal": to_ideal,
        "last_sent_ms": (clean.get("ms_after_post") or {}).get("last_answer"),
        "max_concurrent_calls": clean.get("max_concurrent_calls"),
        "errors": errors,
        "confirmed": confirmed,
        "wall_ms_with_refusals": refusing.get("wall_ms"),
        "wrong_outcomes": wrong,
        "wrong_outcomes_clean_run": clean.get("wrong_outcomes"),
        "runs": {"clean": clean, "with_refusals": refusing},
        "goals": {
            "ratio_to_ideal <= 1.5": _le(to_ideal, 1.5),
            "errors == 0": errors == 0,
            f"confirmed == {s.bulk_notes}": confirmed == s.bulk_notes,
            "wrong_outcomes == 0": None if wrong is None else wrong == 0,
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


REGISTRY = {
    "overhead": overhead,
    "worklist": worklist,
    "throughput": throughput,
    "refresh_storm": refresh_storm,
    "faults": faults,
    "confirm": confirm,
    "bulk": bulk,
}
