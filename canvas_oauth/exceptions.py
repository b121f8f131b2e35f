"""Errors of the Canvas connection. All subclass the integration's `CanvasError`.

Errors of the authorization server itself (unavailable, invalid_grant, ...)
are `integrations.canvas.exceptions`; these are the connection's own.
"""

from django.core.exceptions import SuspiciousOperation
from django.db import models

from integrations.canvas.exceptions import CanvasError


class CanvasOAuthError(CanvasError):
    """Base error of the Canvas connection; `.message` is safe to show to a person."""

    default_message = "Something went wrong with your Canvas connection."
    code = "canvas_oauth_error"


class NotConnected(CanvasOAuthError):
    """The user has no Canvas connection (never connected, or disconnected)."""

    default_message = "Your account is not connected to Canvas yet. Connect it to continue."
    # The code predates the word "connected"; attempts already store it.
    code = "not_linked"


class ReauthorizationRequired(CanvasOAuthError):
    """The connection exists but Canvas no longer accepts it: the user must reconnect."""

    default_message = "Your Canvas connection has expired. Reconnect to Canvas to continue."
    code = "reconnect_needed"


class TokenDecryptionFailed(CanvasOAuthError):
    """A stored token cannot be decrypted: a key is wrong or missing (answer 503)."""

    default_message = (
        "The portal cannot use Canvas connections right now because of a configuration "
        "problem. The administrators have been alerted; please try again later."
    )
    code = "token_decryption_failed"


class IdentityAlreadyConnected(CanvasOAuthError):
    """The Canvas identity is already connected to another local user."""

    default_message = (
        "This Canvas account is already connected to another portal user. Ask an "
        "administrator to disconnect it there first."
    )
    code = "identity_already_connected"


class IdentityUnavailable(CanvasOAuthError):
    """The plugin's `GET /me` failed or did not name a Canvas staff member."""

    default_message = (
        "Canvas did not tell the portal who you are, so the connection was not saved. "
        "Please try again."
    )
    code = "identity_unavailable"


class LinkStateProblem(models.TextChoices):
    """Why a callback's `state` was refused (the label is the sentence a person reads)."""

    MISSING = (
        "missing",
        ("The reply from Canvas did not say which sign-in it belongs to, so it was ignored."),
    )
    UNKNOWN = (
        "unknown",
        ("This Canvas sign-in was not started from this browser, or it was already used."),
    )
    EXPIRED = "expired", "This Canvas sign-in took longer than 10 minutes and expired."
    OTHER_USER = (
        "other_user",
        ("This Canvas sign-in was started by another portal user, so it was refused."),
    )


class InvalidLinkState(SuspiciousOperation):
    """The callback's `state` is missing, unknown, expired, reused or for another user."""

    def __init__(self, problem: LinkStateProblem) -> None:
        self.problem = problem
        super().__init__(f"Canvas callback refused: {problem.value} state")
