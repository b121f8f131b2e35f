"""The printed table's rows: one function per scenario, each reading its figures only."""

from __future__ import annotations

import re
from typing import Any

#: (figure, value, goal) of one row; the scenario's name is added by `rows`.
Row = tuple[str, str, str]


def fmt(value: Any) -> str:
    """Return a figure as the table shows it ("-" when it was not measured)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _qs(summary: dict[str, Any] | None, *quantiles: str) -> str:
    """Return "p50 / p95 / ..." of a latency summary."""
    return " / ".join(fmt((summary or {}).get(q)) for q in quantiles)


def _figures(data: dict[str, Any], keys: list[tuple[str, str]]) -> list[Row]:
    """Return one row per (key, goal), the figure named as its key."""
    return [(key, fmt(data.get(key)), goal) for key, goal in keys]


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Return (scenario, figure, value, goal) rows for the printed table."""
    out: list[tuple[str, str, str, str]] = []
    for name, data in results.items():
        if str(data.get("status", "")).startswith("not run"):
            out.append((name, "status", data["status"], ""))
            continue
        scenario_rows = SCENARIO_ROWS.get(name)
        out.extend((name, *row) for row in (scenario_rows(data) if scenario_rows else []))
        for goal, held in (data.get("goals") or {}).items():
            out.append((name, f"GOAL {goal}", {True: "holds", False: "FAILS", None: "-"}[held], ""))
    return out


