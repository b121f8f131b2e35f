"""The sandbox-only control API (/sandbox/control/): faults, stats, tokens, notes.

JSON in, JSON out, no authentication: it exists for tests, demos and the
bench, is off without DEBUG unless SANDBOX_CONTROL=true, and answers only
calls from a loopback address (never a network). A browser page on another
site cannot use it: every call needs the `X-Sandbox-Control: 1` header and
a body must be `application/json`, neither of which a cross-site page can
send without a CORS preflight, which the sandbox never grants.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from canvas_sandbox.clinic import conf, instance, selectors
from canvas_sandbox.clinic import faults as fault_settings
from canvas_sandbox.clinic.content import command_add, note_content
from canvas_sandbox.clinic.effects import effects_apply_due
from canvas_sandbox.clinic.exceptions import (
    ControlError,
    ControlRefused,
    EndpointNotFound,
    MethodNotAllowed,
    SandboxError,
)
from canvas_sandbox.clinic.models import Command
from canvas_sandbox.clinic.notes import note_create, note_veto_set, staff_named
from canvas_sandbox.clinic.shapes import note_summary
from canvas_sandbox.clinic.tokens import tokens_issue, tokens_revoke_for_user

View = Callable[..., HttpResponse]

#: The header every control call carries (a custom header forces a CORS preflight).
CONTROL_HEADER = "X-Sandbox-Control"


def control_endpoint(*methods: str) -> Callable[[View], View]:
    """Wrap a control view: enabled check, method check, JSON body, error bodies."""

    def decorate(view: View) -> View:
        # A test harness's JSON API on a development-only server (turned off
        # with SANDBOX_CONTROL=false); it reads no cookies, so CSRF does not apply.
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                _control_request_check(request, methods)
                # Reads here see what a plugin request would: every due effect landed.
                effects_apply_due()
                result = view(request, data=_json_body(request), **kwargs)
                if isinstance(result, HttpResponse):
                    return result
                return JsonResponse(result)
            except SandboxError as error:
                return JsonResponse(error.body(), status=error.status)

        return wrapper

    return decorate


def _control_request_check(request: HttpRequest, methods: tuple[str, ...]) -> None:
    """Refuse a call the control API must not serve, before it does anything."""
    if not conf.control_enabled():
        raise EndpointNotFound()
    if not _from_loopback(request):
        # Off the loopback interface the API would face a network: it answers
        # as if it did not exist, whatever SANDBOX_CONTROL says.
        raise EndpointNotFound()
    if request.method not in methods:
        raise MethodNotAllowed()
    if request.headers.get(CONTROL_HEADER) != "1" or (
        request.body and request.content_type != "application/json"
    ):
        raise ControlRefused()


def _from_loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "").is_loopback
    except ValueError:
        return False


def _json_body(request: HttpRequest) -> dict[str, Any]:
    """Return a POST's JSON object body ({} without one)."""
    if request.method != "POST" or not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ControlError("The body must be JSON.") from exc
    if not isinstance(data, dict):
        raise ControlError("The body must be a JSON object.")
    return data


