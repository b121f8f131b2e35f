"""A note's content as the plugin answers it (GET /notes/<id>/content): parsed, never kept.

The content is patient data: this module only checks its shape. Nothing here
logs, stores or caches it; callers show it and drop it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from integrations.canvas.exceptions import CanvasUnavailable
from integrations.canvas.notes import UNREADABLE, _text, _when

#: The longest label and summary the portal shows (the plugin sends at most 200).
LABEL_MAX = 100
SUMMARY_MAX = 200


class CommandState(models.TextChoices):
    """A command's state in its note (contract v3)."""

    STAGED = "staged", "Not committed"
    COMMITTED = "committed", "Committed"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


def _command_parse(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CanvasUnavailable(UNREADABLE)
    state = value.get("state")
    # A state this portal does not know is shown as not committed: never as settled.
    state = CommandState(state) if state in CommandState.values else CommandState.STAGED
    schema_key = _text(value.get("schema_key"), required=False)
    return {
        "id": _text(value.get("id"), required=False),
        "schema_key": schema_key,
        "label": _text(value.get("label"), required=False)[:LABEL_MAX] or schema_key or "Command",
        "state": state,
        "entered_by": _text(value.get("entered_by"), required=False),
        "at": _when(value.get("at")),
        "summary": _text(value.get("summary"), required=False)[:SUMMARY_MAX],
        "staged": state == CommandState.STAGED,
        "in_error": state == CommandState.ENTERED_IN_ERROR,
    }


def content_parse(data: Any) -> dict[str, Any]:
    """Return `{"note_id", "commands": [...], "staged"}` in the note's order, or raise."""
    if not isinstance(data, dict) or not isinstance(data.get("commands"), list):
        raise CanvasUnavailable(UNREADABLE)
    try:
        note_id = str(uuid.UUID(_text(data.get("note_id"))))
    except ValueError:
        raise CanvasUnavailable(UNREADABLE) from None
    commands = [_command_parse(command) for command in data["commands"]]
    staged = sum(1 for command in commands if command["state"] == CommandState.STAGED)
    return {"note_id": note_id, "commands": commands, "staged": staged}
