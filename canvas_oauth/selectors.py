"""Reads of Canvas connections."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from canvas_oauth.models import CanvasConnection


def connection_get(*, user: AbstractBaseUser | AnonymousUser) -> CanvasConnection | None:
    """Return the user's Canvas connection row (any status), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return CanvasConnection.objects.filter(user_id=user.pk).first()
