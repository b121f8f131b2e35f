"""Which note actions Canvas allows, to whom and when: the plugin API's rules (contract v2).

Plain Python with no SDK import: the plugin enforces these rules (the SDK's
Note effect does not check the note's state, nor who signs) and the
portal's Canvas sandbox imports this same module, so the two cannot drift.

Source: Canvas's documentation, "Note state transitions" in
collections/_sdk/effects/note.md (canvas-medical/documentation), which
overrides the SDK's TRANSITION_STATE_MATRIX: see CANVAS_SDK.md, "What
Canvas documents". Who may sign is the plugin's decision (Canvas does not
stop a staff member signing another provider's note).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the plugin sandbox allows no collections.abc import at run time
    from collections.abc import Iterable

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

#: Note type categories (canvas_sdk NoteTypeCategories, those a clinic meets here).
ENCOUNTER = "encounter"
APPOINTMENT = "appointment"
INPATIENT = "inpatient"
DATA = "data"
LETTER = "letter"
MESSAGE = "message"
CATEGORIES: tuple[str, ...] = (ENCOUNTER, APPOINTMENT, INPATIENT, DATA, LETTER, MESSAGE)
#: Only these categories accept any state action; every other one accepts none.
ACTIONABLE_CATEGORIES = frozenset({ENCOUNTER, APPOINTMENT, INPATIENT})

#: Actions only a note's provider or supervising provider may take (signing_policy "provider").
SIGNER_ACTIONS = frozenset({SIGN, LOCK_SIGN, UNLOCK})
SIGNING_POLICIES = ("provider", "any_staff")

#: The effect names an action emits.
LOCK_NOTE = "LOCK_NOTE"
SIGN_NOTE = "SIGN_NOTE"
UNLOCK_NOTE = "UNLOCK_NOTE"
CHECK_IN_NOTE = "CHECK_IN_NOTE"
NO_SHOW_NOTE = "NO_SHOW_NOTE"

_LOCK_FROM = frozenset({"NEW", "CVD", "ULK", "UND"})


class InvalidTransition(ValueError):
    """What Canvas raises when it applies an effect the note's state does not allow."""


def effect_result(effect: str, state: str, *, category: str, is_sig_required: bool) -> str:
    """Return the state `effect` moves a note to, or raise InvalidTransition.

    The documented table, as Canvas applies it (after the plugin answered).
    """
    if category not in ACTIONABLE_CATEGORIES:
        raise InvalidTransition(f"A {category} note accepts no state change.")
    if effect == LOCK_NOTE:
        allowed = (
            {"NSW"}
            if category == APPOINTMENT
            else _LOCK_FROM | ({"PSH"} if category == ENCOUNTER else set())
        )
        result = "LKD"
    elif effect == SIGN_NOTE:
        allowed = {"LKD", "SGN"} if is_sig_required else set()
        result = "SGN"
    elif effect == UNLOCK_NOTE:
        allowed = {"LKD", "SGN"} if is_sig_required else {"LKD"}
        result = "NSW" if category == APPOINTMENT else "ULK"
    elif effect == CHECK_IN_NOTE:
        allowed = {"BKD", "RVT", "NSW"} if category == APPOINTMENT else set()
        result = "CVD"
    elif effect == NO_SHOW_NOTE:
        allowed = {"BKD", "RVT"} if category == APPOINTMENT else set()
        result = "NSW"
    else:
        raise ValueError(f"unknown effect {effect!r}")
    if state not in allowed:
        raise InvalidTransition("Invalid state transition")
    return result


def effects_for(action: str, state: str) -> list[str]:
    """Return the effect names `action` emits from `state`, in order.

    lock_sign is [lock, sign], or only sign when the note is already locked.
    """
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


def expected_states(action: str, state: str, *, category: str, is_sig_required: bool) -> list[str]:
    """Return the states the note passes through once `action`'s effects apply, in order.

    Raises InvalidTransition when any effect would be refused.
    """
    states = []
    for effect in effects_for(action, state):
        state = effect_result(effect, state, category=category, is_sig_required=is_sig_required)
        states.append(state)
    return states


