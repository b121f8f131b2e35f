"""Which note actions Canvas allows, to whom and when: the plugin's prediction of Canvas's rules.

The codes it speaks are the enums of codes.py. Plain Python with no SDK
import and no plugin import but codes.py: the plugin enforces these rules
(the SDK's Note effect does not check the note's state, nor who signs), and
the portal's tests and its Canvas sandbox load it without the SDK.

Source: "Note state transitions" in canvas-medical/documentation
collections/_sdk/effects/note.md, over the SDK's TRANSITION_STATE_MATRIX.
Who may sign is the plugin's decision (Canvas does not stop it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from note_sign_api.codes import (
    ACTION_LABELS,
    ACTION_PAST,
    ACTIONABLE_CATEGORIES,
    ACTIONS,
    PROVIDER_ONLY_ACTIONS,
    SIGNER_ACTIONS,
    STATE_LABELS,
    Action,
    Category,
    EffectName,
    ErrorCode,
    QueueAction,
    SigningPolicy,
    State,
)
from note_sign_api.codes import (
    APPOINTMENT as APPOINTMENT,
)
from note_sign_api.codes import (
    CATEGORIES as CATEGORIES,
)
from note_sign_api.codes import (
    CHECK_IN_NOTE as CHECK_IN_NOTE,
)
from note_sign_api.codes import (
    DATA as DATA,
)
from note_sign_api.codes import (
    ENCOUNTER as ENCOUNTER,
)
from note_sign_api.codes import (
    INPATIENT as INPATIENT,
)
from note_sign_api.codes import (
    LETTER as LETTER,
)
from note_sign_api.codes import (
    LOCK_NOTE as LOCK_NOTE,
)
from note_sign_api.codes import (
    MESSAGE as MESSAGE,
)
from note_sign_api.codes import (
    NO_SHOW_NOTE as NO_SHOW_NOTE,
)
from note_sign_api.codes import (
    SIGN_NOTE as SIGN_NOTE,
)

# Re-exported: the Canvas sandbox and the tests read these here.
from note_sign_api.codes import (
    STATES as STATES,
)
from note_sign_api.codes import (
    UNLOCK_NOTE as UNLOCK_NOTE,
)
from note_sign_api.codes import (
    ListOrder as ListOrder,
)
from note_sign_api.codes import (
    Queue as Queue,
)

if TYPE_CHECKING:  # the plugin sandbox allows no collections.abc import at run time
    from collections.abc import Iterable

_LOCK_FROM = frozenset({State.NEW, State.CHECKED_IN, State.UNLOCKED, State.UNDELETED})


class InvalidTransition(ValueError):
    """What Canvas raises when it applies an effect the note's state does not allow."""


def _effect_rule(effect: str, *, category: str, is_sig_required: bool) -> tuple[set[str], str]:
    """Return (the states `effect` applies from, the state it moves to) for this note type."""
    appointment = category == Category.APPOINTMENT
    if effect == EffectName.LOCK_NOTE:
        if appointment:
            return {State.NO_SHOW}, State.LOCKED
        pushed = {State.PUSHED} if category == Category.ENCOUNTER else set()
        return set(_LOCK_FROM) | pushed, State.LOCKED
    if effect == EffectName.SIGN_NOTE:
        return ({State.LOCKED, State.SIGNED} if is_sig_required else set()), State.SIGNED
    if effect == EffectName.UNLOCK_NOTE:
        allowed = {State.LOCKED, State.SIGNED} if is_sig_required else {State.LOCKED}
        return allowed, State.NO_SHOW if appointment else State.UNLOCKED
    if effect == EffectName.CHECK_IN_NOTE:
        allowed = {State.BOOKED, State.REVERTED, State.NO_SHOW}
        return (allowed if appointment else set()), State.CHECKED_IN
    if effect == EffectName.NO_SHOW_NOTE:
        return ({State.BOOKED, State.REVERTED} if appointment else set()), State.NO_SHOW
    raise ValueError(f"unknown effect {effect!r}")


def effect_result(effect: str, state: str, *, category: str, is_sig_required: bool) -> str:
    """Return the state `effect` moves a note to, or raise InvalidTransition.

    The documented table, as Canvas applies it (after the plugin answered).
    """
    if category not in ACTIONABLE_CATEGORIES:
        raise InvalidTransition(f"A {category} note accepts no state change.")
    allowed, result = _effect_rule(effect, category=category, is_sig_required=is_sig_required)
    if state not in allowed:
        raise InvalidTransition("Invalid state transition")
    if effect == EffectName.UNLOCK_NOTE and state == State.SIGNED:
        # The table sends only LKD back to NSW on appointment notes; SGN unlocks to ULK.
        return State.UNLOCKED
    return result


#: The effects each action emits (lock_sign from a locked note: see effects_for).
_EFFECTS: dict[str, list[EffectName]] = {
    Action.LOCK: [EffectName.LOCK_NOTE],
    Action.SIGN: [EffectName.SIGN_NOTE],
    Action.LOCK_SIGN: [EffectName.LOCK_NOTE, EffectName.SIGN_NOTE],
    Action.UNLOCK: [EffectName.UNLOCK_NOTE],
    Action.CHECKIN: [EffectName.CHECK_IN_NOTE],
    Action.NOSHOW: [EffectName.NO_SHOW_NOTE],
}


def effects_for(action: str, state: str) -> list[str]:
    """Return the effect names `action` emits from `state`, in order.

    lock_sign is [lock, sign], or only sign when the note is already locked.
    """
    if action not in _EFFECTS:
        raise ValueError(f"unknown action {action!r}")
    if action == Action.LOCK_SIGN and state == State.LOCKED:
        return [EffectName.SIGN_NOTE]
    return list(_EFFECTS[action])


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
    #: The provider's default supervising provider (Staff.default_supervising_provider).
    default_supervisor_id: str = ""
    #: Staff ids who signed since the note was last locked (a second signature is a co-signature).
    signed_since_lock: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused: the contract's status, code and a sentence for a person."""

    status: int
    code: ErrorCode
    message: str
    state: str = ""


