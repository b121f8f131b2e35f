"""The notes pages (thin views): worklist, one note, the action endpoint, My activity, runs.

Errors: a page's Canvas read goes through `_page_read` (the connect card or
the error in place); an undecryptable token is answered by
`portal.middleware.PortalErrorMiddleware` (503) wherever it is raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget
from django_htmx.middleware import HtmxDetails

from canvas_oauth.exceptions import NotConnected, ReauthorizationRequired, TokenDecryptionFailed
from core.toasts import Level, toast
from core.urls import safe_local_path, safe_local_url
from integrations.canvas.exceptions import CanvasError, InvalidNoteId, NoteNotFound
from integrations.canvas.plugin import note_id_parse
from notes import conf as notes_conf
from notes.actions import ACTIONS
from notes.attempts import note_action_reply
from notes.bulk import planning
from notes.bulk import progress as bulk_progress
from notes.bulk import runs as bulk_runs
from notes.content_views import content_context
from notes.exceptions import NothingToSign, RunInProgress
from notes.forms import OpenNoteForm, WorklistForm
from notes.models import BulkRun, NoteActionAttempt
from notes.replies import ActionReply, attempt_reply
from notes.selectors import attempt_get_for_user, attempt_list_for_user
from notes.worklist import (
    TABS,
    Count,
    Queue,
    TabKey,
    note_aged,
    note_counts_for_user,
    note_get_for_user,
    note_list_for_user,
    notes_with_attempts,
    tab_for_user,
    tabs_for_user,
)

logger = logging.getLogger(__name__)

ACTIVITY_PAGE_SIZE = 25
#: A page's status for a Canvas error shown in place (200 otherwise).
_PAGE_STATUS = {NoteNotFound: 404}


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _connect_url(next_path: str) -> str:
    try:
        base = reverse("canvas_oauth:connect")
    except NoReverseMatch:
        base = "/canvas/connect/"
    return f"{base}?{urlencode({'next': next_path})}"


def _page_read(request: HttpRequest, context: dict[str, Any], read: Callable[[], Any]) -> Any:
    """Return `read()`, or None with the problem in the page's context (the one map for pages).

    Not connected or must reconnect: the Connect / Reconnect card. Any other
    Canvas error: its sentence in place, and the page's status in
    `context["status"]`. An undecryptable token is the middleware's (503).
    """
    try:
        return read()
    except TokenDecryptionFailed:
        raise
    except (NotConnected, ReauthorizationRequired) as exc:
        context["link_problem"] = {
            "reconnect": isinstance(exc, ReauthorizationRequired),
            "message": exc.message,
            "connect_url": _connect_url(request.get_full_path()),
        }
    except CanvasError as exc:
        context["error"] = exc.message
        context["status"] = _PAGE_STATUS.get(type(exc), 200)
    return None


@require_safe
@vary_on_headers("HX-Request")
def worklist(request: HtmxHttpRequest) -> HttpResponse:
    """Show the worklist (full page, or only its list for an htmx request)."""
    open_form = OpenNoteForm(request.GET if "id" in request.GET else None)
    if open_form.is_bound and open_form.is_valid():
        return redirect("notes:detail", note_id=open_form.cleaned_data["id"])
    form = WorklistForm(request.GET)
    form.is_valid()
    tabs = tabs_for_user(request.user)
    # A tab the user lacks (a front desk's ?tab=to_sign) gives them their own first tab.
    tab = tab_for_user(request.user, form.cleaned_data.get("tab"))
    patient = form.cleaned_data.get("patient") or ""
    cursor = form.cleaned_data.get("cursor") or ""
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
    context["page"] = _page_read(
        request,
        context,
        lambda: note_list_for_user(user=request.user, tab=tab, patient=patient, cursor=cursor),
    )
    if context["page"] is not None:
        _worklist_page_complete(request, context, tab=tab, patient=patient)
    context["tab_links"] = [
        {"tab": t, "count": (context["counts"] or {}).get(t.count_key or t.key)} for t in tabs
    ]
    context["next_path"] = request.get_full_path()
    if request.htmx and not request.htmx.boosted:
        return render(request, "notes/partials/worklist.html", context)
    return render(request, "notes/worklist.html", context)


def _worklist_page_complete(
    request: HttpRequest, context: dict[str, Any], *, tab: str, patient: str
) -> None:
    """Add what a listed page shows besides its notes: attempts, counts, page links."""
    page = context["page"]
    page["notes"] = notes_with_attempts(user=request.user, notes=page["notes"])
    counts = _counts_or_none(request) or {}
    # Canvas's counts.today holds every state: the Today tab is counted by its own list.
    counts.pop(Count.TODAY, None)
    if TABS[tab].count_key is None and page["count"] is not None:
        counts = {**counts, tab: page["count"]}
    context["counts"] = counts
    base = {"tab": tab, **({"patient": patient} if patient else {})}
    context["first_url"] = f"{reverse('notes:worklist')}?{urlencode(base)}"
    if page["next_cursor"]:
        params = {**base, "cursor": page["next_cursor"]}
        context["next_url"] = f"{reverse('notes:worklist')}?{urlencode(params)}"


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
    context: dict[str, Any] = {"note_id": note_uuid, "note": None, "error": None, "status": 200}
    note = _page_read(
        request, context, lambda: note_get_for_user(user=request.user, note_id=note_uuid)
    )
    if note is not None:
        context["note"] = notes_with_attempts(user=request.user, notes=[note])[0]
        context.update(content_context(user=request.user, note_id=note_uuid))
    context["attempts"] = attempt_list_for_user(user=request.user, note_id=note_uuid)[:10]
    context["next_path"] = request.get_full_path()
    return render(request, "notes/detail.html", context, status=context["status"])


@require_POST
@vary_on_headers("HX-Request")
def note_action(request: HtmxHttpRequest, note_id: str, action: str) -> HttpResponse:
    """Perform an action; answer htmx with the action in flight or the refusal, else redirect."""
    view = "detail" if request.POST.get("view") == "detail" else "row"
    reply = note_action_reply(
        user=request.user,
        note_id=note_id,
        action=action,
        request_id=getattr(request, "request_id", ""),
        client_ip=getattr(request, "client_ip", None),
    )
    if not request.htmx:
        messages.add_message(request, reply.level.message_level, reply.message)
        fallback = _action_fallback(view, note_id, action)
        return HttpResponseRedirect(
            safe_local_url(request, request.POST.get("next"), fallback=fallback)
        )
    if reply.attempt is not None:
        # Requested: the note's actions become "Signing..." and follow the attempt;
        # a toast only when Canvas did not answer (an accepted action says nothing yet).
        response = render(
            request, "notes/partials/in_flight.html", {"attempt": reply.attempt, "view": view}
        )
        if reply.level == Level.WARNING:
            toast(response, reply.message, reply.level, link=reply.link)
        return response
    response = _refusal_fragment(request, reply, view=view, note_id=note_id)
    return toast(response, reply.message, reply.level, link=reply.link)


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
    signing = request.POST.get("queue") == Queue.TO_SIGN
    context = {
        "note": note_aged(reply.note, signing=signing),
        "error": reply.message,
        "next_path": safe_local_url(request, request.POST.get("next")),
        "queue": Queue.TO_SIGN if signing else "",
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
        "next_path": safe_local_path(request, request.headers.get("HX-Current-URL")),
    }
    if view == "detail":
        context["oob_attempts"] = attempt_list_for_user(user=request.user, note_id=attempt.note_id)[
            :10
        ]
    response = render(request, "notes/partials/settled.html", context, status=HTMX_STOP_POLLING)
    return toast(response, reply.message, reply.level, link=reply.link)


@require_safe
def activity(request: HttpRequest) -> HttpResponse:
    """Show the signed-in user's own action attempts, newest first."""
    paginator = Paginator(attempt_list_for_user(user=request.user), ACTIVITY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "notes/activity.html", {"page": page})


