"""Canvas tokens: renewed only under the row lock, used only through `canvas_call`.

`canvas_call` is the one entry point through which the apps reach Canvas
with a user's token; it owns the single 401 -> refresh -> retry. Token
plaintext exists only in local variables here and is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from canvas_oauth import conf
from canvas_oauth.crypto import TokenKind, token_decrypt, token_encrypt
from canvas_oauth.events import event_record
from canvas_oauth.exceptions import NotConnected, ReauthorizationRequired
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from canvas_oauth.selectors import connection_get, connection_loaded_replace
from integrations.canvas.auth import TokenSet, auth_client
from integrations.canvas.exceptions import (
    AuthorizationServerUnavailable,
    CanvasError,
    InvalidGrant,
    RefreshOutcomeUnknown,
    Unauthenticated,
)
from observability import metrics
from observability.metrics import RefreshResult

logger = logging.getLogger(__name__)

T = TypeVar("T")
_UNREAD = object()


@sensitive_variables()
def canvas_call(
    *,
    user: AbstractBaseUser,
    call: Callable[[str], T],
    connection: CanvasConnection | object | None = _UNREAD,
) -> T:
    """Return `call(access_token)` run with the user's Canvas token.

    A 401 means Canvas did nothing, so the token is refreshed (once, shared
    with any other worker that saw the same 401) and `call` runs once more,
    actions included. Pass `connection` when the caller already read the
    user's row (None: not connected), to save reading it again.

    Must not run inside `transaction.atomic` (a refresh commits on its own).
    Raises NotConnected, ReauthorizationRequired, TokenDecryptionFailed, the
    integration's authorization server errors, and whatever `call` raises.
    """
    if connection is _UNREAD:
        connection = connection_get(user=user)
    token = access_token_get(user=user, connection=connection)
    try:
        return call(token)
    except Unauthenticated:
        token = access_token_get(user=user, force_refresh=True, rejected_token=token)
        return call(token)


def connection_usable(connection: CanvasConnection | None) -> CanvasConnection:
    """Return `connection` if its tokens can be used.

    Raise NotConnected or ReauthorizationRequired when they cannot.
    """
    if connection is None or connection.status == CanvasConnection.Status.DISCONNECTED:
        raise NotConnected()
    if connection.status == CanvasConnection.Status.RECONNECT_NEEDED:
        raise ReauthorizationRequired()
    if not connection.refresh_token_encrypted or not connection.access_token_encrypted:
        raise NotConnected()
    return connection


def refresh_margin(connection: CanvasConnection) -> timedelta:
    """Return how long before expiry the access token is renewed.

    Five minutes, or half the token's lifetime when that is shorter: a
    token that lives five minutes or less would otherwise be refreshed on
    every call.
    """
    issued = max(
        filter(None, (connection.connected_at, connection.last_refreshed_at)), default=None
    )
    if connection.access_expires_at is None or issued is None:
        return conf.REFRESH_MARGIN
    half_life = (connection.access_expires_at - issued) / 2
    return max(timedelta(0), min(conf.REFRESH_MARGIN, half_life))


def _fresh_enough(connection: CanvasConnection, *, now: datetime, margin: timedelta) -> bool:
    expires = connection.access_expires_at
    return expires is not None and expires > now + margin


@sensitive_variables()
def access_token_get(
    *,
    user: AbstractBaseUser,
    force_refresh: bool = False,
    rejected_token: str | None = None,
    connection: CanvasConnection | object | None = _UNREAD,
) -> str:
    """Return a valid Canvas access token for `user`, refreshing it when needed.

    The token is refreshed when it expires within 5 minutes, or when
    `force_refresh` is set (a caller got a 401). A forced refresh is
    de-duplicated: if the stored token is no longer `rejected_token`, or
    another worker refreshed meanwhile, that newer token is returned.
    """
    requested_at = conf.now()
    if force_refresh:
        # From the database, not the row the user carries: another worker
        # may have replaced the token the caller saw refused.
        connection = CanvasConnection.objects.filter(user_id=user.pk).first()
    elif connection is _UNREAD:
        connection = connection_get(user=user)
    connection = connection_usable(connection)
    access = token_decrypt(
        user_id=user.pk, kind=TokenKind.ACCESS, ciphertext=connection.access_token_encrypted
    )
    if not force_refresh and _fresh_enough(
        connection, now=requested_at, margin=refresh_margin(connection)
    ):
        return access
    if (
        force_refresh
        and rejected_token is not None
        and access != rejected_token
        and _fresh_enough(connection, now=requested_at, margin=timedelta(0))
    ):
        return access  # another worker already replaced the token the caller saw rejected
    return connection_refresh(
        user=user, force=force_refresh, rejected_token=rejected_token, requested_at=requested_at
    )


@sensitive_variables()
def connection_refresh(
    *,
    user: AbstractBaseUser,
    force: bool = False,
    rejected_token: str | None = None,
    requested_at: datetime | None = None,
    margin: timedelta | None = None,
    actor: AbstractBaseUser | None = None,
    via_admin: bool = False,
) -> str:
    """Refresh the user's tokens under a row lock if still needed; return the access token.

    Runs in its own, durable transaction: the row is locked, re-read, and
    refreshed only if still stale (or `force`, unless another worker just
    refreshed). Every writer of the tokens takes the same lock, so the
    refresh token sent is the current one: `invalid_grant` means Canvas no
    longer accepts the connection (`reconnect_needed`). The new refresh
    token is committed before the access token is returned; a failure is
    raised after its record is committed. A read timeout raises
    RefreshOutcomeUnknown, never retried.
    """
    requested_at = requested_at or conf.now()
    with transaction.atomic(durable=True):
        connection, access = _connection_lock(user=user)
        now = conf.now()
        margin = refresh_margin(connection) if margin is None else margin
        if _refresh_unneeded(
            connection,
            access=access,
            now=now,
            margin=margin,
            force=force,
            rejected_token=rejected_token,
            requested_at=requested_at,
        ):
            return access  # another worker refreshed while this one waited for the lock
        outcome = _tokens_renew(
            user=user,
            connection=connection,
            access=access,
            now=now,
            force=force,
            actor=actor,
            via_admin=via_admin,
        )
    if isinstance(outcome, CanvasError):
        raise outcome
    return outcome


@sensitive_variables()
def _connection_lock(*, user: AbstractBaseUser) -> tuple[CanvasConnection, str]:
    """Lock and re-read the user's row (in a transaction); return it and its access token.

    Raise NotConnected or ReauthorizationRequired when the row is not usable.
    """
    locked = CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
    if locked is not None:
        # Changed in place by the refresh: the rest of the request sees what is stored.
        connection_loaded_replace(user=user, connection=locked)
    connection = connection_usable(locked)
    access = token_decrypt(
        user_id=user.pk, kind=TokenKind.ACCESS, ciphertext=connection.access_token_encrypted
    )
    return connection, access


def _refresh_unneeded(
    connection: CanvasConnection,
    *,
    access: str,
    now: datetime,
    margin: timedelta,
    force: bool,
    rejected_token: str | None,
    requested_at: datetime,
) -> bool:
    """Return whether the locked row's access token can be returned as it is.

    Not forced: it is fresh enough. Forced: it still lives and is either not
    the token the caller saw rejected, or (no rejected token given) was
    refreshed by another worker since the request.
    """
    if not force:
        return _fresh_enough(connection, now=now, margin=margin)
    if not _fresh_enough(connection, now=now, margin=timedelta(0)):
        return False
    if rejected_token is not None:
        return access != rejected_token
    recent = connection.last_refreshed_at
    return bool(recent and recent >= requested_at - conf.FORCED_REFRESH_DEDUP)


@sensitive_variables()
def _tokens_renew(
    *,
    user: AbstractBaseUser,
    connection: CanvasConnection,
    access: str,
    now: datetime,
    force: bool,
    actor: AbstractBaseUser | None,
    via_admin: bool,
) -> str | CanvasError:
    """Send the locked row's refresh token to Canvas and record the answer.

    Return the access token to use, or the error to raise once the
    transaction has committed what was recorded.
    """
    refresh = token_decrypt(
        user_id=user.pk, kind=TokenKind.REFRESH, ciphertext=connection.refresh_token_encrypted
    )
    try:
        tokens = auth_client().token_refresh(refresh_token=refresh)
    except InvalidGrant:
        metrics.token_refresh_observe(result=RefreshResult.REAUTHORIZATION_REQUIRED)
        _reconnect_needed(user=user, connection=connection, actor=actor, via_admin=via_admin)
        return ReauthorizationRequired()
    except RefreshOutcomeUnknown as exc:
        metrics.token_refresh_observe(result=RefreshResult.OUTCOME_UNKNOWN)
        # Canvas may have rotated the refresh token: never sent again from here.
        _error_record(user=user, connection=connection, exc=exc, actor=actor, via_admin=via_admin)
        return exc
    except CanvasError as exc:
        metrics.token_refresh_observe(result=RefreshResult.UNAVAILABLE)
        _error_record(user=user, connection=connection, exc=exc, actor=actor, via_admin=via_admin)
        if (
            isinstance(exc, AuthorizationServerUnavailable)
            and not force
            and _fresh_enough(connection, now=now, margin=timedelta(seconds=30))
        ):
            return access  # Canvas is down but the current token still works for a while
        return exc
    metrics.token_refresh_observe(result=RefreshResult.REFRESHED)
    _tokens_renewed_store(
        user=user,
        connection=connection,
        tokens=tokens,
        now=now,
        force=force,
        actor=actor,
        via_admin=via_admin,
    )
    return tokens.access_token


@sensitive_variables()
def _tokens_renewed_store(
    *,
    user: AbstractBaseUser,
    connection: CanvasConnection,
    tokens: TokenSet,
    now: datetime,
    force: bool,
    actor: AbstractBaseUser | None,
    via_admin: bool,
) -> None:
    """Save the token set Canvas just issued on the locked row and log the refresh."""
    if not tokens.refresh_token:
        logger.warning(
            "Canvas refresh for user id %s returned no new refresh token; keeping the previous one",
            user.pk,
        )
    tokens_store(connection=connection, tokens=tokens, now=now)
    connection.last_refreshed_at = now
    connection.refresh_count += 1
    connection.save()
    event_record(
        user=user,
        kind=ConnectionEvent.Kind.REFRESH,
        actor=actor,
        via_admin=via_admin,
        canvas_staff_id=connection.canvas_staff_id,
        detail="forced" if force else "",
    )


@sensitive_variables()
def tokens_store(*, connection: CanvasConnection, tokens: TokenSet, now: datetime) -> None:
    """Put an encrypted token set on `connection` (not saved)."""
    connection.access_token_encrypted = token_encrypt(
        user_id=connection.user_id, kind=TokenKind.ACCESS, token=tokens.access_token
    )
    if tokens.refresh_token:
        connection.refresh_token_encrypted = token_encrypt(
            user_id=connection.user_id, kind=TokenKind.REFRESH, token=tokens.refresh_token
        )
    connection.access_expires_at = now + timedelta(seconds=tokens.expires_in)
    connection.scope = tokens.scope[:200]
    connection.last_error_code = ""
    connection.last_error_message = ""


@sensitive_variables()
def token_revoke_quietly(*, token: str | None) -> bool:
    """Revoke a refresh token at Canvas; return whether it worked. Never raises."""
    if not token:
        return False
    try:
        auth_client().token_revoke(token=token)
    except CanvasError as exc:
        logger.warning("Canvas token revocation failed: %s", exc.code)
        return False
    return True


def _reconnect_needed(
    *,
    user: AbstractBaseUser,
    connection: CanvasConnection,
    actor: AbstractBaseUser | None,
    via_admin: bool,
) -> None:
    connection.status = CanvasConnection.Status.RECONNECT_NEEDED
    connection.last_error_code = InvalidGrant.code
    connection.last_error_message = "Canvas no longer accepts this connection's refresh token."
    connection.save(update_fields=["status", "last_error_code", "last_error_message", "updated_at"])
    logger.warning(
        "Canvas connection of user id %s needs reconnecting (invalid_grant)", connection.user_id
    )
    event_record(
        user=user,
        kind=ConnectionEvent.Kind.REFRESH_FAILED,
        actor=actor,
        via_admin=via_admin,
        canvas_staff_id=connection.canvas_staff_id,
        detail="invalid_grant: reconnect needed",
    )


def _error_record(
    *,
    user: AbstractBaseUser,
    connection: CanvasConnection,
    exc: CanvasError,
    actor: AbstractBaseUser | None,
    via_admin: bool,
) -> None:
    connection.last_error_code = exc.code[:64]
    connection.last_error_message = exc.message[:300]
    connection.save(update_fields=["last_error_code", "last_error_message", "updated_at"])
    event_record(
        user=user,
        kind=ConnectionEvent.Kind.REFRESH_FAILED,
        actor=actor,
        via_admin=via_admin,
        canvas_staff_id=connection.canvas_staff_id,
        detail=exc.code,
    )
