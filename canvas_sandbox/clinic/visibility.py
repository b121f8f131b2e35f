"""Which notes a staff member may see: the plugin's minimum-necessary rule over the sandbox's notes.

The plugin variable `visibility` (`related`, the default, or `all`) as the
sandbox's installed plugin has it (conf.plugin_variables). Every list,
count, read and action starts from notes_visible_to, so a note the caller
may not see answers exactly as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db.models import Exists, OuterRef, Q, QuerySet
from note_sign_api.codes import Category, State, Visibility

from canvas_sandbox.clinic import conf, times
from canvas_sandbox.clinic.models import CareTeamMembership, Note, Staff, StaffRole


def clinic_day_bounds(
    *, now: dt.datetime | None = None, day: dt.date | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """Return [midnight, next midnight) of `day` (default: today) in the installation's zone."""
    zone = zoneinfo.ZoneInfo(conf.clinic_time_zone())
    today = day or (now or times.now()).astimezone(zone).date()
    start = dt.datetime.combine(today, dt.time.min, tzinfo=zone)
    following = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, following


def staff_is_administrative_only(*, staff: Staff) -> bool:
    """Return whether the staff member has roles and all of them are administrative."""
    domains = set(staff.roles.values_list("domain", flat=True))
    return domains == {StaffRole.ADMINISTRATIVE}


def notes_visible_to(staff: Staff, *, now: dt.datetime | None = None) -> QuerySet[Note]:
    """Return the notes `staff` may see.

    With `visibility` = all: every note. Otherwise administrative-only staff
    see the clinic's today: appointment notes and visits checked in from them; everyone else the
    notes they are the provider or supervising provider of, the notes of
    providers they supervise by default, and the notes of patients on whose
    care team they are active.
    """
    notes = Note.objects.all()
    if conf.plugin_variables().get("visibility", "").strip().lower() == Visibility.ALL:
        return notes
    if staff_is_administrative_only(staff=staff):
        start, end = clinic_day_bounds(now=now)
        # Today's appointments and the visits checked in from them (check-in
        # converts the note into an encounter note in CVD): the front desk
        # follows a visit until the provider locks it.
        return notes.filter(
            Q(note_type__category=Category.APPOINTMENT) | Q(state=State.CHECKED_IN),
            datetime_of_service__gte=start,
            datetime_of_service__lt=end,
        )
    care_team = CareTeamMembership.objects.filter(
        staff=staff, status=CareTeamMembership.ACTIVE, patient_id=OuterRef("patient_id")
    )
    return notes.filter(
        Q(provider=staff)
        | Q(supervising_provider=staff)
        | Q(provider__supervisor=staff)
        | Exists(care_team)
    )