@dataclass(frozen=True)
class NoteFacts:
    """What the rules need to know about one note."""

    category: str
    is_sig_required: bool
    state: str
    provider_id: str = ""
    supervising_provider_id: str = ""
    #: Staff ids who signed since the note was last locked (a second signature is a co-signature).
    signed_since_lock: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused: the contract's status, code and a sentence for a person."""

    status: int
    code: str
    message: str
    state: str = ""


def _rejection(action: str, note: NoteFacts) -> str | None:
    """Return why the note's category or type forbids `action` (422), or None."""
    if note.category not in ACTIONABLE_CATEGORIES:
        return f"A {note.category} note cannot be {ACTION_PAST[action]}."
    if action in (SIGN, LOCK_SIGN) and not note.is_sig_required:
        return "This note type does not require a signature."
    if action in (CHECKIN, NOSHOW) and note.category != APPOINTMENT:
        return "Only appointment notes can be checked in or marked as no-show."
    return None


def refusal(
    action: str, note: NoteFacts, *, caller_id: str, signing_policy: str = "provider"
) -> Refusal | None:
    """Return why `caller_id` may not take `action` on `note` now, or None.

    The note-level checks of the contract, in its order: the signer rule
    (403 not_note_provider), the category and type (422 action_rejected),
    the state (409 action_not_allowed, or already_signed when this caller
    signed since the last lock).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if (
        action in SIGNER_ACTIONS
        and signing_policy != "any_staff"
        and caller_id not in {note.provider_id, note.supervising_provider_id} - {""}
    ):
        return Refusal(
            403,
            "not_note_provider",
            "Only the note's provider or supervising provider can "
            f"{ACTION_LABELS[action].lower()} it.",
        )
    rejected = _rejection(action, note)
    if rejected:
        return Refusal(422, "action_rejected", rejected)
    if action in (SIGN, LOCK_SIGN) and note.state == "SGN" and caller_id in note.signed_since_lock:
        return Refusal(409, "already_signed", "You have already signed this note.", note.state)
    if action == LOCK_SIGN and note.state == "SGN":
        # A signed note is signed again with "sign" (a co-signature), not locked again.
        return _not_allowed(action, note.state)
    try:
        expected_states(
            action, note.state, category=note.category, is_sig_required=note.is_sig_required
        )
    except InvalidTransition:
        return _not_allowed(action, note.state)
    return None


def _not_allowed(action: str, state: str) -> Refusal:
    label = STATE_LABELS.get(state, state)
    return Refusal(
        409,
        "action_not_allowed",
        f"This note is {label}; it can't be {ACTION_PAST[action]}.",
        state,
    )


def allowed_actions(
    note: NoteFacts, *, caller_id: str, signing_policy: str = "provider"
) -> list[str]:
    """Return the actions `caller_id` may take on `note` now, in ACTIONS order."""
    return [
        action
        for action in ACTIONS
        if refusal(action, note, caller_id=caller_id, signing_policy=signing_policy) is None
    ]


def to_sign_action(note: NoteFacts, *, caller_id: str) -> str | None:
    """Return the action that clears `note` from the caller's to-sign queue, or None.

    Their own notes of a signature-required type: open -> lock_sign,
    locked -> sign; notes they supervise, signed but not yet by them -> sign
    (a co-signature).
    """
    if note.category not in ACTIONABLE_CATEGORIES or not note.is_sig_required:
        return None
    if note.provider_id == caller_id:
        if note.state == "LKD":
            return SIGN
        if refusal(LOCK_SIGN, note, caller_id=caller_id) is None:
            return LOCK_SIGN
        return None
    if (
        note.supervising_provider_id == caller_id
        and note.state == "SGN"
        and caller_id not in note.signed_since_lock
    ):
        return SIGN
    return None


def signed_since_lock(history: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Return who signed since the last lock, from (state, staff id) pairs oldest first."""
    signers: set[str] = set()
    for state, staff_id in history:
        if state == "LKD":
            signers.clear()
        elif state == "SGN" and staff_id:
            signers.add(staff_id)
    return frozenset(signers)
