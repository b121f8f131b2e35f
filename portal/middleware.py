"""Project-wide middleware."""

import logging
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect

from canvas_oauth.exceptions import TokenDecryptionFailed
from core.toasts import Level, toast
from core.urls import safe_local_path
from notes.replies import DECRYPT_MESSAGE
from observability import metrics
from observability.context import log_context, log_context_user_set
from portal import conf, proxy
from portal.timezones import zone_for

logger = logging.getLogger(__name__)

# Session keys (Unix times) read by SessionTimeoutMiddleware.
SESSION_STARTED_KEY = "_portal_signed_in_at"
SESSION_SEEN_KEY = "_portal_seen_at"
#: How finely (seconds) the last activity is recorded; well under any idle limit.
SEEN_RESOLUTION = 30
#: The request header marking an htmx background poll (not a person's activity).
POLL_HEADER = "HX-Poll"


class ClientIPMiddleware:
    """Set `request.client_ip`: the client's address as `portal.proxy.client_ip` reads it.

    Apps (the audit log) read the attribute, so they need not import the
    portal; sign-in throttling and the logs use the same function.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.client_ip = proxy.client_ip(request)
        return self.get_response(request)


class RequestIDMiddleware:
    """Give every request an id (`request.request_id`) and echo it back.

    A well-formed `X-Request-ID` is kept only when a trusted proxy stands in
    front (`TRUSTED_PROXY_COUNT`), so one id follows a request through the
    proxy, the portal and the audit log; a client reaching the portal
    directly cannot choose the id that lands in audit rows. Anything else is
    replaced with a fresh UUID.
    """

    header = "X-Request-ID"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = proxy.forwarded_request_id(request) or uuid.uuid4().hex
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
        response[self.header] = request.request_id
        return response


class LogUserMiddleware:
    """Tag the rest of the request's log lines with the signed-in user's id.

    Comes after SessionTimeoutMiddleware, so a session that just ended logs
    as anonymous; RequestIDMiddleware's context ends the tag with the request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        log_context_user_set(
            user_id=user.pk if user is not None and user.is_authenticated else None
        )
        return self.get_response(request)


class ResponseMetricsMiddleware:
    """Count every response by its status class (`portal_http_responses_total`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        metrics.http_response_observe(status=response.status_code)
        return response


class NoStoreWhenSignedInMiddleware:
    """Mark every response to a signed-in user `Cache-Control: no-store, private`.

    Pages show patient names: neither a shared cache nor the browser may
    keep them, so Back after sign-out on a shared workstation asks the
    server again and lands on the sign-in page. A response counts if the
    user was signed in when the request arrived or is when it leaves (the
    sign-in response itself). Static files are answered by WhiteNoise before
    this runs and stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        signed_in = _signed_in(request)
        response = self.get_response(request)
        if signed_in or _signed_in(request):
            patch_cache_control(response, no_store=True, private=True)
        return response


