"""Errors raised by canvas_oauth: one base class with a message for a person."""

from django.core.exceptions import SuspiciousOperation


class CanvasOAuthError(Exception):
    """Base error of the Canvas link; `.message` is safe to show to a person."""

    default_message = "Something went wrong with your Canvas connection."
    code = "canvas_oauth_error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        super().__init__(self.message)


class NotLinked(CanvasOAuthError):
    """The user has no Canvas connection (never linked, or unlinked)."""

    default_message = "Your account is not linked to Canvas yet. Connect it to continue."
    code = "not_linked"


class ReauthorizationRequired(CanvasOAuthError):
    """The link exists but Canvas no longer accepts it: the user must reconnect."""

    default_message = "Your Canvas connection has expired. Reconnect to Canvas to continue."
    code = "reconnect_needed"


class TokenDecryptionFailed(CanvasOAuthError):
    """A stored token cannot be decrypted: a key is wrong or missing (answer 503)."""

    default_message = (
        "The portal cannot use Canvas connections right now because of a configuration "
        "problem. The administrators have been alerted; please try again later."
    )
    code = "token_decryption_failed"


class AuthorizationServerUnavailable(CanvasOAuthError):
    """Canvas's token endpoint failed (down, 5xx, connection error, connect timeout)."""

    default_message = "Canvas is not answering right now. Please try again in a minute."
    code = "authorization_server_unavailable"


class RefreshOutcomeUnknown(CanvasOAuthError):
    """A token request timed out after it was sent: Canvas may or may not have done it."""

    default_message = (
        "Canvas took too long to answer while renewing your connection. "
        "Please try again in a minute."
    )
    code = "refresh_outcome_unknown"


class InvalidGrant(CanvasOAuthError):
    """The token endpoint answered `invalid_grant` (code or refresh token not accepted)."""

    default_message = "Canvas did not accept the authorization. Please connect again."
    code = "invalid_grant"


class TokenRequestRejected(CanvasOAuthError):
    """The token endpoint answered another OAuth error (4xx with an `error` code)."""

    default_message = "Canvas refused the request to link your account."
    code = "token_request_rejected"


class TokenResponseInvalid(CanvasOAuthError):
    """The token endpoint answered 200 with something that is not a usable token set."""

    default_message = "Canvas sent an answer the portal could not use. Please try again."
    code = "token_response_invalid"


class IdentityAlreadyLinked(CanvasOAuthError):
    """The Canvas identity is already linked to another local user."""

    default_message = (
        "This Canvas account is already linked to another portal user. Ask an "
        "administrator to unlink it there first."
    )
    code = "identity_already_linked"


class IdentityUnavailable(CanvasOAuthError):
    """The plugin's `GET /me` failed or did not name a Canvas staff member."""

    default_message = (
        "Canvas did not tell the portal who you are, so the link was not saved. Please try again."
    )
    code = "identity_unavailable"


class InvalidLinkState(SuspiciousOperation):
    """The callback's `state` is missing, unknown, expired, reused or for another user."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Canvas callback refused: {reason}")
