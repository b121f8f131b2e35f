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


def cpu_ms_per_action(cpu_seconds: float | None, actions: int) -> float | None:
    """Return the CPU milliseconds one action cost: CPU seconds over a window / its actions.

    `actions` counts the successful actions of the window; None when there
    were none or the CPU time is unknown.
    """
    if cpu_seconds is None or actions <= 0:
        return None
    return round(cpu_seconds * 1000 / actions, 2)


def cpu_ceiling(*, cores: int, cpu_ms_per_action: Iterable[float | None]) -> float | None:
    """Return the actions per second `cores` CPUs allow when one action costs these CPU ms.

    The costs are those of every process an action runs through (the portal
    and the sandbox), summed; None if any is unknown or they sum to nothing.
    """
    costs = list(cpu_ms_per_action)
    if cores <= 0 or not costs or any(c is None for c in costs) or sum(costs) <= 0:
        return None
    return cores * 1000 / sum(costs)


def ratio_to_ideal(
    rate: float, *, io_ideal: float | None, cpu_ceiling: float | None
) -> tuple[float | None, str | None]:
    """Return (rate / the lesser ceiling, which bound it is: "io" or "cpu").

    The ideal is the I/O ideal (handler slots / per-call time) or the CPU
    ceiling, whichever is lower; a ceiling that could not be measured is left
    out, and (None, None) when neither could.
    """
    bounds = {"io": io_ideal, "cpu": cpu_ceiling}
    known = {name: value for name, value in bounds.items() if value is not None and value > 0}
    if not known:
        return None, None
    bound = min(known, key=known.__getitem__)
    return ratio(rate, known[bound]), bound


def settle_lags(
    rows: Iterable[tuple[float, float | None]], *, now: float
) -> dict[str, float | int | None]:
    """Return how long each action took to settle, from (answered, settled or None) epochs.

    Both ends are the portal's clock (the attempt row's `finished_at` and
    `resolved_at`). An action not settled by `now` counts with `now` as its
    end: a lower bound of its lag, so a backlog raises the percentiles
    instead of dropping out of them. Returns the summary in ms, plus
    `settled` and `unsettled`.
    """
    lags_ms, unsettled = [], 0
    for answered, settled in rows:
        if settled is None:
            unsettled += 1
        lags_ms.append(max(0.0, ((settled if settled is not None else now) - answered) * 1000))
    return {**summarize(lags_ms), "settled": len(lags_ms) - unsettled, "unsettled": unsettled}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
