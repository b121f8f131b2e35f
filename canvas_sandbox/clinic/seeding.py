"""The demo clinic the `seed` command writes: staff, clients, patients, notes.

Deterministic (a seeded random generator, fixed UUIDs) and idempotent:
rows are looked up by their fixed keys, so seeding twice adds nothing.
Today's appointments get ids derived from the date, so a later day's seed
adds that day's appointments (demos always have some) and no duplicates.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_application_model

from canvas_sandbox.clinic import conf
from canvas_sandbox.clinic.content_seed import SEEDED, commands_seed
from canvas_sandbox.clinic.engine import NoteState
from canvas_sandbox.clinic.models import Note, NoteStateEvent, Patient, Staff
from canvas_sandbox.clinic.notes import NOTE_KINDS, note_type_for_kind
from canvas_sandbox.clinic.seed_teams import seed_roles_and_care_teams
from canvas_sandbox.clinic.tokens import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
)

DEMO_PASSWORD = "canvas-demo"
_NAMESPACE = uuid.UUID("5f1f0b6e-3c1a-4d0e-9f4e-6a2b1c0d9e8f")


@dataclass(frozen=True)
class StaffSpec:
    """One demo sign-in: username, name parts, role, whether it is staff/active."""

    username: str
    prefix: str
    first: str
    last: str
    role: str = Staff.ROLE_PROVIDER
    is_staff_member: bool = True
    active: bool = True


STAFF = [
    StaffSpec("provider", "Dr.", "Riley", "Chen"),
    StaffSpec("provider2", "Dr.", "Sam", "Okafor"),
    StaffSpec("frontdesk", "", "Jordan", "Lee", role=Staff.ROLE_FRONT_DESK),
    StaffSpec("inactive", "Dr.", "Morgan", "Hale", active=False),
    StaffSpec("patientuser", "", "Pat", "Ient", is_staff_member=False),
]
#: Added with contract v2, from a generator of their own so the keys above stay put.
STAFF_V2 = [
    StaffSpec("nurse", "", "Avery", "Brooks", role=Staff.ROLE_NURSE_PRACTITIONER),
]
#: Added with contract v3: a nurse on some patients' care teams, a provider with no notes.
STAFF_V3 = [
    StaffSpec("rn", "", "Casey", "Nguyen", role=Staff.ROLE_NURSE),
    StaffSpec("locum", "Dr.", "Drew", "Vance"),
]
#: Who supervises whom (co-signs their notes).
SUPERVISORS = {"nurse": "provider"}

FIRST_NAMES = [
    "Ava", "Ben", "Chloe", "Diego", "Elena", "Farah", "Gus", "Hana", "Ivan", "Jade",
    "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Theo", "Yuki",
]  # fmt: skip
LAST_NAMES = [
    "Abbott", "Baker", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Oliveira", "Patel",
    "Quintero", "Rossi", "Schmidt", "Tanaka",
]  # fmt: skip

ENCOUNTER_STATES = ["NEW", "PSH", "LKD", "ULK", "DLT", "RLK", "RST", "RCL", "UND", "DSC", "SGN"]
APPOINTMENT_STATES = ["SCH", "BKD", "CVD", "CLD", "NSW", "RVT", "CNF", "LKD", "SGN", "ULK"]
TITLES = {
    "encounter": ["Follow-up visit", "Annual physical", "Sick visit", "Medication review"],
    "encounter_nosig": ["Phone call", "Refill request call", "Lab results call"],
    "appointment": ["Office visit appointment", "New patient appointment"],
    "letter": ["Referral letter", "School excuse letter", "Work note"],
}
NOTE_COUNT = 60


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def seed_clinic(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Write the demo clinic (idempotent); return how many rows each kind added."""
    now = now or timezone.now()
    rng = random.Random(20261128)  # noqa: S311 - demo data, not secrets
    added = {"staff": 0, "patients": 0, "notes": 0, "commands": 0}
    with transaction.atomic():
        staff = _seed_staff(rng, added)
        _seed_clients()
        patients = _seed_patients(rng, added)
        _seed_notes(rng, added, staff=staff, patients=patients, now=now)
        _seed_todays_appointments(added, staff=staff, patients=patients, now=now)
        _seed_v2_notes(added, staff=staff, patients=patients, now=now)
        seed_roles_and_care_teams(staff=staff, patients=patients)
        added["commands"] = commands_seed()
    return added


def _seed_staff(rng: random.Random, added: dict[str, int]) -> dict[str, Staff]:
    staff = _seed_staff_specs(rng, added, STAFF)
    staff.update(_seed_staff_specs(random.Random(20270101), added, STAFF_V2))  # noqa: S311
    staff.update(_seed_staff_specs(random.Random(20280101), added, STAFF_V3))  # noqa: S311
    for username, supervisor in SUPERVISORS.items():
        if staff[username].supervisor_id is None:
            staff[username].supervisor = staff[supervisor]
            staff[username].save(update_fields=["supervisor"])
    return staff


