"""Scenario 8: a neighbour's single clicks while another provider's bulk run is going.

One provider ("close my day") signs a queue of `neighbour_notes` notes in
one run on the "bulk" lane; meanwhile another provider makes
`neighbour_actions` single actions, one after the other, each followed
until it settles. The same actions with no run going, before and after,
are the baseline: the two lanes should keep a click's confirmation from
waiting behind the run.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bench import bulk as bulk_pages
from bench import confirm as truth
from bench.http import SETTLED, PortalUser
from bench.procs import BenchError
from bench.scenarios.bulk import plan_queue, progress_poll
from bench.scenarios.common import (
    BULK_WORKER,
    at_most,
    cpu_since,
    drain_confirmations,
    new_note,
    not_run,
    worker_names,
)
from bench.stats import ratio, summarize

if TYPE_CHECKING:
    from bench.runner import Run

#: The provider whose bulk run is going, and the neighbour who clicks meanwhile.
NEIGHBOUR_USERS = ("nbr01", "nbr02")
_REFERER = "/notes/?tab=to_sign"
#: How long the bench waits for the run's first item to be under way.
_START_WITHIN_S = 30.0


def neighbour(run: Run) -> dict[str, Any]:
    """A neighbour's confirmations while a bulk run is going, against the same with none."""
    pieces = ("make_connection", "note_action_perform", "audit_model", "bulk_url", "bulk_model")
    if why := run.requires(*pieces):
        return not_run(why)
    s = run.settings
    runner, other = (run.login(name) for name in NEIGHBOUR_USERS)
    faults = {
        "latency_ms": s.neighbour_latency_ms,
        "effect_delay_ms": s.neighbour_effect_delay_ms,
        "effect_reject_rate": 0.0,
    }
    try:
        quiet = _arm(run, other, faults=faults)
        busy, bulk_run = _busy_arm(run, runner, other, faults=faults)
        quiet_after = _arm(run, other, faults=faults)
    finally:
        run.control.reset_faults()
    arms = {"quiet": quiet, "busy": busy, "quiet_after": quiet_after}
    ids = [i["attempt_id"] for arm in arms.values() for i in arm["seen"] if i.get("attempt_id")]
    rows = run.task("attempts", ids=ids)["attempts"]
    for arm in arms.values():
        arm["default_lane"] = _lane(run, arm.get("window"))
    return {
        "notes": s.neighbour_notes,
        "actions": s.neighbour_actions,
        "faults": faults,
        "users": list(NEIGHBOUR_USERS),
        "pace_ms": s.neighbour_pace_ms,
        "poll_every_ms": s.neighbour_poll_ms,
        "confirm_workers": s.confirm_workers,
        **_figures(arms, rows=rows, bulk_run=bulk_run),
    }


