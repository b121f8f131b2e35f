"""The note_sign_api plugin endpoints, imitated (DESIGN.md's contract, version 2).

Thin views: authenticate the bearer token, call one selector or service,
answer JSON. Checks run in the contract's order: 401 (the authentication
pass comes first, as on Canvas), 403 forbidden, 400 invalid_note_id, 404,
then the note rules (the plugin's transitions.refusal). Every error is the contract's
`{"error": {...}}` body; an unknown path or method gets the plugin
runner's empty 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from canvas_sandbox.clinic import (
    actions,
    conf,
    content,
    effects,
    listing,
    selectors,
    shapes,
    tokens,
)
from canvas_sandbox.clinic.exceptions import Forbidden, SandboxError, Unauthenticated
from canvas_sandbox.clinic.models import Staff

View = Callable[..., HttpResponse]


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _empty_404() -> HttpResponse:
    """What Canvas's plugin runner answers when no route matches: 404, no body."""
    return HttpResponse(status=404, content_type="text/plain")


def plugin_endpoint(*methods: str, note_id: bool = False) -> Callable[[View], View]:
    """Wrap a plugin view: route method, due effects, bearer auth, id validation, errors."""

    def decorate(view: View) -> View:
        # Bearer-token API, like Canvas's: no cookies are read, so there is
        # no session for a cross-site form to ride on and CSRF does not apply.
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return _empty_404()
            try:
                effects.effects_apply_due()
                actor = tokens.staff_from_authorization(
                    header=request.headers.get("Authorization", "")
                )
                if note_id:
                    selectors.note_id_validate(note_id=kwargs["note_id"])
                return view(request, actor=actor, **kwargs)
            except SandboxError as error:
                response = _json(error.body(), status=error.status)
                if error.status == 401:
                    response["WWW-Authenticate"] = 'Bearer realm="canvas-sandbox"'
                return response

        return wrapper

    return decorate


@plugin_endpoint("GET")
def me(request: HttpRequest, *, actor: Staff) -> HttpResponse:
    """Answer `GET /me`: the token's user and staff member."""
    return _json(shapes.staff_me(staff=actor))


@plugin_endpoint("GET")
def note_list(request: HttpRequest, *, actor: Staff) -> HttpResponse:
    """Answer `GET /notes`: one page of summaries, `next_cursor` and `count`."""
    params = request.GET
    return _json(
        listing.note_list(
            actor=actor,
            queue=params.get("queue"),
            state=params.get("state"),
            category=params.get("category"),
            provider=params.get("provider"),
            patient=params.get("patient"),
            date=params.get("date"),
            start=params.get("from"),
            end=params.get("to"),
            limit=params.get("limit"),
            cursor=params.get("cursor"),
            order=params.get("order"),
        )
    )


@plugin_endpoint("GET")
def note_counts(request: HttpRequest, *, actor: Staff) -> HttpResponse:
    """Answer `GET /notes/counts`: every tab's count for the caller."""
    params = request.GET
    return _json(
        listing.note_counts(
            actor=actor,
            day_start=params.get("day_start"),
            day_end=params.get("day_end"),
            overdue_before=params.get("overdue_before"),
        )
    )


@plugin_endpoint("GET")
def notes_history(request: HttpRequest, *, actor: Staff) -> HttpResponse:
    """Answer `GET /notes/history?ids=&since=`: many notes' state and history (contract v3)."""
    params = request.GET
    return _json(
        listing.notes_history(actor=actor, ids=params.get("ids"), since=params.get("since"))
    )


@plugin_endpoint("GET", note_id=True)
def note_detail(request: HttpRequest, *, actor: Staff, note_id: str) -> HttpResponse:
    """Answer `GET /notes/<id>`: the note's summary for this caller."""
    return _json(
        shapes.note_summary(note=selectors.note_get(note_id=note_id, viewer=actor), caller=actor)
    )


@plugin_endpoint("GET", note_id=True)
def note_content(request: HttpRequest, *, actor: Staff, note_id: str) -> HttpResponse:
    """Answer `GET /notes/<id>/content`: the note's commands in order (contract v3).

    A note the caller may not see is not found, as on GET /notes/<id>.
    """
    return _json(content.note_content(note=selectors.note_get(note_id=note_id, viewer=actor)))


@plugin_endpoint("GET", note_id=True)
def note_history(request: HttpRequest, *, actor: Staff, note_id: str) -> HttpResponse:
    """Answer `GET /notes/<id>/history?since=`: the state changes, oldest first."""
    note = selectors.note_get(note_id=note_id, viewer=actor)
    return _json(shapes.note_history_api(note=note, since=request.GET.get("since")))


@plugin_endpoint("POST", note_id=True)
def note_action(request: HttpRequest, *, actor: Staff, note_id: str, action: str) -> HttpResponse:
    """Answer `POST /notes/<id>/<action>`: 202 accepted (effects land later), or a refusal."""
    result = actions.note_action_accept(note_id=note_id, action=action, actor=actor)
    return _json(result, status=202)


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Answer any other path under the plugin prefix as the plugin runner does."""
    return _empty_404()


def app(request: HttpRequest) -> HttpResponse:
    """Serve the page the Canvas Application opens: a launcher to the portal.

    Like the plugin's (StaffSessionAuthMixin): only to a signed-in staff session;
    401 without a session, 403 for a user who is not active staff.
    """
    if request.method != "GET":
        return _empty_404()
    user = request.user
    if not user.is_authenticated:
        return _json(Unauthenticated().body(), status=Unauthenticated.status)
    if not user.is_active or not Staff.objects.filter(user=user).exists():
        return _json(Forbidden().body(), status=Forbidden.status)
    return render(request, "sandbox/app.html", {"portal_url": conf.portal_url()})
