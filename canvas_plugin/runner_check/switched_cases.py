"""The cases of the switched pass: visibility=all and restrict_signing_to_provider=true.

The runner reads them from the plugin's SECRETS.json (check.py writes it into a copy).
What the rules (visibility.py, transitions.py; docs/plugin-api.md, contract v3) say
changes against the default pass:

- visibility=all: every staff member sees every note, so the unrelated staff member
  whose reads and actions were 404 in the default pass now lists, counts and reads them;
- restrict_signing_to_provider=true: only the note's provider is offered (and may take)
  lock, sign, lock & sign and unlock, so the supervisor's co-signature and unlock are
  neither queued nor offered and answer 403 not_note_provider, before the note's type
  or state is looked at; check-in and no-show stay open to every staff member.

What the provider may do is the default pass's, and is checked again here.
"""

from __future__ import annotations

from cases import COUNT_KEYS, COUNT_QUERY, lkd_summary, sgn_history
from expect import Checks

#: The variables of this pass, as `canvas config set` would store them.
SWITCHED_VARIABLES = {"visibility": "all", "restrict_signing_to_provider": "true"}
#: Every seeded note a list shows: the data note's category accepts no action, so no list has it.
LISTED = ["new", "ulk", "lkd", "sgn", "nosig_lkd", "appt_bkd", "appt_cvd"]


def switched_cases(checks: Checks) -> None:
    """Run every case of the switched pass."""
    everyone_sees_every_note(checks)
    nobody_cosigns(checks)
    only_the_provider_signs(checks)
    the_provider_is_unchanged(checks)


def everyone_sees_every_note(c: Checks) -> None:
    """visibility=all: the unrelated staff member sees what was 404 in the default pass."""
    stranger = c.users["stranger"]
    c.get("/notes", stranger, check=c.ids_are(LISTED))
    c.get("/notes/counts", stranger, COUNT_QUERY, body={**dict.fromkeys(COUNT_KEYS, 0), "today": 7})
    c.get(f"/notes/{c.notes['lkd']}", stranger, check=c.allowed_are([]))
    c.get(f"/notes/{c.notes['sgn']}/history", stranger, check=sgn_history(c))
    c.get(f"/notes/{c.notes['appt_bkd']}", stranger, check=c.allowed_are(["checkin", "noshow"]))
    c.action(
        "appt_bkd",
        "checkin",
        stranger,
        202,
        effects=["CHECK_IN_NOTE"],
        expected="CVD",
        state="BKD",
    )


def nobody_cosigns(c: Checks) -> None:
    """The supervisor's co-sign queue is empty and the signed note offers them nothing."""
    sup = c.users["supervisor"]
    c.get("/notes", sup, {"queue": "to_sign"}, check=c.ids_are([]))
    c.get("/notes/counts", sup, COUNT_QUERY, body={**dict.fromkeys(COUNT_KEYS, 0), "today": 7})
    c.get(f"/notes/{c.notes['sgn']}", sup, check=c.allowed_are([]))
    c.get(f"/notes/{c.notes['lkd']}", sup, check=c.allowed_are([]))
    c.action("sgn", "sign", sup, 403, code="not_note_provider")
    c.action("sgn", "unlock", sup, 403, code="not_note_provider")


def only_the_provider_signs(c: Checks) -> None:
    """Lock, sign, lock & sign, unlock: 403 for anyone but the provider, before type or state."""
    sup, oth, stranger = c.users["supervisor"], c.users["other"], c.users["stranger"]
    c.action("lkd", "sign", sup, 403, code="not_note_provider")
    c.action("new", "lock_sign", sup, 403, code="not_note_provider")
    c.action("lkd", "unlock", sup, 403, code="not_note_provider")
    c.action("new", "lock", oth, 403, code="not_note_provider")
    c.action("new", "lock", stranger, 403, code="not_note_provider")
    c.action("data_new", "lock", sup, 403, code="not_note_provider")  # before the type's 422
    c.action("lkd", "lock", sup, 403, code="not_note_provider")  # before the state's 409
    c.action("appt_bkd", "noshow", oth, 202, effects=["NO_SHOW_NOTE"], expected="NSW", state="BKD")
    c.action("new", "lock", c.users["non_staff"], 403, code="forbidden")


def the_provider_is_unchanged(c: Checks) -> None:
    """The provider's queue, counts, offer and actions are the default pass's."""
    prov = c.users["provider"]
    c.get("/notes", prov, {"queue": "to_sign"}, check=c.ids_are(["new", "ulk", "lkd"]))
    c.get(
        "/notes/counts", prov, COUNT_QUERY, body={"to_sign": 3, "overdue": 2, "open": 3, "today": 7}
    )
    c.get(f"/notes/{c.notes['lkd']}", prov, check=lkd_summary(c))
    c.action("new", "lock", prov, 202, effects=["LOCK_NOTE"], expected="LKD", state="NEW")
    c.action("lkd", "sign", prov, 202, effects=["SIGN_NOTE"], expected="SGN", state="LKD")
    c.action(
        "new",
        "lock_sign",
        prov,
        202,
        effects=["LOCK_NOTE", "SIGN_NOTE"],
        expected="SGN",
        state="NEW",
    )
    c.action("lkd", "unlock", prov, 202, effects=["UNLOCK_NOTE"], expected="ULK", state="LKD")
    c.action("sgn", "sign", prov, 409, code="already_signed", state="SGN")
    c.action("data_new", "lock", prov, 422, code="action_rejected")
