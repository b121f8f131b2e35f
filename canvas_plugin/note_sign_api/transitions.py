"""Which note actions Canvas allows, and when.

Plain Python with no SDK import: the plugin enforces these rules (the SDK's
Note effect does not check the note's state) and the portal's Canvas sandbox
imports this same module, so the two cannot drift apart.

Sources: TRANSITION_STATE_MATRIX and APPOINTMENT_TRANSITION_MATRIX in
canvas_sdk/effects/note/note.py (canvas 0.261.0) and the Canvas Note API docs.
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

#: Human labels for the actions.
ACTION_LABELS: dict[str, str] = {
    LOCK: "Lock",
    SIGN: "Sign",
    LOCK_SIGN: "Lock & sign",
    UNLOCK: "Unlock",
    CHECKIN: "Check in",
    NOSHOW: "No-show",
}

#: How each action reads in "cannot be ..." messages.
ACTION_PAST: dict[str, str] = {
    LOCK: "locked",
    SIGN: "signed",
    LOCK_SIGN: "locked and signed",
    UNLOCK: "unlocked",
    CHECKIN: "checked in",
    NOSHOW: "marked as no-show",
}

#: Note state codes and their Canvas labels.
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
STATES: tuple[str, ...] = tuple(STATE_LABELS)

#: Note type categories that matter here.
APPOINTMENT = "appointment"
LETTER = "letter"
MESSAGE = "message"
UNLOCKABLE_CATEGORIES = frozenset({LETTER, MESSAGE})

_LOCK_FROM = frozenset({"NEW", "CVD", "ULK", "PSH", "UND"})
_LOCK_FROM_APPOINTMENT = frozenset({"NSW"})

#: States each action may start from (appointment-only extras aside).
ALLOWED_FROM: dict[str, frozenset[str]] = {
    LOCK: _LOCK_FROM,
    SIGN: frozenset({"LKD"}),
    LOCK_SIGN: _LOCK_FROM | {"LKD"},
    UNLOCK: frozenset({"LKD", "SGN"}),
    CHECKIN: frozenset({"BKD", "RVT", "NSW"}),
    NOSHOW: frozenset({"BKD", "RVT"}),
}

#: The effect names an action emits, keyed by the state it starts from
#: (lock_sign on a locked note only signs).
LOCK_NOTE = "LOCK_NOTE"
SIGN_NOTE = "SIGN_NOTE"
UNLOCK_NOTE = "UNLOCK_NOTE"
CHECK_IN_NOTE = "CHECK_IN_NOTE"
NO_SHOW_NOTE = "NO_SHOW_NOTE"

#: The state a note is in after each effect.
EFFECT_RESULT: dict[str, str] = {
    LOCK_NOTE: "LKD",
    SIGN_NOTE: "SGN",
    UNLOCK_NOTE: "ULK",
    CHECK_IN_NOTE: "CVD",
    NO_SHOW_NOTE: "NSW",
}


def state_allows(action: str, state: str, *, category: str = "") -> bool:
    """Return whether `action` may start from `state` (the 409 rule).

    `category` is the note type's category: lock from "No show" is allowed
    for appointment notes only.
    """
    if action not in ALLOWED_FROM:
        raise ValueError(f"unknown action {action!r}")
    if state in ALLOWED_FROM[action]:
        return True
    if action in (LOCK, LOCK_SIGN) and category == APPOINTMENT:
        return state in _LOCK_FROM_APPOINTMENT
    return False


def requirement_error(action: str, *, category: str, is_sig_required: bool) -> str | None:
    """Return why the note's type forbids `action` (the 422 rule), or None.

    These are the checks the SDK's Note effect makes before it emits.
    """
    if action in (LOCK, LOCK_SIGN) and category in UNLOCKABLE_CATEGORIES:
        return f"A {category} note cannot be locked."
    if category in UNLOCKABLE_CATEGORIES:
        # The SDK's Note effect refuses every state action on letters and messages.
        return f"A {category} note cannot be {ACTION_PAST[action]}."
    if action in (SIGN, LOCK_SIGN) and not is_sig_required:
        return "This note type does not require a signature."
    if action in (CHECKIN, NOSHOW) and category != APPOINTMENT:
        return "Only appointment notes can be checked in or marked as no-show."
    return None


def allowed_actions(state: str, *, category: str, is_sig_required: bool) -> list[str]:
    """Return the actions a note in `state` with this type accepts, in ACTIONS order."""
    return [
        action
        for action in ACTIONS
        if state_allows(action, state, category=category)
        and requirement_error(action, category=category, is_sig_required=is_sig_required) is None
    ]


def effects_for(action: str, state: str) -> list[str]:
    """Return the effect names `action` emits from `state`, in order."""
    if action == LOCK:
        return [LOCK_NOTE]
    if action == SIGN:
        return [SIGN_NOTE]
    if action == LOCK_SIGN:
        return [SIGN_NOTE] if state == "LKD" else [LOCK_NOTE, SIGN_NOTE]
    if action == UNLOCK:
        return [UNLOCK_NOTE]
    if action == CHECKIN:
        return [CHECK_IN_NOTE]
    if action == NOSHOW:
        return [NO_SHOW_NOTE]
    raise ValueError(f"unknown action {action!r}")


def state_after(action: str, state: str) -> str:
    """Return the state a note reaches once `action`'s effects apply."""
    return EFFECT_RESULT[effects_for(action, state)[-1]]
