"""Operations on connections: disconnect, require reconnect, key rotation, the refresh cron.

Each takes the row lock before it writes a row's tokens or status.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from canvas_oauth import conf
from canvas_oauth.crypto import (
    TokenKind,
    ciphertext_is_current,
    ciphertext_rotate,
    token_decrypt,
)
from canvas_oauth.events import event_record
from canvas_oauth.exceptions import NotConnected, TokenDecryptionFailed
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from canvas_oauth.tokens import connection_refresh, token_revoke_quietly
from integrations.canvas.exceptions import CanvasError
from integrations.canvas.settings import canvas_settings

logger = logging.getLogger(__name__)


class Revocation(NamedTuple):
    """What a disconnect learned about the refresh token at Canvas (an event kind + why)."""

    kind: ConnectionEvent.Kind
    detail: str


@sensitive_variables()
def connection_disconnect(
    *, user: AbstractBaseUser, actor: AbstractBaseUser | None, via_admin: bool = False
) -> bool:
    """Revoke the refresh token at Canvas (best effort) and delete the tokens.

    The row becomes `disconnected` whatever Canvas answers; the log gets a
    `disconnect` event and then `token_revoked_at_canvas` or
    `revocation_not_confirmed`. Return whether Canvas confirmed the
    revocation. Raises NotConnected when there is nothing to disconnect and
    TokenDecryptionFailed (changing nothing) when the stored token cannot be
    decrypted.
    """
    with transaction.atomic(durable=True):
        connection = CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
        if connection is None or connection.status == CanvasConnection.Status.DISCONNECTED:
            raise NotConnected("Your account is not connected to Canvas.")
        revocation = _refresh_token_revoke(connection=connection)
        _tokens_forget(connection)
        for kind, detail in ((ConnectionEvent.Kind.DISCONNECT, ""), revocation):
            event_record(
                user=user,
                kind=kind,
                actor=actor,
                via_admin=via_admin,
                canvas_staff_id=connection.canvas_staff_id,
                detail=detail,
            )
    logger.info("Canvas connection of user id %s ended (%s)", user.pk, revocation.detail)
    return revocation.kind == ConnectionEvent.Kind.TOKEN_REVOKED_AT_CANVAS


@sensitive_variables()
def _refresh_token_revoke(*, connection: CanvasConnection) -> Revocation:
    """Ask Canvas to revoke the row's refresh token, if allowed; say what came of it."""
    if not canvas_settings.REVOKE_ON_UNLINK:
        return Revocation(
            ConnectionEvent.Kind.REVOCATION_NOT_CONFIRMED, "revocation at Canvas turned off"
        )
    if not connection.refresh_token_encrypted:
        return Revocation(ConnectionEvent.Kind.REVOCATION_NOT_CONFIRMED, "no refresh token stored")
    refresh = token_decrypt(
        user_id=connection.user_id,
        kind=TokenKind.REFRESH,
        ciphertext=connection.refresh_token_encrypted,
    )
    if token_revoke_quietly(token=refresh):
        return Revocation(ConnectionEvent.Kind.TOKEN_REVOKED_AT_CANVAS, "Canvas answered 200")
    return Revocation(ConnectionEvent.Kind.REVOCATION_NOT_CONFIRMED, "revocation at Canvas failed")


def _tokens_forget(connection: CanvasConnection) -> None:
    """Mark the locked row `disconnected` and delete its tokens (saved)."""
    connection.status = CanvasConnection.Status.DISCONNECTED
    connection.access_token_encrypted = ""
    connection.refresh_token_encrypted = ""
    connection.access_expires_at = None
    connection.last_error_code = ""
    connection.last_error_message = ""
    connection.save()


def connection_require_reconnect(
    *, user: AbstractBaseUser, actor: AbstractBaseUser | None, via_admin: bool = True
) -> None:
    """Mark the connection `reconnect_needed` (its tokens stay until the user reconnects)."""
    with transaction.atomic():
        connection = CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
        if connection is None or connection.status == CanvasConnection.Status.DISCONNECTED:
            raise NotConnected("This account is not connected to Canvas.")
        connection.status = CanvasConnection.Status.RECONNECT_NEEDED
        connection.last_error_code = ConnectionEvent.Kind.RECONNECT_REQUIRED
        connection.last_error_message = (
            "An administrator asked for this connection to be reconnected."
        )
        connection.save()
        event_record(
            user=user,
            kind=ConnectionEvent.Kind.RECONNECT_REQUIRED,
            actor=actor,
            via_admin=via_admin,
            canvas_staff_id=connection.canvas_staff_id,
        )


def connections_keys_rotate() -> dict[str, int]:
    """Re-encrypt every connection's tokens under the first key; return counts.

    Each row is locked while it is rewritten, so a refresh running at the
    same time is never overwritten by an older ciphertext; each rewritten
    row leaves a `key_rotation` event in its user's connection log.
    """
    counts = {"rotated": 0, "current": 0, "empty": 0, "failed": 0}
    for pk in CanvasConnection.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            row = (
                CanvasConnection.objects.select_for_update()
                .select_related("user")
                .filter(pk=pk)
                .first()
            )
            if row is None:
                continue
            fields = [
                f for f in ("access_token_encrypted", "refresh_token_encrypted") if getattr(row, f)
            ]
            if not fields:
                counts["empty"] += 1
                continue
            try:
                stale = [f for f in fields if not ciphertext_is_current(ciphertext=getattr(row, f))]
                for field in stale:
                    setattr(row, field, ciphertext_rotate(ciphertext=getattr(row, field)))
            except TokenDecryptionFailed:
                logger.error("ALERT: key rotation cannot decrypt connection id %s", pk)
                counts["failed"] += 1
                continue
            if not stale:
                counts["current"] += 1
                continue
            row.save(update_fields=[*stale, "updated_at"])
            event_record(
                user=row.user,
                kind=ConnectionEvent.Kind.KEY_ROTATION,
                canvas_staff_id=row.canvas_staff_id,
                detail=f"{len(stale)} token(s) re-encrypted under the first key",
            )
            counts["rotated"] += 1
    return counts


def connections_refresh_due(*, within: timedelta) -> dict[str, int]:
    """Refresh every active connection whose access token expires within `within`; return counts."""
    counts = {"refreshed": 0, "failed": 0}
    due = CanvasConnection.objects.filter(
        status=CanvasConnection.Status.ACTIVE,
        access_expires_at__lte=conf.now() + within,
        user__is_active=True,  # a deactivated user's connection is not kept alive
    ).select_related("user")
    for connection in due.order_by("access_expires_at"):
        try:
            connection_refresh(user=connection.user, margin=within)
        except CanvasError as exc:
            logger.warning(
                "Scheduled refresh failed for user id %s: %s", connection.user_id, exc.code
            )
            counts["failed"] += 1
        else:
            counts["refreshed"] += 1
    return counts
