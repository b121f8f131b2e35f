"""The clinic's time zone (configured, else Canvas's) and each user's own: which zone pages use."""

from __future__ import annotations

import time
import zoneinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DatabaseError


@cache
def zone_names() -> tuple[str, ...]:
    """Return every IANA zone name this machine knows, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


#: The tz database's geographic areas: `Area/Location` names are the ones to offer.
ZONE_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)


@cache
def zone_choices() -> tuple[str, ...]:
    """Return the zones a person may pick: `Area/Location` names, and UTC.

    Not the machine's `localtime` or `Factory`, nor backward-compatible
    aliases (`US/Eastern`, `EST`, `Etc/GMT+5`): each place appears once,
    under the name the tz database keeps for it.
    """
    return tuple(
        name
        for name in zone_names()
        if name == "UTC" or ("/" in name and name.split("/", 1)[0] in ZONE_AREAS)
    )


def zone_valid(name: str) -> bool:
    """Return whether `name` is an IANA zone name (not a file path); any alias counts.

    Pages keep honouring a zone a profile already holds; new choices come
    from `zone_choices`.
    """
    return name in zone_names()


#: How long a process trusts the installation zone it read (it changes only on a connect).
INSTALLATION_ZONE_SECONDS = 60.0
_installation_zone: dict[str, Any] = {"name": "", "read_at": None}


def installation_zone() -> str:
    """Return the Canvas installation's zone this process last read ("" none): no query.

    Not PHI: one process-wide value, refreshed by installation_zone_refresh.
    """
    return _installation_zone["name"]


def installation_zone_refresh() -> None:
    """Read again the zone the latest connection saw, at most every INSTALLATION_ZONE_SECONDS."""
    read_at = _installation_zone["read_at"]
    if read_at is not None and time.monotonic() - read_at < INSTALLATION_ZONE_SECONDS:
        return
    from canvas_oauth.selectors import installation_zone_last_seen

    try:
        name = installation_zone_last_seen()
    except DatabaseError:
        name = ""  # the database is down: /healthz still answers, in TIME_ZONE
    _installation_zone.update(name=name if zone_valid(name) else "", read_at=time.monotonic())


def installation_zone_forget() -> None:
    """Forget the installation zone; the next refresh reads it again."""
    _installation_zone.update(name="", read_at=None)


def clinic_zone() -> zoneinfo.ZoneInfo:
    """Return the clinic's zone: CLINIC_TIME_ZONE (checked at start-up), else Canvas's.

    Unset, the Canvas installation's zone as GET /me last said when a user
    connected; before anyone connected, the server's TIME_ZONE.
    """
    name = settings.CLINIC_TIME_ZONE or installation_zone() or settings.TIME_ZONE
    return zoneinfo.ZoneInfo(name)


def zone_for(user: AbstractBaseUser | AnonymousUser | None) -> zoneinfo.ZoneInfo:
    """Return the zone `user`'s pages use: their own choice, else the clinic's."""
    if user is None or not user.is_authenticated:
        return clinic_zone()
    installation_zone_refresh()  # a signed-in request reads the database anyway
    from portal.models import UserProfile

    try:
        name = user.profile.time_zone
    except UserProfile.DoesNotExist:
        name = ""
    return zoneinfo.ZoneInfo(name) if name and zone_valid(name) else clinic_zone()