def _seed_staff_specs(
    rng: random.Random, added: dict[str, int], specs: list[StaffSpec]
) -> dict[str, Staff]:
    users = get_user_model().objects
    staff: dict[str, Staff] = {}
    for spec in specs:
        key = f"{rng.getrandbits(128):032x}"
        user = users.filter(username=spec.username).first()
        if user is None:
            user = users.create_user(
                username=spec.username,
                password=DEMO_PASSWORD,
                first_name=spec.first,
                last_name=spec.last,
                is_active=spec.active,
            )
        if spec.is_staff_member:
            member, created = Staff.objects.get_or_create(
                user=user,
                defaults={
                    "key": key,
                    "prefix": spec.prefix,
                    "first_name": spec.first,
                    "last_name": spec.last,
                    "role": spec.role,
                },
            )
            added["staff"] += created
            staff[spec.username] = member
    return staff


def _seed_clients() -> None:
    """Register (or update) the portal's public and confidential OAuth clients."""
    applications = get_application_model()
    redirect_uris = " ".join(conf.redirect_uris())
    common = {
        "authorization_grant_type": applications.GRANT_AUTHORIZATION_CODE,
        "redirect_uris": redirect_uris,
        "skip_authorization": False,
        "algorithm": "",
    }
    public = applications.objects.filter(client_id=PUBLIC_CLIENT_ID).first() or applications(
        client_id=PUBLIC_CLIENT_ID
    )
    for field, value in {
        **common,
        "name": "Canvas Note Portal (development)",
        "client_type": applications.CLIENT_PUBLIC,
    }.items():
        setattr(public, field, value)
    public.save()
    confidential = applications.objects.filter(
        client_id=CONFIDENTIAL_CLIENT_ID
    ).first() or applications(client_id=CONFIDENTIAL_CLIENT_ID)
    for field, value in {
        **common,
        "name": "Canvas Note Portal (confidential)",
        "client_type": applications.CLIENT_CONFIDENTIAL,
        "client_secret": CONFIDENTIAL_CLIENT_SECRET,
        "hash_client_secret": True,
    }.items():
        setattr(confidential, field, value)
    confidential.save()


def _seed_patients(rng: random.Random, added: dict[str, int]) -> list[Patient]:
    patients = []
    for index, (first, last) in enumerate(zip(FIRST_NAMES, LAST_NAMES, strict=True)):
        key = f"{rng.getrandbits(128):032x}"
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 80))
        patient, created = Patient.objects.get_or_create(
            key=key, defaults={"first_name": first, "last_name": last, "birth_date": birth}
        )
        added["patients"] += created
        patients.append(patient)
        del index
    return patients


def _note_plan(rng: random.Random) -> list[tuple[str, str]]:
    """Return (kind, state) for every seeded note: each state and kind at least once."""
    plan = [("encounter", state) for state in ENCOUNTER_STATES]
    plan += [("appointment", state) for state in APPOINTMENT_STATES]
    plan += [("encounter_nosig", state) for state in ("NEW", "LKD", "ULK", "SGN")]
    plan += [("letter", state) for state in ("NEW", "LKD", "SGN", "ULK")]
    common = {
        "encounter": ["NEW", "NEW", "LKD", "LKD", "SGN", "ULK"],
        "encounter_nosig": ["NEW", "LKD"],
        "appointment": ["BKD", "BKD", "CVD", "NSW", "RVT"],
        "letter": ["NEW", "LKD"],
    }
    kinds = ["encounter"] * 5 + ["appointment"] * 3 + ["encounter_nosig"] * 2 + ["letter"]
    while len(plan) < NOTE_COUNT:
        kind = rng.choice(kinds)
        plan.append((kind, rng.choice(common[kind])))
    return plan


def _seed_notes(
    rng: random.Random,
    added: dict[str, int],
    *,
    staff: dict[str, Staff],
    patients: list[Patient],
    now: dt.datetime,
) -> None:
    providers = [staff["provider"]] * 3 + [staff["provider2"]]
    for kind, state in _note_plan(rng):
        note_id = _uuid(rng)
        days_ago = rng.randrange(-7, 45) if kind == "appointment" else rng.randrange(0, 45)
        minute = rng.randrange(8 * 4, 17 * 4) * 15
        patient, provider, title = (
            rng.choice(patients),
            rng.choice(providers),
            rng.choice(TITLES[kind]),
        )
        if Note.objects.filter(pk=note_id).exists():
            continue
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        _note_add(
            note_id=note_id,
            kind=kind,
            state=state,
            patient=patient,
            provider=provider,
            title=title,
            when=start - dt.timedelta(days=days_ago) + dt.timedelta(minutes=minute),
        )
        added["notes"] += 1


