"""The clinic's notes as the control API and the seed write them: note types, notes, vetoes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction

from canvas_sandbox.clinic import times
from canvas_sandbox.clinic.engine import Category, NoteState
from canvas_sandbox.clinic.exceptions import ControlError
from canvas_sandbox.clinic.models import Note, NoteStateEvent, NoteType, Patient, Staff
from canvas_sandbox.clinic.selectors import note_get

#: The note kinds the control API can create, and the seeded note type of each.
#: is_sig_required is True (the SDK's NoteType default) unless the kind says otherwise.
NOTE_KINDS: dict[str, dict[str, Any]] = {
    "encounter": {"name": "Office visit", "category": Category.ENCOUNTER, "is_sig_required": True},
    "encounter_nosig": {
        "name": "Phone call",
        "category": Category.ENCOUNTER,
        "is_sig_required": False,
    },
    "appointment": {
        "name": "Office visit appointment",
        "category": Category.APPOINTMENT,
        "is_sig_required": True,
    },
    "inpatient": {
        "name": "Inpatient progress note",
        "category": Category.INPATIENT,
        "is_sig_required": True,
    },
    "data": {"name": "Lab data import", "category": Category.DATA, "is_sig_required": True},
    "letter": {"name": "Letter", "category": Category.LETTER, "is_sig_required": True},
    "message": {"name": "Patient message", "category": Category.MESSAGE, "is_sig_required": True},
}


def note_veto_set(*, note_id: str, veto: bool) -> Note:
    """Turn a note's veto on or off (lock and sign effects refused when applied)."""
    note = note_get(note_id=note_id)
    note.veto = veto
    note.save(update_fields=["veto", "modified"])
    return note


def note_type_for_kind(*, kind: str) -> NoteType:
    """Return (creating or updating if needed) the note type of a control-API note kind."""
    if kind not in NOTE_KINDS:
        raise ControlError(f"kind must be one of {', '.join(NOTE_KINDS)}.")
    spec = NOTE_KINDS[kind]
    note_type, _ = NoteType.objects.update_or_create(
        name=spec["name"],
        defaults={"category": spec["category"], "is_sig_required": spec["is_sig_required"]},
    )
    return note_type


def note_type_for(*, category: str, is_sig_required: bool) -> NoteType:
    """Return (creating if needed) a note type of any category and signature rule."""
    if category not in set(Category):
        raise ControlError(f"category must be one of {', '.join(Category)}.")
    name = f"{category.title()} note" + ("" if is_sig_required else " (no signature)")
    note_type, _ = NoteType.objects.update_or_create(
        name=name, defaults={"category": category, "is_sig_required": is_sig_required}
    )
    return note_type


def staff_named(username: str, *, field: str) -> Staff:
    """Return the staff member signed in as `username`, or raise ControlError naming `field`."""
    staff = Staff.objects.filter(user__username=username).first()
    if staff is None:
        raise ControlError(f"{field} must be the username of a sandbox staff member.")
    return staff


def _supervisor(staff: Staff, supervising_provider: str | None) -> Staff | None:
    """Return the note's supervisor: a username, "" for none, None for the provider's own."""
    if supervising_provider is None:
        return staff.supervisor
    if supervising_provider:
        return staff_named(supervising_provider, field="supervising_provider")
    return None


def _service_time(date: str | None, *, now: dt.datetime) -> dt.datetime:
    """Return the date of service: an ISO date (at 9:00 UTC) or datetime, default now."""
    if not date:
        return now
    try:
        parsed = dt.datetime.fromisoformat(date)
    except ValueError as exc:
        raise ControlError("date must be an ISO date or datetime.") from exc
    when = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return when.replace(hour=9) if len(date) == 10 else when


def patient_named(full_name: str | None) -> Patient:
    """Return the patient of that full name, created if unknown (default "Test Patient")."""
    first, _, last = (full_name or "Test Patient").strip().partition(" ")
    person = Patient.objects.filter(first_name=first, last_name=last).first()
    if person is None:
        person = Patient.objects.create(key=uuid.uuid4().hex, first_name=first, last_name=last)
    return person


def note_create(
    *,
    state: str,
    kind: str | None = None,
    category: str | None = None,
    is_sig_required: bool = True,
    provider: str = "provider",
    supervising_provider: str | None = None,
    patient: str | None = None,
    date: str | None = None,
    title: str | None = None,
    veto: bool = False,
    now: dt.datetime | None = None,
) -> Note:
    """Create a note in `state` of `kind` for the staff user `provider` (control API).

    Instead of `kind`, `category` and `is_sig_required` pick a note type of
    any category.

    `supervising_provider` is a username, "" for none; by default the
    provider's supervisor. `patient` picks a patient by full name (created
    if unknown); by default a fixed "Test Patient". `date` is an ISO date or
    datetime of service (default now).
    """
    if state not in set(NoteState):
        raise ControlError(f"state must be one of {', '.join(NoteState)}.")
    if kind is None and category is not None:
        note_type = note_type_for(category=category, is_sig_required=is_sig_required)
    else:
        note_type = note_type_for_kind(kind=kind or "")
    staff = staff_named(provider, field="provider")
    supervisor = _supervisor(staff, supervising_provider)
    when = _service_time(date, now=now or times.now())
    with transaction.atomic():
        note = Note.objects.create(
            note_type=note_type,
            patient=patient_named(patient),
            provider=staff,
            supervising_provider=supervisor,
            title=title or note_type.name,
            datetime_of_service=when,
            state=state,
            veto=veto,
        )
        NoteStateEvent.objects.create(note=note, state=state, action="created")
    return note