def _flag(data: dict[str, Any], key: str, *, default: bool = False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ControlError(f"{key} must be true or false.")
    return value


def _text(data: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ControlError(f"{key} must be a non-empty string.")
    return value.strip()


@control_endpoint("GET", "POST")
def faults(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """GET: the fault settings. POST: replace them (missing keys = 0/false/503/1)."""
    if request.method == "POST":
        config = fault_settings.faults_set(values=data)
    else:
        config = fault_settings.fault_config_get()
    return fault_settings.fault_config_data(config=config)


@control_endpoint("POST")
def faults_reset(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """Put the fault settings back to the environment's defaults."""
    return fault_settings.fault_config_data(config=fault_settings.faults_reset())


@control_endpoint("GET")
def stats(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """Return the request counts (token requests by grant type, revocations, plugin)."""
    return fault_settings.stats_get()


@control_endpoint("POST")
def stats_reset(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """Zero every request count."""
    fault_settings.stats_reset()
    return fault_settings.stats_get()


@control_endpoint("POST")
def tokens(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """Mint a real token pair for a user; optional `expires_in` (seconds, may be <= 0)."""
    expires_in = data.get("expires_in")
    if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)):
        raise ControlError("expires_in must be an integer number of seconds.")
    return tokens_issue(username=_text(data, "username"), expires_in=expires_in)


@control_endpoint("POST")
def revoke(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """Revoke every token and authorization code of a user."""
    count = tokens_revoke_for_user(username=_text(data, "username"))
    return {"revoked": count}


@control_endpoint("POST")
def notes(request: HttpRequest, *, data: dict[str, Any]) -> HttpResponse:
    """Create a note in a given state and kind; answer 201 with its summary."""
    supervising = data.get("supervising_provider")
    if supervising is not None and not isinstance(supervising, str):
        raise ControlError('supervising_provider must be a username, or "" for none.')
    category = _text(data, "category", required=False)
    note = note_create(
        state=_text(data, "state"),
        kind=_text(data, "kind", required=category is None),
        category=category,
        is_sig_required=_flag(data, "is_sig_required", default=True),
        provider=_text(data, "provider", required=False) or "provider",
        supervising_provider=supervising.strip() if supervising is not None else None,
        patient=_text(data, "patient", required=False),
        date=_text(data, "date", required=False),
        title=_text(data, "title", required=False),
        veto=_flag(data, "veto"),
    )
    return JsonResponse(note_summary(note=note), status=201)


@control_endpoint("GET")
def note_detail(request: HttpRequest, *, data: dict[str, Any], note_id: str) -> dict[str, Any]:
    """Return a note's summary without a token."""
    return note_summary(note=selectors.note_get(note_id=note_id))


@control_endpoint("GET")
def note_history(request: HttpRequest, *, data: dict[str, Any], note_id: str) -> dict[str, Any]:
    """Return a note's state history (every state it entered, oldest first)."""
    return {"history": selectors.note_history(note_id=note_id)}


@control_endpoint("GET")
def note_effects(request: HttpRequest, *, data: dict[str, Any], note_id: str) -> dict[str, Any]:
    """Return every effect accepted for a note and its status (pending, applied, ...)."""
    return {"effects": selectors.note_effects(note_id=note_id)}


@control_endpoint("GET", "POST")
def note_veto(request: HttpRequest, *, data: dict[str, Any], note_id: str) -> dict[str, Any]:
    """GET: whether the note vetoes lock and sign. POST `{"veto": bool}`: set it."""
    if request.method == "POST":
        if "veto" not in data:
            raise ControlError("veto must be true or false.")
        note = note_veto_set(note_id=note_id, veto=_flag(data, "veto"))
    else:
        note = selectors.note_get(note_id=note_id)
    return {"note_id": str(note.pk), "veto": note.veto}


@control_endpoint("GET", "POST")
def plugin_variables(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """GET: the installed plugin's variables. POST `{name: value or null}`: set some."""
    if request.method == "POST":
        return {"variables": instance.plugin_variables_set(values=data)}
    return {"variables": conf.plugin_variables()}


@control_endpoint("GET", "POST")
def canvas_settings(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """GET: Canvas's own settings. POST `{"restrict_signing_to_provider": bool or null}`."""
    if request.method == "POST":
        return {"settings": instance.canvas_settings_set(values=data)}
    return {"settings": instance.canvas_settings_get()}


@control_endpoint("POST")
def care_team(request: HttpRequest, *, data: dict[str, Any]) -> dict[str, Any]:
    """Put `staff` (a username) on `patient`'s (a full name) care team; `status` active."""
    return instance.care_team_set(
        patient=_text(data, "patient"),
        username=_text(data, "staff"),
        status=_text(data, "status", required=False) or "active",
    )


@control_endpoint("GET", "POST")
def note_commands(request: HttpRequest, *, data: dict[str, Any], note_id: str) -> HttpResponse:
    """GET: the note's content. POST `{"schema_key", "data", "state", "originator"}`: add one.

    `state` is staged, committed (the default) or entered_in_error; `originator`
    a staff username (default: the note's provider). Answers the content.
    """
    note = selectors.note_get(note_id=note_id)
    if request.method == "GET":
        return JsonResponse(note_content(note=note))
    originator = _text(data, "originator", required=False)
    command_add(
        note=note,
        schema_key=data.get("schema_key"),
        data=data.get("data"),
        state=_text(data, "state", required=False) or Command.COMMITTED,
        originator=staff_named(originator, field="originator") if originator else None,
    )
    return JsonResponse(note_content(note=note), status=201)


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Answer any other control path with a JSON 404."""
    return JsonResponse(EndpointNotFound().body(), status=404)
