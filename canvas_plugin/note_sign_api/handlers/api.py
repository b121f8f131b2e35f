"""The note endpoints the Canvas Note Portal calls, under /plugin-io/api/note_sign_api/.

Plugin API contract, version 2. Every request carries `Authorization: Bearer <access
token>`; Canvas resolves the token to its user and hands it to the plugin as
`self.event.actor`. The authentication pass only says yes (a bearer token of a
Canvas user) or no (401): every other refusal is answered in the request pass, in
the contract's order (403 forbidden, 400 invalid_note_id, 404 note_not_found, then
the note-level checks of `note_sign_api.transitions`: 403 not_note_provider, 422
action_rejected, 409 action_not_allowed / already_signed). Every error body is
`{"error": {"code": "<snake_case>", "message": "<sentence>"}}` and never repeats
anything from the request's headers.

A 202 means *accepted*: Canvas applies the returned effects after the answer has
gone, and can still refuse them. The body says which state the note should reach
(`expected_state`) and when the action was accepted; the note's state history
(`GET /notes/<id>/history`) is the proof.
"""

from __future__ import annotations

from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from http import HTTPStatus
from json import dumps, loads
from operator import or_
from re import fullmatch
from typing import Any
from uuid import UUID

from canvas_sdk.effects import Effect
from canvas_sdk.effects.note import Note as NoteEffect
from canvas_sdk.effects.simple_api import JSONResponse, Response
from canvas_sdk.events import EventType
from canvas_sdk.handlers.simple_api import BearerCredentials, SimpleAPI, api
from canvas_sdk.v1.data import Note, Staff
from canvas_sdk.v1.data.note import NoteStateChangeEvent
from django.db.models import Exists, F, Func, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from pydantic import ValidationError

from note_sign_api import transitions

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
CURSOR_MAX_LENGTH = 200
#: The plugin variable that decides who may sign, lock & sign and unlock a note.
SIGNING_POLICY_VARIABLE = "signing_policy"
#: The states GET /notes/counts calls open.
OPEN_STATES = ("NEW", "ULK")
#: GET /notes `order`: newest date of service first (the default) or oldest first.
NEWEST = "newest"
OLDEST = "oldest"

#: Everything a summary reads, and nothing else (no patient or staff column beyond names).
SUMMARY_FIELDS = (
    "dbid",
    "id",
    "title",
    "datetime_of_service",
    "current_state__state",
    "note_type_version__name",
    "note_type_version__category",
    "note_type_version__is_sig_required",
    "patient__id",
    "patient__first_name",
    "patient__last_name",
    "provider__id",
    "provider__first_name",
    "provider__last_name",
    "supervising_provider__id",
    "supervising_provider__first_name",
    "supervising_provider__last_name",
    "changed_at",
    "changed_by",
    "caller_signed_since_lock",
)


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
    return Staff.objects.filter(user=user, active=True).only("dbid", "id", "user").first()


def signing_policy_from(variables: dict) -> str:
    """Return the configured signing policy: "any_staff" when set so, else "provider"."""
    raw = str(variables.get(SIGNING_POLICY_VARIABLE) or "").strip().lower()
    return "any_staff" if raw == "any_staff" else "provider"


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


def iso(moment: datetime | None) -> str | None:
    """Return a date-time in ISO 8601, or None."""
    return moment.isoformat() if moment is not None else None


def now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def parse_order(raw: str | None) -> str:
    """Return the list order: "oldest" when asked for, else "newest" (unknown values too)."""
    return OLDEST if (raw or "").strip() == OLDEST else NEWEST


def encode_cursor(row: dict[str, Any], order: str) -> str:
    """Return an opaque cursor pointing just after the summary row `row` in `order`."""
    position = {"d": row["datetime_of_service"].isoformat(), "i": str(row["id"]), "o": order}
    return urlsafe_b64encode(dumps(position).encode()).decode().rstrip("=")


def decode_cursor(raw: str, order: str) -> tuple[datetime, str] | None:
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
        made_in = position.get("o", NEWEST)
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


def facts(row: dict[str, Any], caller_id: str) -> transitions.NoteFacts:
    """Return what the transition rules need to know about the note in a summary row.

    Only whether the caller signed since the last lock matters to the rules asked
    for this caller, so that is all `signed_since_lock` holds.
    """
    return transitions.NoteFacts(
        category=row["note_type_version__category"],
        is_sig_required=bool(row["note_type_version__is_sig_required"]),
        state=row["current_state__state"],
        provider_id=str(row["provider__id"] or ""),
        supervising_provider_id=str(row["supervising_provider__id"] or ""),
        signed_since_lock=frozenset({caller_id} if row["caller_signed_since_lock"] else ()),
    )


