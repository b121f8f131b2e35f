"""Writes and side effects of the Canvas link: flows, tokens, refresh, unlink.

Views call these; these call `canvas_oauth.client` (the authorization server)
and `notes.client` (the plugin's `GET /me`). Token plaintext exists only in
local variables here and is never logged.
"""

import base64
import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from canvas_oauth import conf
from canvas_oauth.client import TokenSet, get_client
from canvas_oauth.crypto import (
    ciphertext_is_current,
    ciphertext_rotate,
    token_decrypt,
    token_encrypt,
)
from canvas_oauth.exceptions import (
    AuthorizationServerUnavailable,
    CanvasOAuthError,
    IdentityAlreadyLinked,
    IdentityUnavailable,
    InvalidGrant,
    InvalidLinkState,
    NotLinked,
    ReauthorizationRequired,
    RefreshOutcomeUnknown,
    TokenDecryptionFailed,
)
from canvas_oauth.models import CanvasConnection, ConnectionEvent

logger = logging.getLogger(__name__)

SESSION_FLOWS_KEY = "canvas_oauth_flows"
# base64 of an empty JSON object, as the Canvas example client sends it.
LAUNCH = base64.urlsafe_b64encode(b"{}").decode()
_PKCE_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _now() -> datetime:
    """Return the current time (the clock seam tests move)."""
    return timezone.now()


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


def next_url_clean(*, url: str | None, allowed_hosts: set[str], require_https: bool) -> str:
    """Return `url` if it is a safe local redirect target, else ''."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts=allowed_hosts, require_https=require_https
    ):
        return ""
    return url


# -- link flows (kept in the session) -----------------------------------------
def link_flow_start(
    *, session: Any, user: AbstractBaseUser, next_url: str, redirect_uri: str
) -> str:
    """Start a link flow and return the Canvas authorization URL to redirect to.

    Each flow has its own state (256 bits), PKCE verifier, `next` page and
    redirect URI, keyed by state in the session, so several tabs can link at
    once; expired flows are dropped and at most MAX_PENDING_FLOWS are kept.
    """
    now = _now()
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
        "created": now.timestamp(),
    }
    session[SESSION_FLOWS_KEY] = flows
    session.modified = True
    return get_client().authorize_url(
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=pkce_challenge(verifier=verifier),
        launch=LAUNCH,
    )


def _flows_live(*, session: Any, now: datetime) -> dict[str, dict]:
    flows = session.get(SESSION_FLOWS_KEY)
    if not isinstance(flows, dict):
        return {}
    cutoff = (now - conf.FLOW_TTL).timestamp()
    return {
        state: flow
        for state, flow in flows.items()
        if isinstance(flow, dict) and flow.get("created", 0) >= cutoff
    }


def link_flow_pop(*, session: Any, state: str | None, user: AbstractBaseUser) -> dict:
    """Remove and return the pending flow of `state`; raise InvalidLinkState if unusable.

    The flow is removed before any check, so a state is used at most once.
    """
    if not state:
        raise InvalidLinkState("no state in the callback")
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
        raise InvalidLinkState("unknown or already used state")
    if flow.get("user_id") != user.pk:
        raise InvalidLinkState("state started by another user")
    if flow.get("created", 0) < (_now() - conf.FLOW_TTL).timestamp():
        raise InvalidLinkState("expired state")
    return flow


# -- events -------------------------------------------------------------------
def event_record(
    *,
    user: AbstractBaseUser,
    kind: str,
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
        created_at=_now(),
    )


# -- linking ------------------------------------------------------------------
def connection_link(
    *, user: AbstractBaseUser, code: str, code_verifier: str, redirect_uri: str
) -> CanvasConnection:
    """Exchange `code` (once), learn the Canvas identity, store the link encrypted.

    Raises a CanvasOAuthError subclass when anything fails; then nothing is
    stored and tokens already issued are revoked (best effort).
    """
    try:
        tokens = get_client().token_exchange(
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
        _revoke_quietly(token=tokens.refresh_token)
        event_record(user=user, kind=ConnectionEvent.Kind.LINK_FAILED, actor=user, detail=exc.code)
        raise

    now = _now()
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
            if connection is None:
                connection = CanvasConnection(user_id=user.pk)
            elif connection.refresh_token_encrypted:
                try:
                    previous_refresh = token_decrypt(
                        user_id=user.pk,
                        kind="refresh",
                        ciphertext=connection.refresh_token_encrypted,
                    )
                except TokenDecryptionFailed:
                    previous_refresh = None
            connection.status = CanvasConnection.Status.ACTIVE
            connection.canvas_user_id = user_id
            connection.canvas_staff_id = staff_id
            connection.canvas_staff_name = staff_name
            _tokens_store(connection=connection, tokens=tokens, now=now)
            connection.linked_at = now
            connection.last_refreshed_at = None
            connection.refresh_count = 0
            connection.save()
            event_record(
                user=user,
                kind=ConnectionEvent.Kind.LINK,
                actor=user,
                canvas_staff_id=staff_id,
                detail=f"Linked to Canvas staff {staff_name}"[:300],
            )
    except (IdentityAlreadyLinked, IntegrityError):
        logger.warning("Canvas link refused: identity already linked to another user")
        _revoke_quietly(token=tokens.refresh_token)
        event_record(
            user=user,
            kind=ConnectionEvent.Kind.LINK_FAILED,
            actor=user,
            canvas_staff_id=staff_id,
            detail="identity_already_linked",
        )
        raise IdentityAlreadyLinked() from None
    if previous_refresh and previous_refresh != tokens.refresh_token:
        _revoke_quietly(token=previous_refresh)
    logger.info("Canvas link stored for user id %s", user.pk)
    return connection


def _identity_fetch(*, access_token: str) -> tuple[str, str, str]:
    """Return (canvas user id, staff id, staff name) from the plugin's GET /me."""
    from notes.client import get_client as notes_client_get
    from notes.exceptions import NotesError

    try:
        me = notes_client_get().me(access_token=access_token)
    except NotesError as exc:
        logger.warning("Canvas GET /me failed while linking: %s", type(exc).__name__)
        raise IdentityUnavailable(
            "The portal could not ask Canvas who you are (the Canvas plugin did not "
            "answer properly), so the link was not saved. Please try again."
        ) from None
    staff = me.get("staff") if isinstance(me, dict) else None
    user_id = me.get("user_id") if isinstance(me, dict) else None
    if not isinstance(staff, dict) or staff.get("id") in (None, ""):
        logger.warning("Canvas GET /me answered without a staff identity")
        raise IdentityUnavailable(
            "Your Canvas account is not a staff account, so it cannot be linked."
        )
    name = str(staff.get("name") or "").strip() or f"Staff {staff['id']}"
    if user_id in (None, ""):
        user_id = f"staff:{staff['id']}"  # the staff id is unique too
    return str(user_id)[:64], str(staff["id"])[:64], name[:200]


