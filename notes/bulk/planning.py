"""Planning a run: reads the signing queue in Canvas and picks one action per note; no writes.

A run is planned from the signing queue as Canvas shows it when the person
answers the question (never from what the page posted): each note gets the
one action that fits it (lock & sign an open note, sign a locked one,
co-sign one already signed by its provider). A note with commands not
committed in Canvas is left out by default (NOTES_BULK_SKIP_STAGED), with
its reason: the run records it as not started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from canvas_oauth.tokens import canvas_call
from integrations.canvas.plugin import plugin_client
from notes import conf
from notes.actions import ACTIONS, Action, user_can_sign
from notes.exceptions import ActionNotPermitted, NothingToSign
from notes.worklist import Order, Queue

#: The most notes one run takes (the queue is read 100 at a time).
MAX_NOTES = 500
#: The label of a sign on a note someone else signed (a queue action, not an Action).
COSIGN_LABEL = "Co-sign"
#: Why nothing can be signed when every chosen note has commands not committed.
ALL_STAGED = "Every note you chose has commands not committed in Canvas: open each note to sign it."


def bulk_action_for(note: dict[str, Any]) -> Action | None:
    """Return the action that signs this note for its caller, or None if none does."""
    allowed = set(note.get("allowed_actions", []))
    if note["state"]["code"] in ("NEW", "ULK") and Action.LOCK_SIGN in allowed:
        return Action.LOCK_SIGN
    if Action.SIGN in allowed:
        return Action.SIGN
    return None


def bulk_label(note: dict[str, Any], action: str) -> str:
    """Return what the action is called for this note: Lock & sign, Sign or Co-sign."""
    if action == Action.SIGN and note["state"]["code"] == "SGN":
        return COSIGN_LABEL
    return ACTIONS[action].label


def staged_skip_reason(note: dict[str, Any]) -> str:
    """Return why a run leaves this note out (commands not committed), or '' to sign it."""
    staged = note.get("staged_commands") or 0
    if not staged or not conf.bulk_skip_staged():
        return ""
    noun = "command" if staged == 1 else "commands"
    return f"Left out: {staged} {noun} not committed in Canvas. Open the note to sign it."


@dataclass(frozen=True)
class PlannedNote:
    note: dict[str, Any]
    action: Action
    label: str
    #: Why the run leaves it out (recorded as not started), or "".
    skip: str = ""


@dataclass(frozen=True)
class Plan:
    """What a run would do: the notes in queue order, and the sentence of the question."""

    notes: list[PlannedNote] = field(default_factory=list)

    @property
    def to_sign(self) -> list[PlannedNote]:
        return [planned for planned in self.notes if not planned.skip]

    @property
    def skipped(self) -> list[PlannedNote]:
        return [planned for planned in self.notes if planned.skip]

    @property
    def count(self) -> int:
        return len(self.to_sign)

    @property
    def by_label(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for planned in self.to_sign:
            counts[planned.label] = counts.get(planned.label, 0) + 1
        return counts

    @property
    def title(self) -> str:
        noun = "note" if self.count == 1 else "notes"
        labels = set(self.by_label)
        verb = labels.pop() if len(labels) == 1 else ACTIONS[Action.SIGN].label
        return f"{verb} {self.count} {noun}"


def queue_read(*, user: AbstractBaseUser) -> list[dict[str, Any]]:
    """Return the user's whole signing queue (oldest first), up to MAX_NOTES notes."""
    notes: list[dict[str, Any]] = []
    cursor = None
    while len(notes) < MAX_NOTES:
        page = canvas_call(
            user=user,
            call=lambda token, cursor=cursor: plugin_client().note_list(
                access_token=token,
                queue=Queue.TO_SIGN,
                order=Order.OLDEST,
                limit=100,
                cursor=cursor,
            ),
        )
        notes.extend(page["notes"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return notes[:MAX_NOTES]


def plan_for_user(*, user: AbstractBaseUser, note_ids: list[str] | None) -> Plan:
    """Plan a run over the queue as Canvas shows it now: all of it, or the chosen notes in it.

    Notes no longer in the queue (signed meanwhile) and notes no action
    signs are left out.
    """
    if not user_can_sign(user=user):
        raise ActionNotPermitted()
    chosen = None if note_ids is None else {str(n).strip().lower() for n in note_ids}
    planned = []
    for note in queue_read(user=user):
        if chosen is not None and note["id"] not in chosen:
            continue
        action = bulk_action_for(note)
        if action is None or not user.has_perm(ACTIONS[action].perm):
            continue
        label, skip = bulk_label(note, action), staged_skip_reason(note)
        planned.append(PlannedNote(note=note, action=action, label=label, skip=skip))
    plan = Plan(notes=planned)
    if not plan.count:
        raise NothingToSign(ALL_STAGED if plan.skipped else None)
    return plan
