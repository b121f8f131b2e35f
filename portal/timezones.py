"""Which zone pages use (each user's own, else the clinic's) and the zones a person may pick.

The clinic's zone (configured, else Canvas's) is canvas_oauth.zones.clinic_zone.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from canvas_oauth.zones import clinic_zone
from core.zones import zone_names, zone_valid

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


def zone_for(user: AbstractBaseUser | AnonymousUser | None) -> zoneinfo.ZoneInfo:
    """Return the zone `user`'s pages use: their own choice, else the clinic's."""
    if user is None or not user.is_authenticated:
        return clinic_zone(refresh=False)  # no query for /healthz or the sign-in page
    from portal.models import UserProfile

    try:
        name = user.profile.time_zone
    except UserProfile.DoesNotExist:
        name = ""
    return zoneinfo.ZoneInfo(name) if name and zone_valid(name) else clinic_zone()
