"""The notes pages: worklist, one note, the action endpoint and "My activity"."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from canvas_oauth.exceptions import (
    CanvasOAuthError,
    NotLinked,
    ReauthorizationRequired,
    TokenDecryptionFailed,
)
from notes.constants import ACTION_DONE, ACTIONS
from notes.exceptions import (
    ActionNotAllowed,
    ActionRejected,
    AlreadyInProgress,
    InvalidNoteId,
    NoteNotFound,
    NotesError,
    OutcomeUnknown,
)
from notes.forms import OpenNoteForm, WorklistForm
from notes.selectors import (
    TABS,
    attempt_list_for_user,
    note_get_for_user,
    note_id_parse,
    note_list_for_user,
)
from notes.services import note_action_perform

logger = logging.getLogger(__name__)

ACTIVITY_PAGE_SIZE = 25
DECRYPT_MESSAGE = (
    "The portal can't read its stored Canvas credentials right now. "
    "An administrator has been alerted; please try again later."
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _connect_url(next_path: str) -> str:
    try:
        base = reverse("canvas_oauth:connect")
    except NoReverseMatch:
        base = "/canvas/connect/"
    return f"{base}?{urlencode({'next': next_path})}"


def _link_problem(request: HttpRequest, exc: CanvasOAuthError) -> dict[str, Any]:
    """Return the template context for the Connect / Reconnect card."""
    reconnect = isinstance(exc, ReauthorizationRequired)
    return {
        "link_problem": {
            "reconnect": reconnect,
            "message": exc.message,
            "connect_url": _connect_url(request.get_full_path()),
        }
    }


def _decrypt_failed(request: HttpRequest) -> HttpResponse:
    logger.error("Token decryption failed for user %s", request.user.pk)
    response = render(
        request,
        "notes/unavailable.html",
        {"title": "Canvas credentials unavailable", "message": DECRYPT_MESSAGE},
        status=503,
    )
    if getattr(request, "htmx", False):
        trigger_client_event(response, "toast", {"message": DECRYPT_MESSAGE, "level": "error"})
    return response


def _safe_next(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


@require_safe
@vary_on_headers("HX-Request")
def worklist(request: HtmxHttpRequest) -> HttpResponse:
    """Show the worklist (full page, or only its list for an htmx request)."""
    open_form = OpenNoteForm(request.GET if "id" in request.GET else None)
    if open_form.is_bound and open_form.is_valid():
        return redirect("notes:detail", note_id=open_form.cleaned_data["id"])

    form = WorklistForm(request.GET)
    form.is_valid()
    query = form.cleaned_data
    tab = query.get("tab") or "signature"
    patient = query.get("patient") or ""
    cursor = query.get("cursor") or ""
    context: dict[str, Any] = {
        "tabs": TABS.values(),
        "tab": TABS[tab],
        "patient": patient,
        "cursor": cursor,
        "open_form": open_form,
        "page": None,
        "error": None,
    }
    try:
        context["page"] = note_list_for_user(
            user=request.user, tab=tab, patient=patient, cursor=cursor
        )
    except TokenDecryptionFailed:
        return _decrypt_failed(request)
    except (NotLinked, ReauthorizationRequired) as exc:
        context.update(_link_problem(request, exc))
    except (CanvasOAuthError, NotesError) as exc:
        context["error"] = exc.message
    if context["page"] is not None:
        base = {"tab": tab, **({"patient": patient} if patient else {})}
        context["first_url"] = f"{reverse('notes:worklist')}?{urlencode(base)}"
        if context["page"]["next_cursor"]:
            params = {**base, "cursor": context["page"]["next_cursor"]}
            context["next_url"] = f"{reverse('notes:worklist')}?{urlencode(params)}"
    context["next_path"] = request.get_full_path()
    if request.htmx and not request.htmx.boosted:
        return render(request, "notes/partials/worklist.html", context)
    return render(request, "notes/worklist.html", context)


@require_safe
def detail(request: HttpRequest, note_id: str) -> HttpResponse:
    """Show one note: details, the actions this user may take, their recent attempts on it."""
    try:
        note_uuid = note_id_parse(value=note_id)
    except InvalidNoteId as exc:
        return render(
            request,
            "notes/unavailable.html",
            {"title": "Not a note ID", "message": exc.message, "open_form": OpenNoteForm()},
            status=400,
        )
    context: dict[str, Any] = {"note_id": note_uuid, "note": None, "error": None}
    status = 200
    try:
        context["note"] = note_get_for_user(user=request.user, note_id=note_uuid)
    except TokenDecryptionFailed:
        return _decrypt_failed(request)
    except (NotLinked, ReauthorizationRequired) as exc:
        context.update(_link_problem(request, exc))
    except (CanvasOAuthError, NotesError) as exc:
        context["error"] = exc.message
        if isinstance(exc, NoteNotFound):
            status = 404
    context["attempts"] = attempt_list_for_user(user=request.user, note_id=note_uuid)[:10]
    context["next_path"] = request.get_full_path()
    return render(request, "notes/detail.html", context, status=status)


def _note_reread(request: HttpRequest, note_id: str) -> dict[str, Any] | None:
    """Return the note's current summary for an error row, or None if that fails too."""
    try:
        return note_get_for_user(user=request.user, note_id=note_id)
    except (NotesError, CanvasOAuthError):
        return None


