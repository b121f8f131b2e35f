"""The one table of note actions: every action's name, permission, words and question.

The model's choices, the permissions (and the default groups), button
labels, the questions asked first and messages all derive from `ACTIONS`;
the signing queue's one button per note (`QueueAction`) derives from it too. The names are
the plugin API's (docs/plugin-api.md); tests/notes/test_actions.py checks
them against the plugin's own list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models


class Action(models.TextChoices):
    """A note action, by its plugin API name; the label is the button's."""

    LOCK = "lock", "Lock"
    SIGN = "sign", "Sign"
    LOCK_SIGN = "lock_sign", "Lock & sign"
    UNLOCK = "unlock", "Unlock"
    CHECKIN = "checkin", "Check in"
    NOSHOW = "noshow", "No-show"


@dataclass(frozen=True)
class ActionSpec:
    """What the portal knows about one action."""

    action: Action
    #: Past participle: "Note signed." / "it can't be signed".
    done: str
    #: Codename of the permission (on notes.NoteActionAttempt) it needs, and its name.
    permission: str
    permission_name: str
    #: The question asked before it is sent ("" sends it at once).
    ask: str = ""
    #: Front-desk work: the default "Front desk" group holds it.
    front_desk: bool = False
    #: While Canvas applies it: "Signing…".
    doing: str = ""
    #: What Canvas applies, for "Canvas did not apply the signature".
    noun: str = ""
    #: The states whose appearance in the note's history (by the caller, after
    #: the request) proves the action applied when Canvas did not say which
    #: state to expect (the outcome of the request is unknown).
    final_states: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.action.value

    @property
    def label(self) -> str:
        return self.action.label

    @property
    def perm(self) -> str:
        """Return the permission as `user.has_perm` takes it."""
        return f"notes.{self.permission}"


#: Every action, in the order a person meets them.
ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            Action.LOCK,
            "locked",
            "lock_note",
            "Can lock notes",
            doing="Locking…",
            noun="the lock",
            final_states=("LKD",),
        ),
        ActionSpec(
            Action.SIGN,
            "signed",
            "sign_note",
            "Can sign notes",
            ask="Sign this note? A signed note can only be changed by unlocking it.",
            doing="Signing…",
            noun="the signature",
            final_states=("SGN",),
        ),
        ActionSpec(
            Action.LOCK_SIGN,
            "locked and signed",
            "lock_sign_note",
            "Can lock and sign notes",
            ask="Sign this note? It locks and records your signature in one step.",
            doing="Locking & signing…",
            noun="the lock and signature",
            final_states=("SGN",),
        ),
        ActionSpec(
            Action.UNLOCK,
            "unlocked",
            "unlock_note",
            "Can unlock notes",
            ask="Unlock this note? It will need to be locked and signed again.",
            doing="Unlocking…",
            noun="the unlock",
            # Appointment notes unlock back to "no-show" in Canvas's table.
            final_states=("ULK", "NSW"),
        ),
        ActionSpec(
            Action.CHECKIN,
            "checked in",
            "checkin_note",
            "Can check patients in",
            front_desk=True,
            doing="Checking in…",
            noun="the check-in",
            final_states=("CVD",),
        ),
        ActionSpec(
            Action.NOSHOW,
            "marked as no-show",
            "noshow_note",
            "Can mark appointments as no-show",
            front_desk=True,
            doing="Marking no-show…",
            noun="the no-show",
            final_states=("NSW",),
        ),
    )
}

#: `Meta.permissions` of notes.NoteActionAttempt.
PERMISSIONS: list[tuple[str, str]] = [(s.permission, s.permission_name) for s in ACTIONS.values()]

#: The actions that sign a note (a provider's work, and a bulk run's).
SIGNING_ACTIONS = (Action.SIGN, Action.LOCK_SIGN)


def actions_permitted(*, user: AbstractBaseUser) -> list[ActionSpec]:
    """Return the actions the user's permissions allow, in table order."""
    return [spec for spec in ACTIONS.values() if user.has_perm(spec.perm)]


def user_can_sign(*, user: AbstractBaseUser) -> bool:
    """Return whether the user may sign notes (providers), as opposed to front-desk work."""
    return any(user.has_perm(ACTIONS[action].perm) for action in SIGNING_ACTIONS)


class QueueAction(models.TextChoices):
    """The one signing button the queue shows a note (contract v3's `queue_action`)."""

    #: Open, signature-required: Canvas's one Sign locks and signs in one step.
    LOCK_SIGN = "lock_sign", "Sign"
    #: Locked: Sign.
    SIGN = "sign", "Sign"
    #: Signed by someone else, awaiting the caller's signature.
    COSIGN = "cosign", "Co-sign"


