"""The note endpoints the Canvas Note Portal calls, under /plugin-io/api/note_sign_api/.

Every request carries `Authorization: Bearer <access token>`; Canvas resolves the
token to its user and hands it to the plugin as `self.event.actor`. Only an active
staff member gets past authentication. Every error body is
`{"error": {"code": "<snake_case>", "message": "<sentence>"}}` and never repeats
anything from the request's headers.

The SDK's Note effect does not check a note's current state, so the transition rules
in `note_sign_api.transitions` are enforced here (409) before the effect's own
validation runs (422).
"""

from __future__ import annotations

from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from json import dumps, loads
from re import fullmatch
from typing import Any
from uuid import UUID

from canvas_sdk.effects import Effect
from canvas_sdk.effects.note import Note as NoteEffect
from canvas_sdk.effects.simple_api import JSONResponse, Response
from canvas_sdk.events import EventType
from canvas_sdk.handlers.simple_api import BearerCredentials, SimpleAPI, api
from canvas_sdk.v1.data import Note, Staff
from django.db.models import F, Func, Q, TextField, Value
from pydantic import ValidationError

from note_sign_api import transitions

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
CURSOR_MAX_LENGTH = 200


def error_response(status: HTTPStatus, code: str, message: str, **extra: Any) -> JSONResponse:
    """Return the contract's error body: `{"error": {"code", "message"}}` plus `extra`."""
    return JSONResponse({"error": {"code": code, "message": message}, **extra}, status_code=status)


def unauthenticated() -> JSONResponse:
    """Return the 401 every authentication failure gets."""
    return error_response(
        HTTPStatus.UNAUTHORIZED,
        "unauthenticated",
        "Sign in to Canvas again: the access token is missing or invalid.",
    )


def forbidden() -> JSONResponse:
    """Return the 403 for a token whose user is not active staff."""
    return error_response(
        HTTPStatus.FORBIDDEN,
        "forbidden",
        "Only active Canvas staff members can use this API.",
    )


def bearer_token_present(headers: Any) -> bool:
    """Return whether the Authorization header holds a non-empty Bearer token."""
    authorization = headers.get("Authorization") or ""
    scheme, delimiter, token = authorization.partition(" ")
    return delimiter == " " and scheme.lower() == "bearer" and bool(token.strip())


def staff_for_user(user: Any) -> Staff | None:
    """Return the active Staff record of a Canvas user, or None."""
    if user is None or not user.is_staff:
        return None
    return Staff.objects.filter(user=user, active=True).first()


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


