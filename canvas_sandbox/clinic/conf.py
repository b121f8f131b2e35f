"""Read the sandbox's settings lazily, so override_settings, env and control API changes apply."""

from typing import Any

from django.conf import settings
from django.core.signals import request_started
from django.dispatch import receiver

from canvas_sandbox.clinic.models import CanvasSetting, PluginVariable

#: The instance's stored variables and settings, read once per request (a list
#: of notes would otherwise read them once per note); forgotten when a request
#: starts and when the control API changes them.
_stored: dict[str, Any] = {}


@receiver(request_started)
def stored_forget(**kwargs: Any) -> None:
    """Forget the stored variables and settings read so far."""
    _stored.clear()


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


def plugin_variables() -> dict[str, str]:
    """Return the installed plugin's variables: the environment's, then the control API's."""
    variables = {"signing_policy": str(settings.SANDBOX_SIGNING_POLICY)}
    variables.update(settings.SANDBOX_PLUGIN_VARIABLES)
    if "variables" not in _stored:
        _stored["variables"] = dict(PluginVariable.objects.values_list("name", "value"))
    variables.update(_stored["variables"])
    return variables


def restrict_signing_to_provider() -> bool:
    """Return Canvas's own switch (SANDBOX_RESTRICT_SIGNING_TO_PROVIDER, or the control API's)."""
    if "settings" not in _stored:
        _stored["settings"] = dict(CanvasSetting.objects.values_list("name", "value"))
    value = _stored["settings"].get("restrict_signing_to_provider")
    if value is None:
        return bool(settings.SANDBOX_RESTRICT_SIGNING_TO_PROVIDER)
    return value == "true"


def clinic_time_zone() -> str:
    """Return the installation's time zone (SANDBOX_CLINIC_TIME_ZONE)."""
    return str(settings.SANDBOX_CLINIC_TIME_ZONE)


def checkin_converts() -> bool:
    """Return whether check-in converts an appointment note into an encounter note."""
    return bool(settings.SANDBOX_CHECKIN_CONVERTS)


def revocation_endpoint() -> bool:
    """Return whether /auth/revoke_token/ answers (SANDBOX_REVOCATION_ENDPOINT)."""
    return bool(settings.SANDBOX_REVOCATION_ENDPOINT)
