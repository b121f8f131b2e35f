"""Print the table, write latest.json and the latency plot of scenario 1."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Return (scenario, figure, value, goal) rows for the printed table."""
    rows: list[tuple[str, str, str, str]] = []
    for name, data in results.items():
        if str(data.get("status", "")).startswith("not run"):
            rows.append((name, "status", data["status"], ""))
            continue
        if name == "overhead":
            for key in [k for k in data if re.fullmatch(r"\d+ms", k)]:
                for arm in ("direct", "portal"):
                    sm = data[key][arm]
                    rows.append(
                        (
                            name,
                            f"{key} {arm} p50/p95/p99 ms",
                            f"{_fmt(sm['p50'])} / {_fmt(sm['p95'])} / {_fmt(sm['p99'])}",
                            "",
                        )
                    )
                rows.append(
                    (
                        name,
                        f"{key} Canvas requests per portal action (+ worker confirming)",
                        _fmt(data[key].get("canvas_requests_per_portal_action_with_confirmation")),
                        "",
                    )
                )
                for q in ("p50", "p95", "p99"):
                    goal = {"p50": "<= 1.15", "p99": "<= 1.3"}.get(q, "") if key == "50ms" else ""
                    rows.append(
                        (
                            name,
                            f"{q}_ratio_{key} (vs 1 POST)",
                            _fmt(data.get(f"{q}_ratio_{key}")),
                            goal,
                        )
                    )
            if "sql_queries_per_action" in data:
                rows.append(
                    (
                        name,
                        "sql_queries_per_action (in-process, max)",
                        _fmt(data["sql_queries_per_action"]),
                        "<= 7",
                    )
                )
            prof = data.get("in_process_profile") or {}
            if "portal_own_ms" in prof:
                rows.append(
                    (
                        name,
                        "in-process: Canvas calls per action",
                        _fmt(prof["canvas_calls_per_action"]),
                        "",
                    )
                )
                rows.append(
                    (
                        name,
                        "in-process p50 ms: total / Canvas calls / portal own",
                        " / ".join(
                            _fmt(prof[k]["p50"])
                            for k in ("in_process_ms", "canvas_calls_ms", "portal_own_ms")
                        ),
                        "",
                    )
                )
            if data.get("portal_healthz_ms"):
                rows.append(
                    (
                        name,
                        "GET /healthz p50 ms (portal floor)",
                        _fmt(data["portal_healthz_ms"]["p50"]),
                        "",
                    )
                )
        elif name == "worklist":
            for size in (10, 50):
                if f"queries_{size}" in data:
                    sm = data[f"render_ms_{size}"]
                    rows.append(
                        (
                            name,
                            f"{size}/page render p50/p95 ms",
                            f"{_fmt(sm['p50'])} / {_fmt(sm['p95'])}",
                            "",
                        )
                    )
                    rows.append(
                        (
                            name,
                            f"queries_{size} (notes shown {data[f'notes_shown_{size}']})",
                            _fmt(data[f"queries_{size}"]),
                            "10 == 50",
                        )
                    )
        elif name == "throughput":
            # The ratio's label says which ceiling was the lower one: "io" or "cpu".
            labels = {"ratio_to_ideal": f"ratio_to_ideal (bound: {_fmt(data.get('ideal_bound'))})"}
            for key, goal in [
                ("users", ""),
                ("actions_per_s", ""),
                ("io_ideal_per_s", ""),
                ("cpu_ceiling_per_s", ""),
                ("ratio_to_ideal", ">= 0.8"),
                ("errors", "0"),
                ("portal_cpu_ms_per_action", "<= 6"),
                ("sandbox_cpu_ms_per_action", ""),
                ("worker_cpu_ms_per_action", ""),
                ("cpu_utilisation_of_all_cores", ""),
                ("unconfirmed_after", ""),
            ]:
                rows.append((name, labels.get(key, key), _fmt(data.get(key)), goal))
            sm = data.get("unloaded_call_ms") or {}
            rows.append((name, "unloaded call p50 ms", _fmt(sm.get("p50")), ""))
            sm = data.get("loaded_call_ms") or {}
            rows.append(
                (
                    name,
                    "loaded call p50/p95/p99 ms",
                    " / ".join(_fmt(sm.get(q)) for q in ("p50", "p95", "p99")),
                    "",
                )
            )
        elif name == "refresh_storm":
            rows.append(
                (
                    name,
                    "processes x concurrent requests",
                    f"{data['portal_processes']} x {data['concurrent_requests']}",
                    "",
                )
            )
            rows.append(
                (
                    name,
                    "refresh_requests (per round)",
                    _fmt(data["refresh_requests_per_round"]),
                    "1",
                )
            )
            rows.append((name, "failed_requests", _fmt(data["failed_requests"]), "0"))
            served = [r.get("worker_pids_serving") for r in data["rounds"]]
            rows.append((name, "worker processes that served (per round)", _fmt(served), ""))
        elif name == "faults":
            for key, goal in [
                ("attempts", ""),
                ("accepted", ""),
                ("audit_rows", "== attempts"),
                ("portal_500s", "0"),
                ("unclear_errors", "0"),
                ("recovery_failures", "0"),
            ]:
                rows.append((name, key, _fmt(data.get(key)), goal))
            rows.append((name, "statuses", _fmt(data.get("statuses")), ""))
        elif name == "confirm":
            faults = data.get("faults") or {}
            rows.append(
                (
                    name,
                    "actions x users (effect delay, reject rate)",
                    f"{data.get('actions')} x {data.get('users')} "
                    f"({faults.get('effect_delay_ms')} ms, {faults.get('effect_reject_rate')})",
                    "",
                )
            )
            sm = data.get("confirmed_ms") or {}
            rows.append(
                (
                    name,
                    "POST -> 286 when confirmed p50/p95/p99 ms",
                    " / ".join(_fmt(sm.get(q)) for q in ("p50", "p95", "p99")),
                    "",
                )
            )
            parts = [data.get(k) or {} for k in ("post_ms", "accepted_to_resolved_ms", "poll_ms")]
            rows.append(
                (
                    name,
                    "p50 ms: POST / Canvas 202 -> resolved_at / one poll",
                    " / ".join(_fmt(sm.get("p50")) for sm in parts),
                    "",
                )
            )
            for key, goal in [
                ("p50_ratio_to_delay", "<= 2.0"),
                ("p99_ratio_to_delay", ""),
                ("wrong_outcomes", "0"),
                ("unresolved", "0"),
                ("confirmed", ""),
                ("not_applied", ""),
                ("unknown", ""),
                ("refused", ""),
                ("never_settled", ""),
            ]:
                rows.append((name, key, _fmt(data.get(key)), goal))
            sm = data.get("not_applied_ms") or {}
            rows.append((name, "POST -> 286 when not applied p50 ms", _fmt(sm.get("p50")), ""))
        elif name == "bulk":
            rows.extend(_bulk_rows(data))
        for goal, held in (data.get("goals") or {}).items():
            rows.append(
                (name, f"GOAL {goal}", {True: "holds", False: "FAILS", None: "-"}[held], "")
            )
    return rows


