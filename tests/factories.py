"""Small helpers that make test data (`make_*`)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "correct-horse-battery"


def make_user(username: str = "pat", *, groups: tuple[str, ...] = (), **fields):
    """Create a local user with a known password and the given group names."""
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", **fields
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def make_connection(
    user,
    *,
    access_token: str | None = None,
    refresh_token: str | None = None,
    expires_in: int = 3600,
    staff_id: str | None = None,
    staff_name: str | None = None,
    status: str = "active",
    now=None,
    canvas_user_id: str | None = None,
    scope: str = "offline_access",
):
    """Create `user`'s Canvas connection with its tokens encrypted for real.

    Defaults: access token `at-<username>`, refresh token `rt-<username>`,
    staff id `staff-<username>`, canvas user id `cu-<username>`.
    """
    from datetime import timedelta

    from django.utils import timezone

    from canvas_oauth.crypto import token_encrypt
    from canvas_oauth.models import CanvasConnection

    now = now or timezone.now()
    name = user.get_username()
    # user_id, not user: the user object does not carry the row, so code
    # under test reads it from the database as a fresh request would.
    return CanvasConnection.objects.create(
        user_id=user.pk,
        status=status,
        canvas_user_id=canvas_user_id or f"cu-{name}",
        canvas_staff_id=staff_id or f"staff-{name}",
        canvas_staff_name=staff_name or f"Dr. {name.title()}",
        access_token_encrypted=token_encrypt(
            user_id=user.pk, kind="access", token=access_token or f"at-{name}"
        ),
        refresh_token_encrypted=token_encrypt(
            user_id=user.pk, kind="refresh", token=refresh_token or f"rt-{name}"
        ),
        access_expires_at=now + timedelta(seconds=expires_in),
        scope=scope,
        # Issued with Canvas's 36000 s lifetime: `expires_in` is what is left of it.
        connected_at=now + timedelta(seconds=expires_in - 36000),
    )