def state_of(code: str) -> dict[str, str]:
    """Return `{"code", "label"}` for a state code."""
    return {"code": code, "label": transitions.STATE_LABELS.get(code, code)}


def note_summary(row: dict[str, Any], *, caller_id: str, signing_policy: str) -> dict[str, Any]:
    """Return the contract's summary of the note in a summary row, for this caller."""
    state = row["current_state__state"]
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "datetime_of_service": iso(row["datetime_of_service"]),
        "state": {
            **state_of(state),
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
        "allowed_actions": transitions.allowed_actions(
            facts(row, caller_id), caller_id=caller_id, signing_policy=signing_policy
        ),
    }


def notes_queryset(caller: Staff) -> Any:
    """Return every note that has a current state, annotated for summaries, in list order.

    `changed_at`/`changed_by` come from the note's latest state-change event;
    `caller_signed_since_lock` is whether `caller` signed after the note's last
    lock (the SDK's own sign-again rule compares event dbids the same way).
    """
    events = NoteStateChangeEvent.objects.filter(note=OuterRef("pk")).order_by("-created", "-dbid")
    last_lock = (
        NoteStateChangeEvent.objects.filter(note=OuterRef("note"), state="LKD")
        .order_by("-dbid")
        .values("dbid")[:1]
    )
    signed = NoteStateChangeEvent.objects.filter(
        note=OuterRef("pk"),
        state="SGN",
        originator_id=caller.user_id,
        dbid__gt=Coalesce(Subquery(last_lock), Value(0)),
    )
    return (
        Note.objects.filter(current_state__isnull=False)
        .annotate(
            changed_at=Subquery(events.values("created")[:1]),
            changed_by=Subquery(events.values("originator__staff__id")[:1]),
            caller_signed_since_lock=Exists(signed),
        )
        .order_by("-datetime_of_service", "id")
    )


def summary_rows(notes: Any) -> Any:
    """Select only the columns a summary reads."""
    return notes.values(*SUMMARY_FIELDS)


def to_sign_filter(caller: Staff) -> Q:
    """Return the notes `caller` must sign (transitions.to_sign_action), as a query filter.

    Own notes of a signature-required type in a state lock & sign or sign clears;
    notes they supervise that are signed but not by them since the last lock.
    The states come from transitions.py, so the queue cannot disagree with it.
    """
    caller_id = str(caller.id)
    own_states = []
    for category in sorted(transitions.ACTIONABLE_CATEGORIES):
        states = [
            state
            for state in transitions.STATE_LABELS
            if transitions.to_sign_action(
                transitions.NoteFacts(
                    category=category, is_sig_required=True, state=state, provider_id=caller_id
                ),
                caller_id=caller_id,
            )
        ]
        if states:
            own_states.append(
                Q(note_type_version__category=category, current_state__state__in=states)
            )
    own = Q(provider=caller) & reduce(or_, own_states)
    cosign = (
        Q(supervising_provider=caller, current_state__state="SGN", caller_signed_since_lock=False)
        & ~Q(provider=caller)
        & Q(note_type_version__category__in=sorted(transitions.ACTIONABLE_CATEGORIES))
    )
    return Q(note_type_version__is_sig_required=True) & (own | cosign)


def with_patient_name(notes: Any) -> Any:
    """Alias the patient's full name (first name, space, last name) as `patient_name`."""
    name = Func(
        F("patient__first_name"),
        Value(" "),
        F("patient__last_name"),
        template="%(expressions)s",
        arg_joiner=" || ",
        output_field=TextField(),
    )
    return notes.alias(patient_name=name)


