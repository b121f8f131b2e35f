"""Read the portal's own settings lazily, so `override_settings` works in tests."""

from django.conf import settings


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
