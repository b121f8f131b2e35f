"""OAuth tokens: who a bearer token belongs to, and tokens minted or revoked on request."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)
from oauthlib.common import generate_token

from canvas_sandbox.clinic import conf, times
from canvas_sandbox.clinic.exceptions import ControlError, Forbidden, Unauthenticated
from canvas_sandbox.clinic.models import Staff

PUBLIC_CLIENT_ID = "canvas-note-portal-dev"
CONFIDENTIAL_CLIENT_ID = "canvas-note-portal-confidential"
CONFIDENTIAL_CLIENT_SECRET = "canvas-demo-secret"


def staff_from_authorization(*, header: str, now: dt.datetime | None = None) -> Staff:
    """Return the active staff member a `Bearer` Authorization header belongs to.

    Raise Unauthenticated for a missing header, another scheme, or an
    unknown, expired or revoked token; Forbidden when the token's user is
    not active staff.
    """
    scheme, _, raw = header.strip().partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw or len(raw) > 512:
        raise Unauthenticated()
    checksum = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    token = (
        get_access_token_model()
        .objects.select_related("user")
        .filter(token_checksum=checksum)
        .first()
    )
    if token is None or token.expires <= (now or times.now()):
        raise Unauthenticated()
    user = token.user
    staff = Staff.objects.filter(user=user).first() if user is not None else None
    if user is None or not user.is_active or staff is None:
        raise Forbidden()
    staff.user = user
    return staff


def _public_application() -> AbstractApplication:
    return get_application_model().objects.get(client_id=PUBLIC_CLIENT_ID)


def tokens_issue(
    *, username: str, expires_in: int | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Mint a real DOT access/refresh token pair for `username` on the public client.

    `expires_in` overrides the configured lifetime (zero or negative gives an
    already expired access token, for tests).
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ControlError("username must name a sandbox user.")
    lifetime = conf.access_token_lifetime() if expires_in is None else int(expires_in)
    application = _public_application()
    access_raw, refresh_raw = generate_token(), generate_token()
    with transaction.atomic():
        access = get_access_token_model()(
            user=user,
            application=application,
            expires=(now or times.now()) + dt.timedelta(seconds=lifetime),
            scope="offline_access",
        )
        set_token_value(access, access_raw)
        access.save()
        refresh = get_refresh_token_model()(
            user=user, application=application, access_token=access, token_family=uuid.uuid4()
        )
        set_token_value(refresh, refresh_raw)
        refresh.save()
    return {
        "access_token": access_raw,
        "refresh_token": refresh_raw,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": "offline_access",
    }


def tokens_revoke_for_user(*, username: str) -> int:
    """Revoke every access token, refresh token and code of `username`; return the count."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ControlError("username must name a sandbox user.")
    return tokens_revoke(user=user)


def tokens_revoke(*, user: AbstractBaseUser, application: AbstractApplication | None = None) -> int:
    """Revoke `user`'s tokens (for one application, or all); return how many went."""
    refresh_tokens = get_refresh_token_model().objects.filter(user=user, revoked__isnull=True)
    access_tokens = get_access_token_model().objects.filter(user=user)
    grants = get_grant_model().objects.filter(user=user)
    if application is not None:
        refresh_tokens = refresh_tokens.filter(application=application)
        access_tokens = access_tokens.filter(application=application)
        grants = grants.filter(application=application)
    count = 0
    with transaction.atomic():
        for refresh in refresh_tokens:
            refresh.revoke()
            count += 1
        count += access_tokens.count()
        access_tokens.delete()
        grants.delete()
    return count
