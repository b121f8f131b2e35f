"""A note's content (its commands): GET /notes/<id>/content's body, staged counts, adding one.

The sandbox stands in for Canvas *with the note_sign_api plugin installed*, so
what a command looks like to the portal (its label and short summary) comes
from the plugin's own presentation module, `note_sign_api.content`. Only that
presentation is shared: which notes a caller may read and every rule stay the
sandbox's own code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from note_sign_api import content as presentation

from canvas_sandbox.clinic.exceptions import ControlError
from canvas_sandbox.clinic.models import Command, Note, Staff
from canvas_sandbox.clinic.times import iso


def staged_count() -> Any:
    """Return the count of the outer note's staged commands, as a subquery expression."""
    staged = (
        Command.objects.filter(note=OuterRef("pk"), state=Command.STAGED)
        .order_by()
        .values("note")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(staged, output_field=IntegerField()), Value(0))


def note_staged_commands(*, note: Note) -> int:
    """Return a note's count of staged commands (annotated on list rows, else one query)."""
    annotated = getattr(note, "staged_commands", None)
    if annotated is not None:
        return int(annotated)
    return note.commands.filter(state=Command.STAGED).count()


def _entry(command: Command) -> dict[str, Any]:
    """Return one command as the contract shows it."""
    return {
        "id": str(command.id),
        "schema_key": command.schema_key,
        "label": presentation.label_for(command.schema_key),
        "state": command.state,
        "entered_by": command.originator.name if command.originator is not None else None,
        "at": iso(command.created),
        "summary": presentation.summary_for(command.schema_key, command.data),
    }


def note_content(*, note: Note) -> dict[str, Any]:
    """Return `GET /notes/<id>/content`: the note's commands in order and the staged count."""
    commands = [_entry(c) for c in note.commands.select_related("originator").order_by("created")]
    staged = sum(1 for command in commands if command["state"] == Command.STAGED)
    return {"note_id": str(note.pk), "commands": commands, "staged": staged}


def command_add(
    *,
    note: Note,
    schema_key: str,
    data: dict[str, Any] | None = None,
    state: str = Command.COMMITTED,
    originator: Staff | None = None,
    created: dt.datetime | None = None,
) -> Command:
    """Add a command at the end of a note's content (or at `created`); ControlError when odd."""
    if not isinstance(schema_key, str) or not schema_key.strip() or len(schema_key) > 64:
        raise ControlError("schema_key must be a command's key, e.g. plan.")
    if state not in {code for code, _label in Command.STATE_CHOICES}:
        raise ControlError("state must be staged, committed or entered_in_error.")
    if data is not None and not isinstance(data, dict):
        raise ControlError("data must be a JSON object.")
    fields: dict[str, Any] = {"created": created} if created is not None else {}
    return Command.objects.create(
        note=note,
        schema_key=schema_key.strip(),
        data=data or {},
        state=state,
        originator=originator or note.provider,
        **fields,
    )
