"""Build Canvas events and SDK records for the plugin's tests.

Requests go through both SimpleAPI passes the way Canvas sends them: an
SIMPLE_API_AUTHENTICATE event, then (when that answered 200) a SIMPLE_API_REQUEST
event, each handled by a fresh handler instance and `.compute()`.
"""

import json
from base64 import b64decode, b64encode
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from canvas_generated.messages.effects_pb2 import EffectType
from canvas_sdk.events import Event, EventRequest, EventType
from canvas_sdk.test_utils.factories import (
    CanvasUserFactory,
    NoteFactory,
    NoteTypeFactory,
    PatientFactory,
    StaffFactory,
)
from canvas_sdk.v1.data import CareTeamMembership, StaffRole
from canvas_sdk.v1.data.command import Command
from canvas_sdk.v1.data.note import CurrentNoteStateEvent, NoteStateChangeEvent

PLUGIN_ROOT = Path(__file__).resolve().parent.parent

#: Note type categories by kind, with whether a signature is required.
KINDS = {
    "encounter": ("encounter", True),
    "encounter_nosig": ("encounter", False),
    "appointment": ("appointment", True),
    "inpatient": ("inpatient", True),
    "data": ("data", True),
    "letter": ("letter", False),
    "message": ("message", False),
}


def make_staff(*, active: bool = True, first_name: str = "Ada", last_name: str = "Lovelace"):
    """Create a Canvas staff member with a staff user; return the Staff."""
    user = CanvasUserFactory(is_staff=True)
    return StaffFactory(user=user, active=active, first_name=first_name, last_name=last_name)


def join_care_team(staff, patient, *, status: str = "active"):
    """Put `staff` on `patient`'s care team (a CareTeamMembership row; no factory exists)."""
    return CareTeamMembership.objects.create(
        patient=patient,
        staff=staff,
        status=status,
        lead=False,
        role_code="",
        role_system="",
        role_display="",
    )


def give_role(staff, *, domain: str, code: str = "R"):
    """Make `staff`'s only role one of `domain` (CLI, ADM or HYB; StaffFactory adds a CLI one)."""
    StaffRole.objects.filter(staff=staff).delete()
    return StaffRole.objects.create(
        staff=staff, internal_code=f"{code}{StaffRole.objects.count()}", domain=domain, name=code
    )


def note_type(kind: str = "encounter", *, category: str = "", is_sig_required=None):
    """Create a note type of `kind` (or of an explicit category and signature rule)."""
    default_category, default_sig = KINDS.get(kind, (kind, True))
    category = category or default_category
    sig = default_sig if is_sig_required is None else is_sig_required
    return NoteTypeFactory(name=f"{category.title()} note", category=category, is_sig_required=sig)


def make_note(
    *,
    state: str = "NEW",
    kind: str = "encounter",
    provider=None,
    patient=None,
    supervising_provider=None,
    note_type_version=None,
    by=None,
    **kw,
):
    """Create a note of `kind` whose current state is `state`, recorded as changed `by` staff."""
    note = NoteFactory(
        note_type_version=note_type_version or note_type(kind),
        provider=provider or make_staff(),
        patient=patient or PatientFactory(),
        supervising_provider=supervising_provider,
        **kw,
    )
    # NoteFactory records the note's creation (NEW, by the provider's user) itself.
    CurrentNoteStateEvent.objects.create(note=note, state=state)
    if state != "NEW":
        NoteStateChangeEvent.objects.create(
            note=note, state=state, originator=by.user if by is not None else None
        )
    return note


def change_state(note, state: str, *, by=None, at=None):
    """Record a state change of `note` (as Canvas does once it applies an effect)."""
    event = NoteStateChangeEvent.objects.create(
        note=note, state=state, originator=by.user if by is not None else None
    )
    if at is not None:
        NoteStateChangeEvent.objects.filter(dbid=event.dbid).update(created=at)
    CurrentNoteStateEvent.objects.filter(note=note).update(state=state)
    return event


