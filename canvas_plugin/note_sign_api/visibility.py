"""Who may see which notes: the minimum-necessary rule every read and action starts from.

Canvas scopes its own reads by role and patient group; a plugin reads through
views with no such scope, so the plugin decides (plugin variable `visibility`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from canvas_sdk.v1.data import CareTeamMembership, Note, Staff, StaffRole
from canvas_sdk.v1.data.care_team import CareTeamMembershipStatus
from django.db.models import Exists, OuterRef, Q

from note_sign_api.codes import Category, State, Visibility

#: The plugin variable that says which notes a caller sees (codes.Visibility).
VISIBILITY_VARIABLE = "visibility"
#: Where the plugin runner hands every handler the instance's zone (`self.environment`).
INSTALLATION_TIME_ZONE = "INSTALLATION_TIME_ZONE"


def visibility_from(variables: Any) -> Visibility:
    """Return the plugin variable `visibility`: ALL when set to "all", else RELATED."""
    raw = str((variables or {}).get(VISIBILITY_VARIABLE) or "").strip().lower()
    return Visibility.ALL if raw == Visibility.ALL else Visibility.RELATED


def installation_zone(environment: Any) -> ZoneInfo:
    """Return the installation's time zone (INSTALLATION_TIME_ZONE), UTC when unset or unknown."""
    name = str((environment or {}).get(INSTALLATION_TIME_ZONE) or "UTC")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return ZoneInfo("UTC")


def clinic_day_bounds(zone: ZoneInfo, day: date | None = None) -> tuple[datetime, datetime]:
    """Return [midnight, next midnight) of `day` (default: today) in the clinic's zone."""
    day = day or datetime.now(zone).date()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    return start, datetime(following.year, following.month, following.day, tzinfo=zone)


def administrative_only(caller: Staff) -> bool:
    """Return whether the caller has roles and every one is administrative (domain ADM)."""
    domains = set(StaffRole.objects.filter(staff_id=caller.dbid).values_list("domain", flat=True))
    return domains == {StaffRole.RoleDomain.ADMINISTRATIVE.value}


def visible_notes(caller: Staff, variables: Any, environment: Any = None) -> Any:
    """Return the notes (with a current state) `caller` may see: the minimum-necessary rule.

    With `visibility` = all: every note. Otherwise administrative-only staff
    see the clinic's today: its appointment notes and the visits checked in
    from them (check-in converts the appointment into an encounter note in
    CVD, which the front desk still follows until it is locked); everyone else sees
    notes they are the provider or supervising provider of, notes whose
    provider they default-supervise, and notes of patients on whose care team
    they are active. Every list, count, read and action starts here, so an
    invisible note answers as one that does not exist.
    """
    notes = Note.objects.filter(current_state__isnull=False)
    if visibility_from(variables) == Visibility.ALL:
        return notes
    if administrative_only(caller):
        start, end = clinic_day_bounds(installation_zone(environment))
        return notes.filter(
            Q(note_type_version__category=Category.APPOINTMENT)
            | Q(current_state__state=State.CHECKED_IN),
            datetime_of_service__gte=start,
            datetime_of_service__lt=end,
        )
    care_team = CareTeamMembership.objects.filter(
        staff_id=caller.dbid, status=CareTeamMembershipStatus.ACTIVE, patient_id=OuterRef("patient")
    )
    return notes.filter(
        Q(provider_id=caller.dbid)
        | Q(supervising_provider_id=caller.dbid)
        | Q(provider__default_supervising_provider_id=caller.dbid)
        | Exists(care_team)
    )
