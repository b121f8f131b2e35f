"""The connection event log: one append-only row per thing that happened to a connection."""

from django.contrib.auth.models import AbstractBaseUser

from canvas_oauth import conf
from canvas_oauth.models import ConnectionEvent


def event_record(
    *,
    user: AbstractBaseUser,
    kind: ConnectionEvent.Kind,
    actor: AbstractBaseUser | None = None,
    via_admin: bool = False,
    canvas_staff_id: str = "",
    detail: str = "",
) -> ConnectionEvent:
    """Append one event to the connection log (never a secret in `detail`)."""
    return ConnectionEvent.objects.create(
        user_id=user.pk,
        username=user.get_username(),
        actor_id=actor.pk if actor is not None else None,
        actor_username=actor.get_username() if actor is not None else "",
        kind=kind,
        via_admin=via_admin,
        canvas_staff_id=canvas_staff_id or "",
        detail=detail[:300],
        created_at=conf.now(),
    )
