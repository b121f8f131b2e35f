"""The plugin API's shapes (contract v2): request parameters in, JSON bodies out; no queries.

Parsers never raise: an unreadable parameter reads as absent (or as its
default), except the note id and the cursor, whose callers answer 400. Every
error body is `{"error": {"code": "<snake_case>", "message": "<sentence>"}}` and
never repeats anything from the request's headers.
"""

from __future__ import annotations

from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from json import dumps, loads
from re import fullmatch
from typing import Any
from uuid import UUID

from canvas_sdk.effects.simple_api import JSONResponse

from note_sign_api.transitions import (
    STATE_LABELS,
    ErrorCode,
    ListOrder,
    NoteFacts,
    Queue,
    QueueAction,
    SigningPolicy,
    allowed_actions,
    to_sign_action,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
CURSOR_MAX_LENGTH = 200
#: GET /notes `provider=me`: the caller's own notes (any other value is a staff id).
ME = "me"
#: The plugin variable that decides who may sign, lock & sign and unlock a note.
SIGNING_POLICY_VARIABLE = "signing_policy"
RESTRICT_VARIABLE = "restrict_signing_to_provider"


def error_response(status: HTTPStatus, code: ErrorCode, message: str, **extra: Any) -> JSONResponse:
    """Return the contract's error body: `{"error": {"code", "message"}}` plus `extra`."""
    return JSONResponse({"error": {"code": code, "message": message}, **extra}, status_code=status)


def unauthenticated() -> JSONResponse:
    """Return the 401 every authentication failure gets."""
    return error_response(
        HTTPStatus.UNAUTHORIZED,
        ErrorCode.UNAUTHENTICATED,
        "Sign in to Canvas again: the access token is missing or invalid.",
    )


def forbidden() -> JSONResponse:
    """Return the 403 for a token whose user is not active staff."""
    return error_response(
        HTTPStatus.FORBIDDEN,
        ErrorCode.FORBIDDEN,
        "Only active Canvas staff members can use this API.",
    )


def invalid_note_id() -> JSONResponse:
    """Return the 400 for a note id that is not a UUID."""
    return error_response(
        HTTPStatus.BAD_REQUEST, ErrorCode.INVALID_NOTE_ID, "The note id is not a valid UUID."
    )


def note_not_found() -> JSONResponse:
    """Return the 404 for a note id no note (with a recorded state) has."""
    return error_response(HTTPStatus.NOT_FOUND, ErrorCode.NOTE_NOT_FOUND, "No note has this id.")


def invalid_cursor() -> JSONResponse:
    """Return the 400 for a page cursor that cannot be read in the list's order."""
    return error_response(
        HTTPStatus.BAD_REQUEST,
        ErrorCode.INVALID_CURSOR,
        "The page cursor is not valid; start again from the first page.",
    )


def action_rejected(messages: list[str]) -> JSONResponse:
    """Return the 422 for an action whose effect the SDK refused to build."""
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        ErrorCode.ACTION_REJECTED,
        " ".join(messages) or "Canvas rejected this action.",
    )


def bearer_token_present(headers: Any) -> bool:
    """Return whether the Authorization header holds a non-empty Bearer token."""
    authorization = headers.get("Authorization") or ""
    scheme, delimiter, token = authorization.partition(" ")
    return delimiter == " " and scheme.lower() == "bearer" and bool(token.strip())


def signing_policy_from(variables: dict) -> SigningPolicy:
    """Return the configured signing policy: ANY_STAFF when set so, else PROVIDER."""
    raw = str(variables.get(SIGNING_POLICY_VARIABLE) or "").strip().lower()
    return SigningPolicy.ANY_STAFF if raw == SigningPolicy.ANY_STAFF else SigningPolicy.PROVIDER


def parse_note_id(raw: str) -> str | None:
    """Return the canonical form of a UUID note id, or None when it is not one."""
    if len(raw) != 36 or not fullmatch(UUID_PATTERN, raw):
        return None
    return str(UUID(raw))