def _bulk_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Return scenario 7's rows: the clean run's figures, then the run with refusals."""
    name = "bulk"
    runs = data.get("runs") or {}
    clean, refusing = runs.get("clean") or {}, runs.get("with_refusals") or {}
    n = data.get("notes")
    rows = [
        (
            name,
            "notes x concurrency (latency, effect delay)",
            f"{n} x {data.get('concurrency')} "
            f"({data.get('latency_ms')} ms, {data.get('effect_delay_ms')} ms)",
            "",
        ),
        (
            name,
            f"ideal ms ({n} x {data.get('latency_ms')} / {data.get('concurrency')}"
            f" + {data.get('effect_delay_ms')})",
            _fmt(data.get("ideal_ms")),
            "",
        ),
        (name, "wall ms: confirming POST -> 286", _fmt(data.get("wall_ms")), ""),
        (name, "ratio_to_ideal", _fmt(data.get("ratio_to_ideal")), "<= 1.5"),
    ]
    at = clean.get("ms_after_post") or {}
    steps = ("run_created", "first_sent", "last_answer", "run_finished", "last_resolved")
    rows.append(
        (
            name,
            "ms after POST: run created / 1st sent / last answer / run done / last resolved",
            " / ".join(_fmt(at.get(k)) for k in steps),
            "",
        )
    )
    call = clean.get("call_ms") or {}
    rows.append(
        (
            name,
            "Canvas calls: max at once / p50 ms",
            f"{_fmt(clean.get('max_concurrent_calls'))} / {_fmt(call.get('p50'))}",
            "",
        )
    )
    split = [clean.get(k) or {} for k in ("to_accepted_ms", "accepted_to_answer_ms")]
    rows.append(
        (
            name,
            "a call p50 ms: start -> Canvas accepted / accepted -> answered",
            " / ".join(_fmt(sm.get("p50")) for sm in split),
            "",
        )
    )
    cpu = clean.get("cpu_s_post_to_286") or {}
    if cpu:
        rows.append(
            (
                name,
                f"CPU s POST -> 286: {' / '.join(cpu)}",
                " / ".join(_fmt(v) for v in cpu.values()),
                "",
            )
        )
    rows.append(
        (
            name,
            f"progress polls (every {_fmt(data.get('poll_every_ms'))} ms) / portal CPU ms per poll",
            f"{_fmt(clean.get('polls'))} / {_fmt(clean.get('portal_cpu_ms_per_poll'))}",
            "",
        )
    )
    check = clean.get("check_ms") or {}
    rows.append(
        (
            name,
            "confirmation checks (started before the run finished) / check p50 ms",
            f"{_fmt(clean.get('confirmation_checks'))} "
            f"({_fmt(clean.get('checks_started_before_run_finished'))}) / {_fmt(check.get('p50'))}",
            "",
        )
    )
    rows.append((name, "errors", _fmt(data.get("errors")), "0"))
    rows.append((name, "confirmed", _fmt(data.get("confirmed")), _fmt(n)))
    faults = refusing.get("faults") or {}
    rows.append(
        (
            name,
            f"reject {_fmt(faults.get('effect_reject_rate', data.get('reject_rate')))}: "
            "signed / not applied / refused / unknown",
            " / ".join(
                _fmt(refusing.get(k)) for k in ("confirmed", "not_applied", "refused", "unknown")
            ),
            "",
        )
    )
    rows.append((name, "reject: wall ms POST -> 286", _fmt(data.get("wall_ms_with_refusals")), ""))
    rows.append((name, "wrong_outcomes", _fmt(data.get("wrong_outcomes")), "0"))
    return rows


def table(results: dict[str, Any]) -> str:
    """Return the results as a fixed-width text table."""
    rows = [("scenario", "figure", "value", "goal"), *_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    widths[2] = min(widths[2], 60)
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot(overhead: dict[str, Any], path: Path) -> bool:
    """Draw scenario 1's latency distributions, portal beside direct; return whether drawn."""
    samples = overhead.get("samples_ms") or {}
    if not samples:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(samples)
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        series = samples[key]
        labels = [("direct", "direct: 1 POST"), ("portal", "portal")]
        data = [series[name] for name, _ in labels]
        parts = ax.violinplot(
            data, showmedians=True, showextrema=False, quantiles=[[0.99]] * len(data)
        )
        for body, colour in zip(parts["bodies"], ["#4c78a8", "#f58518"], strict=True):
            body.set_facecolor(colour)
            body.set_alpha(0.6)
        for i, values in enumerate(data, start=1):
            ax.scatter([i + 0.25] * len(values), values, s=3, alpha=0.3, color="grey")
        ax.set_xticks(range(1, len(labels) + 1), [label for _, label in labels])
        p50, p99 = overhead.get(f"p50_ratio_{key}"), overhead.get(f"p99_ratio_{key}")
        ratios = f"portal / direct (1 POST): p50 x{p50}, p99 x{p99}"
        ax.set_title(f"sandbox latency {key}\n{ratios}", fontsize=10)
        ax.set_ylabel("latency of one lock/unlock (ms)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"Scenario 1 - overhead: {overhead.get('iterations')} interleaved calls per arm "
        "(median line, p99 tick)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results: dict[str, Any], meta: dict[str, Any], directory: Path) -> None:
    """Print the table and write latest.json (+ overhead.png) under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    plot_path = directory / "overhead.png"
    drawn = False
    if "overhead" in results and "samples_ms" in results["overhead"]:
        try:
            drawn = plot(results["overhead"], plot_path)
        except Exception as exc:  # the figures matter more than the picture
            print(f"warning: plot failed: {exc}")
    payload = {**results, "meta": {**meta, "plot": str(plot_path) if drawn else None}}
    out = directory / "latest.json"
    out.write_text(json.dumps(payload, indent=2, default=str))
    print()
    print(table(results))
    print()
    print(f"wrote {out}" + (f" and {plot_path}" if drawn else ""))
    print(
        f"database {meta.get('database')}, {meta.get('cpus')} CPUs, "
        f"load {meta.get('load_average')}, {meta.get('elapsed_s')} s"
    )
