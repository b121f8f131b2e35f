"""Sign-in throttling: slow down, then refuse, repeated failed sign-ins.

Failures are counted per username (lower-cased, whether or not it exists)
and per client address. After `LOGIN_SLOWDOWN_AFTER` failures for a
username (half `LOGIN_ADDRESS_FAILURE_LIMIT` for an address) each further
attempt must wait a little longer; at `LOGIN_FAILURE_LIMIT` failures for a
username (or `LOGIN_ADDRESS_FAILURE_LIMIT` from an address) sign-in is
refused for `LOGIN_LOCKOUT_SECONDS`. Failures older than that are forgotten.
Every failure, refusal and lock-out is logged at WARNING (never the
password) and kept as a `SignInEvent` row admins can read.
"""

import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal import conf
from portal.models import SignInEvent, SignInThrottle

logger = logging.getLogger("portal.signin")


def _now() -> datetime.datetime:
    """Return the current time (tests move the clock by patching this)."""
    return timezone.now()


@dataclass(frozen=True)
class SignInRefusal:
    """Why sign-in is refused right now, and for how many more seconds."""

    reason: str  # "locked" or "slowed"
    retry_after: int


def _username_key(username: str) -> str:
    return (username or "").strip().lower()[:150]


def _limits() -> dict[str, int]:
    return {
        SignInThrottle.Scope.USERNAME: conf.login_failure_limit(),
        SignInThrottle.Scope.ADDRESS: conf.login_address_failure_limit(),
    }


def _keys(*, username: str, address: str | None) -> list[tuple[str, str]]:
    keys = [(SignInThrottle.Scope.USERNAME, _username_key(username))]
    if address:
        keys.append((SignInThrottle.Scope.ADDRESS, address))
    return keys


def _is_stale(row: SignInThrottle, now: datetime.datetime) -> bool:
    """Return whether a row's failures are too old (or its lock-out over) to count."""
    if row.locked_until is not None:
        return row.locked_until <= now
    window = datetime.timedelta(seconds=conf.login_lockout_seconds())
    return row.last_failure_at <= now - window


def _refusal_for(row: SignInThrottle, now: datetime.datetime) -> SignInRefusal | None:
    if _is_stale(row, now):
        return None
    if row.locked_until is not None:
        return SignInRefusal("locked", _ceil_seconds(row.locked_until - now))
    after = _slowdown_after(row.scope)
    if row.failures < after:
        return None
    wait = min(conf.login_slowdown_seconds() * (row.failures - after + 1), 60)
    ready_at = row.last_failure_at + datetime.timedelta(seconds=wait)
    if ready_at <= now:
        return None
    return SignInRefusal("slowed", _ceil_seconds(ready_at - now))


def _slowdown_after(scope: str) -> int:
    """Return after how many failures a username, or an address, is slowed.

    A clinic signs in from one address (its NAT), so a few mistyped
    passwords there must not slow everyone: addresses are slowed only from
    half their lock-out limit.
    """
    if scope == SignInThrottle.Scope.ADDRESS:
        return max(conf.login_slowdown_after(), conf.login_address_failure_limit() // 2)
    return conf.login_slowdown_after()


def _ceil_seconds(delta: datetime.timedelta) -> int:
    seconds = delta.total_seconds()
    return max(1, int(seconds) + (0 if seconds == int(seconds) else 1))


def _strongest(refusals: list[SignInRefusal | None]) -> SignInRefusal | None:
    found = [r for r in refusals if r is not None]
    if not found:
        return None
    return max(found, key=lambda r: (r.reason == "locked", r.retry_after))


def client_address(request: HttpRequest) -> str | None:
    """Return the client's IP address as the server (or a trusted proxy) saw it."""
    from django.conf import settings

    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        # Behind our TLS proxy: the last X-Forwarded-For entry is the one the
        # proxy itself appended; anything before it came from the client.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def signin_throttle_check(
    *, username: str, address: str | None, now: datetime.datetime | None = None
) -> SignInRefusal | None:
    """Return a refusal if this username or address must wait, else None."""
    now = now or _now()
    keys = _keys(username=username, address=address)
    rows = [
        row for scope, key in keys for row in SignInThrottle.objects.filter(scope=scope, key=key)
    ]
    return _strongest([_refusal_for(row, now) for row in rows])


def signin_refusal_record(
    *,
    username: str,
    address: str | None,
    refusal: SignInRefusal,
    request_id: str = "",
    now: datetime.datetime | None = None,
) -> None:
    """Log and keep a sign-in attempt refused without checking the password."""
    now = now or _now()
    logger.warning(
        "Sign-in refused (%s, retry in %ss) for username %r from %s",
        refusal.reason,
        refusal.retry_after,
        username[:150],
        address,
    )
    SignInEvent.objects.create(
        at=now,
        kind=SignInEvent.Kind.REFUSED,
        username=username[:150],
        address=address,
        detail=f"{refusal.reason}, retry in {refusal.retry_after}s",
        request_id=request_id[:64],
    )


def signin_failure_record(
    *,
    username: str,
    address: str | None,
    request_id: str = "",
    now: datetime.datetime | None = None,
) -> SignInRefusal | None:
    """Count a failed sign-in; return the refusal the next attempt will meet, if any."""
    now = now or _now()
    limits = _limits()
    lockout = datetime.timedelta(seconds=conf.login_lockout_seconds())
    rows = []
    with transaction.atomic():
        for scope, key in _keys(username=username, address=address):
            SignInThrottle.objects.get_or_create(
                scope=scope,
                key=key,
                defaults={"first_failure_at": now, "last_failure_at": now},
            )
            row = SignInThrottle.objects.select_for_update().get(scope=scope, key=key)
            if row.failures and _is_stale(row, now):
                row.failures = 0
                row.locked_until = None
                row.first_failure_at = now
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= limits[scope] and row.locked_until is None:
                row.locked_until = now + lockout
                logger.warning(
                    "Sign-in locked out: %s %r after %s failures, for %ss",
                    scope,
                    key,
                    row.failures,
                    conf.login_lockout_seconds(),
                )
                SignInEvent.objects.create(
                    at=now,
                    kind=SignInEvent.Kind.LOCKOUT,
                    username=username[:150],
                    address=address,
                    detail=f"{scope} locked after {row.failures} failures",
                    request_id=request_id[:64],
                )
            row.save()
            rows.append(row)
        logger.warning(
            "Sign-in failed for username %r from %s (%s failure(s) for this username)",
            username[:150],
            address,
            rows[0].failures,
        )
        SignInEvent.objects.create(
            at=now,
            kind=SignInEvent.Kind.FAILURE,
            username=username[:150],
            address=address,
            detail=f"failure {rows[0].failures} of {limits[SignInThrottle.Scope.USERNAME]}",
            request_id=request_id[:64],
        )
    return _strongest([_refusal_for(row, now) for row in rows])


def signin_success_record(*, username: str) -> None:
    """Forget a username's failures after it signs in (its address keeps counting)."""
    SignInThrottle.objects.filter(
        scope=SignInThrottle.Scope.USERNAME, key=_username_key(username)
    ).delete()