def _rejection(action: str, note: NoteFacts) -> str | None:
    """Return why the note's category or type forbids `action` (422), or None."""
    if note.category not in ACTIONABLE_CATEGORIES:
        return f"A {note.category} note cannot be {ACTION_PAST[action]}."
    if action in (Action.SIGN, Action.LOCK_SIGN) and not note.is_sig_required:
        return "This note type does not require a signature."
    if action in (Action.CHECKIN, Action.NOSHOW) and note.category != Category.APPOINTMENT:
        return "Only appointment notes can be checked in or marked as no-show."
    return None


def _may_sign(action: str, note: NoteFacts, *, caller_id: str, signing_policy: str) -> bool:
    """Return whether the signer rule lets `caller_id` take `action` on `note`."""
    if action not in SIGNER_ACTIONS or signing_policy == SigningPolicy.ANY_STAFF:
        return True
    signers = {note.provider_id, note.supervising_provider_id, note.default_supervisor_id}
    return caller_id in signers - {""}


def restricted(action: str, note: NoteFacts, *, caller_id: str, restrict: bool) -> bool:
    """Return whether "restrict note signing to the provider" keeps `caller_id` from `action`.

    With the instance setting on (the plugin variable restrict_signing_to_provider
    mirrors it), Canvas applies lock, sign and unlock only for the note's provider.
    """
    return restrict and action in PROVIDER_ONLY_ACTIONS and caller_id != note.provider_id


def refusal(
    action: str,
    note: NoteFacts,
    *,
    caller_id: str,
    signing_policy: str = SigningPolicy.PROVIDER,
    restrict: bool = False,
) -> Refusal | None:
    """Return why `caller_id` may not take `action` on `note` now, or None.

    The note-level checks of the contract, in its order: the signer rule and
    the signing restriction (`restrict`; 403 not_note_provider), the category
    and type (422 action_rejected), the state (409 action_not_allowed, or
    already_signed when this caller signs a note they signed since the last lock).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if restricted(action, note, caller_id=caller_id, restrict=restrict):
        return Refusal(
            403,
            ErrorCode.NOT_NOTE_PROVIDER,
            f"Only the note's provider can {ACTION_LABELS[action].lower()} it on this instance.",
        )
    if not _may_sign(action, note, caller_id=caller_id, signing_policy=signing_policy):
        return Refusal(
            403,
            ErrorCode.NOT_NOTE_PROVIDER,
            "Only the note's provider or supervising provider can "
            f"{ACTION_LABELS[action].lower()} it.",
        )
    rejected = _rejection(action, note)
    if rejected:
        return Refusal(422, ErrorCode.ACTION_REJECTED, rejected)
    if action == Action.LOCK_SIGN and note.state == State.SIGNED:
        # A signed note is signed again with "sign" (a co-signature), not locked again;
        # already_signed is the answer of `sign` alone (the document's order).
        return _not_allowed(action, note.state)
    if action == Action.SIGN and note.state == State.SIGNED and caller_id in note.signed_since_lock:
        message = "You have already signed this note."
        return Refusal(409, ErrorCode.ALREADY_SIGNED, message, note.state)
    if action in (Action.SIGN, Action.LOCK_SIGN) and note.category == Category.APPOINTMENT:
        # Canvas never offers a signature on an appointment note: a visit is signed
        # once check-in has converted it to an encounter note (a no-show only locks).
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
        ErrorCode.ACTION_NOT_ALLOWED,
        f"This note is {label}; it can't be {ACTION_PAST[action]}.",
        state,
    )


def allowed_actions(
    note: NoteFacts,
    *,
    caller_id: str,
    signing_policy: str = SigningPolicy.PROVIDER,
    restrict: bool = False,
) -> list[Action]:
    """Return the actions `caller_id` may take on `note` now, in ACTIONS order."""
    return [
        action
        for action in ACTIONS
        if refusal(
            action, note, caller_id=caller_id, signing_policy=signing_policy, restrict=restrict
        )
        is None
    ]


def to_sign_action(
    note: NoteFacts, *, caller_id: str, restrict: bool = False
) -> QueueAction | None:
    """Return what clears `note` from the caller's to-sign queue (a summary's queue_action).

    Their own notes of a signature-required type, never appointment notes
    (Canvas never offers a signature on them): open -> lock_sign, locked ->
    sign; notes they supervise (the note's supervising provider or the
    provider's default one), signed but not yet by them -> cosign, unless
    signing is restricted to the provider (`restrict`).
    """
    queued = ACTIONABLE_CATEGORIES - {Category.APPOINTMENT}
    if note.category not in queued or not note.is_sig_required:
        return None
    if note.provider_id == caller_id:
        if note.state == State.LOCKED:
            return QueueAction.SIGN
        if refusal(Action.LOCK_SIGN, note, caller_id=caller_id) is None:
            return QueueAction.LOCK_SIGN
        return None
    if (
        not restrict
        and caller_id in {note.supervising_provider_id, note.default_supervisor_id}
        and note.state == State.SIGNED
        and caller_id not in note.signed_since_lock
    ):
        return QueueAction.COSIGN
    return None


def signed_since_lock(history: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Return who signed since the last lock, from (state, staff id) pairs oldest first."""
    signers: set[str] = set()
    for state, staff_id in history:
        if state == State.LOCKED:
            signers.clear()
        elif state == State.SIGNED and staff_id:
            signers.add(staff_id)
    return frozenset(signers)