def _tokens_store(*, connection: CanvasConnection, tokens: TokenSet, now: datetime) -> None:
    """Put an encrypted token set on `connection` (not saved)."""
    connection.access_token_encrypted = token_encrypt(
        user_id=connection.user_id, kind="access", token=tokens.access_token
    )
    if tokens.refresh_token:
        connection.refresh_token_encrypted = token_encrypt(
            user_id=connection.user_id, kind="refresh", token=tokens.refresh_token
        )
    connection.access_expires_at = now + timedelta(seconds=tokens.expires_in)
    connection.scope = tokens.scope[:200]
    connection.last_error_code = ""
    connection.last_error_message = ""


def _revoke_quietly(*, token: str | None) -> bool:
    """Revoke a refresh token at Canvas; return whether it worked. Never raises."""
    if not token:
        return False
    try:
        get_client().token_revoke(token=token)
    except CanvasOAuthError as exc:
        logger.warning("Canvas token revocation failed: %s", exc.code)
        return False
    return True


# -- tokens for callers ---------------------------------------------------------
def _usable_or_raise(connection: CanvasConnection | None) -> CanvasConnection:
    if connection is None or connection.status == CanvasConnection.Status.REVOKED:
        raise NotLinked()
    if connection.status == CanvasConnection.Status.RECONNECT_NEEDED:
        raise ReauthorizationRequired()
    if not connection.refresh_token_encrypted or not connection.access_token_encrypted:
        raise NotLinked()
    return connection


def _fresh_enough(connection: CanvasConnection, *, now: datetime, margin: timedelta) -> bool:
    expires = connection.access_expires_at
    return expires is not None and expires > now + margin


