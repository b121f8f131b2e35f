"""Reads of Canvas connections."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from canvas_oauth.models import CanvasConnection, ConnectionEvent


def connection_get(*, user: AbstractBaseUser | AnonymousUser) -> CanvasConnection | None:
    """Return the user's Canvas connection row (any status), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return CanvasConnection.objects.filter(user_id=user.pk).first()


def connection_events_for_user(*, user: AbstractBaseUser, limit: int = 20):
    """Return the user's most recent connection events, newest first."""
    return ConnectionEvent.objects.filter(user_id=user.pk)[:limit]
