"""Read the portal's own settings lazily, so `override_settings` works in tests."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _int(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def session_idle_timeout() -> int:
    """Return how many seconds a session may sit idle before it ends."""
    return _int("SESSION_IDLE_TIMEOUT", 900)


def session_absolute_timeout() -> int:
    """Return how many seconds after sign-in a session ends, active or not."""
    return _int("SESSION_ABSOLUTE_TIMEOUT", 43_200)


def login_failure_limit() -> int:
    """Return how many failures for one username lock it out."""
    return _int("LOGIN_FAILURE_LIMIT", 5)


def login_address_failure_limit() -> int:
    """Return how many failures from one client address lock that address out."""
    return _int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)


def login_lockout_seconds() -> int:
    """Return how long a lock-out lasts, and how long failures are remembered."""
    return _int("LOGIN_LOCKOUT_SECONDS", 900)


def login_slowdown_after() -> int:
    """Return after how many failures each further attempt must wait."""
    return _int("LOGIN_SLOWDOWN_AFTER", 3)


def login_slowdown_seconds() -> int:
    """Return the wait after the first slowed failure (it grows with each one)."""
    return _int("LOGIN_SLOWDOWN_SECONDS", 5)


def trusted_proxy_count() -> int:
    """Return how many reverse proxies in front of the portal append to X-Forwarded-For.

    0 means none: the socket's address is the client's, and no forwarded
    header (X-Forwarded-For, X-Request-ID) is believed.
    """
    value = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXY_COUNT must be a whole number, 0 or more (got {value!r})."
        )
    return value


def _networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    value = getattr(settings, name, ["127.0.0.1", "::1"])
    try:
        return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in value)
    except (TypeError, ValueError, AttributeError):
        raise ImproperlyConfigured(
            f"{name} must be a list of addresses or networks (got {value!r})."
        ) from None


def healthz_allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Return the client addresses /healthz shows its details to (default: loopback)."""
    return _networks("HEALTHZ_ALLOWED_IPS")


def healthz_token() -> str:
    """Return the bearer token that also unlocks /healthz's details ("" for none)."""
    return str(getattr(settings, "HEALTHZ_TOKEN", "") or "")


def metrics_allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Return the client addresses allowed to scrape /metrics (default: HEALTHZ_ALLOWED_IPS)."""
    if getattr(settings, "METRICS_ALLOWED_IPS", None) is None:
        return healthz_allowed_networks()
    return _networks("METRICS_ALLOWED_IPS")


def metrics_token() -> str:
    """Return the bearer token a Prometheus scrape sends ("" for none)."""
    return str(getattr(settings, "METRICS_TOKEN", "") or "")
