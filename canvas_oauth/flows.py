"""Connecting a user to Canvas: a flow's state is used once, a connection is stored whole or not.

The views call `connect_flow_start` (connect) and `connect_flow_pop` +
`connection_connect` (callback). PKCE, the flow store in the session and
the storing of the connection live here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from typing import Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.views.decorators.debug import sensitive_variables

from canvas_oauth import conf
from canvas_oauth.crypto import TokenKind, token_decrypt
from canvas_oauth.events import event_record
from canvas_oauth.exceptions import (
    IdentityAlreadyConnected,
    IdentityUnavailable,
    InvalidLinkState,
    LinkStateProblem,
    TokenDecryptionFailed,
)
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from canvas_oauth.tokens import token_revoke_quietly, tokens_store
from integrations.canvas.auth import TokenSet, auth_client
from integrations.canvas.exceptions import CanvasError, Forbidden, InvalidGrant
from integrations.canvas.plugin import plugin_client

logger = logging.getLogger(__name__)

SESSION_FLOWS_KEY = "canvas_oauth_flows"
# base64 of an empty JSON object, as the Canvas example client sends it.
LAUNCH = base64.urlsafe_b64encode(b"{}").decode()
_PKCE_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


# -- PKCE and next ------------------------------------------------------------
def pkce_challenge(*, verifier: str) -> str:
    """Return the S256 code challenge of `verifier` (RFC 7636 4.2)."""
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _PKCE_ALPHABET:
        raise ValueError("A PKCE verifier is 43-128 characters of [A-Za-z0-9-._~].")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_verifier_new() -> str:
    """Return a fresh PKCE verifier: 64 URL-safe characters (384 bits)."""
    return secrets.token_urlsafe(48)


# -- connect flows (kept in the session) --------------------------------------
@sensitive_variables()
def connect_flow_start(
    *, session: Any, user: AbstractBaseUser, next_url: str, redirect_uri: str
) -> str:
    """Start a connect flow and return the Canvas authorization URL to redirect to.

    Each flow has its own state (256 bits), PKCE verifier, `next` page and
    redirect URI, keyed by state in the session, so several tabs can connect at
    once; expired flows are dropped and at most MAX_PENDING_FLOWS are kept.
    """
    now = conf.now().timestamp()
    flows = _flows_live(session=session, now=now)
    while len(flows) >= conf.MAX_PENDING_FLOWS:
        oldest = min(flows, key=lambda key: flows[key]["created"])
        del flows[oldest]
    state = secrets.token_urlsafe(32)
    verifier = pkce_verifier_new()
    flows[state] = {
        "user_id": user.pk,
        "verifier": verifier,
        "next": next_url,
        "redirect_uri": redirect_uri,
        "created": now,
    }
    session[SESSION_FLOWS_KEY] = flows
    session.modified = True
    return auth_client().authorize_url(
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=pkce_challenge(verifier=verifier),
        launch=LAUNCH,
    )


def _flows_live(*, session: Any, now: float) -> dict[str, dict]:
    flows = session.get(SESSION_FLOWS_KEY)
    if not isinstance(flows, dict):
        return {}
    cutoff = now - conf.FLOW_TTL.total_seconds()
    return {
        state: flow
        for state, flow in flows.items()
        if isinstance(flow, dict) and flow.get("created", 0) >= cutoff
    }


@sensitive_variables()
def connect_flow_pop(*, session: Any, state: str | None, user: AbstractBaseUser) -> dict:
    """Remove and return the pending flow of `state`; raise InvalidLinkState if unusable.

    The flow is removed before any check, so a state is used at most once.
    """
    if not state:
        raise InvalidLinkState(LinkStateProblem.MISSING)
    flows = session.get(SESSION_FLOWS_KEY)
    flows = flows if isinstance(flows, dict) else {}
    flow = None
    for key in list(flows):
        if secrets.compare_digest(key.encode(), state.encode()):
            flow = flows.pop(key)
            break
    session[SESSION_FLOWS_KEY] = flows
    session.modified = True
    if not isinstance(flow, dict):
        raise InvalidLinkState(LinkStateProblem.UNKNOWN)
    if flow.get("user_id") != user.pk:
        raise InvalidLinkState(LinkStateProblem.OTHER_USER)
    if flow.get("created", 0) < (conf.now() - conf.FLOW_TTL).timestamp():
        raise InvalidLinkState(LinkStateProblem.EXPIRED)
    return flow


# -- connecting -----------------------------------------------------------------
class CanvasIdentity(NamedTuple):
    """Who the tokens belong to, as the plugin's GET /me says (trimmed to the columns)."""

    user_id: str
    staff_id: str
    staff_name: str
    installation_time_zone: str = ""


@sensitive_variables()
def connection_connect(
    *, user: AbstractBaseUser, code: str, code_verifier: str, redirect_uri: str
) -> CanvasConnection:
    """Exchange `code` (once), learn the Canvas identity, store the connection encrypted.

    Raises a CanvasError subclass when anything fails; then nothing is
    stored and tokens already issued are revoked (best effort).
    """
    tokens = _code_exchange(
        user=user, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
    )
    try:
        identity = _identity_fetch(access_token=tokens.access_token)
    except IdentityUnavailable as exc:
        token_revoke_quietly(token=tokens.refresh_token)
        event_record(
            user=user, kind=ConnectionEvent.Kind.CONNECT_FAILED, actor=user, detail=exc.code
        )
        raise
    connection, previous_refresh = _connection_store_or_revoke(
        user=user, identity=identity, tokens=tokens
    )
    if previous_refresh and previous_refresh != tokens.refresh_token:
        token_revoke_quietly(token=previous_refresh)
    logger.info("Canvas connection stored for user id %s", user.pk)
    return connection


