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


def zone_valid(name: str) -> bool:
    """Return whether `name` is an IANA zone name (not a file path or an abbreviation)."""
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
