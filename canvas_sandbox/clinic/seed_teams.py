"""The demo clinic's roles and care teams: who is clinical, who is front desk, who cares for whom.

Idempotent like the rest of the seed: rows are looked up before they are added.
"""

from __future__ import annotations

from canvas_sandbox.clinic.models import CareTeamMembership, Patient, Staff, StaffRole

#: Each seeded staff member's role: (name, domain). The front desk is administrative only.
ROLES: dict[str, tuple[str, str]] = {
    "provider": ("Physician", StaffRole.CLINICAL),
    "provider2": ("Physician", StaffRole.CLINICAL),
    "nurse": ("Nurse practitioner", StaffRole.CLINICAL),
    "inactive": ("Physician", StaffRole.CLINICAL),
    "frontdesk": ("Front desk", StaffRole.ADMINISTRATIVE),
    "rn": ("Registered nurse", StaffRole.CLINICAL),
    "locum": ("Physician", StaffRole.CLINICAL),
}
#: The registered nurse is on the care team of this many patients (the first ones by key order).
RN_PATIENTS = 5


def seed_roles_and_care_teams(*, staff: dict[str, Staff], patients: list[Patient]) -> None:
    """Give every seeded staff member their role and put the nurse on some patients' teams."""
    for username, (name, domain) in ROLES.items():
        member = staff.get(username)
        if member is not None and not member.roles.exists():
            StaffRole.objects.create(staff=member, name=name, domain=domain)
    if "rn" in staff:
        for patient in patients[:RN_PATIENTS]:
            CareTeamMembership.objects.get_or_create(
                patient=patient, staff=staff["rn"], defaults={"status": CareTeamMembership.ACTIVE}
            )
