"""What one run is pointed at: read from the environment only, nothing stored."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The portal's defaults (portal/settings.py, integrations/canvas/settings.py).
PORTAL_CONFIRM_SECONDS = 30.0
PORTAL_TIME_ZONE = "UTC"
PORTAL_PLUGIN_NAME = "note_sign_api"


class ContractConfigError(ValueError):
    """An environment variable is missing or unreadable; the message names it."""


class TargetKind(StrEnum):
    """Where the cases run: a sandbox this run started, or an instance given by URL."""

    SANDBOX = "sandbox"
    INSTANCE = "instance"


@dataclass(frozen=True)
class PortalSettings:
    """The portal settings the cases compare the instance with (from the environment)."""

    confirm_seconds: float = PORTAL_CONFIRM_SECONDS
    clinic_time_zone: str = PORTAL_TIME_ZONE
    revoke_on_unlink: bool = True


@dataclass(frozen=True)
class Target:
    """One Canvas instance and the credentials for it; tokens never appear in repr()."""

    base_url: str
    plugin_name: str
    token: str = field(repr=False)
    token_2: str | None = field(default=None, repr=False)
    write: bool = False
    note_ids: tuple[str, ...] = ()
    appointment_id: str | None = None
    client_id: str = "contract-probe"
    kind: TargetKind = TargetKind.INSTANCE
    portal: PortalSettings = PortalSettings()

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values no output may contain."""
        return tuple(value for value in (self.token, self.token_2) if value)


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def portal_settings_read(environ: Mapping[str, str] = os.environ) -> PortalSettings:
    """Return the portal settings from the environment, with the portal's defaults."""
    raw = environ.get("NOTES_CONFIRM_SECONDS", "").strip()
    try:
        confirm = float(raw) if raw else PORTAL_CONFIRM_SECONDS
    except ValueError as error:
        raise ContractConfigError("NOTES_CONFIRM_SECONDS must be a number.") from error
    zone = environ.get("CLINIC_TIME_ZONE") or environ.get("DJANGO_TIME_ZONE") or PORTAL_TIME_ZONE
    return PortalSettings(
        confirm_seconds=confirm,
        clinic_time_zone=zone.strip(),
        revoke_on_unlink=_flag(environ.get("CANVAS_REVOKE_ON_UNLINK"), default=True),
    )


def target_from_env(environ: Mapping[str, str] = os.environ) -> Target | None:
    """Return the instance CONTRACT_* points at, or None (run against a sandbox)."""
    base_url = environ.get("CONTRACT_BASE_URL", "").strip().rstrip("/")
    if not base_url:
        return None
    if not base_url.startswith(("https://", "http://")):
        raise ContractConfigError("CONTRACT_BASE_URL must be an http(s) URL.")
    token = environ.get("CONTRACT_TOKEN", "").strip()
    if not token:
        raise ContractConfigError("Set CONTRACT_TOKEN (a staff member's access token).")
    write = _flag(environ.get("CONTRACT_WRITE"), default=False)
    note_ids = _ids(environ.get("CONTRACT_NOTE_IDS"))
    if write and not note_ids:
        raise ContractConfigError("CONTRACT_WRITE=yes needs CONTRACT_NOTE_IDS (test notes).")
    plugin = environ.get("CONTRACT_PLUGIN_NAME") or environ.get("CANVAS_PLUGIN_NAME")
    return Target(
        base_url=base_url,
        plugin_name=(plugin or PORTAL_PLUGIN_NAME).strip().strip("/"),
        token=token,
        token_2=environ.get("CONTRACT_TOKEN_2", "").strip() or None,
        write=write,
        note_ids=note_ids,
        appointment_id=environ.get("CONTRACT_APPOINTMENT_ID", "").strip() or None,
        client_id=(
            environ.get("CONTRACT_CLIENT_ID") or environ.get("CANVAS_CLIENT_ID") or "contract-probe"
        ).strip(),
        portal=portal_settings_read(environ),
    )
