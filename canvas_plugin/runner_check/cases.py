"""The cases of the default pass: every plugin variable at its default (no SECRETS.json).

Each function sends its cases in order through `Checks` and leaves the differences in
`checks.problems`. Effects are not applied by the runner, so every note keeps its
seeded state (seed.py) and the order of the actions does not matter.
"""

from __future__ import annotations

import uuid

from expect import Checks

#: GET /notes/counts bounds: the seeded day (notes at 09:00..16:00 UTC), overdue before 10:30.
COUNT_QUERY = {
    "day_start": "2026-03-02T00:00:00+00:00",
    "day_end": "2026-03-03T00:00:00+00:00",
    "overdue_before": "2026-03-02T10:30:00+00:00",
}
#: GET /notes/counts' keys.
COUNT_KEYS = ("to_sign", "overdue", "open", "today")


def default_cases(checks: Checks) -> None:
    """Run every case of the default pass."""
    who_may_call(checks)
    lists_and_counts(checks)
    one_note(checks)
    actions(checks)
    signer_rule(checks)
    unrelated_staff(checks)
    unknown_paths(checks)


def who_may_call(c: Checks) -> None:
    """A staff token, no token, a non-staff token."""
    prov, nonstaff = c.users["provider"], c.users["non_staff"]
    c.get(
        "/me",
        prov,
        body={
            "user_id": prov,
            "staff": {"id": c.staff["provider"], "name": "Ada Lovelace", "time_zone": None},
            "installation_time_zone": "UTC",
        },
    )
    label, reply = c.client.call("GET", "/me", actor="", token=False)
    c.expect(label, reply, 401, code="unauthenticated")
    c.get("/me", nonstaff, status=403, code="forbidden")
    c.get("/notes", nonstaff, status=403, code="forbidden")


def lists_and_counts(c: Checks) -> None:
    """Lists, the to-sign queue (own and co-sign), filters, counts."""
    prov, sup, oth = c.users["provider"], c.users["supervisor"], c.users["other"]
    c.get("/notes", prov, {"queue": "to_sign"}, check=c.ids_are(["new", "ulk", "lkd"]))
    c.get("/notes", prov, {"queue": "to_sign", "state": "LKD"}, check=c.ids_are(["lkd"]))
    c.get("/notes", sup, {"queue": "to_sign"}, check=c.ids_are(["sgn"]))
    c.get("/notes", oth, {"queue": "to_sign"}, check=c.ids_are([]))
    c.get(
        "/notes",
        prov,
        {"provider": "me", "patient": "pat qui", "limit": 2},
        check=c.ids_are(["appt_cvd", "appt_bkd"], count=7, ordered=True),
    )
    c.get(
        "/notes",
        prov,
        {"provider": "me", "patient": "pat qui", "limit": 2, "order": "oldest"},
        check=c.ids_are(["new", "ulk"], count=7, ordered=True),
    )
    c.get(
        "/notes/counts",
        prov,
        COUNT_QUERY,
        body={"to_sign": 3, "overdue": 2, "open": 3, "today": 7},  # open: NEW, ULK, CVD
    )


def lkd_summary(c: Checks):
    """Return a check: the provider's summary of the locked note, field by field."""
    want = {
        "id": c.notes["lkd"],
        "title": "Note lkd",
        "state": {"code": "LKD", "label": "Locked", "changed_by": c.staff["provider"]},
        "note_type": {"name": "Office visit", "category": "encounter", "is_sig_required": True},
        "patient": {"id": c.ids["patient"], "name": "Pat Quinn"},
        "provider": {"id": c.staff["provider"], "name": "Ada Lovelace"},
        "supervising_provider": {"id": c.staff["supervisor"], "name": "Grace Hopper"},
        "allowed_actions": ["sign", "lock_sign", "unlock"],
    }

    def check(data):
        for key, value in want.items():
            got = data.get(key)
            if isinstance(value, dict) and isinstance(got, dict):
                got = {k: got.get(k) for k in value}
            if got != value:
                yield f"{key} {data.get(key)!r}, expected {value!r}"
        if not str(data.get("datetime_of_service", "")).startswith("2026-03-02T11:00:00"):
            yield f"datetime_of_service {data.get('datetime_of_service')!r}"

    return check


def sgn_history(c: Checks):
    """Return a check: the signed note's history is NEW, LKD, SGN by the provider."""

    def check(data):
        got = [(h.get("state"), h.get("by")) for h in data.get("history", [])]
        want = [(s, c.staff["provider"]) for s in ("NEW", "LKD", "SGN")]
        if got != want:
            yield f"history {got}, expected {want}"
        if not data.get("as_of"):
            yield "no as_of"

    return check


