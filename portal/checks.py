"""System checks of the portal's own settings."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError

from canvas_oauth.selectors import installation_zone_mismatch
from core.zones import zone_valid


@register()
def clinic_time_zone_check(app_configs=None, **kwargs) -> list[Error]:
    """Refuse to start with a CLINIC_TIME_ZONE that is not an IANA zone name (portal.E001).

    Unset (None) is fine: the portal uses the Canvas installation's zone.
    """
    name = getattr(settings, "CLINIC_TIME_ZONE", None)
    if name is None or zone_valid(name):
        return []
    return [
        Error(
            f"CLINIC_TIME_ZONE {name!r} is not an IANA time zone name.",
            hint='Set it to the clinic zone, e.g. "America/Los_Angeles" or "Europe/Berlin".',
            id="portal.E001",
        )
    ]


@register(Tags.database)
def clinic_time_zone_matches_canvas_check(
    app_configs=None, databases=None, **kwargs
) -> list[CheckMessage]:
    """Warn when CLINIC_TIME_ZONE differs from the Canvas installation's zone (portal.W001).

    It reads the database, so (Django's rule) it runs when asked for one:
    `manage.py check --database default`, and every `manage.py migrate`.
    """
    if not databases:
        return []
    try:
        mismatch = installation_zone_mismatch()
    except DatabaseError:
        return []  # no database yet (before migrate): nothing seen to compare
    if mismatch is None:
        return []
    configured, seen = mismatch
    return [
        Warning(
            f"CLINIC_TIME_ZONE is {configured} but the Canvas installation is on {seen}: "
            "the portal's today, ages and the front desk's day differ from Canvas's.",
            hint=f"Set CLINIC_TIME_ZONE={seen}, or unset it to follow Canvas.",
            id="portal.W001",
        )
    ]


@register(Tags.caches, deploy=True)
def shared_cache_check(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Warn when the cache is per process (portal.W002): limits then count per process."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend not in {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    }:
        return []
    return [
        Warning(
            "The cache is per process: with several portal processes, a user's bulk plan "
            "limit (NOTES_BULK_PLANS_PER_MINUTE) counts in each one.",
            hint="Set CACHE_URL to a cache all processes share, e.g. dbcache://portal_cache "
            "after `manage.py createcachetable`.",
            id="portal.W002",
        )
    ]
