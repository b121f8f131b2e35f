"""Seed the plugin runner's SQLite database for runner_check/check.py.

`canvas run-plugin --db-seed-file` executes this file (with a writable connection,
after resetting the database). It creates staff, a non-staff user, patients, note
types and notes in known states, and writes their ids as JSON to the file named by
RUNNER_CHECK_SEED_OUT so the check knows whom to act as and on which note.
"""

import json
import os
from datetime import UTC, datetime, timedelta

from canvas_sdk.test_utils.factories import (
    CanvasUserFactory,
    NoteFactory,
    NoteTypeFactory,
    PatientFactory,
    StaffFactory,
)
from canvas_sdk.v1.data import CareTeamMembership
from canvas_sdk.v1.data.note import CurrentNoteStateEvent, NoteStateChangeEvent

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def staff(first_name, last_name):
    """Create an active staff member with a staff user."""
    user = CanvasUserFactory(is_staff=True)
    return StaffFactory(user=user, active=True, first_name=first_name, last_name=last_name)


provider = staff("Ada", "Lovelace")
supervisor = staff("Grace", "Hopper")
other = staff("Alan", "Turing")
# On no care team and supervising nobody: sees no note unless visibility=all.
stranger = staff("Edsger", "Dijkstra")
non_staff = CanvasUserFactory(is_staff=False)
patient = PatientFactory(first_name="Pat", last_name="Quinn")
# Contract v3 (visibility=related): `other` sees the patient's notes through its care team,
# so its refusals are the signer rule's 403, not the invisible note's 404.
CareTeamMembership.objects.create(
    patient=patient,
    staff=other,
    status="active",
    lead=False,
    role_code="",
    role_system="",
    role_display="",
)

types = {
    "encounter": NoteTypeFactory(name="Office visit", category="encounter", is_sig_required=True),
    "encounter_nosig": NoteTypeFactory(
        name="Phone call", category="encounter", is_sig_required=False
    ),
    "appointment": NoteTypeFactory(
        name="Appointment", category="appointment", is_sig_required=True
    ),
    "data": NoteTypeFactory(name="Data entry", category="data", is_sig_required=True),
}

#: name: (kind, state history after NEW as (state, by), datetime offset in hours)
NOTES = {
    "new": ("encounter", [], 0),
    "ulk": ("encounter", [("LKD", provider), ("ULK", provider)], 1),
    "lkd": ("encounter", [("LKD", provider)], 2),
    "sgn": ("encounter", [("LKD", provider), ("SGN", provider)], 3),
    "nosig_lkd": ("encounter_nosig", [("LKD", provider)], 4),
    "appt_bkd": ("appointment", [("BKD", None)], 5),
    "appt_cvd": ("appointment", [("BKD", None), ("CVD", None)], 6),
    "data_new": ("data", [], 7),
}

ids = {
    "provider": {"user": provider.user.dbid, "staff": str(provider.id)},
    "supervisor": {"user": supervisor.user.dbid, "staff": str(supervisor.id)},
    "other": {"user": other.user.dbid, "staff": str(other.id)},
    "stranger": {"user": stranger.user.dbid, "staff": str(stranger.id)},
    "non_staff": {"user": non_staff.dbid},
    "patient": str(patient.id),
    "notes": {},
}
for name, (kind, history, hours) in NOTES.items():
    note = NoteFactory(
        note_type_version=types[kind],
        provider=provider,
        supervising_provider=supervisor,
        patient=patient,
        title=f"Note {name}",
        datetime_of_service=BASE + timedelta(hours=hours),
    )
    state = "NEW"
    for state, by in history:
        NoteStateChangeEvent.objects.create(
            note=note, state=state, originator=by.user if by is not None else None
        )
    CurrentNoteStateEvent.objects.create(note=note, state=state)
    ids["notes"][name] = str(note.id)

with open(os.environ["RUNNER_CHECK_SEED_OUT"], "w") as out:
    json.dump(ids, out)
