"""The demo clinic's note content: a realistic, synthetic mix of commands on its visit notes.

Deterministic and idempotent like the rest of the seed: a note that already
has commands is left alone, and which visit a note gets follows its place in
id order. Open notes (NEW, ULK) every fifth one keep a staged command; one
note has a diagnosis entered in error and one a kind the portal does not know.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef

from canvas_sandbox.clinic.content import command_add
from canvas_sandbox.clinic.engine import Category
from canvas_sandbox.clinic.models import Command, Note, NoteStateEvent

Visit = list[tuple[str, dict[str, Any]]]


def _coded(text: str, value: str = "") -> dict[str, str]:
    return {"text": text, "value": value}


def _vitals(systole: int, diastole: int, pulse: int, weight: int) -> dict[str, Any]:
    return {
        "height": 68,
        "weight_lbs": weight,
        "blood_pressure_systole": systole,
        "blood_pressure_diastole": diastole,
        "pulse": pulse,
        "respiration_rate": 16,
        "oxygen_saturation": 98,
        "body_temperature": 98.4,
    }


#: Whole visits (synthetic: no real person's data), in the order a clinician writes them.
VISITS: list[Visit] = [
    [
        ("reasonForVisit", {"coding": _coded("Cough", "49727002"), "comment": "3 days"}),
        ("hpi", {"narrative": "Dry cough for 3 days, worse at night. No fever, no dyspnea."}),
        ("vitals", _vitals(118, 76, 74, 162)),
        ("ros", {"questionnaire": _coded("Review of systems"), "question-1": "No fever"}),
        ("exam", {"questionnaire": _coded("Physical exam"), "result": "Lungs clear"}),
        (
            "diagnose",
            {"diagnose": _coded("Acute bronchitis", "J20.9"), "today_assessment": "Viral"},
        ),
        ("plan", {"narrative": "Fluids, honey, rest. Return if fever or shortness of breath."}),
        ("followUp", {"requested_date": "in 2 weeks", "comment": "If not improving"}),
    ],
    [
        ("reasonForVisit", {"coding": _coded("Hypertension follow-up")}),
        ("vitals", _vitals(136, 86, 70, 201)),
        (
            "assess",
            {"condition": _coded("Essential hypertension", "I10"), "status": "improving"},
        ),
        (
            "refill",
            {
                "prescribe": _coded("Lisinopril 10 mg tablet"),
                "sig": "1 tablet by mouth daily",
                "days_supply": 90,
                "quantity_to_dispense": 90,
                "refills": 1,
            },
        ),
        ("labOrder", {"tests": [_coded("Basic metabolic panel")], "comment": "Before next visit"}),
        ("instruct", {"instruct": _coded("Low sodium diet"), "comment": "Handout given"}),
        ("goal", {"goal_statement": "Home BP under 130/80", "due_date": "in 3 months"}),
    ],
    [
        ("reasonForVisit", {"coding": _coded("Annual physical")}),
        ("hpi", {"narrative": "Feels well. Exercises twice a week."}),
        ("ros", {"questionnaire": _coded("Review of systems"), "result": "Negative"}),
        ("vitals", _vitals(122, 78, 64, 175)),
        ("exam", {"questionnaire": _coded("Physical exam"), "result": "Normal"}),
        ("labOrder", {"tests": [_coded("CBC"), _coded("Lipid panel")], "comment": "Fasting"}),
        ("plan", {"narrative": "Age-appropriate screening discussed. Labs ordered."}),
    ],
    [
        ("reasonForVisit", {"coding": _coded("Sore throat")}),
        ("hpi", {"narrative": "Sore throat and fever for 2 days."}),
        ("vitals", _vitals(114, 72, 92, 140)),
        ("diagnose", {"diagnose": _coded("Streptococcal pharyngitis", "J02.0")}),
        (
            "prescribe",
            {
                "prescribe": _coded("Amoxicillin 500 mg capsule"),
                "sig": "1 capsule by mouth twice daily",
                "days_supply": 10,
                "quantity_to_dispense": 20,
                "refills": 0,
            },
        ),
        ("allergy", {"allergy": _coded("No known drug allergies")}),
        ("instruct", {"instruct": _coded("Finish the full course")}),
    ],
    [
        ("reasonForVisit", {"coding": _coded("Medication review")}),
        ("stopMedication", {"medication": _coded("Ibuprofen 400 mg"), "rationale": "GI upset"}),
        ("imagingOrder", {"image": _coded("Chest X-ray, 2 views"), "priority": "Routine"}),
        ("refer", {"refer_to": _coded("Cardiology"), "clinical_question": "Palpitations"}),
        ("task", {"title": "Call patient with results", "due_date": "in 1 week"}),
        ("plan", {"narrative": "Stop ibuprofen; acetaminophen as needed."}),
    ],
]

#: Note categories whose notes carry clinical content in the demo.
VISIT_CATEGORIES = (Category.ENCOUNTER, Category.INPATIENT)
#: The action of the state events the seed writes (its notes' mark).
SEEDED = "seeded"
#: Open states: only these keep a staged (not yet committed) command.
OPEN_STATES = ("NEW", "ULK")


def commands_seed() -> int:
    """Give every seeded visit note without content one of VISITS; return the commands added.

    Only the seed's own notes (their history says SEEDED): notes the control API
    made for a test keep exactly the content the test gives them.
    """
    seeded = NoteStateEvent.objects.filter(note=OuterRef("pk"), action=SEEDED)
    notes = (
        Note.objects.filter(note_type__category__in=VISIT_CATEGORIES, commands__isnull=True)
        .filter(Exists(seeded))
        .select_related("provider")
        .order_by("id")
    )
    added = 0
    open_seen = 0
    for index, note in enumerate(notes):
        visit = list(VISITS[index % len(VISITS)])
        if index == 0:
            visit.append(
                ("familyHistory", {"family_history": _coded("Diabetes"), "relative": "mother"})
            )
        staged = note.state in OPEN_STATES and open_seen % 5 == 0
        open_seen += note.state in OPEN_STATES
        added += _visit_add(note, visit, staged_last=staged, in_error=index == 1)
    return added


def _visit_add(note: Note, visit: Visit, *, staged_last: bool, in_error: bool) -> int:
    """Add one visit's commands a minute apart from the date of service; return the count."""
    for step, (schema_key, data) in enumerate(visit):
        state = Command.COMMITTED
        if staged_last and step == len(visit) - 1:
            state = Command.STAGED
        command_add(
            note=note,
            schema_key=schema_key,
            data=data,
            state=state,
            originator=note.provider,
            created=note.datetime_of_service + dt.timedelta(minutes=step),
        )
    if in_error:
        command_add(
            note=note,
            schema_key="diagnose",
            data={"diagnose": _coded("Asthma, unspecified", "J45.909")},
            state=Command.ENTERED_IN_ERROR,
            originator=note.provider,
            created=note.datetime_of_service + dt.timedelta(minutes=len(visit)),
        )
    return len(visit) + int(in_error)