def _seed_todays_appointments(
    added: dict[str, int], *, staff: dict[str, Staff], patients: list[Patient], now: dt.datetime
) -> None:
    # The clinic's day, not UTC's: 9:00 is 9:00 at the clinic.
    zone = zoneinfo.ZoneInfo(settings.SANDBOX_CLINIC_TIME_ZONE)
    day = now.astimezone(zone).date()
    rng = random.Random(day.toordinal())  # noqa: S311 - demo data
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    for index, (hour, state) in enumerate([(9, "BKD"), (10, "BKD"), (11, "RVT"), (14, "BKD")]):
        note_id = uuid.uuid5(_NAMESPACE, f"appointment:{day.isoformat()}:{index}")
        patient = rng.choice(patients)
        if Note.objects.filter(pk=note_id).exists():
            continue
        _note_add(
            note_id=note_id,
            kind="appointment",
            state=state,
            patient=patient,
            provider=staff["provider"],
            title="Office visit appointment",
            when=start + dt.timedelta(hours=hour),
        )
        added["notes"] += 1


#: Contract v2's notes: (kind, provider, state, history after creation as (state, by)).
#: The nurse practitioner's notes are supervised by `provider`; "SGN" by the
#: nurse alone awaits the provider's co-signature.
V2_NOTES: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("encounter", "nurse", "SGN", [("LKD", "nurse"), ("SGN", "nurse")]),
    ("encounter", "nurse", "SGN", [("LKD", "nurse"), ("SGN", "nurse")]),
    ("encounter", "nurse", "SGN", [("LKD", "nurse"), ("SGN", "nurse"), ("SGN", "provider")]),
    ("encounter", "nurse", "LKD", [("LKD", "nurse")]),
    ("encounter", "nurse", "NEW", []),
    ("inpatient", "provider", "NEW", []),
    ("inpatient", "provider", "LKD", [("LKD", "provider")]),
    ("inpatient", "provider2", "SGN", [("LKD", "provider2"), ("SGN", "provider2")]),
    ("inpatient", "nurse", "LKD", [("LKD", "nurse")]),
    ("data", "provider", "NEW", []),
    ("data", "provider", "LKD", []),
    ("message", "provider", "NEW", []),
    ("message", "provider2", "NEW", []),
]
V2_TITLES = {
    "encounter": "Follow-up visit",
    "inpatient": "Inpatient progress note",
    "data": "Lab results import",
    "message": "Patient portal message",
}


def _seed_v2_notes(
    added: dict[str, int], *, staff: dict[str, Staff], patients: list[Patient], now: dt.datetime
) -> None:
    rng = random.Random(20270102)  # noqa: S311 - demo data
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for index, (kind, provider, state, history) in enumerate(V2_NOTES):
        note_id = uuid.uuid5(_NAMESPACE, f"v2:{index}")
        patient = rng.choice(patients)
        days_ago, hour = rng.randrange(0, 20), rng.randrange(8, 17)
        if Note.objects.filter(pk=note_id).exists():
            continue
        when = start - dt.timedelta(days=days_ago) + dt.timedelta(hours=hour)
        note = _note_add(
            note_id=note_id,
            kind=kind,
            state=state,
            patient=patient,
            provider=staff[provider],
            title=V2_TITLES[kind],
            when=when,
            history=[(code, staff[by]) for code, by in history],
        )
        if provider in SUPERVISORS:
            note.supervising_provider = staff[SUPERVISORS[provider]]
            note.save(update_fields=["supervising_provider"])
        added["notes"] += 1


def _note_add(
    *,
    note_id: uuid.UUID,
    kind: str,
    state: str,
    patient: Patient,
    provider: Staff,
    title: str,
    when: dt.datetime,
    history: list[tuple[str, Staff]] | None = None,
) -> Note:
    """Add a note and its state history: created (or seeded) in `state`, or via `history`."""
    assert kind in NOTE_KINDS and state in set(NoteState)
    note = Note.objects.create(
        id=note_id,
        note_type=note_type_for_kind(kind=kind),
        patient=patient,
        provider=provider,
        title=title,
        datetime_of_service=when,
        state=state,
    )
    # The history happened at the date of service, or just before now if that is later.
    steps = [("NEW", None), *history] if history else [(state, None)]
    first = min(when, timezone.now() - dt.timedelta(minutes=30 * len(steps)))
    for step, (code, by) in enumerate(steps):
        NoteStateEvent.objects.create(
            note=note,
            state=code,
            action=SEEDED,
            actor=by,
            created=first + dt.timedelta(minutes=30 * step),
        )
    return note