def one_note(c: Checks) -> None:
    """One note, and its history; what a supervisor and another staff member are offered."""
    prov, sup, oth = c.users["provider"], c.users["supervisor"], c.users["other"]
    c.get(f"/notes/{c.notes['lkd']}", prov, check=lkd_summary(c))
    c.get(f"/notes/{c.notes['lkd']}", oth, check=c.allowed_are([]))
    # The supervisor co-signs (sign) or unlocks the provider's signed note.
    c.get(f"/notes/{c.notes['sgn']}", sup, check=c.allowed_are(["sign", "unlock"]))
    c.get(f"/notes/{c.notes['sgn']}/history", prov, check=sgn_history(c))
    c.get("/notes/not-a-uuid", prov, status=400, code="invalid_note_id")
    c.get(f"/notes/{uuid.UUID(int=1)}", prov, status=404, code="note_not_found")


def actions(c: Checks) -> None:
    """Each action in an allowed and a refused state."""
    prov, sup, oth = c.users["provider"], c.users["supervisor"], c.users["other"]
    c.action("new", "lock", prov, 202, effects=["LOCK_NOTE"], expected="LKD", state="NEW")
    c.action("lkd", "lock", prov, 409, code="action_not_allowed", state="LKD")
    c.action("data_new", "lock", prov, 422, code="action_rejected")
    c.action("lkd", "sign", prov, 202, effects=["SIGN_NOTE"], expected="SGN", state="LKD")
    c.action("new", "sign", prov, 409, code="action_not_allowed", state="NEW")
    c.action("nosig_lkd", "sign", prov, 422, code="action_rejected")
    c.action("sgn", "sign", sup, 202, effects=["SIGN_NOTE"], expected="SGN", state="SGN")
    c.action("sgn", "sign", prov, 409, code="already_signed", state="SGN")
    c.action(
        "new",
        "lock_sign",
        prov,
        202,
        effects=["LOCK_NOTE", "SIGN_NOTE"],
        expected="SGN",
        state="NEW",
    )
    c.action("lkd", "lock_sign", prov, 202, effects=["SIGN_NOTE"], expected="SGN", state="LKD")
    c.action("appt_bkd", "lock_sign", prov, 409, code="action_not_allowed", state="BKD")
    c.action("lkd", "unlock", prov, 202, effects=["UNLOCK_NOTE"], expected="ULK", state="LKD")
    c.action("sgn", "unlock", sup, 202, effects=["UNLOCK_NOTE"], expected="ULK", state="SGN")
    c.action("new", "unlock", prov, 409, code="action_not_allowed", state="NEW")
    c.action(
        "appt_bkd", "checkin", oth, 202, effects=["CHECK_IN_NOTE"], expected="CVD", state="BKD"
    )
    c.action("appt_cvd", "checkin", oth, 409, code="action_not_allowed", state="CVD")
    c.action("new", "checkin", prov, 422, code="action_rejected")
    c.action("appt_bkd", "noshow", oth, 202, effects=["NO_SHOW_NOTE"], expected="NSW", state="BKD")
    c.action("appt_cvd", "noshow", oth, 409, code="action_not_allowed", state="CVD")


def signer_rule(c: Checks) -> None:
    """Another staff member may not sign, lock & sign or unlock; a non-staff actor gets nothing."""
    oth, nonstaff = c.users["other"], c.users["non_staff"]
    c.action("lkd", "sign", oth, 403, code="not_note_provider")
    c.action("new", "lock_sign", oth, 403, code="not_note_provider")
    c.action("lkd", "unlock", oth, 403, code="not_note_provider")
    c.action("new", "lock", nonstaff, 403, code="forbidden")


def unrelated_staff(c: Checks) -> None:
    """visibility=related: staff with no tie to the note or its patient see nothing of it."""
    stranger = c.users["stranger"]
    c.get("/notes", stranger, check=c.ids_are([]))
    c.get("/notes/counts", stranger, COUNT_QUERY, body=dict.fromkeys(COUNT_KEYS, 0))
    c.get(f"/notes/{c.notes['lkd']}", stranger, status=404, code="note_not_found")
    c.action("appt_bkd", "checkin", stranger, 404, code="note_not_found")
    c.action("new", "lock", stranger, 404, code="note_not_found")


def unknown_paths(c: Checks) -> None:
    """No route: the runner answers 404 with no handler."""
    prov = c.users["provider"]
    c.get("/nope", prov, status=404)
    label, reply = c.client.call("POST", f"/notes/{c.notes['new']}/frobnicate", actor=prov)
    c.expect(label, reply, 404)
