"""Percentiles, summaries and ratios (plain Python, no Django, no numpy)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile (0-100) of `values` by linear interpolation.

    The same definition as numpy's default ("linear"): rank q/100 * (n - 1)
    between the sorted values. None for no values.
    """
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    data = sorted(values)
    if not data:
        return None
    rank = q / 100 * (len(data) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summarize(values_ms: Iterable[float]) -> dict[str, float | int | None]:
    """Return count, mean, min, p50, p95, p99 and max of latencies in milliseconds."""
    data = sorted(values_ms)
    if not data:
        return {
            "n": 0,
            "mean": None,
            "min": None,
            "p50": None,
            "p95": None,
            "p99": None,
            "max": None,
        }
    return {
        "n": len(data),
        "mean": _round(sum(data) / len(data)),
        "min": _round(data[0]),
        "p50": _round(percentile(data, 50)),
        "p95": _round(percentile(data, 95)),
        "p99": _round(percentile(data, 99)),
        "max": _round(data[-1]),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Return numerator / denominator rounded to 3 places, None when undefined."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def ideal_rate(*, users: int, slots: int, call_seconds: float) -> float | None:
    """Return the actions per second `slots` concurrent handlers allow.

    With `users` closed-loop clients and `slots` = workers x threads, at most
    min(users, slots) calls are in flight, each taking `call_seconds`.
    """
    if call_seconds <= 0 or users <= 0 or slots <= 0:
        return None
    return min(users, slots) / call_seconds


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
