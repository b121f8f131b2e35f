"""The notes pages: worklist, one note, the action endpoint and "My activity"."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget, trigger_client_event
from django_htmx.middleware import HtmxDetails

from canvas_oauth.exceptions import NotConnected, ReauthorizationRequired, TokenDecryptionFailed
from integrations.canvas.exceptions import CanvasError, InvalidNoteId, NoteNotFound
from integrations.canvas.plugin import note_id_parse
from notes import bulk as bulk_service
from notes import conf as notes_conf
from notes.actions import ACTIONS
from notes.forms import OpenNoteForm, WorklistForm
from notes.models import BulkRun, NoteActionAttempt
from notes.selectors import attempt_list_for_user
from notes.services import (
    TABS,
    ActionReply,
    attempt_get_for_user,
    attempt_reply,
    note_action_reply,
    note_aged,
    note_counts_for_user,
    note_get_for_user,
    note_list_for_user,
    notes_with_attempts,
    tabs_for_user,
)

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


def _link_problem(request: HttpRequest, exc: CanvasError) -> dict[str, Any]:
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
    tabs = tabs_for_user(request.user)
    tab = query.get("tab") or tabs[0].key
    patient = query.get("patient") or ""
    cursor = query.get("cursor") or ""
    context: dict[str, Any] = {
        "tabs": tabs,
        "tab": TABS[tab],
        "counts": None,
        "overdue_days": notes_conf.overdue_days(),
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
    except (NotConnected, ReauthorizationRequired) as exc:
        context.update(_link_problem(request, exc))
    except CanvasError as exc:
        context["error"] = exc.message
    if context["page"] is not None:
        context["page"]["notes"] = notes_with_attempts(
            user=request.user, notes=context["page"]["notes"]
        )
        counts = _counts_or_none(request) or {}
        if tab == "all" and context["page"]["count"] is not None:
            counts = {**counts, "all": context["page"]["count"]}
        context["counts"] = counts
        base = {"tab": tab, **({"patient": patient} if patient else {})}
        context["first_url"] = f"{reverse('notes:worklist')}?{urlencode(base)}"
        if context["page"]["next_cursor"]:
            params = {**base, "cursor": context["page"]["next_cursor"]}
            context["next_url"] = f"{reverse('notes:worklist')}?{urlencode(params)}"
    context["tab_links"] = [
        {"tab": t, "count": (context["counts"] or {}).get(t.count_key or t.key)} for t in tabs
    ]
    context["next_path"] = request.get_full_path()
    if request.htmx and not request.htmx.boosted:
        return render(request, "notes/partials/worklist.html", context)
    return render(request, "notes/worklist.html", context)


def _counts_or_none(request: HttpRequest) -> dict[str, int] | None:
    """Return the tab counts, or None when Canvas cannot give them (the list still shows)."""
    try:
        return note_counts_for_user(user=request.user)
    except CanvasError as exc:
        logger.warning("Counts unavailable for user %s (%s)", request.user.pk, exc.code)
        return None


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
        context["note"] = notes_with_attempts(
            user=request.user, notes=[note_get_for_user(user=request.user, note_id=note_uuid)]
        )[0]
    except TokenDecryptionFailed:
        return _decrypt_failed(request)
    except (NotConnected, ReauthorizationRequired) as exc:
        context.update(_link_problem(request, exc))
    except CanvasError as exc:
        context["error"] = exc.message
        if isinstance(exc, NoteNotFound):
            status = 404
    context["attempts"] = attempt_list_for_user(user=request.user, note_id=note_uuid)[:10]
    context["next_path"] = request.get_full_path()
    return render(request, "notes/detail.html", context, status=status)


@require_POST
@vary_on_headers("HX-Request")
def note_action(request: HtmxHttpRequest, note_id: str, action: str) -> HttpResponse:
    """Perform an action; answer htmx with the action in flight or the refusal, else redirect."""
    view = "detail" if request.POST.get("view") == "detail" else "row"
    try:
        reply = note_action_reply(
            user=request.user,
            note_id=note_id,
            action=action,
            request_id=getattr(request, "request_id", ""),
            client_ip=getattr(request, "client_ip", None),
        )
    except TokenDecryptionFailed:
        return _decrypt_failed(request)
    next_url = _safe_next(request, _action_fallback(view, note_id, action))
    if not request.htmx:
        getattr(messages, reply.level)(request, reply.message)
        return HttpResponseRedirect(next_url)
    if reply.attempt is not None:
        # Requested: the note's actions become "Signing..." and follow the attempt;
        # a toast only when Canvas did not answer (an accepted action says nothing yet).
        response = render(
            request, "notes/partials/in_flight.html", {"attempt": reply.attempt, "view": view}
        )
        if reply.level == "warning":
            trigger_client_event(response, "toast", _toast(reply))
        return response
    response = _refusal_fragment(request, reply, view=view, note_id=note_id)
    return trigger_client_event(response, "toast", _toast(reply))


def _toast(reply: ActionReply) -> dict[str, Any]:
    toast = {"message": reply.message, "level": reply.level}
    return {**toast, "link": reply.link} if reply.link else toast


def _action_fallback(view: str, note_id: str, action: str) -> str:
    if view == "row" or action not in ACTIONS:
        return reverse("notes:worklist")
    return reverse("notes:detail", kwargs={"note_id": note_id})


def _refusal_fragment(
    request: HtmxHttpRequest, reply: ActionReply, *, view: str, note_id: str
) -> HttpResponse:
    """Return the note's fresh row or card, or the message in the row's error slot."""
    if reply.note is None:
        # No fresh note to draw: leave the row as it is but for its error slot.
        response = render(request, "notes/partials/row_error.html", {"error": reply.message})
        try:
            return reswap(
                retarget(response, f"#note-error-{note_id_parse(value=note_id)}"), "innerHTML"
            )
        except InvalidNoteId:
            return reswap(response, "none")
    queue = "to_sign" if request.POST.get("queue") == "to_sign" else ""
    context = {
        "note": note_aged(reply.note, queue=queue),
        "error": reply.message,
        "next_path": _safe_next(request, ""),
        "queue": queue,
    }
    template = "notes/partials/note_row.html"
    if view == "detail":
        template = "notes/partials/note_card.html"
        # The page's activity list is refreshed out of band.
        context["oob_attempts"] = attempt_list_for_user(
            user=request.user, note_id=reply.note["id"]
        )[:10]
    response = render(request, template, context)
    return reswap(retarget(response, f"#note-{reply.note['id']}"), "outerHTML")


#: htmx stops polling when it gets this status (and still swaps the answer).
HTMX_STOP_POLLING = 286


@require_safe
def attempt_status(request: HtmxHttpRequest, attempt_id: int) -> HttpResponse:
    """Follow an attempt: nothing while Canvas applies it, then the note's new state and a toast.

    A database read on each poll, never a call to Canvas: the worker
    confirms the attempt and stores the note's state and actions with it.
    """
    try:
        attempt = attempt_get_for_user(user=request.user, attempt_id=attempt_id)
    except NoteActionAttempt.DoesNotExist:
        raise Http404("No such action of yours.") from None
    if not request.htmx:
        return redirect("notes:detail", note_id=attempt.note_id)
    if attempt.in_flight:
        return HttpResponse(status=204)  # htmx swaps nothing and polls again
    reply = attempt_reply(user=request.user, attempt=attempt)
    view = "detail" if request.GET.get("view") == "detail" else "row"
    context = {
        "attempt": attempt,
        "note": reply.note,
        "reply": reply,
        "view": view,
        "next_path": _safe_referer_path(request),
    }
    if view == "detail":
        context["oob_attempts"] = attempt_list_for_user(user=request.user, note_id=attempt.note_id)[
            :10
        ]
    response = render(request, "notes/partials/settled.html", context, status=HTMX_STOP_POLLING)
    return trigger_client_event(response, "toast", _toast(reply))


def _safe_referer_path(request: HttpRequest) -> str:
    """Return the page the poll came from (htmx's HX-Current-URL), if it is ours."""
    current = request.headers.get("HX-Current-URL", "")
    if url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return ""


@require_safe
def activity(request: HttpRequest) -> HttpResponse:
    """Show the signed-in user's own action attempts, newest first."""
    paginator = Paginator(attempt_list_for_user(user=request.user), ACTIVITY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "notes/activity.html", {"page": page})


# -- close my day: bulk runs ----------------------------------------------------


@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Plan a run from the queue (and ask), or, confirmed, start it and open its progress."""
    scope_all = request.POST.get("scope") == "queue"
    note_ids = None if scope_all else request.POST.getlist("note")[: bulk_service.MAX_NOTES]
    back = f"{reverse('notes:worklist')}?tab=to_sign"
    if note_ids is not None and not note_ids:
        messages.warning(request, "Choose the notes to sign first (the boxes on the left).")
        return redirect(back)
    try:
        plan = bulk_service.plan_for_user(user=request.user, note_ids=note_ids)
        if request.POST.get("confirm") != "1":
            return render(request, "notes/bulk_confirm.html", {"plan": plan})
        run = bulk_service.run_start(user=request.user, plan=plan)
    except TokenDecryptionFailed:
        return _decrypt_failed(request)
    except CanvasError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    confirmed = len(note_ids or [])
    if note_ids is not None and plan.count < confirmed:
        messages.info(
            request,
            f"{confirmed - plan.count} of the notes you chose no longer need your signature "
            "in Canvas; the run signs the rest.",
        )
    return redirect("notes:run", run_id=run.pk)


def _progress_or_404(request: HttpRequest, run_id: int) -> bulk_service.Progress:
    try:
        return bulk_service.run_progress(user=request.user, run_id=run_id)
    except BulkRun.DoesNotExist:
        raise Http404("No such run of yours.") from None


@require_safe
def run(request: HttpRequest, run_id: int) -> HttpResponse:
    """Show a run: its progress bar, each note's result, and Cancel while it goes."""
    return render(request, "notes/run.html", {"progress": _progress_or_404(request, run_id)})


@require_safe
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress panel alone, for the page's poll: 286 (stop polling) once finished."""
    progress = _progress_or_404(request, run_id)
    status = HTMX_STOP_POLLING if progress.finished else 200
    return render(
        request,
        "notes/partials/run_progress.html",
        {"progress": progress, "oob": True},
        status=status,
    )


@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    """Stop the run's notes that have not started; those already sent finish."""
    try:
        bulk_service.run_cancel(user=request.user, run_id=run_id)
    except BulkRun.DoesNotExist:
        raise Http404("No such run of yours.") from None
    messages.info(request, "Cancelled: notes already sent to Canvas finish; the rest won't start.")
    return redirect("notes:run", run_id=run_id)


@require_safe
def runs(request: HttpRequest) -> HttpResponse:
    """List the user's runs, newest first."""
    paginator = Paginator(bulk_service.runs_with_counts_for_user(user=request.user), 25)
    page = paginator.get_page(request.GET.get("page"))
    rows = [{"run": r, "done": r.done, "total": r.total} for r in page.object_list]
    return render(request, "notes/runs.html", {"runs": rows, "page": page})
