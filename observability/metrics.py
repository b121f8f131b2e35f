"""Every Prometheus series the portal exports, and the one function that records each.

Labels carry codes from small fixed sets (an action, an outcome, a route
template, a status), never a user, a patient or a note id: `_label` turns
anything that does not look like a code into "other", so a mistaken call
cannot explode the series or leak an id.

gunicorn runs several workers and the task worker is another process: with
`PROMETHEUS_MULTIPROC_DIR` set (an empty directory shared by all of them,
cleared at deploy), prometheus_client writes each process's counters there
and `exposition()` adds them up. The backlog gauges are read from the
database at scrape time instead, so they never depend on which process
answers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_CODE = re.compile(r"[a-z][a-z_]{0,39}")
_ROUTE = re.compile(r"[A-Za-z0-9_{}/.-]{1,120}")
OTHER = "other"

# The `_created` series double every counter for no alert anyone writes.
disable_created_metrics()

CANVAS_REQUEST_SECONDS = Histogram(
    "portal_canvas_request_seconds",
    "Time for one call to Canvas, by route template, method and status.",
    ["endpoint", "method", "status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
NOTE_ACTIONS = Counter(
    "portal_note_actions",
    "Note actions (lock, sign, ...) by action and outcome.",
    ["action", "outcome"],
)
CONFIRMATION_LAG_SECONDS = Histogram(
    "portal_confirmation_lag_seconds",
    "Time from Canvas accepting an action to its settled outcome.",
    ["outcome"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
TOKEN_REFRESHES = Counter("portal_token_refreshes", "Canvas token refreshes by result.", ["result"])
BULK_ITEMS = Counter("portal_bulk_items", "Notes of bulk runs by result.", ["result"])
SIGNIN_FAILURES = Counter(
    "portal_signin_failures", "Failed or refused sign-in attempts.", ["reason"]
)
SIGNIN_LOCKOUTS = Counter(
    "portal_signin_lockouts", "Sign-in lock-outs by scope (username or address).", ["scope"]
)
HTTP_RESPONSES = Counter(
    "portal_http_responses", "Responses the portal sent, by status class.", ["status_class"]
)


def _label(value: object) -> str:
    """Return `value` as a label if it is a code (an enum's value), else "other"."""
    text = str(getattr(value, "value", value))
    return text if _CODE.fullmatch(text) else OTHER


def canvas_request_observe(
    *, endpoint: str, method: str, status: int | str, seconds: float
) -> None:
    """Record one call to Canvas (`endpoint` a route template, ids already replaced)."""
    CANVAS_REQUEST_SECONDS.labels(
        endpoint=endpoint if _ROUTE.fullmatch(endpoint) else OTHER,
        method=method.upper() if method.isalpha() else OTHER,
        status=str(status) if str(status).isdigit() else _label(status),
    ).observe(seconds)


def action_observe(*, action: object, outcome: object) -> None:
    """Count one note action's outcome (accepted, confirmed, not_applied, refused...)."""
    NOTE_ACTIONS.labels(action=_label(action), outcome=_label(outcome)).inc()


def confirmation_lag_observe(*, seconds: float, outcome: object) -> None:
    """Record how long an accepted action took to settle."""
    CONFIRMATION_LAG_SECONDS.labels(outcome=_label(outcome)).observe(max(seconds, 0.0))


class RefreshResult(StrEnum):
    """How one token refresh ended: the `result` label of portal_token_refreshes_total."""

    REFRESHED = "refreshed"
    REAUTHORIZATION_REQUIRED = "reauthorization_required"
    OUTCOME_UNKNOWN = "outcome_unknown"
    UNAVAILABLE = "unavailable"


def token_refresh_observe(*, result: object) -> None:
    """Count one token refresh (refreshed, failed, reauthorization_required...)."""
    TOKEN_REFRESHES.labels(result=_label(result)).inc()


def bulk_item_observe(*, result: object) -> None:
    """Count one note of a bulk run by its result."""
    BULK_ITEMS.labels(result=_label(result)).inc()


def signin_failure_observe(*, reason: object) -> None:
    """Count a sign-in attempt that failed (wrong password) or was refused (throttled)."""
    SIGNIN_FAILURES.labels(reason=_label(reason)).inc()


def signin_lockout_observe(*, scope: object) -> None:
    """Count a username or an address locked out."""
    SIGNIN_LOCKOUTS.labels(scope=_label(scope)).inc()


def http_response_observe(*, status: int) -> None:
    """Count one response by its class (2xx, 3xx, 4xx, 5xx)."""
    HTTP_RESPONSES.labels(status_class=f"{status // 100}xx").inc()


class BacklogCollector(Collector):
    """The unconfirmed backlog, read when scraped from `read()`.

    `read` returns `{"unconfirmed": int, "oldest_unconfirmed_seconds": float}`
    (the notes app's `confirmation_health`); the caller passes it in, so
    this module imports no app.
    """

    def __init__(self, read: Callable[[], Mapping[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = self.read()
        yield GaugeMetricFamily(
            "portal_unconfirmed_actions",
            "Note actions Canvas accepted whose outcome is not settled yet.",
            value=health["unconfirmed"],
        )
        yield GaugeMetricFamily(
            "portal_unconfirmed_oldest_seconds",
            "Age of the oldest unsettled note action (0 when none).",
            value=health["oldest_unconfirmed_seconds"],
        )


def exposition(*, backlog: Callable[[], Mapping[str, Any]]) -> bytes:
    """Return the text a Prometheus scrape receives: every process's series and the backlog."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(BacklogCollector(backlog))
    return counters + generate_latest(scraped)
