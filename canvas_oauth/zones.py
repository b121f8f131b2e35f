"""The clinic's time zone: CLINIC_TIME_ZONE, else the Canvas installation's, else TIME_ZONE.

The installation's zone is what GET /me said when a user last connected
(CanvasConnection.installation_time_zone); each process keeps the last one
it read for INSTALLATION_ZONE_SECONDS. Pages (portal) and the worklist's
today, ages and overdue (notes) all ask `clinic_zone`.
"""

from __future__ import annotations

import time
import zoneinfo
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from core.zones import zone_valid

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


def clinic_zone(*, refresh: bool = True) -> zoneinfo.ZoneInfo:
    """Return the clinic's zone: CLINIC_TIME_ZONE (checked at start-up), else Canvas's.

    Unset, the Canvas installation's zone as GET /me last said when a user
    connected (read again first, at most every INSTALLATION_ZONE_SECONDS,
    unless `refresh` is false: no query, the zone this process last read);
    before anyone connected, the server's TIME_ZONE.
    """
    configured = getattr(settings, "CLINIC_TIME_ZONE", None)
    if configured:
        return zoneinfo.ZoneInfo(configured)
    if refresh:
        installation_zone_refresh()
    return zoneinfo.ZoneInfo(installation_zone() or settings.TIME_ZONE)
