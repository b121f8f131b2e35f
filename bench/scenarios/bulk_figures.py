"""Scenario 7's figures: one bulk run's rows, judged and timed (pure: no I/O)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench import bulk as bulk_pages
from bench import confirm as truth
from bench.stats import summarize

#: Item results that are not final yet (the run is still going).
GOING = ("waiting", "in_flight")

#: One item judged: the item, the result the portal shows, the truth, whether it is wrong.
Judged = tuple[dict[str, Any], str, str, bool]


class RunRows:
    """A run's rows as read back (bench.portal_tasks bulk_run), timed from the confirming POST."""

    def __init__(self, rows: dict[str, Any], *, start_epoch: float) -> None:
        self.run = rows["run"]
        self.concurrency = rows.get("concurrency")
        self.items = rows["items"]
        self.attempts = [item["attempt"] for item in self.items if item["attempt"]]
        tasks = rows.get("tasks") or {}
        self.checks = tasks.get("checks") or []
        self.task = tasks.get("run") or {}
        self.start_epoch = start_epoch
        self.calls = [
            (self.after(a["started_at"]), self.after(a["finished_at"]))
            for a in self.attempts
            if a["started_at"] and a["finished_at"]
        ]
        self.run_finished = self.after(self.run["finished_at"])

    def after(self, value: str | None) -> float | None:
        """Return a database time as ms after the confirming POST was sent."""
        return bulk_pages.ms_after(value, self.start_epoch)


def run_figures(
    rows: RunRows,
    *,
    effects: dict[str, list],
    seen: dict[str, Any],
    post_ms: float,
    cpu: dict[str, float | None],
) -> dict[str, Any]:
    """Return the figures of one run: where the time went, and every item judged."""
    judged = judge(rows.items, effects)
    timing = _timing(rows, seen=seen, post_ms=post_ms)
    return {
        "run_status": rows.run["status"],
        "items": len(rows.items),
        "concurrency_setting": rows.concurrency,
        "wall_ms": seen.get("wall_ms"),
        "never_finished": "wall_ms" not in seen,
        "ms_after_post": timing,
        "send_phase_ms": None
        if timing["last_answer"] is None or timing["first_sent"] is None
        else round(timing["last_answer"] - timing["first_sent"], 1),
        **_call_figures(rows),
        **_outcomes(rows, judged, seen=seen),
        **_poll_figures(seen, cpu=cpu),
        # Per item, in ms after the POST: sent, Canvas accepted, answered, resolved.
        "items_ms": [
            [
                item["position"],
                item["action"],
                rows.after(item["sending_at"]),
                rows.after((item["attempt"] or {}).get("accepted_at")),
                rows.after((item["attempt"] or {}).get("finished_at")),
                rows.after((item["attempt"] or {}).get("resolved_at")),
                result,
            ]
            for item, result, _, _ in judged
        ],
    }


def judge(items: list[dict[str, Any]], effects: dict[str, list]) -> list[Judged]:
    """Judge every item against the effects the sandbox applied to its note."""
    judged = []
    for item in items:
        result = bulk_pages.item_result(item)
        fact = bulk_pages.item_truth(item, effects.get(item["note_id"], []))
        judged.append((item, result, fact, bulk_pages.is_wrong(result, fact)))
    return judged


def _first(values) -> float | None:
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _last(values) -> float | None:
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _timing(rows: RunRows, *, seen: dict[str, Any], post_ms: float) -> dict[str, float | None]:
    """Where the time goes, in ms after the confirming POST was sent.

    The database's times and the bench's are this machine's clock.
    """
    after, items = rows.after, rows.items
    return {
        "post_answered": post_ms,
        "run_created": after(rows.run["created_at"]),
        "task_started": after(rows.task.get("started_at")),
        "first_sent": _first(after(i["sending_at"]) for i in items),
        "last_sent": _last(after(i["sending_at"]) for i in items),
        "last_answer": _last(end for _, end in rows.calls),
        "run_finished": rows.run_finished,
        "first_check_started": _first(after(c["started_at"]) for c in rows.checks),
        "last_resolved": _last(after(a["resolved_at"]) for a in rows.attempts),
        "progress_286": seen.get("wall_ms"),
    }


def _between(attempts: list[dict[str, Any]], first: str, last: str) -> list[float]:
    return [ms for a in attempts if (ms := truth.ms_between(a, first, last)) is not None]


def _call_figures(rows: RunRows) -> dict[str, Any]:
    """Return how long the calls and the confirmation checks took, and how many overlapped."""
    after, attempts, checks = rows.after, rows.attempts, rows.checks
    confirmed = [a for a in attempts if a["outcome"] == "confirmed"]
    return {
        "call_ms": summarize(end - start for start, end in rows.calls),
        # An item's call split at Canvas's acceptance: the portal's work and
        # the request up to Canvas's decision, then Canvas's answer (its
        # latency is added after the work) and the portal completing the row.
        "to_accepted_ms": summarize(_between(attempts, "started_at", "accepted_at")),
        "accepted_to_answer_ms": summarize(_between(attempts, "accepted_at", "finished_at")),
        "max_concurrent_calls": bulk_pages.max_overlap(rows.calls) if rows.calls else None,
        "accepted_to_resolved_ms": summarize(_between(confirmed, "accepted_at", "resolved_at")),
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
            if rows.run_finished is not None
            and (t := after(c["started_at"])) is not None
            and t < rows.run_finished
        ),
    }


def _outcomes(rows: RunRows, judged: list[Judged], *, seen: dict[str, Any]) -> dict[str, Any]:
    """Return what the portal said of each item, the truth, and what the panel showed."""
    items = rows.items
    results = Counter(result for _, result, _, _ in judged)
    panel = seen.get("panel") or {}
    shown = {k: v for k, v in (panel.get("counts") or {}).items() if v}
    recorded = {k: v for k, v in results.items() if v}
    wrong = [(item, result, fact) for item, result, fact, bad in judged if bad]
    going = sum(results.get(k, 0) for k in GOING)
    return {
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
    }


def _poll_figures(seen: dict[str, Any], *, cpu: dict[str, float | None]) -> dict[str, Any]:
    """Return what the bench's polling saw, and what it cost the portal."""
    return {
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
    }
