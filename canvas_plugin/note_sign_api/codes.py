"""The plugin's vocabulary: every code of the plugin API (contract v3) is an enum spelled here.

Plain Python with no SDK import and no import of the plugin's other modules,
so the rules (transitions.py), the Canvas sandbox and the portal's tests can
load it on its own.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """A state action on a note: the last segment of POST /notes/<id>/<action>."""

    LOCK = "lock"
    SIGN = "sign"
    LOCK_SIGN = "lock_sign"
    UNLOCK = "unlock"
    CHECKIN = "checkin"
    NOSHOW = "noshow"


class State(StrEnum):
    """A note state code, as Canvas records it."""

    NEW = "NEW"
    PUSHED = "PSH"
    LOCKED = "LKD"
    UNLOCKED = "ULK"
    DELETED = "DLT"
    RELOCKED = "RLK"
    RESTORED = "RST"
    RECALLED = "RCL"
    UNDELETED = "UND"
    DISCHARGED = "DSC"
    SIGNED = "SGN"
    SCHEDULING = "SCH"
    BOOKED = "BKD"
    CHECKED_IN = "CVD"
    CANCELLED = "CLD"
    NO_SHOW = "NSW"
    REVERTED = "RVT"
    CONFIRMED = "CNF"


class Category(StrEnum):
    """A note type category (canvas_sdk NoteTypeCategories, those a clinic meets here)."""

    ENCOUNTER = "encounter"
    APPOINTMENT = "appointment"
    INPATIENT = "inpatient"
    DATA = "data"
    LETTER = "letter"
    MESSAGE = "message"


class EffectName(StrEnum):
    """A Note effect an action emits, named as the SDK's effect types."""

    LOCK_NOTE = "LOCK_NOTE"
    SIGN_NOTE = "SIGN_NOTE"
    UNLOCK_NOTE = "UNLOCK_NOTE"
    CHECK_IN_NOTE = "CHECK_IN_NOTE"
    NO_SHOW_NOTE = "NO_SHOW_NOTE"


class SigningPolicy(StrEnum):
    """The plugin variable `signing_policy`: who may sign, lock & sign and unlock a note."""

    #: Only the note's provider or supervising provider (the default).
    PROVIDER = "provider"
    #: Any active staff member.
    ANY_STAFF = "any_staff"


class Visibility(StrEnum):
    """The plugin variable `visibility`: which notes a caller sees."""

    #: Their own, supervised and care-team patients' notes; today's appointments for admin staff.
    RELATED = "related"
    #: Every note (Canvas's own permissions decide elsewhere).
    ALL = "all"


class QueueAction(StrEnum):
    """What clears a note from the caller's to-sign queue (a summary's `queue_action`)."""

    SIGN = "sign"
    LOCK_SIGN = "lock_sign"
    COSIGN = "cosign"


class ErrorCode(StrEnum):
    """The `error.code` of every error body the plugin API answers."""

    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    INVALID_NOTE_ID = "invalid_note_id"
    INVALID_CURSOR = "invalid_cursor"
    NOTE_NOT_FOUND = "note_not_found"
    NOT_NOTE_PROVIDER = "not_note_provider"
    ACTION_REJECTED = "action_rejected"
    ACTION_NOT_ALLOWED = "action_not_allowed"
    ALREADY_SIGNED = "already_signed"


class Queue(StrEnum):
    """GET /notes `queue`: a worklist the API computes for the caller."""

    TO_SIGN = "to_sign"


class ListOrder(StrEnum):
    """GET /notes `order`: newest date of service first (the default) or oldest first."""

    NEWEST = "newest"
    OLDEST = "oldest"


#: Every action, in the order a person meets them.
ACTIONS: tuple[Action, ...] = tuple(Action)

#: Human labels for the actions.
ACTION_LABELS: dict[str, str] = {
    Action.LOCK: "Lock",
    Action.SIGN: "Sign",
    Action.LOCK_SIGN: "Lock & sign",
    Action.UNLOCK: "Unlock",
    Action.CHECKIN: "Check in",
    Action.NOSHOW: "No-show",
}

#: How each action reads in "cannot be ..." messages.
ACTION_PAST: dict[str, str] = {
    Action.LOCK: "locked",
    Action.SIGN: "signed",
    Action.LOCK_SIGN: "locked and signed",
    Action.UNLOCK: "unlocked",
    Action.CHECKIN: "checked in",
    Action.NOSHOW: "marked as no-show",
}

# STATE_LABELS, STATES and CATEGORIES hold plain strings, not enum members: the
# sandbox builds Django model choices from them, and migrations would spell an
# enum member by its import path.

#: Note state codes and their Canvas labels.
STATE_LABELS: dict[str, str] = {
    State.NEW.value: "Created",
    State.PUSHED.value: "Pushed",
    State.LOCKED.value: "Locked",
    State.UNLOCKED.value: "Unlocked",
    State.DELETED.value: "Deleted",
    State.RELOCKED.value: "Relocked",
    State.RESTORED.value: "Restored",
    State.RECALLED.value: "Recalled",
    State.UNDELETED.value: "Undeleted",
    State.DISCHARGED.value: "Discharged",
    State.SIGNED.value: "Signed",
    State.SCHEDULING.value: "Scheduling",
    State.BOOKED.value: "Booked",
    State.CHECKED_IN.value: "Checked in",
    State.CANCELLED.value: "Cancelled",
    State.NO_SHOW.value: "No show",
    State.REVERTED.value: "Reverted",
    State.CONFIRMED.value: "Confirmed",
}
STATES: tuple[str, ...] = tuple(STATE_LABELS)
CATEGORIES: tuple[str, ...] = tuple(category.value for category in Category)
#: Only these categories accept any state action; every other one accepts none.
ACTIONABLE_CATEGORIES = frozenset({Category.ENCOUNTER, Category.APPOINTMENT, Category.INPATIENT})

#: Actions only a note's provider or supervisor may take (SigningPolicy.PROVIDER).
SIGNER_ACTIONS = frozenset({Action.SIGN, Action.LOCK_SIGN, Action.UNLOCK})
#: Actions only the note's provider may take when signing is restricted to the provider.
PROVIDER_ONLY_ACTIONS = frozenset({Action.LOCK, Action.SIGN, Action.LOCK_SIGN, Action.UNLOCK})

# Short names the Canvas sandbox and the tests import, kept beside the enums.
ENCOUNTER = Category.ENCOUNTER
APPOINTMENT = Category.APPOINTMENT
INPATIENT = Category.INPATIENT
DATA = Category.DATA
LETTER = Category.LETTER
MESSAGE = Category.MESSAGE
LOCK_NOTE = EffectName.LOCK_NOTE
SIGN_NOTE = EffectName.SIGN_NOTE
UNLOCK_NOTE = EffectName.UNLOCK_NOTE
CHECK_IN_NOTE = EffectName.CHECK_IN_NOTE
NO_SHOW_NOTE = EffectName.NO_SHOW_NOTE