@require_POST
@vary_on_headers("HX-Request")
def note_action(request: HtmxHttpRequest, note_id: str, action: str) -> HttpResponse:
    """Perform an action; answer htmx with the note's row (or card) and a toast, else redirect."""
    view = "detail" if request.POST.get("view") == "detail" else "row"
    fallback = (
        reverse("notes:worklist")
        if view == "row" or action not in ACTIONS
        else reverse("notes:detail", kwargs={"note_id": note_id})
    )
    next_url = _safe_next(request, fallback)
    note: dict[str, Any] | None = None
    error = ""
    level = "success"
    try:
        note = note_action_perform(
            user=request.user,
            note_id=note_id,
            action=action,
            request_id=getattr(request, "request_id", ""),
            client_ip=request.META.get("REMOTE_ADDR"),
        )
        message = f"Note {ACTION_DONE[action]}."
        if note.get("stale"):
            message += " Canvas didn't send its new state; reload to see it."
    except TokenDecryptionFailed:
        return _decrypt_failed(request)
    except (NotesError, CanvasOAuthError) as exc:
        error = message = exc.message
        level = "warning" if isinstance(exc, AlreadyInProgress | OutcomeUnknown) else "error"
        if isinstance(exc, NotLinked):
            message = error = f"{exc.message} Open the worklist to connect your Canvas account."
        elif isinstance(exc, ReauthorizationRequired):
            message = error = f"{exc.message} Open the worklist to reconnect."
        # Show the note as it is now when the action was refused for its state
        # or its outcome is unclear; for other errors the row stays as it was.
        if isinstance(exc, ActionNotAllowed | ActionRejected | AlreadyInProgress | OutcomeUnknown):
            note = _note_reread(request, note_id)

    if not request.htmx:
        getattr(messages, level)(request, message)
        return HttpResponseRedirect(next_url)

    if note is not None and not note.get("stale"):
        context = {"note": note, "error": error, "next_path": next_url}
        if view == "detail":
            template = "notes/partials/note_card.html"
            # The page's activity list is refreshed out of band.
            context["oob_attempts"] = attempt_list_for_user(
                user=request.user, note_id=note_id_parse(value=note_id)
            )[:10]
        else:
            template = "notes/partials/note_row.html"
        response = render(request, template, context)
    else:
        # No fresh note to draw: put the message in the row's error slot and
        # leave the rest of the row as it is.
        response = render(request, "notes/partials/row_error.html", {"error": error or message})
        try:
            target = f"#note-error-{note_id_parse(value=note_id)}"
        except InvalidNoteId:
            target = None
        if target:
            response["HX-Retarget"] = target
            response["HX-Reswap"] = "innerHTML"
        else:
            response["HX-Reswap"] = "none"
    trigger_client_event(response, "toast", {"message": message, "level": level})
    return response


@require_safe
def activity(request: HttpRequest) -> HttpResponse:
    """Show the signed-in user's own action attempts, newest first."""
    paginator = Paginator(attempt_list_for_user(user=request.user), ACTIVITY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "notes/activity.html", {"page": page})
