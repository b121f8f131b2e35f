"""The plugin API's vocabulary as the portal uses it: actions and note states.

The plugin API (DESIGN.md) decides what is allowed; these are only the
names, labels and the Django permission behind each action.
"""

from __future__ import annotations

LOCK = "lock"
SIGN = "sign"
LOCK_SIGN = "lock_sign"
UNLOCK = "unlock"
CHECKIN = "checkin"
NOSHOW = "noshow"

#: Every action, in the order a person meets them.
ACTIONS: tuple[str, ...] = (LOCK, SIGN, LOCK_SIGN, UNLOCK, CHECKIN, NOSHOW)

#: Button labels.
ACTION_LABELS: dict[str, str] = {
    LOCK: "Lock",
    SIGN: "Sign",
    LOCK_SIGN: "Lock & sign",
    UNLOCK: "Unlock",
    CHECKIN: "Check in",
    NOSHOW: "No-show",
}

#: "it can't be <...>" / "Note <...>."
ACTION_DONE: dict[str, str] = {
    LOCK: "locked",
    SIGN: "signed",
    LOCK_SIGN: "locked and signed",
    UNLOCK: "unlocked",
    CHECKIN: "checked in",
    NOSHOW: "marked as no-show",
}

#: Actions a person confirms before they are sent.
CONFIRM: dict[str, str] = {
    SIGN: "Sign this note? A signed note can only be changed by unlocking it.",
    LOCK_SIGN: "Lock and sign this note?",
    UNLOCK: "Unlock this note? It will need to be locked and signed again.",
}

#: The permission codename (on notes.NoteActionAttempt) each action needs.
ACTION_PERMISSIONS: dict[str, str] = {
    LOCK: "lock_note",
    SIGN: "sign_note",
    LOCK_SIGN: "lock_sign_note",
    UNLOCK: "unlock_note",
    CHECKIN: "checkin_note",
    NOSHOW: "noshow_note",
}

#: Note state codes and their Canvas labels (for messages about a 409).
STATE_LABELS: dict[str, str] = {
    "NEW": "Created",
    "PSH": "Pushed",
    "LKD": "Locked",
    "ULK": "Unlocked",
    "DLT": "Deleted",
    "RLK": "Relocked",
    "RST": "Restored",
    "RCL": "Recalled",
    "UND": "Undeleted",
    "DSC": "Discharged",
    "SGN": "Signed",
    "SCH": "Scheduling",
    "BKD": "Booked",
    "CVD": "Checked in",
    "CLD": "Cancelled",
    "NSW": "No show",
    "RVT": "Reverted",
    "CNF": "Confirmed",
}