def parse_limit(raw: str | None) -> int:
    """Return the page size: an integer clamped to 1..100, 50 when absent or unreadable."""
    text = (raw or "").strip()
    if not fullmatch("[+-]?[0-9]{1,9}", text):
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, int(text)))


def parse_date(raw: str | None) -> date | None:
    """Return the YYYY-MM-DD date, or None when absent or not a date (the filter is ignored)."""
    if not raw or not fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", raw.strip()):
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def parse_moment(raw: str | None) -> datetime | None:
    """Return an ISO 8601 date-time (naive means UTC), or None when absent or unreadable.

    A `+` left unencoded in a query string arrives as a space: read it back as `+`.
    """
    text = (raw or "").strip().replace(" ", "+")
    if not text or len(text) > 40:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_order(raw: str | None) -> ListOrder:
    """Return the list order: OLDEST when asked for, else NEWEST (unknown values too)."""
    return ListOrder.OLDEST if (raw or "").strip() == ListOrder.OLDEST else ListOrder.NEWEST


def parse_codes(values: list[str], *, upper: bool = False) -> list[str]:
    """Return the comma-separated codes of a repeatable parameter, trimmed, in one case."""
    codes = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return [code.upper() if upper else code.lower() for code in codes]


@dataclass(frozen=True)
class ListFilters:
    """GET /notes's filters, read from its query string; unreadable ones read as absent."""

    categories: list[str]
    queue: Queue | None
    states: list[str]
    provider: str
    patient: str
    day: date | None
    start: datetime | None
    end: datetime | None


def parse_list_filters(params: Any) -> ListFilters:
    """Return the list's filters from the request's query parameters."""
    queue = (params.get("queue") or "").strip()
    return ListFilters(
        categories=parse_codes(params.get_list("category")),
        queue=Queue.TO_SIGN if queue == Queue.TO_SIGN else None,
        states=parse_codes(params.get_list("state"), upper=True),
        provider=(params.get("provider") or "").strip(),
        patient=(params.get("patient") or "").strip(),
        day=parse_date(params.get("date")),
        start=parse_moment(params.get("from")),
        end=parse_moment(params.get("to")),
    )


def iso(moment: datetime | None) -> str | None:
    """Return a date-time in ISO 8601, or None."""
    return moment.isoformat() if moment is not None else None


def now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def encode_cursor(row: dict[str, Any], order: ListOrder) -> str:
    """Return an opaque cursor pointing just after the summary row `row` in `order`."""
    position = {"d": row["datetime_of_service"].isoformat(), "i": str(row["id"]), "o": order}
    return urlsafe_b64encode(dumps(position).encode()).decode().rstrip("=")