class NoteApi(SimpleAPI):
    """Read notes and their history; lock, sign, unlock, check in or mark no-show on them."""

    def compute(self) -> list[Effect]:
        """Answer 401 in the contract's shape; refuse non-staff in the request pass.

        SimpleAPI's own 401 body is `{"error": "<text>"}`; the portal reads
        `{"error": {"code": "unauthenticated", ...}}`. The authentication pass can only
        say 200 or 401, so a token whose user is not active staff is refused with a 403
        in the request pass, before any route runs.
        """
        if self.event.type in (EventType.SIMPLE_API_AUTHENTICATE, EventType.SIMPLE_API_REQUEST):
            if not bearer_token_present(self.request.headers) or self.event.actor.instance is None:
                return [unauthenticated().apply()]
            if self.event.type == EventType.SIMPLE_API_REQUEST and self.current_staff() is None:
                return [forbidden().apply()]
        return super().compute()

    def authenticate(self, credentials: BearerCredentials) -> bool:
        """Accept a bearer token that Canvas resolved to one of its users."""
        return self.event.actor.instance is not None

    def current_staff(self) -> Staff | None:
        """Return the active staff member behind the request's token (looked up once)."""
        if not hasattr(self, "caller"):
            self.caller = staff_for_user(self.event.actor.instance)
        return self.caller

    def signing_policy(self) -> str:
        """Return the plugin variable `signing_policy` ("provider" unless set to "any_staff")."""
        return signing_policy_from(self.secrets)

    def summary(self, row: dict[str, Any]) -> dict[str, Any]:
        """Return the summary of a row for the caller."""
        return note_summary(
            row, caller_id=str(self.current_staff().id), signing_policy=self.signing_policy()
        )

    @api.get("/me")
    def me(self) -> list[Response | Effect]:
        """Return the token's Canvas user id and staff member."""
        staff = Staff.objects.filter(dbid=self.current_staff().dbid).values(
            "id", "first_name", "last_name"
        )[0]
        return [
            JSONResponse(
                {
                    "user_id": str(self.event.actor.id),
                    "staff": {
                        "id": str(staff["id"]),
                        "name": full_name(staff["first_name"], staff["last_name"]),
                    },
                }
            )
        ]

    def filtered_notes(self) -> Any:
        """Return the notes the list's filters select, before the cursor.

        Unreadable filters are ignored.
        """
        params = self.request.query_params
        caller = self.current_staff()
        notes = notes_queryset(caller)

        categories = []
        for value in params.get_list("category"):
            categories.extend(part.strip().lower() for part in value.split(",") if part.strip())
        notes = notes.filter(
            note_type_version__category__in=categories or sorted(transitions.ACTIONABLE_CATEGORIES)
        )

        if (params.get("queue") or "").strip() == "to_sign":
            notes = notes.filter(to_sign_filter(caller))

        codes = []
        for value in params.get_list("state"):
            codes.extend(code.strip().upper() for code in value.split(",") if code.strip())
        if codes:
            notes = notes.filter(current_state__state__in=codes)

        provider = (params.get("provider") or "").strip()
        if provider == "me":
            notes = notes.filter(provider=caller)
        elif provider:
            notes = notes.filter(provider__id=provider)

        patient = (params.get("patient") or "").strip()
        if patient:
            notes = with_patient_name(notes).filter(patient_name__icontains=patient)

        day = parse_date(params.get("date"))
        if day is not None:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            notes = notes.filter(
                datetime_of_service__gte=start,
                datetime_of_service__lt=start + timedelta(days=1),
            )
        start = parse_moment(params.get("from"))
        if start is not None:
            notes = notes.filter(datetime_of_service__gte=start)
        end = parse_moment(params.get("to"))
        if end is not None:
            notes = notes.filter(datetime_of_service__lt=end)
        return notes

    @api.get("/notes")
    def note_list(self) -> list[Response | Effect]:
        """Return a page of note summaries and the total.

        `order=oldest` lists by date of service oldest first, anything else newest
        first; ties by id either way. A cursor is only good for its own order.
        """
        notes = self.filtered_notes()
        count = notes.count()

        order = parse_order(self.request.query_params.get("order"))
        if order == OLDEST:
            notes = notes.order_by("datetime_of_service", "id")
        cursor = self.request.query_params.get("cursor")
        if cursor:
            position = decode_cursor(cursor, order)
            if position is None:
                return [
                    error_response(
                        HTTPStatus.BAD_REQUEST,
                        "invalid_cursor",
                        "The page cursor is not valid; start again from the first page.",
                    )
                ]
            after, after_id = position
            beyond = (
                Q(datetime_of_service__gt=after)
                if order == OLDEST
                else Q(datetime_of_service__lt=after)
            )
            notes = notes.filter(beyond | Q(datetime_of_service=after, id__gt=after_id))

        limit = parse_limit(self.request.query_params.get("limit"))
        page = list(summary_rows(notes)[: limit + 1])
        next_cursor = encode_cursor(page[limit - 1], order) if len(page) > limit else None
        summaries = [self.summary(row) for row in page[:limit]]
        return [JSONResponse({"notes": summaries, "next_cursor": next_cursor, "count": count})]

    @api.get("/notes/counts")
    def note_counts(self) -> list[Response | Effect]:
        """Return every worklist tab's count for the caller in one answer.

        to_sign: `queue=to_sign`; overdue: of those, the ones whose date of service is
        before `overdue_before`; open: the caller's own notes in NEW or ULK; today:
        notes whose date of service is in [day_start, day_end). A missing or
        unreadable bound gives 0 for its count. Categories that accept no action are
        left out, as in the list.
        """
        params = self.request.query_params
        caller = self.current_staff()
        notes = notes_queryset(caller).filter(
            note_type_version__category__in=sorted(transitions.ACTIONABLE_CATEGORIES)
        )
        to_sign = notes.filter(to_sign_filter(caller))
        overdue_before = parse_moment(params.get("overdue_before"))
        day_start = parse_moment(params.get("day_start"))
        day_end = parse_moment(params.get("day_end"))
        body = {
            "to_sign": to_sign.count(),
            "overdue": (
                to_sign.filter(datetime_of_service__lt=overdue_before).count()
                if overdue_before is not None
                else 0
            ),
            "open": notes.filter(provider=caller, current_state__state__in=OPEN_STATES).count(),
            "today": (
                notes.filter(
                    datetime_of_service__gte=day_start, datetime_of_service__lt=day_end
                ).count()
                if day_start is not None and day_end is not None
                else 0
            ),
        }
        return [JSONResponse(body)]

    def find_note(self) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        """Return (summary row, None) for the path's note id, or (None, error)."""
        note_id = parse_note_id(self.request.path_params.get("note_id", ""))
        if note_id is None:
            return None, error_response(
                HTTPStatus.BAD_REQUEST, "invalid_note_id", "The note id is not a valid UUID."
            )
        # A note Canvas records no state for cannot be acted on: treat it as absent.
        row = summary_rows(notes_queryset(self.current_staff()).filter(id=note_id)).first()
        if row is None:
            return None, error_response(
                HTTPStatus.NOT_FOUND, "note_not_found", "No note has this id."
            )
        return row, None

    @api.get("/notes/<note_id>")
    def note_detail(self) -> list[Response | Effect]:
        """Return one note's summary."""
        row, error = self.find_note()
        if error is not None:
            return [error]
        return [JSONResponse(self.summary(row))]

    @api.get("/notes/<note_id>/history")
    def note_history(self) -> list[Response | Effect]:
        """Return the note's state changes, oldest first, at or after `since` when given."""
        as_of = now()
        row, error = self.find_note()
        if error is not None:
            return [error]
        events = NoteStateChangeEvent.objects.filter(note__dbid=row["dbid"])
        since = parse_moment(self.request.query_params.get("since"))
        if since is not None:
            events = events.filter(created__gte=since)
        history = [
            {"state": event["state"], "at": iso(event["created"]), "by": event["by"]}
            for event in events.order_by("created", "dbid").values(
                "state", "created", by=F("originator__staff__id")
            )
        ]
        return [JSONResponse({"history": history, "as_of": iso(as_of)})]

    def perform(self, action: str) -> list[Response | Effect]:
        """Check `action` for this caller and this note, and return its effects with a 202."""
        row, error = self.find_note()
        if error is not None:
            return [error]

        caller_id = str(self.current_staff().id)
        note = facts(row, caller_id)
        refused = transitions.refusal(
            action, note, caller_id=caller_id, signing_policy=self.signing_policy()
        )
        if refused is not None:
            extra = {"state": refused.state} if refused.state else {}
            return [
                error_response(HTTPStatus(refused.status), refused.code, refused.message, **extra)
            ]

        effect = NoteEffect(instance_id=str(row["id"]))
        builders = {
            transitions.LOCK_NOTE: effect.lock,
            transitions.SIGN_NOTE: effect.sign,
            transitions.UNLOCK_NOTE: effect.unlock,
            transitions.CHECK_IN_NOTE: effect.check_in,
            transitions.NO_SHOW_NOTE: effect.no_show,
        }
        names = transitions.effects_for(action, note.state)
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

        expected = transitions.expected_states(
            action, note.state, category=note.category, is_sig_required=note.is_sig_required
        )[-1]
        body = {
            "note_id": str(row["id"]),
            "action": action,
            "effects": names,
            "from_state": note.state,
            "expected_state": state_of(expected),
            "accepted_at": iso(now()),
        }
        return [*effects, JSONResponse(body, status_code=HTTPStatus.ACCEPTED)]

    @api.post("/notes/<note_id>/lock")
    def note_lock(self) -> list[Response | Effect]:
        """Lock the note."""
        return self.perform(transitions.LOCK)

    @api.post("/notes/<note_id>/sign")
    def note_sign(self) -> list[Response | Effect]:
        """Sign a locked note, or sign a signed one again (a co-signature)."""
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
