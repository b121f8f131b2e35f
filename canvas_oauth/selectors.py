"""Reads of Canvas connections."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from canvas_oauth.models import CanvasConnection

# The reverse side of CanvasConnection.user: its cache on a user object (which
# may be request.user, a lazy object, hence not type(user).canvas_connection).
_USER_RELATION = CanvasConnection._meta.get_field("user").remote_field


def connection_get(*, user: AbstractBaseUser | AnonymousUser) -> CanvasConnection | None:
    """Return the user's Canvas connection row (any status), or None.

    A user loaded with its row (`select_related("canvas_connection")`, as
    the portal's authentication backend loads the signed-in user) costs no
    query; any other user is read from the database.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    if _USER_RELATION.is_cached(user):
        try:
            return user.canvas_connection
        except CanvasConnection.DoesNotExist:
            return None
    return CanvasConnection.objects.filter(user_id=user.pk).first()


def connection_loaded_replace(*, user: AbstractBaseUser, connection: CanvasConnection) -> None:
    """Make a user that carries its row carry `connection` (a fresher copy) instead.

    Called by the token code when it locks and rewrites the row, so the rest
    of the request (the page's reconnect banner) sees what was stored.
    """
    if getattr(user, "is_authenticated", False) and _USER_RELATION.is_cached(user):
        _USER_RELATION.set_cached_value(user, connection)


def installation_zone_last_seen() -> str:
    """Return the Canvas installation's zone the latest connection saw ("" none seen)."""
    zone = (
        CanvasConnection.objects.exclude(installation_time_zone="")
        .order_by("-connected_at", "-pk")
        .values_list("installation_time_zone", flat=True)
        .first()
    )
    return zone or ""


def installation_zone_mismatch() -> tuple[str, str] | None:
    """Return (CLINIC_TIME_ZONE, the installation's zone) when both are known and differ."""
    configured = getattr(settings, "CLINIC_TIME_ZONE", None) or ""
    seen = installation_zone_last_seen()
    if configured and seen and configured != seen:
        return configured, seen
    return None
