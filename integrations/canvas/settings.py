"""The one settings object of the Canvas integration, in django-oauth-toolkit's style.

`DEFAULTS` lists every setting with its default; `canvas_settings.BASE_URL`
reads `settings.CANVAS_BASE_URL`, and a setting that is absent or None (an
unset environment variable, see portal/settings.py) takes its default.
Values are read and validated once, on first use, and read again after
`setting_changed` (so `override_settings` works); never at import time. A
required value that is missing raises ImproperlyConfigured naming the
environment variable, when it is used.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

PREFIX = "CANVAS_"

DEFAULTS: dict[str, Any] = {
    # The Canvas instance root, e.g. https://x.canvasmedical.com.
    "BASE_URL": "",
    "CLIENT_ID": "",
    # Empty for a public client (PKCE only).
    "CLIENT_SECRET": "",
    # Space or comma separated.
    "SCOPES": "offline_access",
    # On Canvas Platform: <org prefix>__note_sign_api.
    "PLUGIN_NAME": "note_sign_api",
    # Empty: built from the request (https://<host>/canvas/callback/).
    "REDIRECT_URI": "",
    "REVOKE_ON_UNLINK": True,
    # Seconds, on every call.
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT": 15.0,
    # Connections to Canvas one process keeps open.
    "HTTP_POOL_SIZE": 20,
}

#: Settings without which no call can be made.
REQUIRED = frozenset({"BASE_URL", "CLIENT_ID", "PLUGIN_NAME"})


def _positive(name: str, value: Any, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise ImproperlyConfigured(f"{PREFIX}{name} must be a positive number.")
    return number


def _validated(name: str, value: Any) -> Any:
    """Return `value` in the type the integration uses, or raise ImproperlyConfigured."""
    if name in ("CONNECT_TIMEOUT", "READ_TIMEOUT"):
        return _positive(name, value, float)
    if name == "HTTP_POOL_SIZE":
        return _positive(name, value, int)
    if name == "REVOKE_ON_UNLINK":
        return bool(value)
    if name == "SCOPES":
        scopes = str(value or DEFAULTS["SCOPES"]).replace(",", " ").split()
        return tuple(scopes)
    text = str(value or "").strip()
    if name == "BASE_URL" and text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ImproperlyConfigured(
                f"{PREFIX}BASE_URL must be an http(s) URL such as https://x.canvasmedical.com."
            )
        text = text.rstrip("/")
    if name == "PLUGIN_NAME":
        text = text.strip("/")
    return text


class CanvasSettings:
    """Attribute access to the Canvas settings: `canvas_settings.READ_TIMEOUT`."""

    def __init__(self, defaults: dict[str, Any] = DEFAULTS) -> None:
        self.defaults = defaults
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError(f"No Canvas setting {name!r}.")
        if name not in self._cache:
            raw = getattr(settings, PREFIX + name, None)
            if raw is None:
                raw = self.defaults[name]
            self._cache[name] = _validated(name, raw)
        value = self._cache[name]
        if name in REQUIRED and not value:
            raise ImproperlyConfigured(f"Set the {PREFIX}{name} environment variable.")
        return value

    def reload(self) -> None:
        """Forget every value read so far (they are read again on next use)."""
        self._cache.clear()

    # -- values derived from several settings ------------------------------
    @property
    def timeouts(self) -> tuple[float, float]:
        """Return the (connect, read) timeouts of every call."""
        return self.CONNECT_TIMEOUT, self.READ_TIMEOUT

    @property
    def plugin_api_url(self) -> str:
        """Return the plugin API root, ending with a slash."""
        return f"{self.BASE_URL}/plugin-io/api/{self.PLUGIN_NAME}/"

    @property
    def auth_url(self) -> str:
        """Return the authorization server root, ending with a slash."""
        return f"{self.BASE_URL}/auth/"


canvas_settings = CanvasSettings()


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(PREFIX):
        canvas_settings.reload()
