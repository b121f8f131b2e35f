"""Errors of the sandbox's plugin and control APIs, each with its HTTP answer.

Every error renders as the contract's body:
`{"error": {"code": "<snake_case>", "message": "<sentence for a person>"}}`.
"""

from typing import Any


class SandboxError(Exception):
    """Base error: an HTTP status, a machine code and a message for a person."""

    status = 400
    code = "bad_request"
    message = "The request could not be understood."

    def __init__(self, message: str | None = None) -> None:
        """Keep a specific message, or the class's default one."""
        if message is not None:
            self.message = message
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """Return the JSON body the API answers with."""
        return {"error": {"code": self.code, "message": self.message}}


class InvalidNoteId(SandboxError):
    """The note id in the URL is not a UUID."""

    status = 400
    code = "invalid_note_id"
    message = "The note id is not a valid UUID."


class TooManyIds(SandboxError):
    """`GET /notes/history` asked for more notes than one call may (contract v3)."""

    status = 400
    code = "too_many_ids"
    message = "Ask for at most 100 notes at once."


class InvalidCursor(SandboxError):
    """The list cursor was not one this API handed out (an extension of the contract)."""

    status = 400
    code = "invalid_cursor"
    message = "The page cursor is not valid; start again from the first page."


class Unauthenticated(SandboxError):
    """No bearer token, another scheme, or an unknown, expired or revoked token."""

    status = 401
    code = "unauthenticated"
    message = "Sign in to Canvas again: the access token is missing or invalid."


class Forbidden(SandboxError):
    """The token's user is not active Canvas staff."""

    status = 403
    code = "forbidden"
    message = "Only active Canvas staff members can use this API."


class NoteNotFound(SandboxError):
    """No note has this id."""

    status = 404
    code = "note_not_found"
    message = "No note has this id."


class EndpointNotFound(SandboxError):
    """No endpoint answers at this path."""

    status = 404
    code = "not_found"
    message = "There is no endpoint at this path."


class MethodNotAllowed(SandboxError):
    """The endpoint exists but not for this HTTP method."""

    status = 405
    code = "method_not_allowed"
    message = "This endpoint does not accept this HTTP method."


class ActionRefused(SandboxError):
    """transitions.refusal's answer: 403 not_note_provider, 422 action_rejected,
    409 action_not_allowed or already_signed (the 409s add the note's state)."""

    def __init__(self, refusal: Any) -> None:
        """Take status, code, message and state from a transitions.Refusal."""
        self.status = refusal.status
        self.code = refusal.code
        self.state = refusal.state
        super().__init__(refusal.message)

    def body(self) -> dict[str, Any]:
        """Return the error body, with the note's state code for a 409."""
        body = super().body()
        if self.status == 409:
            body["state"] = self.state
        return body


class ControlError(SandboxError):
    """A control API request was malformed."""

    status = 400
    code = "invalid_request"


class ControlRefused(SandboxError):
    """A control API call without the control header or with a body that is not JSON.

    What a cross-site browser request looks like: refused before it does anything.
    """

    status = 403
    code = "control_refused"
    message = "Control API calls need the X-Sandbox-Control: 1 header and a JSON body."
