"""Scenario 1: the portal's latency against a direct call of the same note action."""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any

from bench.scenarios.common import Toggler, at_most, drain_confirmations, new_note, not_run
from bench.stats import ratio, summarize

if TYPE_CHECKING:
    from bench.runner import Run

#: One side of the comparison: its name, its client and the note it toggles.
Side = tuple[str, Any, Toggler]


def overhead(run: Run) -> dict[str, Any]:
    """Portal vs direct latency of the same note action, interleaved, at 0 and 50 ms."""
    if why := run.requires("make_connection", "note_action_perform", "action_url"):
        return not_run(why)
    s = run.settings
    portal = run.login("ovh")
    # Direct: what the portal sends upstream while the person waits, the action alone.
    direct = run.direct("ovh")
    p_note, d_note = Toggler(run, new_note(run, "ovh")), Toggler(run, new_note(run, "ovh"))
    sides: list[Side] = [("portal", portal, p_note), ("direct", direct, d_note)]
    rng = random.Random(7)
    out: dict[str, Any] = {"iterations": s.overhead_iterations, "samples_ms": {}}
    for latency in s.overhead_latencies_ms:
        key = f"{latency}ms"
        out[key], series = _at_latency(run, latency, sides=sides, rng=rng)
        for q in ("p50", "p95", "p99"):
            out[f"{q}_ratio_{key}"] = ratio(out[key]["portal"][q], out[key]["direct"][q])
        out["samples_ms"][key] = {k: [round(v, 2) for v in vals] for k, vals in series.items()}
    # Where the portal's time goes: the action view in-process, Canvas at 0 ms.
    run.control.set_faults(latency_ms=0)
    out["in_process_profile"] = _profile(run, p_note)
    # The distinct counts seen over the profiled actions; the worst one is the figure.
    counts = out["in_process_profile"].get("queries_per_action") or []
    out["sql_queries_per_action"] = max(counts) if counts else None
    out["portal_healthz_ms"] = summarize(
        [portal.page("/healthz", error_texts=[]).ms for _ in range(30)][5:]
    )
    run.control.reset_faults()
    out["goals"] = {
        "p50_ratio_50ms <= 1.15": at_most(out.get("p50_ratio_50ms"), 1.15),
        "p99_ratio_50ms <= 1.3": at_most(out.get("p99_ratio_50ms"), 1.3),
        "sql_queries_per_action <= 7": at_most(out["sql_queries_per_action"], 7),
    }
    return out


def _at_latency(
    run: Run, latency: int, *, sides: list[Side], rng: random.Random
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Measure both sides at one sandbox latency; return the figures and the samples."""
    run.control.set_faults(latency_ms=latency)
    series: dict[str, list[float]] = {"direct": [], "portal": []}
    errors: Counter = Counter()

    def call(side: Side, *, record: bool) -> None:
        name, client, toggler = side
        result = client.action(toggler.note_id, toggler.next)
        toggler.after(result)
        if not result.ok:
            errors[name] += 1
        elif record:
            series[name].append(result.ms)

    for _ in range(10):  # warm-up: connections, caches, worker start-up
        for side in sides:
            call(side, record=False)
    # The worker's reads of earlier actions must not be counted below.
    drained_before = drain_confirmations(run)
    run.control.reset_stats()
    n = run.settings.overhead_iterations
    for _ in range(n):
        order = list(sides)
        rng.shuffle(order)  # interleaved, random order: noise hits both alike
        for side in order:
            call(side, record=True)
    # Every Canvas request an action causes: the request's own and, once the
    # worker has confirmed them all, its reads of the note's history and state.
    drained_after = drain_confirmations(run)
    plugin_requests = run.control.stats().get("plugin_requests", 0)
    figures = {
        **{name: summarize(values) for name, values in series.items()},
        "errors": dict(errors),
        "canvas_requests_per_portal_action_with_confirmation": (
            round((plugin_requests - n) / n, 2) if drained_after["drained"] else None
        ),
        "confirmation_drain": {"before": drained_before, "after": drained_after},
    }
    return figures, series


def _profile(run: Run, toggler: Toggler) -> dict[str, Any]:
    """Profile the action view in-process (bench.portal_tasks action_profile)."""
    try:
        return run.task(
            "action_profile",
            username="ovh",
            note_id=toggler.note_id,
            first=toggler.next,
            count=max(10, run.settings.overhead_iterations // 5),
        )
    except Exception as exc:
        return {"status": f"not run: {exc}"}
