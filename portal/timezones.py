"""The clinic's time zone and each user's own: which zone a request's pages use."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


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


def clinic_zone() -> zoneinfo.ZoneInfo:
    """Return the clinic's zone (CLINIC_TIME_ZONE, checked at start-up)."""
    return zoneinfo.ZoneInfo(settings.CLINIC_TIME_ZONE)


def zone_for(user: AbstractBaseUser | AnonymousUser | None) -> zoneinfo.ZoneInfo:
    """Return the zone `user`'s pages use: their own choice, else the clinic's."""
    if user is None or not user.is_authenticated:
        return clinic_zone()
    from portal.models import UserProfile

    try:
        name = user.profile.time_zone
    except UserProfile.DoesNotExist:
        name = ""
    return zoneinfo.ZoneInfo(name) if name and zone_valid(name) else clinic_zone()
