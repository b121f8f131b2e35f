"""Sign-in throttling: slow down, then refuse, repeated failed sign-ins.

Failures are counted per username (lower-cased, whether or not it exists)
and per client address. After `LOGIN_SLOWDOWN_AFTER` failures for a
username (half `LOGIN_ADDRESS_FAILURE_LIMIT` for an address) each further
attempt must wait a little longer; at `LOGIN_FAILURE_LIMIT` failures for a
username (or `LOGIN_ADDRESS_FAILURE_LIMIT` from an address) sign-in is
refused for `LOGIN_LOCKOUT_SECONDS`. Failures older than that are forgotten.

An attempt is counted as a failure before its password is checked
(`signin_attempt_reserve`, under a row lock) and given back if the
password was right (`signin_attempt_succeeded`): parallel guesses cannot
all pass the check before any of them is counted, so no more than the
limit ever reach the password check.

Every failure, refusal and lock-out is logged at WARNING (never the
password), kept as a `SignInEvent` row admins can read, and counted for the
metrics scrape (never the username or the address).
"""

import datetime
import logging
from dataclasses import dataclass

from django.db import DatabaseError, transaction
from django.utils import timezone

from observability import metrics
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


@dataclass(frozen=True)
class SignInAttempt:
    """A sign-in attempt already counted as a failure, its password not yet checked."""

    username: str
    address: str | None
    request_id: str
    at: datetime.datetime
    # The username's failures with this one, forgotten if the password was
    # right (those counted after it, still being checked, stay).
    username_failures: int
    # The address row's last failure time before this attempt was counted,
    # put back if the password was right (so a success slows nobody).
    address_last_failure_at: datetime.datetime | None


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
    if row.failures >= _limits()[row.scope]:
        # The limit is reached by attempts whose passwords are still being
        # checked: refuse as if locked (the lock is set when they fail).
        lockout = datetime.timedelta(seconds=conf.login_lockout_seconds())
        return SignInRefusal("locked", _ceil_seconds(row.last_failure_at + lockout - now))
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


def _locked_row(*, scope: str, key: str, now: datetime.datetime) -> SignInThrottle:
    """Return the throttle row for `scope` and `key`, locked until the transaction ends.

    The row is created if missing (INSERT ... ON CONFLICT DO NOTHING, so
    parallel first attempts do not collide). A concurrent success may delete
    it between the insert and the lock: then insert again.
    """
    for _ in range(10):
        SignInThrottle.objects.bulk_create(
            [
                SignInThrottle(
                    scope=scope, key=key, failures=0, first_failure_at=now, last_failure_at=now
                )
            ],
            ignore_conflicts=True,
        )
        row = SignInThrottle.objects.select_for_update().filter(scope=scope, key=key).first()
        if row is not None:
            return row
    raise DatabaseError(f"Sign-in throttle row {scope} {key!r} kept disappearing")


def _count_failure(row: SignInThrottle, now: datetime.datetime) -> None:
    if row.failures and _is_stale(row, now):
        row.failures = 0
        row.locked_until = None
        row.first_failure_at = now
    row.failures += 1
    row.last_failure_at = now


def signin_attempt_reserve(
    *,
    username: str,
    address: str | None,
    request_id: str = "",
    now: datetime.datetime | None = None,
) -> SignInAttempt | SignInRefusal:
    """Count a sign-in attempt as a failure before its password is checked, or refuse it.

    The username's and the address's rows are locked (in that order, so two
    attempts never wait for each other crosswise) while the refusal is
    decided and the attempt counted: an attempt that is not refused has its
    place within the limit. A refusal is logged and kept as an event.
    """
    now = now or _now()
    request_id = request_id[:64]
    with transaction.atomic():
        rows = [
            _locked_row(scope=scope, key=key, now=now)
            for scope, key in _keys(username=username, address=address)
        ]
        refusal = _strongest([_refusal_for(row, now) for row in rows])
        if refusal is not None:
            for row in rows:
                if row.failures == 0:  # made just now: leave no empty row behind
                    row.delete()
            _refusal_record(
                username=username,
                address=address,
                refusal=refusal,
                request_id=request_id,
                now=now,
            )
            return refusal
        address_last_failure_at = None
        for row in rows:
            if row.scope == SignInThrottle.Scope.ADDRESS:
                address_last_failure_at = row.last_failure_at
            _count_failure(row, now)
            if row.scope == SignInThrottle.Scope.USERNAME:
                username_failures = row.failures
            row.save(
                update_fields=["failures", "first_failure_at", "last_failure_at", "locked_until"]
            )
    return SignInAttempt(
        username=username,
        address=address,
        request_id=request_id,
        at=now,
        username_failures=username_failures,
        address_last_failure_at=address_last_failure_at,
    )


def _refusal_record(
    *,
    username: str,
    address: str | None,
    refusal: SignInRefusal,
    request_id: str,
    now: datetime.datetime,
) -> None:
    """Log, keep and count a sign-in attempt refused without checking the password."""
    metrics.signin_failure_observe(reason="refused")
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
        request_id=request_id,
    )


def signin_attempt_failed(
    *, attempt: SignInAttempt, now: datetime.datetime | None = None
) -> SignInRefusal | None:
    """Record a wrong password; return the refusal the next attempt will meet, if any.

    The failure was counted when the attempt was reserved; here the
    username or address is locked out if it reached its limit, and the
    failure is logged and kept. A row deleted meanwhile (a parallel attempt
    with the right password forgets the username's failures, an admin lifts
    a lock) is made again with this failure in it.
    """
    now = now or _now()
    limits = _limits()
    lockout = datetime.timedelta(seconds=conf.login_lockout_seconds())
    username, address = attempt.username, attempt.address
    rows = []
    with transaction.atomic():
        for scope, key in _keys(username=username, address=address):
            row = SignInThrottle.objects.select_for_update().filter(scope=scope, key=key).first()
            if row is None:
                row = _locked_row(scope=scope, key=key, now=now)
                _count_failure(row, now)
            if row.failures >= limits[scope] and row.locked_until is None:
                row.locked_until = now + lockout
                metrics.signin_lockout_observe(scope=scope)
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
                    request_id=attempt.request_id,
                )
            row.save(
                update_fields=["failures", "first_failure_at", "last_failure_at", "locked_until"]
            )
            rows.append(row)
        metrics.signin_failure_observe(reason="wrong_password")
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
            request_id=attempt.request_id,
        )
    return _strongest([_refusal_for(row, now) for row in rows])


def signin_attempt_succeeded(*, attempt: SignInAttempt) -> None:
    """Forget the username's failures and give the address back the attempt it counted.

    Attempts counted after this one and still being checked keep their
    places (they are failures if their passwords are wrong); a lock they
    set while this one was counted with them is lifted if they no longer
    reach the limit. An address keeps its other failures: one person's
    success does not clear a clinic's NAT. Rows deleted meanwhile are fine.
    """
    limits = _limits()
    with transaction.atomic():
        for scope, key in _keys(username=attempt.username, address=attempt.address):
            row = SignInThrottle.objects.select_for_update().filter(scope=scope, key=key).first()
            if row is None:
                continue
            if scope == SignInThrottle.Scope.USERNAME:
                row.failures = max(row.failures - attempt.username_failures, 0)
            else:
                row.failures = max(row.failures - 1, 0)
                if row.last_failure_at == attempt.at:
                    row.last_failure_at = attempt.address_last_failure_at
            if row.failures == 0:
                row.delete()
                continue
            if row.failures < limits[scope]:
                row.locked_until = None
            row.save(update_fields=["failures", "last_failure_at", "locked_until"])
