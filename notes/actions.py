"""The one table of note actions: every action's name, permission, words and question.

The model's choices, the permissions (and the default groups), button
labels, the questions asked first and messages all derive from `ACTIONS`. The names are
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
            ask="Lock and sign this note?",
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


def staged_ask(staged: int) -> str:
    """Return the question a signing action asks first on a note with commands not committed."""
    noun = "command" if staged == 1 else "commands"
    return f"This note has {staged} {noun} not committed in Canvas. Sign it anyway?"


def note_with_actions(*, user: AbstractBaseUser, note: dict[str, Any]) -> dict[str, Any]:
    """Return the summary plus `actions`: allowed in its state AND permitted to the user.

    On a note with commands not committed, a signing action asks about them first.
    """
    allowed = set(note.get("allowed_actions", []))
    staged = note.get("staged_commands") or 0
    actions = [
        {
            "name": spec.name,
            "label": spec.label,
            "ask": staged_ask(staged) if staged and spec.name in SIGNING_ACTIONS else spec.ask,
        }
        for spec in actions_permitted(user=user)
        if spec.name in allowed
    ]
    return {**note, "actions": actions}
