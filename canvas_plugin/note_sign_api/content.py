"""A note's content (its commands) as GET /notes/<id>/content shows it: pure, never raises.

Canvas stores each command's fields in `Command.data` under the command's API
names (`prescribe`, `sig`, `narrative`...); coded fields are `{"text", "value"}`
objects, some are plain strings. Every summariser reads that defensively: a
missing or odd field is left out, and a summariser that fails for any reason
gives the fallback. A kind this module does not know keeps its place with a
label derived from its key and the fallback summary: nothing is ever dropped.
Summaries are short plain text; the portal escapes them like any other text.
Plain Python importing nothing of the SDK or the plugin: the sandbox shows
commands with it too.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Canvas's import sandbox refuses collections.abc at run time
    from collections.abc import Callable, Iterable

#: The longest summary, in characters (the ellipsis included).
SUMMARY_MAX = 200

#: What a command shows when there is nothing this module can say about it.
FALLBACK = "details in Canvas"


class CommandState(StrEnum):
    """A command's state, as the contract names it."""

    STAGED = "staged"
    COMMITTED = "committed"
    ENTERED_IN_ERROR = "entered_in_error"


#: Canvas's own state values (Command.state) that the contract reads.
CANVAS_STAGED = "staged"
CANVAS_ENTERED_IN_ERROR = "entered_in_error"


def command_state(state: Any, *, entered_in_error: bool = False) -> CommandState:
    """Return the contract's state of a command: in error wins, then staged, else committed."""
    if entered_in_error or state == CANVAS_ENTERED_IN_ERROR:
        return CommandState.ENTERED_IN_ERROR
    if state == CANVAS_STAGED:
        return CommandState.STAGED
    return CommandState.COMMITTED