#: The plugin action each queue action sends.
QUEUE_ACTION_SENDS: dict[str, Action] = {
    QueueAction.LOCK_SIGN: Action.LOCK_SIGN,
    QueueAction.SIGN: Action.SIGN,
    QueueAction.COSIGN: Action.SIGN,
}
#: The question a co-signature asks first.
COSIGN_ASK = "Co-sign this note? Your signature is added to the one already on it."


def queue_action_for(note: dict[str, Any]) -> QueueAction | None:
    """Return the note's signing button: Canvas's `queue_action`, else derived the same way.

    Derived (a plugin before contract v3) from `allowed_actions` and the state:
    a signed note the caller may sign is a co-signature, a locked one is signed,
    an open one (NEW, ULK, PSH...) is locked and signed in one step.
    """
    sent = note.get("queue_action")
    if sent in QueueAction.values:
        return QueueAction(sent)
    # Canvas offers sign and lock & sign only on signature-required types, so a note
    # drawn from an attempt's stored codes (no note type) is judged by its actions.
    if "note_type" in note and not note["note_type"].get("is_sig_required"):
        return None
    allowed = set(note.get("allowed_actions", []))
    state = note.get("state", {}).get("code")
    if Action.SIGN in allowed and state == "SGN":
        return QueueAction.COSIGN
    if Action.SIGN in allowed and state == "LKD":
        return QueueAction.SIGN
    if Action.LOCK_SIGN in allowed:
        return QueueAction.LOCK_SIGN
    if Action.SIGN in allowed:
        return QueueAction.SIGN
    return None


def signed_by_for(note: dict[str, Any]) -> dict[str, Any] | None:
    """Return who signed a note awaiting a co-signature: `{"id", "name", "at"}`, or None.

    Canvas's `signed_by` when sent; else, on a signed note, the state's
    `changed_by` and `changed_at` (named only when that is the note's provider;
    both blank when Canvas does not say).
    """
    if note.get("signed_by"):
        return note["signed_by"]
    state = note.get("state", {})
    if state.get("code") != "SGN":
        return None
    by = state.get("changed_by") or ""
    provider = note.get("provider") or {}
    name = provider.get("name", "") if by and provider.get("id") == by else ""
    return {"id": by, "name": name, "at": state.get("changed_at")}


def staged_ask(staged: int) -> str:
    """Return the question a signing action asks first on a note with commands not committed."""
    noun = "command" if staged == 1 else "commands"
    return f"This note has {staged} {noun} not committed in Canvas. Sign it anyway?"


def _button(spec: ActionSpec, *, label: str = "", ask: str | None = None) -> dict[str, str]:
    return {
        "name": spec.name,
        "label": label or spec.label,
        "ask": spec.ask if ask is None else ask,
    }


def note_with_actions(*, user: AbstractBaseUser, note: dict[str, Any]) -> dict[str, Any]:
    """Return the summary plus `actions` (its buttons), `queue_action` and `signed_by`.

    Buttons are the actions allowed in its state AND permitted to the user, as
    Canvas shows them: a signature-required note Canvas lets the caller sign has
    one Sign (lock & sign when open, sign when locked, Co-sign when someone
    else signed) and no Lock; Lock stays for notes that need no signature.
    The action endpoint still accepts every allowed action.
    """
    allowed = set(note.get("allowed_actions", []))
    queue_action = queue_action_for(note)
    actions = []
    hidden: set[Action] = set()
    if queue_action is not None:
        # The one Sign stands for lock, sign and lock & sign on this note.
        hidden = {Action.LOCK, *SIGNING_ACTIONS}
        spec = ACTIONS[QUEUE_ACTION_SENDS[queue_action]]
        if spec.name in allowed and user.has_perm(spec.perm):
            ask = COSIGN_ASK if queue_action == QueueAction.COSIGN else None
            staged = note.get("staged_commands") or 0
            if staged:
                ask = staged_ask(staged)
            actions.append(_button(spec, label=queue_action.label, ask=ask))
    actions += [
        _button(spec)
        for spec in actions_permitted(user=user)
        if spec.name in allowed and spec.action not in hidden
    ]
    signed_by = signed_by_for(note) if queue_action == QueueAction.COSIGN else None
    return {**note, "actions": actions, "queue_action": queue_action, "signed_by": signed_by}