def access_token_get(
    *, user: AbstractBaseUser, force_refresh: bool = False, rejected_token: str | None = None
) -> str:
    """Return a valid Canvas access token for `user`, refreshing it when needed.

    The token is refreshed when it expires within 5 minutes, or when
    `force_refresh` is set (a caller got a 401). A forced refresh is
    de-duplicated: if the stored token is no longer `rejected_token`, or
    another worker refreshed meanwhile, that newer token is returned.

    Must not be called inside `transaction.atomic`: the refresh commits in
    its own transaction (a rollback would lose the rotated refresh token).

    Raises NotLinked, ReauthorizationRequired, TokenDecryptionFailed,
    AuthorizationServerUnavailable or RefreshOutcomeUnknown.
    """
    requested_at = _now()
    connection = _usable_or_raise(CanvasConnection.objects.filter(user_id=user.pk).first())
    access = token_decrypt(
        user_id=user.pk, kind="access", ciphertext=connection.access_token_encrypted
    )
    if not force_refresh and _fresh_enough(
        connection, now=requested_at, margin=conf.REFRESH_MARGIN
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
        user=user,
        force=force_refresh,
        rejected_token=rejected_token,
        requested_at=requested_at,
    )


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
    refreshed). The new refresh token is committed before the access token
    is returned. On `invalid_grant` the row is re-read; unless it was
    rotated meanwhile, the link is marked `reconnect_needed`. A read timeout
    marks the error and raises RefreshOutcomeUnknown without retrying.
    """
    margin = conf.REFRESH_MARGIN if margin is None else margin
    requested_at = requested_at or _now()
    pending_error: CanvasOAuthError | None = None
    with transaction.atomic(durable=True):
        connection = _usable_or_raise(
            CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
        )
        access = token_decrypt(
            user_id=user.pk, kind="access", ciphertext=connection.access_token_encrypted
        )
        now = _now()
        if not force and _fresh_enough(connection, now=now, margin=margin):
            return access  # another worker refreshed while this one waited for the lock
        if force and _fresh_enough(connection, now=now, margin=timedelta(0)):
            if rejected_token is not None and access != rejected_token:
                return access
            recent = connection.last_refreshed_at
            if (
                rejected_token is None
                and recent
                and recent >= requested_at - conf.FORCED_REFRESH_DEDUP
            ):
                return access
        refresh = token_decrypt(
            user_id=user.pk, kind="refresh", ciphertext=connection.refresh_token_encrypted
        )
        try:
            tokens = get_client().token_refresh(refresh_token=refresh)
        except InvalidGrant:
            pending_error = _invalid_grant_handle(
                connection=connection, used_refresh=refresh, actor=actor, via_admin=via_admin
            )
            if pending_error is None:  # rotated by someone else meanwhile
                connection.refresh_from_db()
                return token_decrypt(
                    user_id=user.pk, kind="access", ciphertext=connection.access_token_encrypted
                )
        except RefreshOutcomeUnknown as exc:
            _error_record(connection=connection, exc=exc, actor=actor, via_admin=via_admin)
            pending_error = exc
        except CanvasOAuthError as exc:
            _error_record(connection=connection, exc=exc, actor=actor, via_admin=via_admin)
            if (
                isinstance(exc, AuthorizationServerUnavailable)
                and not force
                and _fresh_enough(connection, now=now, margin=timedelta(seconds=30))
            ):
                # Canvas is down but the current token still works for a while.
                return access
            pending_error = exc
        else:
            if not tokens.refresh_token:
                logger.warning(
                    "Canvas refresh for user id %s returned no new refresh token; "
                    "keeping the previous one",
                    user.pk,
                )
            _tokens_store(connection=connection, tokens=tokens, now=now)
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
            return tokens.access_token
    raise pending_error


def _invalid_grant_handle(
    *,
    connection: CanvasConnection,
    used_refresh: str,
    actor: AbstractBaseUser | None,
    via_admin: bool,
) -> CanvasOAuthError | None:
    """Return None if the row was rotated meanwhile, else mark reconnect and return the error."""
    current = CanvasConnection.objects.get(pk=connection.pk)
    if current.status == CanvasConnection.Status.ACTIVE and current.refresh_token_encrypted:
        stored = token_decrypt(
            user_id=current.user_id, kind="refresh", ciphertext=current.refresh_token_encrypted
        )
        if stored != used_refresh and _fresh_enough(current, now=_now(), margin=timedelta(0)):
            logger.info(
                "Canvas refresh lost a race for user id %s; using the newer token", current.user_id
            )
            return None
    connection.status = CanvasConnection.Status.RECONNECT_NEEDED
    connection.last_error_code = "invalid_grant"
    connection.last_error_message = "Canvas no longer accepts this link's refresh token."
    connection.save(update_fields=["status", "last_error_code", "last_error_message", "updated_at"])
    logger.warning(
        "Canvas link of user id %s needs reconnecting (invalid_grant)", connection.user_id
    )
    event_record(
        user=connection.user,
        kind=ConnectionEvent.Kind.REFRESH_FAILED,
        actor=actor,
        via_admin=via_admin,
        canvas_staff_id=connection.canvas_staff_id,
        detail="invalid_grant: reconnect needed",
    )
    return ReauthorizationRequired()


def _error_record(
    *,
    connection: CanvasConnection,
    exc: CanvasOAuthError,
    actor: AbstractBaseUser | None,
    via_admin: bool,
) -> None:
    connection.last_error_code = exc.code[:64]
    connection.last_error_message = exc.message[:300]
    connection.save(update_fields=["last_error_code", "last_error_message", "updated_at"])
    event_record(
        user=connection.user,
        kind=ConnectionEvent.Kind.REFRESH_FAILED,
        actor=actor,
        via_admin=via_admin,
        canvas_staff_id=connection.canvas_staff_id,
        detail=exc.code,
    )


# -- unlink and admin ---------------------------------------------------------
def connection_unlink(
    *, user: AbstractBaseUser, actor: AbstractBaseUser | None, via_admin: bool = False
) -> bool:
    """Revoke the refresh token at Canvas (best effort) and delete the tokens.

    Return whether Canvas confirmed the revocation. Raises NotLinked when
    there is nothing to unlink and TokenDecryptionFailed (changing nothing)
    when the stored token cannot be decrypted.
    """
    with transaction.atomic(durable=True):
        connection = CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
        if connection is None or connection.status == CanvasConnection.Status.REVOKED:
            raise NotLinked("Your account is not linked to Canvas.")
        revoked = False
        detail = "revocation at Canvas turned off"
        if connection.refresh_token_encrypted and conf.revoke_on_unlink():
            refresh = token_decrypt(
                user_id=user.pk, kind="refresh", ciphertext=connection.refresh_token_encrypted
            )
            revoked = _revoke_quietly(token=refresh)
            detail = "revoked at Canvas" if revoked else "revocation at Canvas failed"
        connection.status = CanvasConnection.Status.REVOKED
        connection.access_token_encrypted = ""
        connection.refresh_token_encrypted = ""
        connection.access_expires_at = None
        connection.last_error_code = ""
        connection.last_error_message = ""
        connection.save()
        event_record(
            user=user,
            kind=ConnectionEvent.Kind.UNLINK,
            actor=actor,
            via_admin=via_admin,
            canvas_staff_id=connection.canvas_staff_id,
            detail=detail,
        )
    logger.info("Canvas link of user id %s removed (%s)", user.pk, detail)
    return revoked


def connection_require_reconnect(
    *, user: AbstractBaseUser, actor: AbstractBaseUser | None, via_admin: bool = True
) -> None:
    """Mark the link `reconnect_needed` (its tokens stay until the user reconnects)."""
    with transaction.atomic():
        connection = CanvasConnection.objects.select_for_update().filter(user_id=user.pk).first()
        if connection is None or connection.status == CanvasConnection.Status.REVOKED:
            raise NotLinked("This account is not linked to Canvas.")
        connection.status = CanvasConnection.Status.RECONNECT_NEEDED
        connection.last_error_code = "reconnect_required"
        connection.last_error_message = "An administrator asked for this link to be reconnected."
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
    same time is never overwritten by an older ciphertext.
    """
    counts = {"rotated": 0, "current": 0, "empty": 0, "failed": 0}
    for pk in CanvasConnection.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            row = CanvasConnection.objects.select_for_update().filter(pk=pk).first()
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
            counts["rotated"] += 1
    return counts


def connections_refresh_due(*, within: timedelta) -> dict[str, int]:
    """Refresh every active link whose access token expires within `within`; return counts."""
    counts = {"refreshed": 0, "failed": 0}
    due = CanvasConnection.objects.filter(
        status=CanvasConnection.Status.ACTIVE,
        access_expires_at__lte=_now() + within,
    ).select_related("user")
    for connection in due.order_by("access_expires_at"):
        try:
            connection_refresh(user=connection.user, margin=within)
        except CanvasOAuthError as exc:
            logger.warning(
                "Scheduled refresh failed for user id %s: %s", connection.user_id, exc.code
            )
            counts["failed"] += 1
        else:
            counts["refreshed"] += 1
    return counts
