"""A note's content as GET /notes/<id>/content must show it, in the note's order.

Plain Python (no imports): the plugin's tests add these commands as Canvas
records them (an entered-in-error command is a committed one with its
`entered_in_error` user set) and the sandbox's tests through its control
API; both must answer these labels, states and summaries in this order.

A row: (schema_key, data, contract state, label, summary).
"""

CASES: list[tuple[str, dict, str, str, str]] = [
    (
        "reasonForVisit",
        {"coding": {"text": "Cough", "value": "49727002"}, "comment": "3 days"},
        "committed",
        "Reason for visit",
        "Cough; 3 days",
    ),
    ("hpi", {"narrative": "Dry cough,\n worse at night."}, "committed",
     "History of present illness", "Dry cough, worse at night."),
    (
        "vitals",
        {"blood_pressure_systole": 128, "blood_pressure_diastole": 82, "pulse": 71},
        "staged",
        "Vitals",
        "BP 128/82, pulse 71",
    ),
    ("diagnose", {"diagnose": {"text": "Asthma", "value": "J45.909"}}, "entered_in_error",
     "Diagnose", "Asthma"),
    (
        "prescribe",
        {"prescribe": {"text": "Amoxicillin 500 mg"}, "sig": "1 cap bid", "days_supply": 10},
        "committed",
        "Prescribe",
        "Amoxicillin 500 mg; 1 cap bid; 10 days",
    ),
    ("familyHistory", {"relative": "mother"}, "committed", "Family history", "details in Canvas"),
    ("plan", {"narrative": "Fluids and rest."}, "staged", "Plan", "Fluids and rest."),
]  # fmt: skip