def _signed_in(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def _now() -> float:
    """Return the current Unix time (tests move the clock by patching this)."""
    return time.time()


class SessionTimeoutMiddleware:
    """End a signed-in session after an idle spell or an absolute time cap.

    The session holds when it signed in (`SESSION_STARTED_KEY`, set by the
    `user_logged_in` receiver in portal.signals) and when it was last used
    (`SESSION_SEEN_KEY`, to within `SEEN_RESOLUTION` seconds). A request
    past `SESSION_IDLE_TIMEOUT` seconds of inactivity, or
    `SESSION_ABSOLUTE_TIMEOUT` seconds after sign-in, signs the user out
    (flushing the session) and carries on as anonymous, so the
    login-required middleware sends it to the sign-in page.
    A background poll (`POLL_HEADER`, added by static/js/portal.js to every
    `hx-trigger="every ..."` request) is checked but never counts as
    activity, so an open page still reaches the idle logoff and follows it
    like any htmx call. The header is the client's choice, and a client can
    only use it to be signed out sooner.
    Must come after the authentication, messages and htmx middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._enforce(request)
        return self.get_response(request)

    def _enforce(self, request: HttpRequest) -> None:
        now = _now()
        session = request.session
        started = session.get(SESSION_STARTED_KEY)
        seen = session.get(SESSION_SEEN_KEY)
        if started is None:
            # Signed in before this middleware existed: start counting now.
            session[SESSION_STARTED_KEY] = started = now
        reason = None
        if seen is not None and now - seen > conf.session_idle_timeout():
            reason = "idle"
        elif now - started > conf.session_absolute_timeout():
            reason = "absolute"
        if reason is None:
            if _is_poll(request):
                return
            # Stamp the activity at most every SEEN_RESOLUTION seconds: the
            # idle limit is minutes long, and writing the session on every
            # request would cost a database write per click.
            if seen is None or now - seen >= SEEN_RESOLUTION:
                session[SESSION_SEEN_KEY] = now
            return
        logger.info(
            "Session ended (%s timeout) for user id %s", reason, getattr(request.user, "pk", None)
        )
        logout(request)
        text = (
            "You were signed out after a period without activity. Sign in again to continue."
            if reason == "idle"
            else "Your session reached its time limit. Sign in again to continue."
        )
        messages.info(request, text)


def _is_poll(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False)) and request.headers.get(POLL_HEADER) == "true"


class HtmxLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, plus an answer htmx can follow.

    An htmx request from a signed-out browser (session expired mid-page)
    gets a 200 with `HX-Redirect` to the sign-in page, `next` being the page
    the person was on (`HX-Current-URL`), instead of a 302 htmx would follow
    invisibly and swap a login form into a table cell.
    """

    def handle_no_permission(self, request: HttpRequest, view_func) -> HttpResponse:
        if not request.htmx:
            return super().handle_no_permission(request, view_func)
        login_url = resolve_url(self.get_login_url(view_func))
        next_path = _htmx_current_page(request)
        if next_path:
            query = urlencode({self.get_redirect_field_name(view_func): next_path})
            login_url = f"{login_url}?{query}"
        response = HttpResponseClientRedirect(login_url)
        patch_cache_control(response, no_store=True)
        return response


def _htmx_current_page(request: HttpRequest) -> str:
    """Return the path (and query) of the page an htmx request came from, if ours."""
    return safe_local_path(request, request.htmx.current_url)


_STATUS_TOASTS = {
    400: "The portal could not understand that request. Reload the page and try again.",
    401: "Your session has ended. Sign in again to continue.",
    403: "You don't have permission to do that.",
    404: "That item no longer exists. Reload the page to see the current list.",
    405: "That action isn't available here. Reload the page and try again.",
    429: "Too many requests. Wait a moment and try again.",
}
_SERVER_ERROR_TOAST = "Something went wrong on our side. Please try again in a moment."


class HtmxErrorToastMiddleware:
    """Give every failed htmx response a toast, unless the view chose one.

    htmx 2 does not swap 4xx/5xx responses, so without this a failed click
    would look like nothing happened. Views that already set `HX-Trigger`
    (their own toast or event) are left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.htmx and response.status_code >= 400 and "HX-Trigger" not in response:
            message = _STATUS_TOASTS.get(response.status_code)
            if message is None:
                message = (
                    _SERVER_ERROR_TOAST
                    if response.status_code >= 500
                    else "That didn't work. Reload the page and try again."
                )
            toast(response, message, Level.ERROR)
        return response


class ClinicTimeZoneMiddleware:
    """Show every time in the clinic's zone, or the signed-in user's own.

    Activates Django's current time zone for the request (templates, forms,
    and the notes app's "today" use it); times are stored in UTC either way.
    Must come after the authentication middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.activate(zone_for(getattr(request, "user", None)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class PortalErrorMiddleware:
    """Answer the errors no page can show in place: the one map from such an error to a response.

    A stored token that cannot be decrypted (a key is wrong or missing) is a
    503 page, whichever view met it, with a toast for htmx. Views show the
    other errors of the chain (not connected, reconnect, Canvas refused or
    unavailable) in their own page or fragment.
    """

    #: Per URL namespace: the page (template, context) that says so.
    UNAVAILABLE_PAGES = {
        "notes": (
            "notes/unavailable.html",
            {"title": "Canvas credentials unavailable", "message": DECRYPT_MESSAGE},
        ),
    }
    UNAVAILABLE_PAGE = "canvas_oauth/unavailable.html"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, TokenDecryptionFailed):
            return None
        logger.error("Token decryption failed for user %s", getattr(request.user, "pk", None))
        namespace = getattr(request.resolver_match, "namespace", "")
        template, context = self.UNAVAILABLE_PAGES.get(
            namespace, (self.UNAVAILABLE_PAGE, {"message": exc.message})
        )
        response = render(request, template, context, status=503)
        # The URL may hold an OAuth code (the callback): never hand it on.
        response["Referrer-Policy"] = "no-referrer"
        if getattr(request, "htmx", False):
            toast(response, context["message"], Level.ERROR)
        return response
