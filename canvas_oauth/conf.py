"""Settings of the Canvas link, read lazily so `override_settings` works."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# A token is refreshed when it expires within this margin.
REFRESH_MARGIN = timedelta(minutes=5)
# A started link flow (state + PKCE verifier) is valid this long.
FLOW_TTL = timedelta(minutes=10)
# At most this many link flows are pending in one session (several tabs).
MAX_PENDING_FLOWS = 5
# A forced refresh is skipped when another worker refreshed this recently.
FORCED_REFRESH_DEDUP = timedelta(seconds=10)


def _required(name: str) -> str:
    value = getattr(settings, name, "")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return value


def base_url() -> str:
    """Return CANVAS_BASE_URL without a trailing slash."""
    return _required("CANVAS_BASE_URL").rstrip("/")


def client_id() -> str:
    """Return CANVAS_CLIENT_ID."""
    return _required("CANVAS_CLIENT_ID")


def client_secret() -> str:
    """Return CANVAS_CLIENT_SECRET ('' for a public client)."""
    return getattr(settings, "CANVAS_CLIENT_SECRET", "") or ""


def scopes() -> list[str]:
    """Return the scopes to ask for (CANVAS_SCOPES, default offline_access)."""
    raw = getattr(settings, "CANVAS_SCOPES", "") or "offline_access"
    return raw.replace(",", " ").split()


def redirect_uri() -> str:
    """Return CANVAS_REDIRECT_URI ('' means: build it from the request)."""
    return getattr(settings, "CANVAS_REDIRECT_URI", "") or ""


def revoke_on_unlink() -> bool:
    """Return whether unlinking revokes the refresh token at Canvas."""
    return bool(getattr(settings, "CANVAS_REVOKE_ON_UNLINK", True))


def timeouts() -> tuple[float, float]:
    """Return the (connect, read) timeouts in seconds for calls to Canvas."""
    return (
        float(getattr(settings, "CANVAS_CONNECT_TIMEOUT", 3.05)),
        float(getattr(settings, "CANVAS_READ_TIMEOUT", 15.0)),
    )


def encryption_keys() -> list[str]:
    """Return TOKEN_ENCRYPTION_KEYS as a list (first encrypts, all decrypt)."""
    keys = getattr(settings, "TOKEN_ENCRYPTION_KEYS", [])
    if isinstance(keys, str):
        keys = keys.split(",")
    return [key.strip() for key in keys if key and key.strip()]
