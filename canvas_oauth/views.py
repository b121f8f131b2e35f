"""Connection pages: connect, callback, link failed, disconnect.

An undecryptable stored token (TokenDecryptionFailed) is answered by
`portal.middleware.PortalErrorMiddleware` (503), like on every page.
"""

import logging

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_safe

from canvas_oauth.exceptions import (
    CanvasOAuthError,
    InvalidLinkState,
    NotConnected,
    TokenDecryptionFailed,
)
from canvas_oauth.flows import connect_flow_pop, connect_flow_start, connection_connect
from canvas_oauth.operations import connection_disconnect
from core.urls import safe_local_url
from integrations.canvas.exceptions import CanvasError, upstream_code
from integrations.canvas.settings import canvas_settings

logger = logging.getLogger(__name__)

SESSION_FAILURE_KEY = "canvas_oauth_failure"


def unavailable_response(request: HttpRequest, exc: CanvasError) -> HttpResponse:
    """Render the 503 page for a token that cannot be decrypted (a configuration fault)."""
    return render(request, "canvas_oauth/unavailable.html", {"message": exc.message}, status=503)


def _redirect_uri(request: HttpRequest) -> str:
    return canvas_settings.REDIRECT_URI or request.build_absolute_uri(
        reverse("canvas_oauth:callback")
    )


@never_cache
@require_safe
def connect(request: HttpRequest) -> HttpResponse:
    """Start linking: send the browser to Canvas's authorization page."""
    next_url = safe_local_url(request, request.GET.get("next"))
    try:
        authorize_url = connect_flow_start(
            session=request.session,
            user=request.user,
            next_url=next_url,
            redirect_uri=_redirect_uri(request),
        )
    except ImproperlyConfigured as exc:
        logger.error("Canvas linking is not configured: %s", exc)
        return unavailable_response(
            request,
            CanvasOAuthError(
                "Linking to Canvas is not set up on this portal yet. Please tell an administrator."
            ),
        )
    return HttpResponseRedirect(authorize_url)


@never_cache
@require_safe
def callback(request: HttpRequest) -> HttpResponse:
    """Finish linking: check state, exchange the code once, then leave this URL."""
    response = _callback(request)
    # The URL held a code and state: never hand it on as a Referer.
    response["Referrer-Policy"] = "no-referrer"
    return response


@sensitive_variables()
def _callback(request: HttpRequest) -> HttpResponse:
    params = request.GET
    try:
        flow = connect_flow_pop(
            session=request.session, state=params.get("state"), user=request.user
        )
    except InvalidLinkState as exc:
        logger.warning(
            "Canvas callback refused for user id %s: %s state", request.user.pk, exc.problem.value
        )
        return _failed(request, reason="state", message=exc.problem.label)
    next_url = flow.get("next", "")
    refused = _callback_refusal(request, next_url=next_url)
    if refused is not None:
        return refused
    try:
        connection = connection_connect(
            user=request.user,
            code=params["code"],
            code_verifier=flow["verifier"],
            redirect_uri=flow["redirect_uri"],
        )
    except TokenDecryptionFailed:
        raise  # PortalErrorMiddleware's 503
    except CanvasError as exc:
        return _failed(request, reason=exc.code, message=exc.message, next_url=next_url)
    messages.success(request, f"Linked to Canvas as {connection.canvas_staff_name}.")
    return redirect(safe_local_url(request, next_url) or reverse("home"))


def _callback_refusal(request: HttpRequest, *, next_url: str) -> HttpResponse | None:
    """Return the failure for a callback without exactly one of code and error, or None."""
    params = request.GET
    code, error = params.get("code"), params.get("error")
    if bool(code) == bool(error):
        logger.warning(
            "Canvas callback with %s", "both code and error" if code else "neither code nor error"
        )
        return _failed(
            request,
            reason="bad_callback",
            message="The reply from Canvas was incomplete, so your account was not linked.",
            next_url=next_url,
        )
    if not error:
        return None
    description = (params.get("error_description") or "")[:300]
    if error == "access_denied":
        logger.info("Canvas link declined by user id %s", request.user.pk)
        return _failed(
            request,
            reason="access_denied",
            message=(
                "You chose not to let the portal use your Canvas account, so it was not linked."
            ),
            detail=description,
            next_url=next_url,
        )
    code_text = upstream_code(error)
    logger.warning("Canvas callback error %s", code_text)
    return _failed(
        request,
        reason="canvas_error",
        message=f"Canvas could not complete the sign-in (error: {code_text}).",
        detail=description,
        next_url=next_url,
    )


def _failed(
    request: HttpRequest, *, reason: str, message: str, detail: str = "", next_url: str = ""
) -> HttpResponse:
    """Remember why linking failed and go to the clean 'linking failed' URL."""
    request.session[SESSION_FAILURE_KEY] = {
        "reason": reason,
        "message": message,
        "detail": detail,
        "next": next_url,
    }
    return redirect("canvas_oauth:link-failed")


@never_cache
@require_safe
def link_failed(request: HttpRequest) -> HttpResponse:
    """Say in plain words why linking failed and offer to try again."""
    failure = request.session.pop(SESSION_FAILURE_KEY, None) or {
        "reason": "unknown",
        "message": "Your account was not linked to Canvas.",
        "detail": "",
        "next": "",
    }
    retry_url = reverse("canvas_oauth:connect")
    next_url = safe_local_url(request, failure.get("next"))
    return render(
        request,
        "canvas_oauth/link_failed.html",
        {"failure": failure, "retry_url": retry_url, "retry_next": next_url},
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def disconnect(request: HttpRequest) -> HttpResponse:
    """GET: ask for confirmation. POST: revoke at Canvas (best effort) and unlink."""
    if request.method != "POST":
        return render(request, "canvas_oauth/disconnect_confirm.html")
    try:
        revoked = connection_disconnect(user=request.user, actor=request.user, via_admin=False)
    except NotConnected as exc:
        messages.info(request, exc.message)
        return redirect("home")
    if revoked or not canvas_settings.REVOKE_ON_UNLINK:
        messages.success(request, "Your account is no longer linked to Canvas.")
    else:
        messages.warning(
            request,
            "Your account is no longer linked to Canvas. Canvas could not be told right "
            "now; the portal has deleted its copy of your access anyway.",
        )
    return redirect("home")
