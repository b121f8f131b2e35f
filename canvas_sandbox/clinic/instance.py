"""The control API's writes to the instance: plugin variables, Canvas settings, care teams.

The plugin's variables and Canvas's own settings are kept apart: a plugin
variable changes what the plugin answers, a Canvas setting what Canvas does
when it applies effects, so a mismatch between the two shows end to end.
"""

from __future__ import annotations

from typing import Any

from canvas_sandbox.clinic import conf
from canvas_sandbox.clinic.exceptions import ControlError
from canvas_sandbox.clinic.models import (
    CanvasSetting,
    CareTeamMembership,
    PluginVariable,
    Staff,
)
from canvas_sandbox.clinic.notes import patient_named

#: The plugin's variables the control API may set, and the values each accepts.
PLUGIN_VARIABLES: dict[str, tuple[str, ...]] = {
    "signing_policy": ("provider", "any_staff"),
    "visibility": ("related", "all"),
    "restrict_signing_to_provider": ("true", "false"),
}
#: Canvas's own settings the control API may set (booleans).
CANVAS_SETTINGS = ("restrict_signing_to_provider",)


def plugin_variables_set(*, values: dict[str, Any]) -> dict[str, str]:
    """Set some plugin variables (None resets one to the environment's); return them all."""
    for name, value in values.items():
        if name not in PLUGIN_VARIABLES:
            raise ControlError(f"variables are {', '.join(PLUGIN_VARIABLES)}.")
        if value is None:
            PluginVariable.objects.filter(name=name).delete()
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if text not in PLUGIN_VARIABLES[name]:
            raise ControlError(f"{name} must be one of {', '.join(PLUGIN_VARIABLES[name])}.")
        PluginVariable.objects.update_or_create(name=name, defaults={"value": text})
    conf.stored_forget()
    return conf.plugin_variables()


def canvas_settings_get() -> dict[str, bool]:
    """Return Canvas's own settings as the sandbox applies them."""
    return {"restrict_signing_to_provider": conf.restrict_signing_to_provider()}


def canvas_settings_set(*, values: dict[str, Any]) -> dict[str, bool]:
    """Set Canvas's own settings (booleans; None resets to the environment's); return them."""
    for name, value in values.items():
        if name not in CANVAS_SETTINGS:
            raise ControlError(f"settings are {', '.join(CANVAS_SETTINGS)}.")
        if value is None:
            CanvasSetting.objects.filter(name=name).delete()
        elif isinstance(value, bool):
            text = "true" if value else "false"
            CanvasSetting.objects.update_or_create(name=name, defaults={"value": text})
        else:
            raise ControlError(f"{name} must be true, false or null.")
    conf.stored_forget()
    return canvas_settings_get()


def care_team_set(*, patient: str, username: str, status: str) -> dict[str, str]:
    """Put a staff member on a patient's care team (full name; created if unknown) with `status`."""
    if status not in dict(CareTeamMembership.STATUS_CHOICES):
        raise ControlError("status must be active or inactive.")
    staff = Staff.objects.filter(user__username=username).first()
    if staff is None:
        raise ControlError("staff must be the username of a sandbox staff member.")
    person = patient_named(patient)
    CareTeamMembership.objects.update_or_create(
        patient=person, staff=staff, defaults={"status": status}
    )
    return {"patient": person.key, "staff": staff.key, "status": status}
