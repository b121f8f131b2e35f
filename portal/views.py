"""The home page and the health check."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from core.toasts import Level, toast
from core.urls import safe_local_url
from integrations.canvas.exceptions import CanvasError
from notes.selectors import confirmation_health
from notes.worklist import home_cards_for_user
from portal.forms import ProfileForm
from portal.models import UserProfile
from portal.timezones import clinic_zone

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Render the signed-in user's start page: their counts, and their Canvas link."""
    cards = None
    if getattr(getattr(request.user, "canvas_connection", None), "is_active", False):
        try:
            cards = home_cards_for_user(user=request.user)
        except CanvasError as exc:
            logger.warning("Home counts unavailable for user %s (%s)", request.user.pk, exc.code)
    return render(request, "home.html", {"cards": cards})


@require_http_methods(["GET", "HEAD", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """Show and change the signed-in user's own preferences (their time zone)."""
    instance, _ = UserProfile.objects.get_or_create(user=request.user)
    form = ProfileForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile is saved.")
        return redirect("profile")
    return render(request, "registration/profile.html", {"form": form, "zone": clinic_zone()})


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer whether the portal can reach its database (200) or not (503).

    Also how many note actions await confirmation and the oldest one's age,
    so a stopped worker shows (`behind`) without failing the web servers.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        confirmations = confirmation_health()
    except DatabaseError:
        logger.warning("Health check: database unreachable")
        return JsonResponse({"status": "degraded", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "confirmations": confirmations})


@login_not_required
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Answer a failed CSRF check: most often a page left open past its session."""
    logger.warning("CSRF check failed on %s %s: %s", request.method, request.path, reason)
    back_url = safe_local_url(request, request.headers.get("Referer", ""))
    response = render(request, "403_csrf.html", {"back_url": back_url}, status=403)
    if getattr(request, "htmx", False):
        toast(response, "Your session expired. Reload the page and try again.", Level.ERROR)
    return response


@login_not_required
@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Point browsers that ask for /favicon.ico (the admin's pages, JSON) at our icon."""
    response = redirect(static("img/favicon.svg"))
    patch_cache_control(response, public=True, max_age=86_400)
    return response
