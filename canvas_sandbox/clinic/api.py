"""The note_sign_api plugin endpoints, imitated (DESIGN.md's contract).

Thin views: authenticate the bearer token, call one selector or service,
answer JSON. Every error is the contract's `{"error": {...}}` body.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from note_sign_api import transitions

from canvas_sandbox.clinic import conf, selectors, services
from canvas_sandbox.clinic.exceptions import (
    EndpointNotFound,
    MethodNotAllowed,
    SandboxError,
)
from canvas_sandbox.clinic.models import Staff

View = Callable[..., HttpResponse]


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def plugin_endpoint(*methods: str, note_id: bool = False) -> Callable[[View], View]:
    """Wrap a plugin view: method check, id validation, bearer auth, error bodies.

    The note id (when the URL has one) is validated before the token, so a
    malformed id answers 400 whatever the token.
    """

    def decorate(view: View) -> View:
        # Bearer-token API, like Canvas's: no cookies are read, so there is
        # no session for a cross-site form to ride on and CSRF does not apply.
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed()
                if note_id:
                    selectors.note_id_validate(note_id=kwargs["note_id"])
                actor = selectors.staff_from_authorization(
                    header=request.headers.get("Authorization", "")
                )
                return view(request, actor=actor, **kwargs)
            except SandboxError as error:
                response = _json(error.body(), status=error.status)
                if error.status == 401:
                    response["WWW-Authenticate"] = 'Bearer realm="canvas-sandbox"'
                if error.status == 405:
                    response["Allow"] = ", ".join(methods)
                return response

        return wrapper

    return decorate


@plugin_endpoint("GET")
def me(request: HttpRequest, *, actor: Staff) -> HttpResponse:
    """Answer `GET /me`: the token's user and staff member."""
    return _json(selectors.staff_me(staff=actor))


@plugin_endpoint("GET")
def note_list(request: HttpRequest, *, actor: Staff) -> HttpResponse:
    """Answer `GET /notes`: one page of summaries and `next_cursor`."""
    params = request.GET
    return _json(
        selectors.note_list(
            actor=actor,
            state=params.get("state"),
            provider=params.get("provider"),
            patient=params.get("patient"),
            date=params.get("date"),
            limit=params.get("limit"),
            cursor=params.get("cursor"),
        )
    )


@plugin_endpoint("GET", note_id=True)
def note_detail(request: HttpRequest, *, actor: Staff, note_id: str) -> HttpResponse:
    """Answer `GET /notes/<id>`: the note's summary."""
    return _json(selectors.note_summary(note=selectors.note_get(note_id=note_id)))


@plugin_endpoint("POST", note_id=True)
def note_action(request: HttpRequest, *, actor: Staff, note_id: str, action: str) -> HttpResponse:
    """Answer `POST /notes/<id>/<action>`: 202 with the effects, or 404/409/422."""
    if action not in transitions.ACTIONS:
        raise EndpointNotFound()
    result = services.note_action_perform(note_id=note_id, action=action, actor=actor)
    return _json(result, status=202)


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Answer any other path under the plugin prefix with a JSON 404."""
    return _json(EndpointNotFound().body(), status=404)


def app(request: HttpRequest) -> HttpResponse:
    """Serve the page the Canvas Application opens: a launcher to the portal."""
    return render(request, "sandbox/app.html", {"portal_url": conf.portal_url()})