def _overhead(data: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for key in [k for k in data if re.fullmatch(r"\d+ms", k)]:
        for arm in ("direct", "portal"):
            out.append(
                (f"{key} {arm} p50/p95/p99 ms", _qs(data[key][arm], "p50", "p95", "p99"), "")
            )
        requests = data[key].get("canvas_requests_per_portal_action_with_confirmation")
        out.append(
            (f"{key} Canvas requests per portal action (+ worker confirming)", fmt(requests), "")
        )
        for q in ("p50", "p95", "p99"):
            goal = {"p50": "<= 1.15", "p99": "<= 1.3"}.get(q, "") if key == "50ms" else ""
            out.append((f"{q}_ratio_{key} (vs 1 POST)", fmt(data.get(f"{q}_ratio_{key}")), goal))
    if "sql_queries_per_action" in data:
        queries = fmt(data["sql_queries_per_action"])
        out.append(("sql_queries_per_action (in-process, max)", queries, "<= 7"))
    prof = data.get("in_process_profile") or {}
    if "portal_own_ms" in prof:
        out.append(
            ("in-process: Canvas calls per action", fmt(prof["canvas_calls_per_action"]), "")
        )
        parts = ("in_process_ms", "canvas_calls_ms", "portal_own_ms")
        out.append(
            (
                "in-process p50 ms: total / Canvas calls / portal own",
                " / ".join(fmt(prof[k]["p50"]) for k in parts),
                "",
            )
        )
    if data.get("portal_healthz_ms"):
        healthz = fmt(data["portal_healthz_ms"]["p50"])
        out.append(("GET /healthz p50 ms (portal floor)", healthz, ""))
    return out


def _worklist(data: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for size in (10, 50):
        if f"queries_{size}" in data:
            render = _qs(data[f"render_ms_{size}"], "p50", "p95")
            out.append((f"{size}/page render p50/p95 ms", render, ""))
            shown = data[f"notes_shown_{size}"]
            queries = fmt(data[f"queries_{size}"])
            out.append((f"queries_{size} (notes shown {shown})", queries, "10 == 50"))
    return out


def _throughput(data: dict[str, Any]) -> list[Row]:
    # The ratio's label says which ceiling was the lower one: "io" or "cpu".
    labels = {"ratio_to_ideal": f"ratio_to_ideal (bound: {fmt(data.get('ideal_bound'))})"}
    keys = [
        ("users", ""),
        ("actions_per_s", ""),
        ("io_ideal_per_s", ""),
        ("cpu_ceiling_per_s", ""),
        ("ratio_to_ideal", ">= 0.8"),
        ("errors", "0"),
        ("portal_cpu_ms_per_action", "<= 6"),
        ("sandbox_cpu_ms_per_action", ""),
        ("worker_cpu_ms_per_action", ""),
        ("canvas_requests_per_action", ""),
        ("cpu_utilisation_of_all_cores", ""),
        ("actions", ""),
        ("unconfirmed_after", "<= 1% of actions"),
        ("confirm_lag_p99_s", "<= 2.0"),
    ]
    out = [(labels.get(key, key), value, goal) for key, value, goal in _figures(data, keys)]
    lag = data.get("confirm_lag_ms") or {}
    out.append(
        (
            "accepted -> settled p50/p95/p99 ms (settled / unsettled)",
            f"{_qs(lag, 'p50', 'p95', 'p99')} ({fmt(lag.get('settled'))} / "
            f"{fmt(lag.get('unsettled'))})",
            "",
        )
    )
    out.append(("unloaded call p50 ms", _qs(data.get("unloaded_call_ms"), "p50"), ""))
    out.append(
        ("loaded call p50/p95/p99 ms", _qs(data.get("loaded_call_ms"), "p50", "p95", "p99"), "")
    )
    return out


def _refresh_storm(data: dict[str, Any]) -> list[Row]:
    served = [r.get("worker_pids_serving") for r in data["rounds"]]
    sizes = f"{data['portal_processes']} x {data['concurrent_requests']}"
    return [
        ("processes x concurrent requests", sizes, ""),
        ("refresh_requests (per round)", fmt(data["refresh_requests_per_round"]), "1"),
        ("failed_requests", fmt(data["failed_requests"]), "0"),
        ("worker processes that served (per round)", fmt(served), ""),
    ]


def _faults(data: dict[str, Any]) -> list[Row]:
    keys = [
        ("attempts", ""),
        ("accepted", ""),
        ("audit_rows", "== attempts"),
        ("portal_500s", "0"),
        ("unclear_errors", "0"),
        ("recovery_failures", "0"),
    ]
    return [*_figures(data, keys), ("statuses", fmt(data.get("statuses")), "")]


def _confirm(data: dict[str, Any]) -> list[Row]:
    faults = data.get("faults") or {}
    parts = [data.get(k) or {} for k in ("post_ms", "accepted_to_resolved_ms", "poll_ms")]
    keys = [
        ("p50_ratio_to_delay", "<= 2.0"),
        ("p99_ratio_to_delay", ""),
        ("wrong_outcomes", "0"),
        ("unresolved", "0"),
        ("confirmed", ""),
        ("not_applied", ""),
        ("unknown", ""),
        ("refused", ""),
        ("never_settled", ""),
    ]
    return [
        (
            "actions x users (effect delay, reject rate)",
            f"{data.get('actions')} x {data.get('users')} "
            f"({faults.get('effect_delay_ms')} ms, {faults.get('effect_reject_rate')})",
            "",
        ),
        (
            "POST -> 286 when confirmed p50/p95/p99 ms",
            _qs(data.get("confirmed_ms"), "p50", "p95", "p99"),
            "",
        ),
        (
            "p50 ms: POST / Canvas 202 -> resolved_at / one poll",
            " / ".join(fmt(sm.get("p50")) for sm in parts),
            "",
        ),
        *_figures(data, keys),
        ("POST -> 286 when not applied p50 ms", _qs(data.get("not_applied_ms"), "p50"), ""),
    ]


def _bulk(data: dict[str, Any]) -> list[Row]:
    """Return scenario 7's rows: the clean run's figures, then the run with refusals."""
    runs = data.get("runs") or {}
    clean, refusing = runs.get("clean") or {}, runs.get("with_refusals") or {}
    n = data.get("notes")
    faults = refusing.get("faults") or {}
    reject = fmt(faults.get("effect_reject_rate", data.get("reject_rate")))
    outcomes = ("confirmed", "not_applied", "refused", "unknown")
    return [
        (
            "notes x concurrency (latency, effect delay)",
            f"{n} x {data.get('concurrency')} "
            f"({data.get('latency_ms')} ms, {data.get('effect_delay_ms')} ms)",
            "",
        ),
        (
            f"ideal ms ({n} x {data.get('latency_ms')} / {data.get('concurrency')}"
            f" + {data.get('effect_delay_ms')})",
            fmt(data.get("ideal_ms")),
            "",
        ),
        ("wall ms: confirming POST -> 286", fmt(data.get("wall_ms")), ""),
        ("ratio_to_ideal", fmt(data.get("ratio_to_ideal")), "<= 1.5"),
        *_bulk_clean_run(data, clean),
        ("errors", fmt(data.get("errors")), "0"),
        ("confirmed", fmt(data.get("confirmed")), fmt(n)),
        (
            f"reject {reject}: signed / not applied / refused / unknown",
            " / ".join(fmt(refusing.get(k)) for k in outcomes),
            "",
        ),
        ("reject: wall ms POST -> 286", fmt(data.get("wall_ms_with_refusals")), ""),
        ("wrong_outcomes", fmt(data.get("wrong_outcomes")), "0"),
    ]


def _bulk_clean_run(data: dict[str, Any], clean: dict[str, Any]) -> list[Row]:
    """Return where the clean run's time went: its steps, its calls, its polls and checks."""
    at = clean.get("ms_after_post") or {}
    steps = ("run_created", "first_sent", "last_answer", "run_finished", "last_resolved")
    split = [clean.get(k) or {} for k in ("to_accepted_ms", "accepted_to_answer_ms")]
    cpu = clean.get("cpu_s_post_to_286") or {}
    out: list[Row] = [
        (
            "ms after POST: run created / 1st sent / last answer / run done / last resolved",
            " / ".join(fmt(at.get(k)) for k in steps),
            "",
        ),
        (
            "Canvas calls: max at once / p50 ms",
            f"{fmt(clean.get('max_concurrent_calls'))} / {_qs(clean.get('call_ms'), 'p50')}",
            "",
        ),
        (
            "a call p50 ms: start -> Canvas accepted / accepted -> answered",
            " / ".join(fmt(sm.get("p50")) for sm in split),
            "",
        ),
    ]
    if cpu:
        out.append(
            (
                f"CPU s POST -> 286: {' / '.join(cpu)}",
                " / ".join(fmt(v) for v in cpu.values()),
                "",
            )
        )
    checks = fmt(clean.get("confirmation_checks"))
    early = fmt(clean.get("checks_started_before_run_finished"))
    out += [
        (
            f"progress polls (every {fmt(data.get('poll_every_ms'))} ms) / portal CPU ms per poll",
            f"{fmt(clean.get('polls'))} / {fmt(clean.get('portal_cpu_ms_per_poll'))}",
            "",
        ),
        (
            "confirmation checks (started before the run finished) / check p50 ms",
            f"{checks} ({early}) / {_qs(clean.get('check_ms'), 'p50')}",
            "",
        ),
    ]
    return out


def _neighbour(data: dict[str, Any]) -> list[Row]:
    """Return scenario 8's rows: the neighbour's confirmations quiet and beside the run."""
    arms = data.get("arms") or {}
    run = data.get("run") or {}
    names = ("quiet", "busy", "quiet_after")
    confirm = [(arms.get(n) or {}).get("confirm_ms") or {} for n in names]
    seen = [(arms.get(n) or {}).get("seen_ms") or {} for n in names]
    results = run.get("results") or {}
    return [
        (
            "run notes / neighbour actions (latency, effect delay)",
            f"{fmt(data.get('notes'))} / {fmt(data.get('actions'))} "
            f"({(data.get('faults') or {}).get('latency_ms')} ms, "
            f"{(data.get('faults') or {}).get('effect_delay_ms')} ms)",
            "",
        ),
        (
            "202 -> row confirmed p50 ms: quiet / beside the run / quiet after",
            " / ".join(fmt(c.get("p50")) for c in confirm),
            "",
        ),
        ("confirm_p50_ratio_to_quiet", fmt(data.get("confirm_p50_ratio_to_quiet")), "<= 1.2"),
        (
            "202 -> row confirmed p95 / max ms beside the run",
            f"{fmt(confirm[1].get('p95'))} / {fmt(confirm[1].get('max'))}",
            "",
        ),
        (
            f"answer -> 286 seen p50 ms (polls every {fmt(data.get('poll_every_ms'))} ms):"
            " quiet / run / after",
            " / ".join(fmt(c.get("p50")) for c in seen),
            "",
        ),
        (
            "actions answered and settled while the run was sending",
            f"{fmt(data.get('actions_during_run'))} of {fmt(data.get('actions'))}",
            "",
        ),
        (
            "default lane beside the run: tasks (s ran) for the run's / neighbour's attempts",
            _lane_share(arms.get("busy") or {}, data.get("users") or ["", ""]),
            "",
        ),
        (
            "run: ms after POST 1st sent / last answer / done; signed",
            f"{fmt(run.get('first_sent_ms'))} / {fmt(run.get('last_answer_ms'))} / "
            f"{fmt(run.get('run_finished_ms'))}; {fmt(results.get('confirmed'))}",
            "",
        ),
    ]


def _lane_share(arm: dict[str, Any], users: list[str]) -> str:
    """Return "tasks (s ran)" of the default lane for each user's attempts, during an arm."""
    groups = arm.get("default_lane")
    if not isinstance(groups, list):
        return "-"
    parts = []
    for user in users:
        mine = [g for g in groups if g.get("username") == user]
        ran = sum(g.get("ran_s") or 0 for g in mine)
        parts.append(f"{sum(g.get('tasks') or 0 for g in mine)} ({fmt(round(ran, 2))})")
    return " / ".join(parts)


SCENARIO_ROWS = {
    "overhead": _overhead,
    "worklist": _worklist,
    "throughput": _throughput,
    "refresh_storm": _refresh_storm,
    "faults": _faults,
    "confirm": _confirm,
    "bulk": _bulk,
    "neighbour": _neighbour,
}
