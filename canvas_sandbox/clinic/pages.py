"""The sandbox's own pages: home, sign-in, connected apps, health."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from oauth2_provider.models import get_access_token_model, get_application_model

from canvas_sandbox.clinic import conf, tokens
from canvas_sandbox.clinic.middleware import error_response
from canvas_sandbox.clinic.models import Staff

ENDPOINTS = [
    ("GET", "/auth/authorize/", "OAuth authorization (PKCE S256 and `launch` required)"),
    ("POST", "/auth/token/", "OAuth token: authorization_code and refresh_token (with scope)"),
    ("POST", "/auth/revoke_token/", "OAuth token revocation (RFC 7009)"),
    ("GET", "/plugin-io/api/note_sign_api/me", "The token's staff member"),
    ("GET", "/plugin-io/api/note_sign_api/notes", "Notes: queue, state, provider, patient, ..."),
    ("GET", "/plugin-io/api/note_sign_api/notes/counts", "Every worklist tab's count"),
    ("GET", "/plugin-io/api/note_sign_api/notes/<id>", "One note's summary"),
    ("GET", "/plugin-io/api/note_sign_api/notes/<id>/history", "Its state changes"),
    ("POST", "/plugin-io/api/note_sign_api/notes/<id>/<action>", "202 accepted; lands later"),
    ("GET", "/plugin-io/api/note_sign_api/app", "The Canvas Application launcher"),
    ("GET/POST", "/sandbox/control/...", "Control API: faults, stats, tokens, notes, veto"),
]


def home(request: HttpRequest) -> HttpResponse:
    """Say what the sandbox is, who can sign in, and which endpoints it serves."""
    staff = Staff.objects.select_related("user").filter(user__is_active=True)
    return render(
        request,
        "sandbox/home.html",
        {
            "staff": staff,
            "endpoints": ENDPOINTS,
            "portal_url": conf.portal_url(),
            "client_ids": [tokens.PUBLIC_CLIENT_ID, tokens.CONFIDENTIAL_CLIENT_ID],
            "control_enabled": conf.control_enabled(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def connected_apps(request: HttpRequest) -> HttpResponse:
    """List the apps holding tokens for the signed-in user; POST revokes one app's."""
    applications = get_application_model().objects.all()
    if request.method == "POST":
        application = applications.filter(pk=request.POST.get("application")).first()
        if application is not None:
            tokens.tokens_revoke(user=request.user, application=application)
            messages.success(request, f"{application.name} can no longer reach your notes.")
        return redirect("sandbox:connected-apps")
    holding = (
        get_access_token_model().objects.filter(user=request.user).values("application").distinct()
    )
    refreshing = request.user.oauth2_provider_refreshtoken.filter(revoked__isnull=True).values(
        "application"
    )
    connected = applications.filter(pk__in=holding) | applications.filter(pk__in=refreshing)
    return render(request, "sandbox/connected_apps.html", {"applications": connected.distinct()})


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer whether the sandbox and its database are up (tests poll this)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "degraded"}, status=503)
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Answer an unknown address with a friendly 404 page."""
    return error_response(
        request, status=404, code="not_found", message="There is nothing at this address."
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Answer a failed CSRF check with a friendly page instead of Django's debug page."""
    return error_response(
        request,
        status=403,
        code="csrf_failed",
        message="This form expired or came from another site. Go back, reload and try again.",
    )
