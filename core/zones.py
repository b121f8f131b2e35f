"""IANA time zone names: which ones this machine knows (no Django, no database)."""

from __future__ import annotations

import zoneinfo
from functools import cache


@cache
def zone_names() -> tuple[str, ...]:
    """Return every IANA zone name this machine knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


@cache
def _zone_set() -> frozenset[str]:
    return frozenset(zone_names())


def zone_valid(name: str) -> bool:
    """Return whether `name` is an IANA zone name (not a file path); any alias counts.

    Pages keep honouring a zone a profile already holds; new choices come
    from `portal.timezones.zone_choices`.
    """
    return name in _zone_set()
