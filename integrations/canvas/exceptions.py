"""Errors of the Canvas integration: one base, typed subclasses.

Every error carries `.message`, a sentence a person can read, `.code`
(the plugin contract's or OAuth's snake_case code) and `.status` (the HTTP
status when Canvas answered). The apps' own errors subclass `CanvasError`
too, so a view catches one base.
"""

from __future__ import annotations

import enum
import re

from core.exceptions import PortalError

#: The only shape of error code taken from Canvas; anything else is UPSTREAM_ERROR.
_UPSTREAM_CODE = re.compile(r"[a-z0-9_]{1,64}", re.ASCII)
UPSTREAM_ERROR = "upstream_error"


def upstream_code(value: object) -> str:
    """Return `value` if it is a plain snake_case code, else "upstream_error".

    A code from Canvas reaches logs, pages and the audit table: a newline or
    markup in it must not (a forged log line, an injected cell).
    """
    if isinstance(value, str) and _UPSTREAM_CODE.fullmatch(value):
        return value
    return UPSTREAM_ERROR


class CanvasError(PortalError):
    """Base error: something about a Canvas link, read or action went wrong."""

    default_message = "Something went wrong while talking to Canvas."
    code = "canvas_error"

    def __init__(
        self, message: str | None = None, *, status: int | None = None, code: str | None = None
    ) -> None:
        self.message = message or self.default_message
        #: The upstream HTTP status, when there was an answer.
        self.status = status
        if code:
            self.code = code
        super().__init__(self.message)


# -- the authorization server (/auth/) -----------------------------------------


class AuthorizationServerUnavailable(CanvasError):
    """Canvas's token endpoint failed (down, 5xx, connection error, connect timeout)."""

    default_message = "Canvas is not answering right now. Please try again in a minute."
    code = "authorization_server_unavailable"


class RefreshOutcomeUnknown(CanvasError):
    """A token request timed out after it was sent: Canvas may or may not have done it."""

    default_message = (
        "Canvas took too long to answer while renewing your connection. "
        "Please try again in a minute."
    )
    code = "refresh_outcome_unknown"


class InvalidGrant(CanvasError):
    """The token endpoint answered `invalid_grant` (code or refresh token not accepted)."""

    default_message = "Canvas did not accept the authorization. Please connect again."
    code = "invalid_grant"


class TokenRequestRejected(CanvasError):
    """The token endpoint answered another OAuth error (4xx with an `error` code)."""

    default_message = "Canvas refused the request to link your account."
    code = "token_request_rejected"


class TokenProblem(enum.Enum):
    """Why a token response was refused (the value is the sentence's end)."""

    NOT_JSON = "it is not JSON"
    NO_ACCESS_TOKEN = "no access token"
    MALFORMED_ACCESS_TOKEN = "the access token is not a token (RFC 6750 characters, at most 4096)"
    MALFORMED_REFRESH_TOKEN = "the refresh token is malformed"
    NO_REFRESH_TOKEN = "no refresh token (ask for the offline_access scope)"
    NOT_BEARER = "the token type is not Bearer"
    EXPIRES_IN_MISSING = "expires_in is missing or not a whole number"
    EXPIRES_IN_OUT_OF_RANGE = "expires_in is out of range"
    SCOPE_MALFORMED = "the scope is malformed"
    SCOPE_NARROWED = "Canvas granted fewer permissions than asked"


class TokenResponseInvalid(CanvasError):
    """The token endpoint answered 200 with something that is not a usable token set."""

    default_message = "Canvas sent an answer the portal could not use. Please try again."
    code = "token_response_invalid"

    def __init__(self, problem: TokenProblem, *, detail: str = "") -> None:
        self.problem = problem
        if problem is TokenProblem.NOT_JSON:
            message = "Canvas answered with something that is not JSON."
        else:
            message = f"Canvas's answer was not usable: {problem.value}{detail}."
        super().__init__(message)


# -- the plugin API (/plugin-io/api/<plugin>/) --------------------------------------


class CanvasUnavailable(CanvasError):
    """Canvas did not answer usably: 5xx, connection error, timeout on a read, not JSON."""

    default_message = "Canvas is unavailable right now. Please try again in a minute."
    code = "canvas_unavailable"


class OutcomeUnknown(CanvasError):
    """An action was sent but no answer came back in time: it may or may not have happened."""

    default_message = "Canvas didn't answer in time; check the note in Canvas before trying again."
    code = "outcome_unknown"


class Unauthenticated(CanvasError):
    """401: Canvas refused the access token."""

    default_message = "Canvas did not accept your sign-in. Please reconnect your Canvas account."
    code = "unauthenticated"


class Forbidden(CanvasError):
    """403: the Canvas user behind the token may not do this (not active staff, not the signer)."""

    default_message = "Your Canvas account is not allowed to work on notes."
    code = "forbidden"


class NotNoteProvider(Forbidden):
    """403 not_note_provider: only the note's provider or supervising provider may do this."""

    default_message = (
        "Only the note's provider or its supervising provider can sign, lock and sign, "
        "or unlock it."
    )
    code = "not_note_provider"


class InvalidNoteId(CanvasError):
    """400, or caught before any call: the note id is not a UUID."""

    default_message = (
        "That is not a note ID. A note ID looks like 3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f."
    )
    code = "invalid_note_id"


class NoteNotFound(CanvasError):
    """404: no such note (or not one this user may see)."""

    default_message = "Canvas has no note with that ID."
    code = "note_not_found"


class ActionNotAllowed(CanvasError):
    """409: the note's state forbids the action; `.state` is the state code."""

    default_message = "This note's state doesn't allow that action."
    code = "action_not_allowed"

    def __init__(self, message: str | None = None, *, state: str = "", **kwargs) -> None:
        self.state = state
        super().__init__(message, **kwargs)


class AlreadySigned(ActionNotAllowed):
    """409 already_signed: this user signed the note since it was last locked."""

    default_message = "You have already signed this note."
    code = "already_signed"


class ActionRejected(CanvasError):
    """422: Canvas rejected the action for this kind of note."""

    default_message = "Canvas rejected that action for this note."
    code = "action_rejected"


class RateLimited(CanvasError):
    """429: too many requests to Canvas."""

    default_message = "Canvas is receiving too many requests. Please wait a moment and try again."
    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        #: Seconds Canvas asked us to wait (its Retry-After), when it said.
        self.retry_after = retry_after
