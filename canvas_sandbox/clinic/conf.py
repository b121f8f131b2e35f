"""Read the sandbox's settings lazily, so override_settings, env and control API changes apply."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

from canvas_sandbox.clinic.models import CanvasSetting, PluginVariable


def redirect_uris() -> list[str]:
    """Return every redirect URI the pre-registered clients accept."""
    return list(dict.fromkeys(settings.SANDBOX_REDIRECT_URIS))


def portal_url() -> str:
    """Return the portal's root URL (the /app launcher and the home page link to it)."""
    return settings.SANDBOX_PORTAL_URL


def control_enabled() -> bool:
    """Return whether the control API answers (SANDBOX_CONTROL)."""
    return bool(settings.SANDBOX_CONTROL)


def fault_defaults() -> dict[str, Any]:
    """Return the fault settings from the environment (SANDBOX_FAULT_*)."""
    return dict(settings.SANDBOX_FAULT_DEFAULTS)


def access_token_lifetime() -> int:
    """Return the access-token lifetime in seconds (SANDBOX_ACCESS_TOKEN_LIFETIME)."""
    return int(settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"])


def signing_policy() -> str:
    """Return the plugin variable `signing_policy` (SANDBOX_SIGNING_POLICY)."""
    return plugin_variables()["signing_policy"]


#: The variables read once for one answer (plugin_variables_once), else None.
_variables_once: ContextVar[dict[str, str] | None] = ContextVar("variables_once", default=None)


def _variables_read() -> dict[str, str]:
    variables = {"signing_policy": str(settings.SANDBOX_SIGNING_POLICY)}
    variables.update(settings.SANDBOX_PLUGIN_VARIABLES)
    variables.update(PluginVariable.objects.values_list("name", "value"))
    return variables


def plugin_variables() -> dict[str, str]:
    """Return the installed plugin's variables: the environment's, then the control API's."""
    once = _variables_once.get()
    return dict(once) if once is not None else _variables_read()


@contextmanager
def plugin_variables_once() -> Iterator[None]:
    """Read the variables once for everything inside (one answer of many summaries)."""
    token = _variables_once.set(_variables_read())
    try:
        yield
    finally:
        _variables_once.reset(token)


def restrict_signing_to_provider() -> bool:
    """Return Canvas's own switch (SANDBOX_RESTRICT_SIGNING_TO_PROVIDER, or the control API's)."""
    row = CanvasSetting.objects.filter(name="restrict_signing_to_provider").first()
    if row is None:
        return bool(settings.SANDBOX_RESTRICT_SIGNING_TO_PROVIDER)
    return row.value == "true"


def clinic_time_zone() -> str:
    """Return the installation's time zone (SANDBOX_CLINIC_TIME_ZONE)."""
    return str(settings.SANDBOX_CLINIC_TIME_ZONE)


def checkin_converts() -> bool:
    """Return whether check-in converts an appointment note into an encounter note."""
    return bool(settings.SANDBOX_CHECKIN_CONVERTS)


def revocation_endpoint() -> bool:
    """Return whether /auth/revoke_token/ answers (SANDBOX_REVOCATION_ENDPOINT)."""
    return bool(settings.SANDBOX_REVOCATION_ENDPOINT)
