"""Instants as the plugin API writes and reads them: UTC with microseconds, ISO 8601."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    """Return the current time (the seam the sandbox's modules read the clock through)."""
    return timezone.now()


def iso(when: dt.datetime) -> str:
    """Return an instant in UTC, always with microseconds (so strings sort as times)."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def instant_parse(value: str | None) -> dt.datetime | None:
    """Return an ISO date-time (naive = UTC; a "+" read as a space is restored), or None."""
    text = (value or "").strip().replace(" ", "+")
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