def _arm(run: Run, user: PortalUser, *, faults: dict[str, Any]) -> dict[str, Any]:
    """Make the neighbour's notes, then act on each in turn (no run going), each until settled."""
    s = run.settings
    notes = [new_note(run, user.username) for _ in range(s.neighbour_actions)]
    backlog = drain_confirmations(run)  # the worker starts idle
    run.control.set_faults(**faults)
    out: dict[str, Any] = {
        "backlog_before": backlog,
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    servers = ["portal", "sandbox", *worker_names(run), BULK_WORKER]
    cpu_before = {name: run.stack.cpu_seconds(name) for name in servers}
    started, since = time.monotonic(), time.time()
    out["seen"] = _act(run, user, notes)
    out["seconds"] = round(time.monotonic() - started, 2)
    out["window"] = [since, time.time()]
    out["cpu_s"] = {name: cpu_since(run, name, before) for name, before in cpu_before.items()}
    return out


def _act(run: Run, user: PortalUser, notes: list[str]) -> list[dict[str, Any]]:
    """Lock each note in turn, one click every `neighbour_pace_ms`; follow each until settled.

    The clicks do not wait for each other's confirmation (a person works
    down the list); each attempt is polled as its "in flight" fragment
    does, from another connection, until it answers 286.
    """
    s = run.settings
    pace = s.neighbour_pace_ms / 1000
    give_up_s = s.confirm_seconds + s.confirm_margin_s + 10
    items: list[dict[str, Any]] = []
    lock, sending = threading.Lock(), threading.Event()
    sending.set()
    with ThreadPoolExecutor(max_workers=1) as pool:
        watcher = pool.submit(
            _watch,
            user.clone(),
            items,
            lock,
            sending,
            poll_s=s.neighbour_poll_ms / 1000,
            give_up_s=give_up_s,
        )
        started = time.perf_counter()
        try:
            for index, note_id in enumerate(notes):
                time.sleep(max(0.0, started + index * pace - time.perf_counter()))
                item = _click(user, note_id)
                with lock:
                    items.append(item)
        finally:
            sending.clear()
        watcher.result(timeout=give_up_s + 30)
    return items


def _click(user: PortalUser, note_id: str) -> dict[str, Any]:
    """Lock a new note as its row's button does; return what the answer said."""
    sent = user.action(note_id, "lock")
    item: dict[str, Any] = {
        "note_id": note_id,
        "answered": time.perf_counter(),
        "post_status": sent.status,
        "post_ms": round(sent.ms, 2),
        "attempt_id": sent.attempt_id,
    }
    if sent.attempt_id is None:
        item["refused"] = f"{sent.status} {sent.level}: {sent.message or sent.text[:80]}"[:160]
    return item


def _watch(
    user: PortalUser,
    items: list[dict[str, Any]],
    lock: threading.Lock,
    sending: threading.Event,
    *,
    poll_s: float,
    give_up_s: float,
) -> None:
    """Poll every attempt in flight each `poll_s` from its answer until all settle (bounded)."""
    deadline = None
    while True:
        now = time.perf_counter()
        with lock:
            going = [i for i in items if i["attempt_id"] and "said" not in i and "odd" not in i]
        if not sending.is_set():
            deadline = deadline or now + give_up_s
            if not going or now > deadline:
                return
        for item in going:
            if now - item.get("polled", item["answered"]) >= poll_s:
                _poll_once(user, item)
        time.sleep(0.02)


def _poll_once(user: PortalUser, item: dict[str, Any]) -> None:
    """Poll one attempt; record when it was seen settled and what its toast said."""
    polled = user.attempt(item["attempt_id"])
    item["polled"] = time.perf_counter()
    item["polls"] = item.get("polls", 0) + 1
    if polled.status == SETTLED:
        item["said"] = truth.said_outcome(polled.level)
        item["seen_ms"] = round((item["polled"] - item["answered"]) * 1000, 1)
    elif polled.status not in (204, 0):
        item["odd"] = f"{polled.status} {polled.text[:80]}"


def _busy_arm(
    run: Run, runner: PortalUser, other: PortalUser, *, faults: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start the runner's bulk run, then the neighbour's actions while it goes; return both."""
    s = run.settings
    queue = [
        new_note(run, runner.username, state=("NEW", "LKD")[i % 2])
        for i in range(s.neighbour_notes)
    ]
    notes = [new_note(run, other.username) for _ in range(s.neighbour_actions)]
    backlog = drain_confirmations(run)
    run.control.set_faults(**faults)
    bulk_run: dict[str, Any] = {"notes": len(queue)}
    failures: Counter = Counter()
    chosen = plan_queue(runner, queue, out=bulk_run, failures=failures)
    servers = ["portal", "sandbox", *worker_names(run), BULK_WORKER]
    cpu_before = {name: run.stack.cpu_seconds(name) for name in servers}
    load = [round(x, 2) for x in os.getloadavg()]
    start_epoch, started = time.time(), time.perf_counter()
    sent = runner.form_post("/notes/bulk/", {"confirm": "1", "note": chosen}, referer=_REFERER)
    run_id = bulk_pages.run_id_in(sent.location) if sent.status == 302 else None
    bulk_run.update(post_status=sent.status, run_id=run_id, start_epoch=start_epoch)
    arm: dict[str, Any] = {"backlog_before": backlog, "load_before": load, "seen": []}
    if run_id is None:
        failures[f"confirm: {sent.status} {sent.location or sent.text[:80]}"[:120]] += 1
        bulk_run["failures"] = dict(failures)
        return arm, bulk_run
    bulk_run["under_way_ms"] = _wait_under_way(runner, run_id, started=started)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The run's page polls its panel meanwhile, at the page's own rate.
        watching = pool.submit(
            progress_poll,
            runner,
            run_id,
            started=started,
            poll_s=s.neighbour_progress_poll_ms / 1000,
            give_up_s=s.bulk_give_up_s,
        )
        arm_started, since = time.monotonic(), time.time()
        arm["seen"] = _act(run, other, notes)
        arm["seconds"] = round(time.monotonic() - arm_started, 2)
        arm["window"] = [since, time.time()]
        seen = watching.result(timeout=s.bulk_give_up_s + 30)
    # From the confirming POST until both the run and the neighbour were done.
    arm["cpu_s"] = {name: cpu_since(run, name, before) for name, before in cpu_before.items()}
    failures.update({f"progress: {k}": v for k, v in seen.pop("failures").items()})
    bulk_run.update(wall_ms=seen.get("wall_ms"), polls=seen["polls"], failures=dict(failures))
    bulk_run["rows"] = run.task("bulk_run", run_id=run_id)
    return arm, bulk_run


def _lane(run: Run, window: list[float] | None) -> list[dict[str, Any]] | str:
    """Return what the "default" lane ran during an arm, by whose attempts (or why not)."""
    if not window:
        return "no window"
    try:
        return run.task("lane_load", since=window[0], until=window[1])["groups"]
    except BenchError as exc:  # a diagnosis: the figures stand without it
        return str(exc)[:300]


def _wait_under_way(runner: PortalUser, run_id: int, *, started: float) -> float | None:
    """Poll the run's panel until an item is sent or done; return when (ms after the POST)."""
    deadline = time.perf_counter() + _START_WITHIN_S
    while time.perf_counter() < deadline:
        polled = runner.run_progress(run_id)
        if polled.ok:
            panel = bulk_pages.progress_of(polled.text)
            if (panel.get("done") or 0) > 0 or panel["counts"].get("in_flight"):
                return round((time.perf_counter() - started) * 1000, 1)
        time.sleep(0.1)
    return None


def _lags(arm: dict[str, Any], rows: dict[str, Any]) -> list[float]:
    """Return the ms from Canvas's 202 (recorded) to the row settled, of each confirmed action."""
    found = (rows.get(str(item.get("attempt_id"))) for item in arm["seen"])
    return [
        ms
        for row in found
        if row and row["outcome"] == "confirmed"
        if (ms := truth.ms_between(row, "finished_at", "resolved_at")) is not None
    ]


def _seen(arm: dict[str, Any]) -> list[float]:
    """Return the ms from each confirmed action's answer to the poll that showed it settled."""
    return [i["seen_ms"] for i in arm["seen"] if i.get("said") == "confirmed"]


def _arm_figures(arm: dict[str, Any], rows: dict[str, Any]) -> dict[str, Any]:
    """Return one arm's counts and times (the raw attempts left out)."""
    seen = arm["seen"]
    lags = [
        (item["attempt_id"], ms)
        for item in seen
        if (row := rows.get(str(item.get("attempt_id"))))
        if (ms := truth.ms_between(row, "finished_at", "resolved_at")) is not None
    ]
    outcomes = Counter(
        (rows.get(str(i["attempt_id"])) or {}).get("outcome", "missing")
        for i in seen
        if i.get("attempt_id")
    )
    return {
        **{k: v for k, v in arm.items() if k != "seen"},
        "actions": len(seen),
        "refused": sum(1 for i in seen if not i.get("attempt_id")),
        "never_settled": sum(1 for i in seen if i.get("attempt_id") and "said" not in i),
        "outcomes": dict(outcomes),
        "confirm_ms": summarize(_lags(arm, rows)),
        "seen_ms": summarize(_seen(arm)),
        "post_ms": summarize(i["post_ms"] for i in seen),
        "polls": sum(i.get("polls", 0) for i in seen),
        "odd_polls": [i["odd"] for i in seen if "odd" in i][:5],
        # [attempt id, ms from 202 to settled] of every action, in the order sent.
        "lags_ms": lags,
    }


def _figures(
    arms: dict[str, dict[str, Any]], *, rows: dict[str, Any], bulk_run: dict[str, Any]
) -> dict[str, Any]:
    """Return the scenario's figures: each arm, the run, the ratios to the quiet arms."""
    quiet = [arms["quiet"], arms["quiet_after"]]
    quiet_p50 = summarize(ms for arm in quiet for ms in _lags(arm, rows))["p50"]
    busy_p50 = summarize(_lags(arms["busy"], rows))["p50"]
    to_quiet = ratio(busy_p50, quiet_p50)
    run_figures = _run_figures(bulk_run)
    return {
        "confirm_p50_ms_quiet": quiet_p50,
        "confirm_p50_ms_busy": busy_p50,
        "confirm_p50_ratio_to_quiet": to_quiet,
        "actions_during_run": _during(arms["busy"], rows, run_figures),
        "arms": {name: _arm_figures(arm, rows) for name, arm in arms.items()},
        "run": run_figures,
        "goals": {"confirm_p50_ratio_to_quiet <= 1.2": at_most(to_quiet, 1.2)},
    }


def _run_figures(bulk_run: dict[str, Any]) -> dict[str, Any]:
    """Return the bulk run's outcome and span, in ms after its confirming POST was sent."""
    rows = bulk_run.pop("rows", None)
    start = bulk_run.get("start_epoch")
    if rows is None or start is None:
        return bulk_run
    items = rows["items"]
    answers = [(i["attempt"] or {}).get("finished_at") for i in items]
    sent = [bulk_pages.ms_after(i["sending_at"], start) for i in items if i["sending_at"]]
    done = [bulk_pages.ms_after(a, start) for a in answers if a]
    return {
        **bulk_run,
        "status": rows["run"]["status"],
        "items": len(items),
        "results": dict(Counter(bulk_pages.item_result(i) for i in items)),
        "first_sent_ms": min(sent, default=None),
        "last_answer_ms": max(done, default=None),
        "run_finished_ms": bulk_pages.ms_after(rows["run"]["finished_at"], start),
    }


def _during(arm: dict[str, Any], rows: dict[str, Any], run_figures: dict[str, Any]) -> int | None:
    """Count the arm's actions answered and settled while the run was still sending."""
    start = run_figures.get("start_epoch")
    first, last = run_figures.get("first_sent_ms"), run_figures.get("last_answer_ms")
    if start is None or first is None or last is None:
        return None
    count = 0
    for item in arm["seen"]:
        row = rows.get(str(item.get("attempt_id"))) or {}
        answered = bulk_pages.ms_after(row.get("finished_at"), start)
        settled = bulk_pages.ms_after(row.get("resolved_at"), start)
        if answered is not None and settled is not None and first <= answered and settled <= last:
            count += 1
    return count