def text_of(value: Any) -> str:
    """Return the person-readable text of a field: a string, a coding's text, a list's texts."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        for key in ("text", "display", "name", "label", "value"):
            text = text_of(value.get(key))
            if text:
                return text
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(text for text in (text_of(item) for item in value) if text)
    return ""


def field(data: dict[str, Any], *keys: str) -> str:
    """Return the text of the first of `keys` that has any."""
    for key in keys:
        text = text_of(data.get(key))
        if text:
            return text
    return ""


def labelled(label: str, text: str, suffix: str = "") -> str:
    """Return `label text suffix` when there is text, else ''."""
    return f"{label} {text}{suffix}".strip() if text else ""


def joined(parts: Iterable[str], separator: str = "; ") -> str:
    """Join the non-empty parts."""
    return separator.join(part for part in parts if part)


def clipped(text: str) -> str:
    """Return `text` on one line, at most SUMMARY_MAX characters (an ellipsis when cut)."""
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX:
        return text
    return text[: SUMMARY_MAX - 1].rstrip() + "…"


def _coded_with_comment(coded: str, *comments: str) -> Callable[[dict[str, Any]], str]:
    """Return a summariser reading one coded field then free-text ones."""

    def summarise(data: dict[str, Any]) -> str:
        return joined([field(data, coded), *(field(data, c) for c in comments)])

    return summarise


def _narrative(data: dict[str, Any]) -> str:
    return field(data, "narrative", "comment")


def _questionnaire(data: dict[str, Any]) -> str:
    answered = sum(1 for key, v in data.items() if key.startswith("question-") and text_of(v))
    answers = f"{answered} answer{'s' if answered != 1 else ''}" if answered else ""
    return joined([field(data, "questionnaire"), field(data, "result"), answers])


def _vitals(data: dict[str, Any]) -> str:
    systole, diastole = (
        field(data, "blood_pressure_systole"),
        field(data, "blood_pressure_diastole"),
    )
    pressure = f"BP {systole}/{diastole}" if systole and diastole else ""
    return joined(
        [
            pressure,
            labelled("pulse", field(data, "pulse")),
            labelled("temp", field(data, "body_temperature"), " °F"),
            labelled("RR", field(data, "respiration_rate")),
            labelled("SpO2", field(data, "oxygen_saturation"), "%"),
            labelled("weight", field(data, "weight_lbs"), " lb"),
            labelled("height", field(data, "height"), " in"),
        ],
        ", ",
    )


def _assess(data: dict[str, Any]) -> str:
    return joined(
        [field(data, "condition", "condition_id"), field(data, "status"), _narrative(data)]
    )


def _diagnose(data: dict[str, Any]) -> str:
    return joined(
        [field(data, "diagnose", "icd10_code"), field(data, "today_assessment", "background")]
    )


def _prescribe(data: dict[str, Any]) -> str:
    return joined(
        [
            field(data, "prescribe", "fdb_code", "medication"),
            field(data, "sig"),
            labelled("qty", field(data, "quantity_to_dispense")),
            labelled("", field(data, "days_supply"), " days"),
            labelled("refills", field(data, "refills")),
        ]
    )


def _follow_up(data: dict[str, Any]) -> str:
    return joined(
        [
            labelled("on", field(data, "requested_date")),
            field(data, "reason_for_visit"),
            field(data, "comment"),
        ]
    )


def _refer(data: dict[str, Any]) -> str:
    return joined(
        [
            labelled("to", field(data, "refer_to", "service_provider")),
            field(data, "clinical_question"),
            field(data, "notes_to_specialist", "comment"),
        ]
    )


def _goal(data: dict[str, Any]) -> str:
    return joined([field(data, "goal_statement"), labelled("due", field(data, "due_date"))])


def _task(data: dict[str, Any]) -> str:
    return joined(
        [
            field(data, "title"),
            labelled("for", field(data, "assign_to")),
            labelled("due", field(data, "due_date")),
        ]
    )


#: schema_key -> (label, summariser) for the kinds a clinic uses most.
KINDS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "reasonForVisit": ("Reason for visit", _coded_with_comment("coding", "comment")),
    "hpi": ("History of present illness", _narrative),
    "ros": ("Review of systems", _questionnaire),
    "exam": ("Physical exam", _questionnaire),
    "vitals": ("Vitals", _vitals),
    "assess": ("Assess", _assess),
    "diagnose": ("Diagnose", _diagnose),
    "plan": ("Plan", _narrative),
    "prescribe": ("Prescribe", _prescribe),
    "refill": ("Refill", _prescribe),
    "stopMedication": ("Stop medication", _coded_with_comment("medication", "rationale")),
    "allergy": ("Allergy", _coded_with_comment("allergy", "severity", "narrative")),
    "labOrder": ("Lab order", _coded_with_comment("tests", "tests_order_codes", "comment")),
    "imagingOrder": ("Imaging order", _coded_with_comment("image", "priority", "comment")),
    "refer": ("Refer", _refer),
    "followUp": ("Follow-up", _follow_up),
    "instruct": ("Instructions", _coded_with_comment("instruct", "comment")),
    "questionnaire": ("Questionnaire", _questionnaire),
    "goal": ("Goal", _goal),
    "task": ("Task", _task),
}


def label_for(schema_key: Any) -> str:
    """Return a command kind's label: the known one, or one derived from its camelCase key."""
    if not isinstance(schema_key, str):
        return "Command"
    if schema_key in KINDS:
        return KINDS[schema_key][0]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\-]+", " ", schema_key).split()
    return " ".join(words).capitalize() or "Command"


def summary_for(schema_key: Any, data: Any) -> str:
    """Return a command's short plain-text summary; FALLBACK when there is nothing to say."""
    kind = KINDS.get(schema_key) if isinstance(schema_key, str) else None
    if kind is None or not isinstance(data, dict):
        return FALLBACK
    try:
        text = clipped(kind[1](data))
    except Exception:  # odd data in Canvas must never break the read
        return FALLBACK
    return text or FALLBACK


def command_entry(row: dict[str, Any]) -> dict[str, Any]:
    """Return the contract's shape of one command row (queries.COMMAND_FIELDS)."""
    names = (row.get("originator__staff__first_name"), row.get("originator__staff__last_name"))
    entered_by = " ".join(name for name in names if name)  # as contract.full_name
    created = row.get("created")
    return {
        "id": str(row["id"]),
        "schema_key": row["schema_key"],
        "label": label_for(row["schema_key"]),
        "state": command_state(row["state"], entered_in_error=bool(row.get("entered_in_error"))),
        "entered_by": entered_by or None,
        "at": created.isoformat() if created is not None else None,
        "summary": summary_for(row["schema_key"], row.get("data")),
    }


def content_from_rows(note_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Return GET /notes/<id>/content's body from the note's command rows, in note order."""
    commands = [command_entry(row) for row in rows]
    staged = sum(1 for command in commands if command["state"] == CommandState.STAGED)
    return {"note_id": note_id, "commands": commands, "staged": staged}
