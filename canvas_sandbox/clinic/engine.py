"""Canvas's rules for applying a note effect: the documented transitions table, nothing else.

The sandbox's own Canvas, written from Canvas's documentation ("Note state
transitions", collections/_sdk/effects/note.md in canvas-medical/documentation;
CANVAS_SDK.md, "What Canvas documents"), never imported from the plugin: the
plugin's transitions module is its *prediction* of these rules, and
tests/sandbox/test_engine_parity.py compares the two over every case. So an
effect the plugin accepted can land differently here, as on a real instance,
when the plugin misreads the table.

Plain Python, no Django: the parity test imports it anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class NoteState(StrEnum):
    """A note's state code (canvas_sdk NoteStates)."""

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
    CONVERTED = "CVD"
    CANCELLED = "CLD"
    NOSHOW = "NSW"
    REVERTED = "RVT"
    CONFIRM_IMPORT = "CNF"


#: How the sandbox labels each state (its pages and stored choices).
STATE_LABELS: dict[NoteState, str] = {
    NoteState.NEW: "Created",
    NoteState.PUSHED: "Pushed",
    NoteState.LOCKED: "Locked",
    NoteState.UNLOCKED: "Unlocked",
    NoteState.DELETED: "Deleted",
    NoteState.RELOCKED: "Relocked",
    NoteState.RESTORED: "Restored",
    NoteState.RECALLED: "Recalled",
    NoteState.UNDELETED: "Undeleted",
    NoteState.DISCHARGED: "Discharged",
    NoteState.SIGNED: "Signed",
    NoteState.SCHEDULING: "Scheduling",
    NoteState.BOOKED: "Booked",
    NoteState.CONVERTED: "Checked in",
    NoteState.CANCELLED: "Cancelled",
    NoteState.NOSHOW: "No show",
    NoteState.REVERTED: "Reverted",
    NoteState.CONFIRM_IMPORT: "Confirmed",
}


class Category(StrEnum):
    """The note type categories the sandbox's clinic has (canvas_sdk NoteTypeCategories)."""

    ENCOUNTER = "encounter"
    APPOINTMENT = "appointment"
    INPATIENT = "inpatient"
    DATA = "data"
    LETTER = "letter"
    MESSAGE = "message"


#: The only categories that accept a state effect; every other one (message,
#: letter, data, search, ...) accepts none.
ACCEPTING_CATEGORIES = frozenset({Category.ENCOUNTER, Category.APPOINTMENT, Category.INPATIENT})


class Effect(StrEnum):
    """A note state effect a plugin returns (canvas_sdk EffectType)."""

    LOCK = "LOCK_NOTE"
    SIGN = "SIGN_NOTE"
    UNLOCK = "UNLOCK_NOTE"
    CHECK_IN = "CHECK_IN_NOTE"
    NO_SHOW = "NO_SHOW_NOTE"


S = NoteState

#: The documented table: effect -> (the state it moves to, the states it is allowed from),
#: before the per-category and per-type rows of effect_apply.
TABLE: dict[Effect, tuple[NoteState, frozenset[NoteState]]] = {
    Effect.LOCK: (S.LOCKED, frozenset({S.NEW, S.CONVERTED, S.UNLOCKED, S.UNDELETED})),
    Effect.SIGN: (S.SIGNED, frozenset({S.LOCKED, S.SIGNED})),
    Effect.UNLOCK: (S.UNLOCKED, frozenset({S.LOCKED})),
    Effect.CHECK_IN: (S.CONVERTED, frozenset({S.BOOKED, S.REVERTED, S.NOSHOW})),
    Effect.NO_SHOW: (S.NOSHOW, frozenset({S.BOOKED, S.REVERTED})),
}

#: Effects the instance setting "restrict note signing to the provider" keeps to the provider.
PROVIDER_ONLY_WHEN_RESTRICTED = {
    Effect.LOCK: "locked",
    Effect.SIGN: "signed",
    Effect.UNLOCK: "unlocked",
}

#: Effects only appointment notes accept.
APPOINTMENT_ONLY = frozenset({Effect.CHECK_IN, Effect.NO_SHOW})


class InvalidTransition(ValueError):
    """What Canvas raises when it applies an effect the note does not allow."""

    def __init__(self, reason: str = "Invalid state transition") -> None:
        """Keep Canvas's wording unless a more precise reason is given."""
        super().__init__(reason)


def _allowed_from(effect: Effect, *, category: str, is_sig_required: bool) -> frozenset[str]:
    """Return the states `effect` is allowed from on a note of this category and type."""
    _, allowed = TABLE[effect]
    if effect in APPOINTMENT_ONLY:
        return allowed if category == Category.APPOINTMENT else frozenset()
    if effect is Effect.LOCK:
        if category == Category.APPOINTMENT:
            return frozenset({S.NOSHOW})  # appointment notes lock only from NSW
        return allowed | {S.PUSHED} if category == Category.ENCOUNTER else allowed
    if effect is Effect.SIGN:
        return allowed if is_sig_required else frozenset()
    # UNLOCK: also from SGN for note types that require a signature.
    return allowed | {S.SIGNED} if is_sig_required else allowed


def effect_apply(
    effect: str,
    state: str,
    *,
    category: str,
    is_sig_required: bool,
    actor_signed_since_lock: bool = False,
    restricted_to_provider: bool = False,
    actor_is_provider: bool = True,
) -> NoteState:
    """Return the state Canvas moves a note to when it applies `effect`, or raise InvalidTransition.

    `actor_signed_since_lock`: the effect's actor signed this note since it
    was last locked; signing again from SGN is a co-signature, so only
    someone who has not is allowed to (the SDK's sign button,
    `_current_user_signed_since_last_lock`).

    `restricted_to_provider`: the instance setting "restrict note signing to
    the provider" is on; then a lock, sign or unlock by anyone but the note's
    provider (`actor_is_provider` false) is refused, whatever a plugin said.
    """
    effect = Effect(effect)
    if category not in ACCEPTING_CATEGORIES:
        raise InvalidTransition(f"A {category} note accepts no state effect.")
    if restricted_to_provider and not actor_is_provider and effect in PROVIDER_ONLY_WHEN_RESTRICTED:
        past = PROVIDER_ONLY_WHEN_RESTRICTED[effect]
        raise InvalidTransition(f"{effect.value}: This note can only be {past} by the provider.")
    if state not in _allowed_from(effect, category=category, is_sig_required=is_sig_required):
        raise InvalidTransition()
    if effect is Effect.SIGN and state == S.SIGNED and actor_signed_since_lock:
        raise InvalidTransition("Already signed since the last lock.")
    target, _ = TABLE[effect]
    if effect is Effect.UNLOCK and category == Category.APPOINTMENT and state == S.LOCKED:
        return S.NOSHOW  # appointment notes unlock LKD back to NSW
    return target


def signers_since_lock(history: Iterable[tuple[str, str | None]]) -> frozenset[str]:
    """Return who signed since the note was last locked, from (state, actor) pairs oldest first."""
    signers: set[str] = set()
    for state, actor in history:
        if state == S.LOCKED:
            signers.clear()
        elif state == S.SIGNED and actor:
            signers.add(actor)
    return frozenset(signers)
