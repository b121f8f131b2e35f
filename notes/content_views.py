"""A note's content on pages (thin views): read in one Canvas call, shown, never kept.

The content is patient data: it is rendered and dropped; nothing here logs
it, stores it (no audit row, no session) or lets a cache keep it (every
response is `no-store`, portal.middleware).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from canvas_oauth.exceptions import NotConnected, ReauthorizationRequired, TokenDecryptionFailed
from integrations.canvas.exceptions import CanvasError, InvalidNoteId
from integrations.canvas.plugin import note_id_parse
from notes.worklist import note_content_for_user


def content_context(*, user: Any, note_id: Any) -> dict[str, Any]:
    """Return `{"content": ..., "content_error": ""}`, or no content and the error's sentence."""
    try:
        return {"content": note_content_for_user(user=user, note_id=note_id), "content_error": ""}
    except TokenDecryptionFailed:
        raise
    except (NotConnected, ReauthorizationRequired, CanvasError) as exc:
        return {"content": None, "content_error": exc.message}


@require_safe
@vary_on_headers("HX-Request")
def note_content(request: HttpRequest, note_id: str) -> HttpResponse:
    """The content of one note, for a row's or a question's disclosure (htmx); else its page."""
    try:
        note_uuid = note_id_parse(value=note_id)
    except InvalidNoteId as exc:
        return render(request, "notes/partials/note_content.html", {"content_error": exc.message})
    if not getattr(request, "htmx", False):
        return redirect("notes:detail", note_id=note_uuid)
    context = content_context(user=request.user, note_id=note_uuid)
    return render(request, "notes/partials/note_content.html", context)
