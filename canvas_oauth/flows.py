"""Linking a user to Canvas: PKCE, the flow store in the session, and the callback's link.

The views call `link_flow_start` (connect) and `link_flow_pop` +
`connection_link` (callback).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.views.decorators.debug import sensitive_variables

from canvas_oauth import conf
from canvas_oauth.crypto import token_decrypt
from canvas_oauth.events import event_record
from canvas_oauth.exceptions import (
    IdentityAlreadyLinked,
    IdentityUnavailable,
    InvalidLinkState,
    LinkStateProblem,
    TokenDecryptionFailed,
)
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from canvas_oauth.tokens import token_revoke_quietly, tokens_store
from integrations.canvas.auth import auth_client
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


# -- link flows (kept in the session) -----------------------------------------
@sensitive_variables()
def link_flow_start(
    *, session: Any, user: AbstractBaseUser, next_url: str, redirect_uri: str
) -> str:
    """Start a link flow and return the Canvas authorization URL to redirect to.

    Each flow has its own state (256 bits), PKCE verifier, `next` page and
    redirect URI, keyed by state in the session, so several tabs can link at
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
def link_flow_pop(*, session: Any, state: str | None, user: AbstractBaseUser) -> dict:
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


# -- linking ------------------------------------------------------------------
@sensitive_variables()
def connection_link(
    *, user: AbstractBaseUser, code: str, code_verifier: str, redirect_uri: str
) -> CanvasConnection:
    """Exchange `code` (once), learn the Canvas identity, store the link encrypted.

    Raises a CanvasError subclass when anything fails; then nothing is
    stored and tokens already issued are revoked (best effort).
    """
    try:
        tokens = auth_client().token_exchange(
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
    try:
        user_id, staff_id, staff_name = _identity_fetch(access_token=tokens.access_token)
    except IdentityUnavailable as exc:
        token_revoke_quietly(token=tokens.refresh_token)
        event_record(user=user, kind=ConnectionEvent.Kind.LINK_FAILED, actor=user, detail=exc.code)
        raise

    now = conf.now()
    previous_refresh: str | None = None
    try:
        with transaction.atomic():
            taken = (
                CanvasConnection.objects.exclude(user_id=user.pk)
                .exclude(status=CanvasConnection.Status.REVOKED)
                .filter(Q(canvas_user_id=user_id) | Q(canvas_staff_id=staff_id))
                .exists()
            )
            if taken:
                raise IdentityAlreadyLinked()
            connection = (
                CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
            )
            previous_staff_id = ""
            if connection is None:
                connection = CanvasConnection(user_id=user.pk)
            else:
                previous_staff_id = connection.canvas_staff_id
                if connection.refresh_token_encrypted:
                    # A row no key decrypts (a key fault: TokenDecryptionFailed,
                    # an ALERT, a 503) is never overwritten: its refresh token
                    # could not be revoked, and the keys must be fixed first.
                    previous_refresh = token_decrypt(
                        user_id=user.pk,
                        kind="refresh",
                        ciphertext=connection.refresh_token_encrypted,
                    )
            connection.status = CanvasConnection.Status.ACTIVE
            connection.canvas_user_id = user_id
            connection.canvas_staff_id = staff_id
            connection.canvas_staff_name = staff_name
            tokens_store(connection=connection, tokens=tokens, now=now)
            connection.linked_at = now
            connection.last_refreshed_at = None
            connection.refresh_count = 0
            connection.save()
            event_record(
                user=user,
                kind=ConnectionEvent.Kind.LINK,
                actor=user,
                canvas_staff_id=staff_id,
                detail=(
                    f"Linked to Canvas staff {staff_name}"
                    + (
                        f" (previously staff {previous_staff_id})"
                        if previous_staff_id and previous_staff_id != staff_id
                        else ""
                    )
                )[:300],
            )
    except TokenDecryptionFailed:
        token_revoke_quietly(token=tokens.refresh_token)
        raise
    except (IdentityAlreadyLinked, IntegrityError):
        logger.warning("Canvas link refused: identity already linked to another user")
        token_revoke_quietly(token=tokens.refresh_token)
        event_record(
            user=user,
            kind=ConnectionEvent.Kind.LINK_FAILED,
            actor=user,
            canvas_staff_id=staff_id,
            detail=IdentityAlreadyLinked.code,
        )
        raise IdentityAlreadyLinked() from None
    if previous_refresh and previous_refresh != tokens.refresh_token:
        token_revoke_quietly(token=previous_refresh)
    logger.info("Canvas link stored for user id %s", user.pk)
    return connection


@sensitive_variables()
def _identity_fetch(*, access_token: str) -> tuple[str, str, str]:
    """Return (canvas user id, staff id, staff name) from the plugin's GET /me."""
    try:
        me = plugin_client().me(access_token=access_token)
    except Forbidden:
        logger.warning("Canvas GET /me refused while linking: not active staff")
        raise IdentityUnavailable(
            "Your Canvas account is not an active staff account, so the link was not saved."
        ) from None
    except CanvasError as exc:
        logger.warning("Canvas GET /me failed while linking: %s", type(exc).__name__)
        raise IdentityUnavailable(
            "The portal could not ask Canvas who you are (the Canvas plugin did not "
            "answer properly), so the link was not saved. Please try again."
        ) from None
    staff = me["staff"]  # the client guarantees a staff id
    name = staff["name"].strip() or f"Staff {staff['id']}"
    user_id = me["user_id"] or f"staff:{staff['id']}"  # the staff id is unique too
    return user_id[:64], staff["id"][:64], name[:200]
