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
    installation_time_zone: str = "",
):
    """Create `user`'s Canvas connection with its tokens encrypted for real.

    Defaults: access token `at-<username>`, refresh token `rt-<username>`,
    staff id `staff-<username>`, canvas user id `cu-<username>`, no
    installation zone seen (a v2 GET /me).
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
        installation_time_zone=installation_time_zone,
        # Issued with Canvas's 36000 s lifetime: `expires_in` is what is left of it.
        connected_at=now + timedelta(seconds=expires_in - 36000),
    )


def make_attempt(user, *, outcome: str = "accepted", started_at=None, **fields):
    """Create `user`'s audit row of one note action (default: lock, accepted now).

    `finished_at` defaults to `started_at`, except for a pending row (which
    the table's check keeps unfinished). `resolved_at` is never guessed:
    pass it for an attempt whose outcome is final.
    """
    import uuid

    from django.utils import timezone

    from notes.models import NoteActionAttempt

    started_at = started_at or timezone.now()
    defaults = {
        "username": user.get_username() if user is not None else "gone",
        "note_id": uuid.uuid4(),
        "action": "lock",
        "started_at": started_at,
        "finished_at": None if outcome == "pending" else started_at,
    }
    return NoteActionAttempt.objects.create(user=user, outcome=outcome, **{**defaults, **fields})


def make_run(user, *, label: str = "Sign 1 note", status: str = "queued", **fields):
    """Create a bulk run of `user`'s (no items: add them with `make_item`)."""
    from django.utils import timezone

    from notes.models import BulkRun

    fields.setdefault("created_at", timezone.now())
    return BulkRun.objects.create(
        user=user, username=user.get_username(), label=label, status=status, **fields
    )


def make_item(run, *, position: int = 0, action: str = "sign", **fields):
    """Create an item of a bulk run (a random note, labelled as its action)."""
    import uuid

    from notes.actions import ACTIONS
    from notes.models import BulkItem

    fields.setdefault("note_id", uuid.uuid4())
    fields.setdefault("label", ACTIONS[action].label)
    return BulkItem.objects.create(run=run, position=position, action=action, **fields)


def clock_at(module, now):
    """Return a patcher that stops `module`'s clock seam (`module._now`) at `now`.

    Use it as a context manager or decorator: `with clock_at(worklist, NOW): ...`.
    """
    from unittest import mock

    return mock.patch.object(module, "_now", return_value=now)
