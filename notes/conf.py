"""Settings of the notes app, read lazily so `override_settings` works."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _required_str(name: str) -> str:
    value = getattr(settings, name, "")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return str(value)


def plugin_api_url() -> str:
    """Return the plugin API root, ending with a slash."""
    base = _required_str("CANVAS_BASE_URL").rstrip("/")
    plugin = _required_str("CANVAS_PLUGIN_NAME").strip("/")
    return f"{base}/plugin-io/api/{plugin}/"


def timeouts() -> tuple[float, float]:
    """Return the (connect, read) timeouts in seconds for every call to Canvas."""
    connect = float(getattr(settings, "CANVAS_CONNECT_TIMEOUT", 3.05))
    read = float(getattr(settings, "CANVAS_READ_TIMEOUT", 15.0))
    if connect <= 0 or read <= 0:
        raise ImproperlyConfigured(
            "CANVAS_CONNECT_TIMEOUT and CANVAS_READ_TIMEOUT must be positive numbers."
        )
    return connect, read


def pool_size() -> int:
    """Return how many connections to Canvas one process keeps open."""
    return int(getattr(settings, "NOTES_HTTP_POOL_SIZE", 20))


def pending_window() -> timedelta:
    """Return how long a pending attempt blocks an identical one (double submit guard).

    Longer than one call can take (connect + read timeout, twice for the
    401 retry, plus a token refresh), so a live attempt always blocks.
    """
    seconds = getattr(settings, "NOTES_PENDING_WINDOW_SECONDS", None)
    if seconds is None:
        connect, read = timeouts()
        seconds = 3 * (connect + read) + 10
    return timedelta(seconds=float(seconds))


def page_size() -> int:
    """Return how many notes one worklist page shows."""
    return int(getattr(settings, "NOTES_PAGE_SIZE", 25))
