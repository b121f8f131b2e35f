"""GET /notes/history (contract v3): the state and history of up to 100 notes in one answer.

Ids are checked before anything is read: more than `MAX_IDS` distinct ids
is 400 `too_many_ids`, any id that is not a UUID is 400 `invalid_note_id`;
an unknown note, or one the caller may not see, is simply absent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from canvas_sdk.effects.simple_api import JSONResponse

from note_sign_api.contract import error_response, invalid_note_id, iso, parse_note_id

#: The most notes one call may ask for.
MAX_IDS = 100


class BatchErrorCode(StrEnum):
    """The error codes only the batched read answers."""

    TOO_MANY_IDS = "too_many_ids"


def too_many_ids() -> JSONResponse:
    """Return the 400 for more ids than one call may ask for."""
    return error_response(
        HTTPStatus.BAD_REQUEST,
        BatchErrorCode.TOO_MANY_IDS,
        f"Ask for at most {MAX_IDS} notes at once.",
    )


def parse_note_ids(raw: str | None) -> tuple[list[str], JSONResponse | None]:
    """Return (the distinct canonical ids of a comma list, None) or ([], the 400 to answer)."""
    parts = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if len(set(parts)) > MAX_IDS:
        return [], too_many_ids()
    ids: dict[str, None] = {}
    for part in parts:
        note_id = parse_note_id(part)
        if note_id is None:
            return [], invalid_note_id()
        ids[note_id] = None
    return list(ids), None


def history_batch_body(
    summaries: Any,
    events: dict[int, list[dict[str, Any]]],
    *,
    as_of: datetime,
) -> dict[str, Any]:
    """Return the body: each note's summary state, allowed actions and history (oldest first).

    `summaries` yields (dbid, summary): a summary row's `dbid` with the note's summary
    (contract.note_summary); `events` holds state-change rows by note dbid.
    """
    notes = {}
    for dbid, summary in summaries:
        notes[summary["id"]] = {
            "state": summary["state"],
            "allowed_actions": summary["allowed_actions"],
            "history": [
                {"state": event["state"], "at": iso(event["created"]), "by": event["by"]}
                for event in events.get(dbid, [])
            ],
        }
    return {"notes": notes, "as_of": iso(as_of)}