def encode_cursor(note: Note) -> str:
    """Return an opaque cursor pointing just after `note` in list order."""
    position = {"d": note.datetime_of_service.isoformat(), "i": str(note.id)}
    return urlsafe_b64encode(dumps(position).encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> tuple[datetime, str] | None:
    """Return the (datetime_of_service, id) a cursor points after, or None when unreadable."""
    if len(raw) > CURSOR_MAX_LENGTH or not fullmatch("[A-Za-z0-9_-]+", raw):
        return None
    try:
        position = loads(urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
        after = datetime.fromisoformat(position["d"])
        note_id = parse_note_id(position["i"])
    except (ValueError, KeyError, TypeError):
        return None
    if note_id is None or after.tzinfo is None:
        return None
    return after, note_id


def person(record: Any) -> dict[str, str] | None:
    """Return `{"id", "name"}` for a patient or staff member, or None."""
    if record is None:
        return None
    name = " ".join(part for part in (record.first_name, record.last_name) if part)
    return {"id": str(record.id), "name": name}


def note_summary(note: Note, state: str) -> dict[str, Any]:
    """Return the contract's summary of a note."""
    note_type = note.note_type_version
    return {
        "id": str(note.id),
        "title": note.title,
        "datetime_of_service": note.datetime_of_service.isoformat(),
        "state": {"code": state, "label": transitions.STATE_LABELS.get(state, state)},
        "note_type": {
            "name": note_type.name,
            "category": note_type.category,
            "is_sig_required": note_type.is_sig_required,
        },
        "patient": person(note.patient),
        "provider": person(note.provider),
        "allowed_actions": transitions.allowed_actions(
            state, category=note_type.category, is_sig_required=note_type.is_sig_required
        ),
    }


def notes_queryset() -> Any:
    """Return every note that has a current state, with what a summary reads, in list order."""
    return (
        Note.objects.filter(current_state__isnull=False)
        .select_related("current_state", "note_type_version", "patient", "provider")
        .order_by("-datetime_of_service", "id")
    )


class NoteApi(SimpleAPI):
    """Read notes and lock, sign, unlock, check in or mark no-show on them."""

    def compute(self) -> list[Effect]:
        """Refuse callers in the contract's shape, then defer to SimpleAPI.

        SimpleAPI's own refusal is a 401 with `{"error": "<text>"}` for every case;
        the portal needs 401 (no usable token) told apart from 403 (not active staff).
        The request pass checks again, so a route never runs for anyone else even if
        it is ever invoked without the authentication pass.
        """
        if self.event.type in (EventType.SIMPLE_API_AUTHENTICATE, EventType.SIMPLE_API_REQUEST):
            if not bearer_token_present(self.request.headers):
                return [unauthenticated().apply()]
            user = self.event.actor.instance
            if user is None:
                return [unauthenticated().apply()]
            if staff_for_user(user) is None:
                return [forbidden().apply()]
        return super().compute()

    def authenticate(self, credentials: BearerCredentials) -> bool:
        """Accept only a bearer token whose user is an active staff member."""
        return staff_for_user(self.event.actor.instance) is not None

    def current_staff(self) -> Staff:
        """Return the active staff member behind the request's token."""
        return staff_for_user(self.event.actor.instance)

    @api.get("/me")
    def me(self) -> list[Response | Effect]:
        """Return the token's Canvas user id and staff member."""
        staff = self.current_staff()
        return [
            JSONResponse(
                {
                    "user_id": str(self.event.actor.id),
                    "staff": {"id": str(staff.id), "name": person(staff)["name"]},
                }
            )
        ]

    @api.get("/notes")
    def note_list(self) -> list[Response | Effect]:
        """Return a page of note summaries, newest date of service first."""
        params = self.request.query_params
        notes = notes_queryset()

        codes = []
        for value in params.get_list("state"):
            codes.extend(code.strip().upper() for code in value.split(",") if code.strip())
        if codes:
            notes = notes.filter(current_state__state__in=codes)

        provider = (params.get("provider") or "").strip()
        if provider == "me":
            notes = notes.filter(provider=self.current_staff())
        elif provider:
            notes = notes.filter(provider__id=provider)

        patient = (params.get("patient") or "").strip()
        if patient:
            full_name = Func(
                F("patient__first_name"),
                Value(" "),
                F("patient__last_name"),
                template="%(expressions)s",
                arg_joiner=" || ",
                output_field=TextField(),
            )
            notes = notes.alias(patient_name=full_name).filter(patient_name__icontains=patient)

        day = parse_date(params.get("date"))
        if day is not None:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            notes = notes.filter(
                datetime_of_service__gte=start,
                datetime_of_service__lt=start + timedelta(days=1),
            )

        cursor = params.get("cursor")
        if cursor:
            position = decode_cursor(cursor)
            if position is None:
                return [
                    error_response(
                        HTTPStatus.BAD_REQUEST,
                        "invalid_cursor",
                        "The page cursor is not valid; start again from the first page.",
                    )
                ]
            after, after_id = position
            notes = notes.filter(
                Q(datetime_of_service__lt=after) | Q(datetime_of_service=after, id__gt=after_id)
            )

        limit = parse_limit(params.get("limit"))
        page = list(notes[: limit + 1])
        next_cursor = encode_cursor(page[limit - 1]) if len(page) > limit else None
        summaries = [note_summary(note, note.current_state.state) for note in page[:limit]]
        return [JSONResponse({"notes": summaries, "next_cursor": next_cursor})]

    def find_note(self) -> tuple[Note | None, str | None, JSONResponse | None]:
        """Return (note, state, None) for the path's note id, or (None, None, error)."""
        note_id = parse_note_id(self.request.path_params.get("note_id", ""))
        if note_id is None:
            return (
                None,
                None,
                error_response(
                    HTTPStatus.BAD_REQUEST, "invalid_note_id", "The note id is not a valid UUID."
                ),
            )
        # A note Canvas records no state for cannot be acted on: treat it as absent.
        note = notes_queryset().filter(id=note_id).first()
        if note is None:
            return (
                None,
                None,
                error_response(HTTPStatus.NOT_FOUND, "note_not_found", "No note has this id."),
            )
        return note, note.current_state.state, None

    @api.get("/notes/<note_id>")
    def note_detail(self) -> list[Response | Effect]:
        """Return one note's summary."""
        note, state, error = self.find_note()
        if error is not None:
            return [error]
        return [JSONResponse(note_summary(note, state))]

    def perform(self, action: str) -> list[Response | Effect]:
        """Check `action` against the note's state and type, and return its effects."""
        note, state, error = self.find_note()
        if error is not None:
            return [error]

        category = note.note_type_version.category
        if not transitions.state_allows(action, state, category=category):
            label = transitions.STATE_LABELS.get(state, state)
            return [
                error_response(
                    HTTPStatus.CONFLICT,
                    "action_not_allowed",
                    f"{transitions.ACTION_LABELS[action]} is not allowed on a note that is "
                    f"{label.lower()}.",
                    state=state,
                )
            ]

        effect = NoteEffect(instance_id=str(note.id))
        builders = {
            transitions.LOCK_NOTE: effect.lock,
            transitions.SIGN_NOTE: effect.sign,
            transitions.UNLOCK_NOTE: effect.unlock,
            transitions.CHECK_IN_NOTE: effect.check_in,
            transitions.NO_SHOW_NOTE: effect.no_show,
        }
        names = transitions.effects_for(action, state)
        try:
            effects = [builders[name]() for name in names]
        except ValidationError as rejection:
            messages = [detail["msg"] for detail in rejection.errors()]
            return [
                error_response(
                    HTTPStatus.UNPROCESSABLE_ENTITY,
                    "action_rejected",
                    " ".join(messages) or "Canvas rejected this action.",
                )
            ]

        # `note` extends the contract: the summary as it will read once Canvas
        # applies the effects (after this handler returns), so the caller need
        # not ask again and cannot read the old state back by racing Canvas.
        body = {
            "note_id": str(note.id),
            "action": action,
            "effects": names,
            "from_state": state,
            "note": note_summary(note, transitions.state_after(action, state)),
        }
        return [*effects, JSONResponse(body, status_code=HTTPStatus.ACCEPTED)]

    @api.post("/notes/<note_id>/lock")
    def note_lock(self) -> list[Response | Effect]:
        """Lock the note."""
        return self.perform(transitions.LOCK)

    @api.post("/notes/<note_id>/sign")
    def note_sign(self) -> list[Response | Effect]:
        """Sign a locked note."""
        return self.perform(transitions.SIGN)

    @api.post("/notes/<note_id>/lock_sign")
    def note_lock_sign(self) -> list[Response | Effect]:
        """Lock then sign the note (only sign when it is already locked)."""
        return self.perform(transitions.LOCK_SIGN)

    @api.post("/notes/<note_id>/unlock")
    def note_unlock(self) -> list[Response | Effect]:
        """Unlock a locked or signed note."""
        return self.perform(transitions.UNLOCK)

    @api.post("/notes/<note_id>/checkin")
    def note_checkin(self) -> list[Response | Effect]:
        """Check in an appointment."""
        return self.perform(transitions.CHECKIN)

    @api.post("/notes/<note_id>/noshow")
    def note_noshow(self) -> list[Response | Effect]:
        """Mark an appointment as no-show."""
        return self.perform(transitions.NOSHOW)
