"""Toasts: the one way a response asks the page to show a passing message (`toast` below)."""

from __future__ import annotations

from enum import StrEnum

from django.contrib import messages
from django.http import HttpResponse
from django_htmx.http import trigger_client_event


class Level(StrEnum):
    """How loud a message to a person is: the toast's and the flash message's level."""

    SUCCESS = "success"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def message_level(self) -> int:
        """Return Django's `messages` level for this one."""
        return _MESSAGE_LEVELS[self]


_MESSAGE_LEVELS = {
    Level.SUCCESS: messages.SUCCESS,
    Level.INFO: messages.INFO,
    Level.WARNING: messages.WARNING,
    Level.ERROR: messages.ERROR,
}


def toast(
    response: HttpResponse, message: str, level: Level, *, link: dict[str, str] | None = None
) -> HttpResponse:
    """Ask the page (static/js/portal.js listens for "toast") to show `message`; return response.

    `link` (`{"href", "text"}`) adds a link that helps, such as "Open the note".
    """
    payload: dict[str, object] = {"message": message, "level": Level(level).value}
    if link:
        payload["link"] = link
    return trigger_client_event(response, "toast", payload)
