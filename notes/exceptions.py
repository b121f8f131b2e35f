"""Errors of the notes app: the portal's own refusals, before Canvas is asked.

Errors from Canvas itself (not found, not allowed in this state, ...) are
`integrations.canvas.exceptions`; both extend `CanvasError` (itself a
`core.exceptions.PortalError`), which is what views catch.
"""

from __future__ import annotations

from core.toasts import Level
from integrations.canvas.exceptions import CanvasError


class NotesError(CanvasError):
    """Base class of the portal's own refusals of a note action."""

    default_message = "That note action could not be done."
    code = "notes_error"


class InvalidAction(NotesError):
    """The action is not one the portal knows."""

    default_message = "That is not an action the portal knows."
    code = "invalid_action"


class ActionNotPermitted(NotesError):
    """The portal user lacks the permission for this action."""

    default_message = "You are not permitted to do that. Ask an administrator if you need to."
    code = "not_permitted"


class AlreadyInProgress(NotesError):
    """The same action on the same note by the same user is still in flight."""

    default_message = "That action is already in progress for this note. Wait for it to finish."
    code = "already_in_progress"
    level = Level.WARNING


class NothingToSign(NotesError):
    """No chosen note (or no note of the queue) can be signed now; `skipped` says why, each."""

    default_message = (
        "None of those notes is yours to sign now; each one says why. The queue has been refreshed."
    )
    code = "nothing_to_sign"

    def __init__(self, message: str | None = None, *, skipped: list | None = None) -> None:
        self.skipped = list(skipped or [])
        if message is None and not self.skipped:
            message = "Nothing in your queue in Canvas is yours to sign now."
        super().__init__(message)


class BulkPlanLimited(NotesError):
    """The user asked for more bulk plans this minute than NOTES_BULK_PLANS_PER_MINUTE allows."""

    default_message = (
        "Too many requests to sign several notes in a minute. Wait a minute, then try again."
    )
    code = "bulk_plan_limited"
    level = Level.WARNING


class RunInProgress(NotesError):
    """The user already has a run going: one at a time per person (the page opens it)."""

    code = "run_in_progress"
    default_message = "Your run that is still going is shown here; start another once it ends."

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        super().__init__()