# -- close my day: bulk runs ----------------------------------------------------


@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Plan a run from the queue and ask first, or, once asked, start it and open its progress."""
    scope_all = request.POST.get("scope") == "queue"
    note_ids = None if scope_all else request.POST.getlist("note")[: planning.MAX_NOTES]
    back = f"{reverse('notes:worklist')}?{urlencode({'tab': TabKey.TO_SIGN})}"
    if note_ids is not None and not note_ids:
        messages.warning(request, "Choose the notes to sign first (the boxes on the left).")
        return redirect(back)
    # One run at a time per person: a second request opens the one still going.
    going = bulk_runs.run_active_for_user(user=request.user)
    if going is not None:
        messages.info(request, RunInProgress.default_message)
        return redirect("notes:run", run_id=going.pk)
    try:
        plan = planning.plan_for_user(user=request.user, note_ids=note_ids)
        # The question's form posts confirm=1 (the field's name is the bench's too).
        if request.POST.get("confirm") != "1":
            return render(request, "notes/bulk_ask.html", {"plan": plan, "skipped": plan.skipped})
        run = bulk_runs.run_start(
            user=request.user,
            plan=plan,
            request_id=getattr(request, "request_id", ""),
            client_ip=getattr(request, "client_ip", None),
        )
    except RunInProgress as exc:
        messages.info(request, exc.message)
        return redirect("notes:run", run_id=exc.run_id)
    except TokenDecryptionFailed:
        raise
    except NothingToSign as exc:
        if not exc.skipped:
            messages.info(request, exc.message)
            return redirect(back)
        context = {"plan": None, "skipped": exc.skipped, "message": exc.message}
        return render(request, "notes/bulk_ask.html", context)
    except CanvasError as exc:
        messages.add_message(request, exc.level.message_level, exc.message)
        return redirect(back)
    if plan.skipped:
        noun = "note you chose is" if len(plan.skipped) == 1 else "notes you chose are"
        messages.info(
            request,
            f"{len(plan.skipped)} {noun} not in this run (the question said why); "
            "the run signs the rest.",
        )
    return redirect("notes:run", run_id=run.pk)


def _progress_or_404(request: HttpRequest, run_id: int) -> bulk_progress.Progress:
    try:
        return bulk_progress.run_progress(user=request.user, run_id=run_id)
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
        bulk_runs.run_cancel(user=request.user, run_id=run_id)
    except BulkRun.DoesNotExist:
        raise Http404("No such run of yours.") from None
    messages.info(request, "Cancelled: notes already sent to Canvas finish; the rest won't start.")
    return redirect("notes:run", run_id=run_id)


@require_safe
def runs(request: HttpRequest) -> HttpResponse:
    """List the user's runs, newest first."""
    paginator = Paginator(bulk_progress.runs_with_counts_for_user(user=request.user), 25)
    page = paginator.get_page(request.GET.get("page"))
    rows = [{"run": r, "done": r.done, "total": r.total} for r in page.object_list]
    return render(request, "notes/runs.html", {"runs": rows, "page": page})
