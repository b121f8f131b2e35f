"""System checks of the portal's own settings."""

from django.conf import settings
from django.core.checks import Error, register

from portal.timezones import zone_valid


@register()
def clinic_time_zone_check(app_configs=None, **kwargs) -> list[Error]:
    """Refuse to start with a CLINIC_TIME_ZONE that is not an IANA zone name (portal.E001)."""
    name = getattr(settings, "CLINIC_TIME_ZONE", "")
    if zone_valid(name):
        return []
    return [
        Error(
            f"CLINIC_TIME_ZONE {name!r} is not an IANA time zone name.",
            hint='Set it to the clinic zone, e.g. "America/Los_Angeles" or "Europe/Berlin".',
            id="portal.E001",
        )
    ]
