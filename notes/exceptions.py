"""Errors of the notes app.

Every error carries `.message`, a sentence a person can read; views show it
as it is. The client raises the subclasses that mirror the plugin API's
error contract (DESIGN.md); the services add the local ones (an unknown
action, a missing permission, a submission already in flight).
"""

from __future__ import annotations


class NotesError(Exception):
    """Base class: something about a note action or read went wrong."""

    default_message = "Something went wrong while talking to Canvas."
    #: The contract's error code, or a local one for the local errors.
    code = "error"

    def __init__(
        self, message: str | None = None, *, status: int | None = None, code: str | None = None
    ) -> None:
        self.message = message or self.default_message
        #: The upstream HTTP status, when there was an answer.
        self.status = status
        if code:
            self.code = code
        super().__init__(self.message)


class CanvasUnavailable(NotesError):
    """Canvas did not answer usably: 5xx, connection error, timeout on a read, not JSON."""

    default_message = "Canvas is unavailable right now. Please try again in a minute."
    code = "canvas_unavailable"


class OutcomeUnknown(NotesError):
    """An action was sent but no answer came back in time: it may or may not have happened."""

    default_message = "Canvas didn't answer in time; check the note in Canvas before trying again."
    code = "outcome_unknown"


class Unauthenticated(NotesError):
    """401: Canvas refused the access token."""

    default_message = "Canvas did not accept your sign-in. Please reconnect your Canvas account."
    code = "unauthenticated"


class Forbidden(NotesError):
    """403: the Canvas user behind the token is not active staff."""

    default_message = "Your Canvas account is not allowed to work on notes."
    code = "forbidden"


class InvalidNoteId(NotesError):
    """400, or caught locally: the note id is not a UUID."""

    default_message = (
        "That is not a note ID. A note ID looks like 3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f."
    )
    code = "invalid_note_id"


class NoteNotFound(NotesError):
    """404: no such note (or not one this user may see)."""

    default_message = "Canvas has no note with that ID."
    code = "note_not_found"


class ActionNotAllowed(NotesError):
    """409: the note's state forbids the action; `.state` is the state code."""

    default_message = "This note's state doesn't allow that action."
    code = "action_not_allowed"

    def __init__(self, message: str | None = None, *, state: str = "", **kwargs) -> None:
        self.state = state
        super().__init__(message, **kwargs)


class ActionRejected(NotesError):
    """422: Canvas rejected the action for this kind of note."""

    default_message = "Canvas rejected that action for this note."
    code = "action_rejected"


class RateLimited(NotesError):
    """429: too many requests to Canvas."""

    default_message = "Canvas is receiving too many requests. Please wait a moment and try again."
    code = "rate_limited"


class InvalidAction(NotesError):
    """Local: the action is not one of the six the plugin knows."""

    default_message = "That is not an action the portal knows."
    code = "invalid_action"


class ActionNotPermitted(NotesError):
    """Local: the portal user lacks the permission for this action."""

    default_message = "You are not permitted to do that. Ask an administrator if you need to."
    code = "not_permitted"


class AlreadyInProgress(NotesError):
    """Local: the same action on the same note by the same user is still in flight."""

    default_message = "That action is already in progress for this note. Wait for it to finish."
    code = "already_in_progress"
