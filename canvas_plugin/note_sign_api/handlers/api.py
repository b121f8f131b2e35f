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

from http import HTTPStatus
from typing import Any

from canvas_sdk.effects import Effect
from canvas_sdk.effects.note import Note as NoteEffect
from canvas_sdk.effects.simple_api import JSONResponse, Response
from canvas_sdk.events import EventType
from canvas_sdk.handlers.simple_api import BearerCredentials, SimpleAPI, api
from canvas_sdk.v1.data import Staff
from pydantic import ValidationError

from note_sign_api import batch, content, contract, queries, visibility
from note_sign_api.transitions import (
    Action,
    EffectName,
    SigningPolicy,
    effects_for,
    expected_states,
    refusal,
)


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
            if (
                not contract.bearer_token_present(self.request.headers)
                or self.event.actor.instance is None
            ):
                return [contract.unauthenticated().apply()]
            if self.event.type == EventType.SIMPLE_API_REQUEST and self.current_staff() is None:
                return [contract.forbidden().apply()]
        return super().compute()

    def authenticate(self, credentials: BearerCredentials) -> bool:
        """Accept a bearer token that Canvas resolved to one of its users."""
        return self.event.actor.instance is not None

    def current_staff(self) -> Staff | None:
        """Return the active staff member behind the request's token (looked up once)."""
        if not hasattr(self, "caller"):
            self.caller = queries.staff_for_user(self.event.actor.instance)
        return self.caller

    def signing_policy(self) -> SigningPolicy:
        """Return the plugin variable `signing_policy` (PROVIDER unless set to ANY_STAFF)."""
        return contract.signing_policy_from(self.secrets)

    def notes(self) -> Any:
        """Return the notes the caller may see (visibility.visible_notes), for summaries."""
        return queries.notes_queryset(self.current_staff(), self.secrets, self.environment)

    def restrict(self) -> bool:
        """Return the plugin variable `restrict_signing_to_provider` (false unless "true")."""
        return contract.restrict_from(self.secrets)

    def summary(self, row: dict[str, Any]) -> dict[str, Any]:
        """Return the summary of a row for the caller."""
        return contract.note_summary(
            row,
            caller_id=str(self.current_staff().id),
            signing_policy=self.signing_policy(),
            restrict=self.restrict(),
        )

    @api.get("/me")
    def me(self) -> list[Response | Effect]:
        """Return the token's Canvas user id and staff member."""
        staff = queries.staff_names(self.current_staff())
        zone = visibility.installation_zone(self.environment)
        body = contract.me_body(
            user_id=str(self.event.actor.id), staff=staff, installation_time_zone=zone.key
        )
        return [JSONResponse(body)]

    @api.get("/notes")
    def note_list(self) -> list[Response | Effect]:
        """Return a page of note summaries and the total.

        `order=oldest` lists by date of service oldest first, anything else newest
        first; ties by id either way. A cursor is only good for its own order.
        Unreadable filters are ignored.
        """
        params = self.request.query_params
        filters = contract.parse_list_filters(params)
        notes = queries.notes_filtered(
            self.current_staff(),
            self.notes(),
            filters,
            restrict=self.restrict(),
            zone=visibility.installation_zone(self.environment),
        )
        count = notes.count()
        order = contract.parse_order(params.get("order"))
        notes = queries.in_order(notes, order)
        cursor = params.get("cursor")
        if cursor:
            position = contract.decode_cursor(cursor, order)
            if position is None:
                return [contract.invalid_cursor()]
            after, after_id = position
            notes = queries.after_position(notes, order=order, after=after, after_id=after_id)
        limit = contract.parse_limit(params.get("limit"))
        page = list(queries.summary_rows(notes)[: limit + 1])
        next_cursor = contract.encode_cursor(page[limit - 1], order) if len(page) > limit else None
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
        counts = queries.note_counts(
            self.current_staff(),
            self.notes(),
            overdue_before=contract.parse_moment(params.get("overdue_before")),
            day_start=contract.parse_moment(params.get("day_start")),
            day_end=contract.parse_moment(params.get("day_end")),
            restrict=self.restrict(),
        )
        return [JSONResponse(counts)]

    @api.get("/notes/history")
    def notes_history(self) -> list[Response | Effect]:
        """Return the state and history (at or after `since`) of up to 100 notes (v3)."""
        as_of = contract.now()
        params = self.request.query_params
        note_ids, error = batch.parse_note_ids(params.get("ids"))
        if error is not None:
            return [error]
        since = contract.parse_moment(params.get("since"))
        rows, events = queries.notes_with_history(self.notes(), note_ids, since=since)
        summaries = ((row["dbid"], self.summary(row)) for row in rows)
        return [JSONResponse(batch.history_batch_body(summaries, events, as_of=as_of))]

    def find_note(self) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        """Return (summary row, None) for the path's note id, or (None, error)."""
        note_id = contract.parse_note_id(self.request.path_params.get("note_id", ""))
        if note_id is None:
            return None, contract.invalid_note_id()
        row = queries.summary_row(self.notes(), note_id)
        if row is None:
            return None, contract.note_not_found()
        return row, None

    @api.get("/notes/<note_id>")
    def note_detail(self) -> list[Response | Effect]:
        """Return one note's summary."""
        row, error = self.find_note()
        if error is not None:
            return [error]
        return [JSONResponse(self.summary(row))]

    @api.get("/notes/<note_id>/content")
    def note_content(self) -> list[Response | Effect]:
        """Return the note's commands in order, with who entered each and a short summary."""
        row, error = self.find_note()
        if error is not None:
            return [error]
        commands = queries.note_commands(row["dbid"])
        return [JSONResponse(content.content_from_rows(str(row["id"]), commands))]

    @api.get("/notes/<note_id>/history")
    def note_history(self) -> list[Response | Effect]:
        """Return the note's state changes, oldest first, at or after `since` when given."""
        as_of = contract.now()
        row, error = self.find_note()
        if error is not None:
            return [error]
        since = contract.parse_moment(self.request.query_params.get("since"))
        events = queries.state_changes(row["dbid"], since=since)
        return [JSONResponse(contract.history_body(events, as_of=as_of))]

    def perform(self, action: Action) -> list[Response | Effect]:
        """Check `action` for this caller and this note, and return its effects with a 202."""
        row, error = self.find_note()
        if error is not None:
            return [error]
        caller_id = str(self.current_staff().id)
        note = contract.facts(row, caller_id)
        refused = refusal(
            action,
            note,
            caller_id=caller_id,
            signing_policy=self.signing_policy(),
            restrict=self.restrict(),
        )
        if refused is not None:
            extra = {"state": refused.state} if refused.state else {}
            status = HTTPStatus(refused.status)
            return [contract.error_response(status, refused.code, refused.message, **extra)]
        names = effects_for(action, note.state)
        try:
            effects = build_effects(str(row["id"]), names)
        except ValidationError as rejection:
            return [contract.action_rejected([detail["msg"] for detail in rejection.errors()])]
        expected = expected_states(
            action, note.state, category=note.category, is_sig_required=note.is_sig_required
        )[-1]
        body = contract.accepted_body(
            note_id=str(row["id"]),
            action=action,
            effects=names,
            from_state=note.state,
            expected=expected,
        )
        return [*effects, JSONResponse(body, status_code=HTTPStatus.ACCEPTED)]

    @api.post("/notes/<note_id>/lock")
    def note_lock(self) -> list[Response | Effect]:
        """Lock the note."""
        return self.perform(Action.LOCK)

    @api.post("/notes/<note_id>/sign")
    def note_sign(self) -> list[Response | Effect]:
        """Sign a locked note, or sign a signed one again (a co-signature)."""
        return self.perform(Action.SIGN)

    @api.post("/notes/<note_id>/lock_sign")
    def note_lock_sign(self) -> list[Response | Effect]:
        """Lock then sign the note (only sign when it is already locked)."""
        return self.perform(Action.LOCK_SIGN)

    @api.post("/notes/<note_id>/unlock")
    def note_unlock(self) -> list[Response | Effect]:
        """Unlock a locked or signed note."""
        return self.perform(Action.UNLOCK)

    @api.post("/notes/<note_id>/checkin")
    def note_checkin(self) -> list[Response | Effect]:
        """Check in an appointment."""
        return self.perform(Action.CHECKIN)

    @api.post("/notes/<note_id>/noshow")
    def note_noshow(self) -> list[Response | Effect]:
        """Mark an appointment as no-show."""
        return self.perform(Action.NOSHOW)


def build_effects(note_id: str, names: list[str]) -> list[Effect]:
    """Return the SDK's Note effects named `names`; pydantic's ValidationError when it refuses."""
    effect = NoteEffect(instance_id=note_id)
    builders = {
        EffectName.LOCK_NOTE: effect.lock,
        EffectName.SIGN_NOTE: effect.sign,
        EffectName.UNLOCK_NOTE: effect.unlock,
        EffectName.CHECK_IN_NOTE: effect.check_in,
        EffectName.NO_SHOW_NOTE: effect.no_show,
    }
    return [builders[name]() for name in names]
