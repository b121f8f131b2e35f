"""Scenario 7: one provider signs a whole queue in one run ("close my day"), twice."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from bench import bulk as bulk_pages
from bench.http import SETTLED, PortalUser
from bench.scenarios.bulk_figures import RunRows, run_figures
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

#: One provider per run, each with a signing queue of its own (the seed gives
#: bench staff no notes): the first run with every effect applied, the second
#: with a share of them refused.
BULK_USERS = ("blk01", "blk02")
_REFERER = "/notes/?tab=to_sign"


def bulk(run: Run) -> dict[str, Any]:
    """One provider signs a whole queue in one run ("close my day"): how fast, how truthfully."""
    pieces = ("make_connection", "note_action_perform", "audit_model", "bulk_url", "bulk_model")
    if why := run.requires(*pieces):
        return not_run(why)
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
    errors = _errors(clean, notes=s.bulk_notes)
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
            "ratio_to_ideal <= 1.5": at_most(to_ideal, 1.5),
            "errors == 0": errors == 0,
            f"confirmed == {s.bulk_notes}": confirmed == s.bulk_notes,
            "wrong_outcomes == 0": None if wrong is None else wrong == 0,
        },
    }


def _errors(clean: dict[str, Any], *, notes: int) -> int:
    """Return the errors of the clean run.

    Anything but a signed or not-applied item, every note never made into an
    item, and every HTTP answer that was not the expected one.
    """
    errors = clean.get("http_failures", 0) + sum(
        clean.get(k, 0) for k in ("refused", "unknown", "skipped", "unsettled")
    )
    return errors + max(0, notes - clean.get("items", 0))


def _bulk_once(run: Run, username: str, *, reject_rate: float) -> dict[str, Any]:
    """Make a queue of notes, sign it in one run, follow it to 286; judge every item."""
    s = run.settings
    user = run.login(username)
    notes, out = _queue(run, username, reject_rate=reject_rate)
    failures: Counter = Counter()
    try:
        chosen = plan_queue(user, notes, out=out, failures=failures)
        servers = ["portal", "sandbox", *worker_names(run), BULK_WORKER]
        cpu_before = {name: run.stack.cpu_seconds(name) for name in servers}
        start_epoch = time.time()
        started = time.perf_counter()
        sent = user.form_post("/notes/bulk/", {"confirm": "1", "note": chosen}, referer=_REFERER)
        out["post_status"] = sent.status
        out["post_ms"] = round(sent.ms, 1)
        run_id = bulk_pages.run_id_in(sent.location) if sent.status == 302 else None
        out["run_id"] = run_id
        if run_id is None:
            failures[f"confirm: {sent.status} {sent.location or sent.text[:80]}"[:120]] += 1
            out.update(failures=dict(failures), http_failures=sum(failures.values()))
            return out
        poll_s, give_up_s = s.bulk_poll_ms / 1000, s.bulk_give_up_s
        seen = progress_poll(user, run_id, started=started, poll_s=poll_s, give_up_s=give_up_s)
        failures.update({f"progress: {k}": v for k, v in seen.pop("failures").items()})
        # CPU of each server's process group from the confirming POST to the 286.
        cpu = {name: cpu_since(run, name, before) for name, before in cpu_before.items()}
        rows = RunRows(run.task("bulk_run", run_id=run_id), start_epoch=start_epoch)
        effects = {note_id: run.control.effects(note_id) for note_id in chosen}
    finally:
        run.control.reset_faults()
    out.update(run_figures(rows, effects=effects, seen=seen, post_ms=out["post_ms"], cpu=cpu))
    out.update(failures=dict(failures), http_failures=sum(failures.values()))
    return out


def _queue(run: Run, username: str, *, reject_rate: float) -> tuple[list[str], dict[str, Any]]:
    """Make the provider's queue and set the sandbox's faults; return the notes and the figures."""
    s = run.settings
    # Half open (lock & sign), half locked (sign): both kinds the queue holds.
    notes = [new_note(run, username, state=("NEW", "LKD")[i % 2]) for i in range(s.bulk_notes)]
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
    return notes, out


def plan_queue(user: PortalUser, notes: list[str], *, out: dict, failures: Counter) -> list[str]:
    """Ask for "Close my day" on the whole queue; return the notes the run is to sign."""
    # The confirmation page lists what it signs.
    plan = user.form_post("/notes/bulk/", {"scope": "queue"}, referer=_REFERER)
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
    return chosen


def progress_poll(
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
