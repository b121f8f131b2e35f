"""The home page, the health check and the metrics scrape."""

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
from prometheus_client import CONTENT_TYPE_LATEST

from canvas_oauth.zones import clinic_zone
from core.toasts import Level, toast
from core.urls import safe_local_url
from integrations.canvas.exceptions import CanvasError
from notes.selectors import confirmation_health
from notes.worklist import home_cards_for_user
from observability import metrics
from portal import conf
from portal.access import operator_allowed
from portal.forms import ProfileForm
from portal.models import UserProfile

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

    To the operator (`HEALTHZ_ALLOWED_IPS`, or `HEALTHZ_TOKEN` as a bearer
    token) also how many note actions await confirmation and the oldest
    one's age, so a stopped worker shows (`behind`) without failing the web
    servers; anyone else reads only the status.
    """
    details = operator_allowed(
        request, networks=conf.healthz_allowed_networks(), token=conf.healthz_token()
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        confirmations = confirmation_health() if details else None
    except DatabaseError:
        logger.warning("Health check: database unreachable")
        body = {"status": "degraded", "database": "unreachable"}
        return JsonResponse(body if details else {"status": "degraded"}, status=503)
    if not details:
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "ok", "database": "ok", "confirmations": confirmations})


@login_not_required
@never_cache
@require_safe
def metrics_scrape(request: HttpRequest) -> HttpResponse:
    """Answer a Prometheus scrape: from `METRICS_ALLOWED_IPS` or with `METRICS_TOKEN` only."""
    if not operator_allowed(
        request, networks=conf.metrics_allowed_networks(), token=conf.metrics_token()
    ):
        logger.warning("Metrics scrape refused from %s", getattr(request, "client_ip", None))
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    return HttpResponse(
        metrics.exposition(backlog=confirmation_health), content_type=CONTENT_TYPE_LATEST
    )


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
