"""What a person sees: pure functions from an attempt or an error to a reply (no I/O).

Nothing here reads Canvas or writes the database: a reply is built from
what the caller already holds (the attempt's row, the error, the note).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from canvas_oauth.exceptions import NotConnected, ReauthorizationRequired
from core.toasts import Level
from integrations.canvas.exceptions import (
    ActionNotAllowed,
    ActionRejected,
    CanvasError,
    NotNoteProvider,
)
from integrations.canvas.plugin import STATE_LABELS
from notes.actions import ACTIONS, ActionSpec, note_with_actions
from notes.exceptions import AlreadyInProgress
from notes.models import NoteActionAttempt

Outcome = NoteActionAttempt.Outcome

#: What a page says when the stored Canvas credentials cannot be decrypted.
DECRYPT_MESSAGE = (
    "The portal can't read its stored Canvas credentials right now. "
    "An administrator has been alerted; please try again later."
)

#: Refusals after which the note is read again, to show it as it is now.
REREAD_AFTER = (
    ActionNotAllowed,
    ActionRejected,
    AlreadyInProgress,
    NotNoteProvider,
)


@dataclass(frozen=True)
class ActionReply:
    """What a person is shown after an action: the note or the attempt in flight, and a message."""

    #: The note's summary with actions, or None when there is no fresh one to draw.
    note: dict[str, Any] | None
    message: str
    #: INFO for a request Canvas is applying; SUCCESS once confirmed.
    level: Level
    #: The attempt Canvas is applying (accepted, or sent without an answer):
    #: the page follows it until it is confirmed or not applied.
    attempt: NoteActionAttempt | None = None
    #: `{"href", "text"}` of a link that helps (open the note), if any.
    link: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.level in (Level.SUCCESS, Level.INFO)


def refusal_message(exc: CanvasError, spec: ActionSpec | None) -> str:
    """Return the sentence a person reads when an action was refused (or could not be sent)."""
    if isinstance(exc, NotConnected):
        return f"{exc.message} Open the worklist to connect your Canvas account."
    if isinstance(exc, ReauthorizationRequired):
        return f"{exc.message} Open the worklist to reconnect."
    # (AlreadySigned is an ActionNotAllowed with its own sentence.)
    if type(exc) is ActionNotAllowed and exc.state and spec is not None:
        return f"This note is {STATE_LABELS.get(exc.state, exc.state)}; it can't be {spec.done}."
    return exc.message


def refusal_reply(exc: CanvasError, *, action: str, note: dict[str, Any] | None) -> ActionReply:
    """Return what to show after a refusal: the error's level, and the note read again if any."""
    return ActionReply(
        note=note, message=refusal_message(exc, ACTIONS.get(action)), level=exc.level
    )


def requested_reply(attempt: NoteActionAttempt) -> ActionReply:
    """Say what Canvas has shown so far: a request it accepted, or one it did not answer."""
    spec = ACTIONS[attempt.action]
    if attempt.outcome == Outcome.UNKNOWN:
        message = (
            f"{spec.label} requested, but Canvas did not answer in time. The portal is "
            "checking whether it applied; reload in a moment to see."
        )
        return ActionReply(note=None, message=message, level=Level.WARNING, attempt=attempt)
    message = f"{spec.label} requested: Canvas accepted it. Reload in a moment to see the outcome."
    return ActionReply(note=None, message=message, level=Level.INFO, attempt=attempt)


def attempt_note(*, user: AbstractBaseUser, attempt: NoteActionAttempt) -> dict[str, Any] | None:
    """Return the note as its final attempt last saw it (state and actions), or None.

    Codes only, stored when the attempt's outcome became final: the page
    redraws the note's state and buttons without calling Canvas.
    """
    if not attempt.note_state:
        return None
    code = attempt.note_state
    note = {
        "id": str(attempt.note_id),
        "state": {"code": code, "label": STATE_LABELS.get(code, code)},
        "allowed_actions": attempt.note_action_list,
    }
    return note_with_actions(user=user, note=note)


def attempt_reply(*, user: AbstractBaseUser, attempt: NoteActionAttempt) -> ActionReply:
    """Return what to show about a final attempt: no stronger than what Canvas showed."""
    spec = ACTIONS[attempt.action]
    note = attempt_note(user=user, attempt=attempt)
    link = {
        "href": reverse("notes:detail", kwargs={"note_id": attempt.note_id}),
        "text": "Open the note",
    }
    if attempt.outcome == Outcome.CONFIRMED:
        return ActionReply(note=note, message=f"Note {spec.done}.", level=Level.SUCCESS)
    if attempt.outcome == Outcome.APPLIED_LATE:
        return ActionReply(
            note=note,
            message=f"Note {spec.done}: Canvas applied it after the portal had stopped checking.",
            level=Level.SUCCESS,
        )
    if attempt.outcome == Outcome.NOT_APPLIED:
        return ActionReply(
            note=note,
            message=(
                f"Canvas did not apply {spec.noun}. The note may have changed in Canvas "
                "meanwhile, or a Canvas rule or another plugin refused it."
            ),
            level=Level.ERROR,
            link=link,
        )
    return ActionReply(
        note=note,
        message=(
            f"The portal could not confirm {spec.noun}: Canvas could not be read. "
            "Open the note to check it."
        ),
        level=Level.WARNING,
        link=link,
    )