@sensitive_variables()
def _code_exchange(
    *, user: AbstractBaseUser, code: str, code_verifier: str, redirect_uri: str
) -> TokenSet:
    """Return the token set Canvas issues for `code`; log a refused code as a security event."""
    try:
        return auth_client().token_exchange(
            code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
    except InvalidGrant:
        # A replayed or expired code, or a PKCE verifier that does not match
        # the challenge: a security event (the values are never logged).
        logger.warning(
            "Canvas refused the code exchange for user id %s (invalid_grant: code reused, "
            "expired, or PKCE mismatch)",
            user.pk,
        )
        raise


@sensitive_variables()
def _connection_store_or_revoke(
    *, user: AbstractBaseUser, identity: CanvasIdentity, tokens: TokenSet
) -> tuple[CanvasConnection, str | None]:
    """Store the connection; when that is refused, revoke the new tokens and re-raise.

    Return the stored row and the refresh token it held before (to revoke).
    """
    try:
        return _connection_store(user=user, identity=identity, tokens=tokens)
    except TokenDecryptionFailed:
        token_revoke_quietly(token=tokens.refresh_token)
        raise
    except (IdentityAlreadyConnected, IntegrityError):
        logger.warning("Canvas connection refused: identity already connected to another user")
        token_revoke_quietly(token=tokens.refresh_token)
        event_record(
            user=user,
            kind=ConnectionEvent.Kind.CONNECT_FAILED,
            actor=user,
            canvas_staff_id=identity.staff_id,
            detail=IdentityAlreadyConnected.code,
        )
        raise IdentityAlreadyConnected() from None


@sensitive_variables()
def _connection_store(
    *, user: AbstractBaseUser, identity: CanvasIdentity, tokens: TokenSet
) -> tuple[CanvasConnection, str | None]:
    """Write the user's row (locked) with `tokens`, in one transaction, and log it.

    Return the row and the refresh token it held before. Raise
    IdentityAlreadyConnected when another user holds the identity.
    """
    with transaction.atomic():
        if _identity_taken(user=user, identity=identity):
            raise IdentityAlreadyConnected()
        connection = CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
        if connection is None:
            connection = CanvasConnection(user_id=user.pk)
        previous_staff_id = connection.canvas_staff_id
        previous_refresh = _previous_refresh(connection)
        now = conf.now()
        connection.status = CanvasConnection.Status.ACTIVE
        connection.canvas_user_id = identity.user_id
        connection.canvas_staff_id = identity.staff_id
        connection.canvas_staff_name = identity.staff_name
        connection.installation_time_zone = identity.installation_time_zone
        tokens_store(connection=connection, tokens=tokens, now=now)
        connection.connected_at = now
        connection.last_refreshed_at = None
        connection.refresh_count = 0
        connection.save()
        event_record(
            user=user,
            kind=ConnectionEvent.Kind.CONNECT,
            actor=user,
            canvas_staff_id=identity.staff_id,
            detail=_connect_detail(identity=identity, previous_staff_id=previous_staff_id),
        )
    return connection, previous_refresh


def _identity_taken(*, user: AbstractBaseUser, identity: CanvasIdentity) -> bool:
    """Return whether another user's live connection holds this Canvas identity."""
    return (
        CanvasConnection.objects.exclude(user_id=user.pk)
        .exclude(status=CanvasConnection.Status.DISCONNECTED)
        .filter(Q(canvas_user_id=identity.user_id) | Q(canvas_staff_id=identity.staff_id))
        .exists()
    )


@sensitive_variables()
def _previous_refresh(connection: CanvasConnection) -> str | None:
    """Return the refresh token an existing row holds, to revoke once it is replaced.

    A row no key decrypts (a key fault: TokenDecryptionFailed, an ALERT, a
    503) is never overwritten: its refresh token could not be revoked, and
    the keys must be fixed first.
    """
    if not connection.refresh_token_encrypted:
        return None
    return token_decrypt(
        user_id=connection.user_id,
        kind=TokenKind.REFRESH,
        ciphertext=connection.refresh_token_encrypted,
    )


def _connect_detail(*, identity: CanvasIdentity, previous_staff_id: str) -> str:
    """Return the connect event's detail: the staff, and the previous one if it changed."""
    detail = f"Connected to Canvas staff {identity.staff_name}"
    if previous_staff_id and previous_staff_id != identity.staff_id:
        detail += f" (previously staff {previous_staff_id})"
    return detail[:300]


@sensitive_variables()
def _identity_fetch(*, access_token: str) -> CanvasIdentity:
    """Return the Canvas identity of `access_token` from the plugin's GET /me."""
    try:
        me = plugin_client().me(access_token=access_token)
    except Forbidden:
        logger.warning("Canvas GET /me refused while connecting: not active staff")
        raise IdentityUnavailable(
            "Your Canvas account is not an active staff account, so the connection was not saved."
        ) from None
    except CanvasError as exc:
        logger.warning("Canvas GET /me failed while connecting: %s", type(exc).__name__)
        raise IdentityUnavailable(
            "The portal could not ask Canvas who you are (the Canvas plugin did not "
            "answer properly), so the connection was not saved. Please try again."
        ) from None
    staff = me["staff"]  # the client guarantees a staff id
    name = staff["name"].strip() or f"Staff {staff['id']}"
    user_id = me["user_id"] or f"staff:{staff['id']}"  # the staff id is unique too
    zone = me.get("installation_time_zone", "")[:64]
    return CanvasIdentity(user_id[:64], staff["id"][:64], name[:200], zone)
