"""The one error base beneath the apps: every error a person may read extends `PortalError`.

It carries the sentence for a person and how it is shown (a page's status,
a toast's level). `core` imports no app, so every layer may extend it.
"""

from __future__ import annotations

from core.toasts import Level


class PortalError(Exception):
    """Base error: `.message` is a sentence safe to show a person; `.code` names it in logs."""

    default_message = "Something went wrong. Please try again."
    code = "portal_error"
    #: The status of a page that shows only this error.
    status_code = 400
    #: How loud a toast or flash message about it is.
    level = Level.ERROR

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        super().__init__(self.message)
