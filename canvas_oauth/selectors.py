"""Reads of Canvas connections."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from canvas_oauth.models import CanvasConnection


def connection_get(*, user: AbstractBaseUser | AnonymousUser) -> CanvasConnection | None:
    """Return the user's Canvas connection row (any status), or None.

    A user loaded with its row (`select_related("canvas_connection")`, as
    the portal's authentication backend loads the signed-in user) costs no
    query; any other user is read from the database.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    # The reverse relation's cache (user may be request.user, a lazy object).
    if CanvasConnection._meta.get_field("user").remote_field.is_cached(user):
        try:
            return user.canvas_connection
        except CanvasConnection.DoesNotExist:
            return None
    return CanvasConnection.objects.filter(user_id=user.pk).first()