def add_command(note, schema_key, data, *, state="committed", by=None, in_error_by=None, at=None):
    """Create a command on `note` as Canvas records it (entered by `by` staff); return it."""
    command = Command.objects.create(
        note=note,
        patient=note.patient,
        schema_key=schema_key,
        data=data,
        state=state,
        originator=by.user if by is not None else None,
        entered_in_error=in_error_by.user if in_error_by is not None else None,
        origination_source="",
        anchor_object_type="",
        anchor_object_dbid=0,
    )
    if at is not None:
        Command.objects.filter(dbid=command.dbid).update(created=at)
    return command


def event(
    event_type,
    *,
    method: str = "GET",
    path: str = "/me",
    query_string: str = "",
    headers: dict | None = None,
    actor: str = "",
    body: bytes = b"",
) -> Event:
    """Return a SimpleAPI event as Canvas builds it."""
    context = {
        "method": method,
        "path": path,
        "query_string": query_string,
        "body": b64encode(body).decode(),
        "headers": headers or {},
    }
    return Event(EventRequest(type=event_type, actor=actor, context=json.dumps(context)))


class Reply:
    """What a request got back: status, headers, decoded body and the other effects."""

    def __init__(self, effects: list, *, passes: int) -> None:
        responses = [e for e in effects if e.type == EffectType.SIMPLE_API_RESPONSE]
        assert len(responses) == 1, effects
        payload = json.loads(responses[0].payload)
        self.status = payload["status_code"]
        self.headers = payload["headers"]
        self.raw = b64decode(payload["body"])
        self.effects = [e for e in effects if e.type != EffectType.SIMPLE_API_RESPONSE]
        self.passes = passes

    def json(self):
        """Return the body parsed as JSON."""
        return json.loads(self.raw)

    @property
    def effect_names(self) -> list[str]:
        """Return the non-response effects' type names, in order."""
        return [EffectType.Name(e.type) for e in self.effects]


def call(
    handler_class, *, secrets: dict | None = None, environment: dict | None = None, **request
) -> Reply:
    """Send one request through both SimpleAPI passes; return the Reply.

    `environment`: what the plugin runner hands the handler (INSTALLATION_TIME_ZONE).
    """
    auth_event = event(EventType.SIMPLE_API_AUTHENTICATE, **request)
    handler = handler_class(auth_event, secrets=secrets, environment=environment)
    assert handler.accept_event(), f"no route for {request}"
    auth = Reply(handler.compute(), passes=1)
    if auth.status != 200:
        return auth
    request_event = event(EventType.SIMPLE_API_REQUEST, **request)
    handler = handler_class(request_event, secrets=secrets, environment=environment)
    return Reply(handler.compute(), passes=2)


def bearer(staff_or_user) -> dict:
    """Return request kwargs carrying a bearer token for a staff member or user."""
    user = getattr(staff_or_user, "user", staff_or_user)
    return {"headers": {"Authorization": "Bearer test-token"}, "actor": str(user.dbid)}


@contextmanager
def plugin_templates():
    """Let canvas_sdk.templates.render_to_string find this plugin's templates.

    Inside Canvas the plugin's modules carry `__is_plugin__` and live under
    PLUGIN_DIRECTORY; here the nearest note_sign_api frame plays that part and the
    directory holding the package is PLUGIN_DIRECTORY, so the real template engine runs.
    """

    def find_plugin_ancestor(frame, max_depth: int = 40):
        while frame is not None and max_depth:
            if frame.f_globals.get("__name__", "").startswith("note_sign_api."):
                return frame
            frame = frame.f_back
            max_depth -= 1
        return None

    with (
        mock.patch("canvas_sdk.utils.plugins.find_plugin_ancestor", find_plugin_ancestor),
        mock.patch("canvas_sdk.utils.plugins.PLUGIN_DIRECTORY", str(PLUGIN_ROOT)),
    ):
        yield