def decode_cursor(raw: str, order: ListOrder) -> tuple[datetime, str] | None:
    """Return the (datetime_of_service, id) a cursor points after, or None when unreadable.

    A cursor is only good for the order it was made in; one without an order
    (made before lists had one) was made newest first.
    """
    if len(raw) > CURSOR_MAX_LENGTH or not fullmatch("[A-Za-z0-9_-]+", raw):
        return None
    try:
        position = loads(urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
        after = datetime.fromisoformat(position["d"])
        note_id = parse_note_id(position["i"])
        made_in = position.get("o", ListOrder.NEWEST)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if note_id is None or after.tzinfo is None or made_in != order:
        return None
    return after, note_id


def full_name(first_name: str | None, last_name: str | None) -> str:
    """Return a person's name as the plugin shows it: first name, space, last name."""
    return " ".join(part for part in (first_name, last_name) if part)


def person(row: dict[str, Any], prefix: str) -> dict[str, str] | None:
    """Return `{"id", "name"}` for the patient or staff member under `prefix` in a row, or None."""
    if row.get(f"{prefix}__id") is None:
        return None
    return {
        "id": str(row[f"{prefix}__id"]),
        "name": full_name(row[f"{prefix}__first_name"], row[f"{prefix}__last_name"]),
    }


def restrict_from(variables: Any) -> bool:
    """Return the plugin variable `restrict_signing_to_provider` (true only when set "true")."""
    raw = str((variables or {}).get(RESTRICT_VARIABLE) or "").strip().lower()
    return raw == "true"


def signed_by(row: dict[str, Any]) -> dict[str, Any] | None:
    """Return `{"id", "name", "at"}` of the latest signature by someone else, or None."""
    if not row.get("signed_by_id"):
        return None
    name = full_name(row["signed_by_first_name"], row["signed_by_last_name"])
    return {"id": str(row["signed_by_id"]), "name": name, "at": iso(row["signed_at"])}


def facts(row: dict[str, Any], caller_id: str) -> NoteFacts:
    """Return what the transition rules need to know about the note in a summary row.

    Only whether the caller signed since the last lock matters to the rules asked
    for this caller, so that is all `signed_since_lock` holds.
    """
    return NoteFacts(
        category=row["note_type_version__category"],
        is_sig_required=bool(row["note_type_version__is_sig_required"]),
        state=row["current_state__state"],
        provider_id=str(row["provider__id"] or ""),
        supervising_provider_id=str(row["supervising_provider__id"] or ""),
        default_supervisor_id=str(row["provider__default_supervising_provider__id"] or ""),
        signed_since_lock=frozenset({caller_id} if row["caller_signed_since_lock"] else ()),
    )


def state_of(code: str) -> dict[str, str]:
    """Return `{"code", "label"}` for a state code."""
    return {"code": code, "label": STATE_LABELS.get(code, code)}


def note_summary(
    row: dict[str, Any], *, caller_id: str, signing_policy: SigningPolicy, restrict: bool = False
) -> dict[str, Any]:
    """Return the contract's summary of the note in a summary row, for this caller.

    `queue_action` says what clears it from the caller's to-sign queue (null
    when it is not in it); for a co-signature, `signed_by` says who signed.
    """
    note = facts(row, caller_id)
    queue_action = to_sign_action(note, caller_id=caller_id, restrict=restrict)
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "datetime_of_service": iso(row["datetime_of_service"]),
        "state": {
            **state_of(row["current_state__state"]),
            "changed_at": iso(row["changed_at"]),
            "changed_by": row["changed_by"],
        },
        "note_type": {
            "name": row["note_type_version__name"],
            "category": row["note_type_version__category"],
            "is_sig_required": bool(row["note_type_version__is_sig_required"]),
        },
        "patient": person(row, "patient"),
        "provider": person(row, "provider"),
        "supervising_provider": person(row, "supervising_provider"),
        "allowed_actions": allowed_actions(
            note, caller_id=caller_id, signing_policy=signing_policy, restrict=restrict
        ),
        "queue_action": queue_action,
        "signed_by": signed_by(row) if queue_action == QueueAction.COSIGN else None,
        "staged_commands": int(row.get("staged_commands") or 0),
    }


def me_body(*, user_id: str, staff: dict[str, Any], installation_time_zone: str) -> dict[str, Any]:
    """Return GET /me's body: the token's user, staff member (their zone) and the clinic's zone."""
    name = full_name(staff["first_name"], staff["last_name"])
    zone = staff.get("last_known_timezone")
    return {
        "user_id": user_id,
        "staff": {"id": str(staff["id"]), "name": name, "time_zone": str(zone) if zone else None},
        "installation_time_zone": installation_time_zone,
    }


def history_body(events: list[dict[str, Any]], *, as_of: datetime) -> dict[str, Any]:
    """Return GET /notes/<id>/history's body from state-change rows, oldest first."""
    history = [
        {"state": event["state"], "at": iso(event["created"]), "by": event["by"]}
        for event in events
    ]
    return {"history": history, "as_of": iso(as_of)}


def accepted_body(
    *, note_id: str, action: str, effects: list[str], from_state: str, expected: str
) -> dict[str, Any]:
    """Return the 202 body: which state the note should reach, and when it was accepted."""
    return {
        "note_id": note_id,
        "action": action,
        "effects": effects,
        "from_state": from_state,
        "expected_state": state_of(expected),
        "accepted_at": iso(now()),
    }
