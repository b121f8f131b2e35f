"""Scenario 7's bookkeeping: reading a "close my day" run's pages and judging its items.

Plain Python (no Django, no HTTP), so it is tested on its own. The portal's
side is what its pages show (the confirmation page, the progress panel) and
a run's rows as `bench.portal_tasks.bulk_run` returns them (ISO times);
Canvas's side is the sandbox control API's list of a note's effects, as in
scenario 6 (`bench.confirm`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from bench import confirm as truth

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_RUN_URL = re.compile(r"/notes/runs/(\d+)/")
_SUMMARY = re.compile(r'<p class="run-summary">(.*?)</p>', re.DOTALL)
_COUNT_TEXT = re.compile(r'id="run-count"[^>]*>\s*(\d+) of (\d+)( done)?\s*<')
#: The badges of the progress panel's summary -> the portal's result keys.
BADGES = {
    "Signed": "confirmed",
    "Not applied": "not_applied",
    "Refused": "refused",
    "Unknown": "unknown",
    "Not started": "skipped",
    "In progress": "in_flight",
}
_BADGE = re.compile(r">\s*(" + "|".join(BADGES) + r") (\d+)\s*</span>")


def _attrs(tag: str) -> dict[str, str]:
    return {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}


def planned_notes(body: str) -> list[str]:
    """Return the note ids the confirmation page's form posts (its hidden `note` inputs)."""
    ids = []
    for tag in _INPUT.findall(body):
        attrs = _attrs(tag)
        if attrs.get("name") == "note" and attrs.get("type", "").lower() == "hidden":
            ids.append(attrs.get("value", ""))
    return ids


def plan_title(body: str) -> str:
    """Return the confirmation page's question, e.g. "Sign 50 notes?" ("" if none)."""
    match = _H1.search(body)
    return " ".join(html.unescape(_TAGS.sub(" ", match.group(1))).split()) if match else ""


def run_id_in(location: str | None) -> int | None:
    """Return the run id of a redirect to `/notes/runs/<id>/`, or None."""
    match = _RUN_URL.search(location or "")
    return int(match.group(1)) if match else None


def progress_of(body: str) -> dict[str, Any]:
    """Read the progress panel: done and total (the bar), whether it says done, the badges."""
    out: dict[str, Any] = {"done": None, "total": None, "says_done": False, "counts": {}}
    for tag in re.findall(r"<progress\b[^>]*>", body, re.IGNORECASE):
        attrs = _attrs(tag)
        if "aria-valuenow" in attrs:
            out["done"] = int(attrs["aria-valuenow"])
            out["total"] = int(attrs.get("aria-valuemax") or 0)
            break
    match = _COUNT_TEXT.search(body)
    if match:
        out["says_done"] = bool(match.group(3))
    summary = _SUMMARY.search(body)
    if summary:
        out["counts"] = {BADGES[label]: int(n) for label, n in _BADGE.findall(summary.group(1))}
    return out


def ideal_ms(*, notes: int, call_ms: float, concurrency: int, effect_delay_ms: float) -> float:
    """Return the ideal run: every call `concurrency` at a time, then one effect delay."""
    return notes * call_ms / max(1, concurrency) + effect_delay_ms


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """Return the most intervals open at one instant (one ending as another starts: not both)."""
    events = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((max(start, end), -1))
    events.sort(key=lambda e: (e[0], e[1]))  # at a tie the end comes first
    most = open_now = 0
    for _, step in events:
        open_now += step
        most = max(most, open_now)
    return most


def ms_after(value: str | None, start_epoch: float) -> float | None:
    """Return the milliseconds from `start_epoch` (time.time()) to an ISO time, or None."""
    moment = truth.when(value)
    if moment is None:
        return None
    return round((moment.timestamp() - start_epoch) * 1000, 1)


def item_result(item: dict[str, Any]) -> str:
    """Return what the portal shows for an item, as notes.bulk.item_result does from its rows."""
    if item.get("status") == "refused":
        return "refused"
    if item.get("status") == "skipped":
        return "skipped"
    attempt = item.get("attempt")
    if not attempt:
        return "waiting" if item.get("status") == "queued" else "in_flight"
    outcome = attempt.get("outcome")
    if outcome == "pending" or (outcome in truth.UNRESOLVED and not attempt.get("resolved_at")):
        return "in_flight"
    if outcome in ("confirmed", "not_applied"):
        return outcome
    return "refused" if outcome == "failed" else "unknown"


def item_truth(item: dict[str, Any], effects: list[dict[str, Any]]) -> str:
    """Return what Canvas did with the item: as bench.confirm.sandbox_truth for its attempt.

    An item without an attempt (refused before it was sent, or not started)
    is judged on the note's effects alone: the run made no other request.
    """
    attempt = item.get("attempt")
    if attempt:
        return truth.sandbox_truth(attempt, effects)
    statuses = [e.get("status") for e in effects]
    if not statuses:
        return "none"
    if "pending" in statuses:
        return "pending"
    applied = statuses.count("applied")
    return "applied" if applied == len(statuses) else ("not_applied" if not applied else "partial")


def is_wrong(result: str, fact: str) -> bool:
    """Return whether the portal's result for an item contradicts Canvas.

    Signed (confirmed) when Canvas did not apply it; not applied, refused or
    not started when Canvas applied it (wholly or in part). "unknown" never is.
    """
    if result == "confirmed":
        return fact != "applied"
    if result in ("not_applied", "refused", "skipped"):
        return fact in ("applied", "partial")
    return False
