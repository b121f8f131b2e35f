"""Request counting and fault injection, and friendly errors instead of tracebacks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from canvas_sandbox.clinic import faults

logger = logging.getLogger(__name__)

PLUGIN_PREFIX = "/plugin-io/"
TOKEN_PATH = "/auth/token/"
REVOKE_PATH = "/auth/revoke_token/"
JSON_PREFIXES = (PLUGIN_PREFIX, "/sandbox/control/", TOKEN_PATH, REVOKE_PATH)

_MAINTENANCE_PAGE = (
    "<!doctype html><html><head><title>Canvas is under maintenance</title></head>"
    "<body><h1>We'll be right back</h1><p>Canvas is down for scheduled maintenance."
    "</p></body></html>"
)


def _error_json(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


class FaultInjectionMiddleware:
    """Count OAuth and plugin requests, and inject the configured faults.

    - every POST to /auth/token/ counts under its grant type, every POST to
      /auth/revoke_token/ as a revocation, every plugin request once;
    - `token_endpoint_down` answers /auth/token/ with 503;
    - `html_instead_of_json` answers plugin requests with a 200 HTML page;
    - `error_rate` answers that share of plugin requests with `error_status`
      (decided from the seed and a shared counter);
    - `latency_ms` delays plugin and token answers after the work is done
      (so a client's read timeout leaves an outcome it cannot know).
    Faults never touch the control API, the pages or /auth/authorize/.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        """Keep the next handler."""
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Count, maybe short-circuit with a fault, and maybe delay the answer."""
        path = request.path_info
        if path.startswith(PLUGIN_PREFIX):
            kind = "plugin"
        elif path == TOKEN_PATH:
            kind = "token"
        elif path == REVOKE_PATH:
            kind = "revoke"
        else:
            return self.get_response(request)
        try:
            config = faults.fault_config_get()
            self._count(request, kind)
            fault = self._fault(config, kind)
        except DatabaseError:
            logger.exception("Fault injection could not read or write its table")
            config, fault = None, None
        response = fault or self.get_response(request)
        if config is not None and config.latency_ms and kind in ("plugin", "token"):
            time.sleep(config.latency_ms / 1000)
        return response

    @staticmethod
    def _count(request: HttpRequest, kind: str) -> None:
        if kind == "plugin":
            faults.counter_increment(name="plugin_requests")
        elif request.method == "POST" and kind == "revoke":
            faults.counter_increment(name="revocations")
        elif request.method == "POST":
            # Form bodies are cached by Django, so DOT can still read them.
            form = request.content_type == "application/x-www-form-urlencoded"
            grant_type = (request.POST.get("grant_type", "") if form else "")[:40] or "missing"
            faults.counter_increment(name=f"token:{grant_type}")

    @staticmethod
    def _fault(config, kind: str) -> HttpResponse | None:
        if kind == "token" and config.token_endpoint_down:
            return JsonResponse(
                {
                    "error": "temporarily_unavailable",
                    "error_description": "The sandbox's token endpoint is down (fault injection).",
                },
                status=503,
            )
        if kind != "plugin":
            return None
        if config.html_instead_of_json:
            return HttpResponse(_MAINTENANCE_PAGE, content_type="text/html; charset=utf-8")
        if faults.fault_error_decide(config=config):
            response = _error_json(
                config.error_status,
                "injected_fault",
                "The Canvas sandbox injected this error (fault injection).",
            )
            if config.error_status in (429, 503):
                response["Retry-After"] = "1"
            return response
        return None


class FriendlyErrorsMiddleware:
    """Answer view errors with JSON for the APIs and a friendly page otherwise.

    The sandbox runs with DEBUG on, where Django would show a traceback;
    nobody should see one, so every exception a view raises ends here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        """Keep the next handler."""
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Pass the request on."""
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse:
        """Turn any exception a view raised into a tidy 4xx/5xx answer."""
        if isinstance(exception, Http404):
            status, code, message = 404, "not_found", "There is nothing at this address."
        elif isinstance(exception, PermissionDenied):
            status, code, message = 403, "forbidden", "You may not do that."
        elif isinstance(exception, SuspiciousOperation):
            status, code, message = 400, "bad_request", "The request could not be understood."
        else:
            logger.exception("Unexpected error at %s", request.path)
            status, code, message = 500, "server_error", "The sandbox hit an unexpected error."
        return error_response(request, status=status, code=code, message=message)


def error_response(request: HttpRequest, *, status: int, code: str, message: str) -> HttpResponse:
    """Return a JSON error for the API paths, a friendly HTML page elsewhere."""
    if request.path_info.startswith(JSON_PREFIXES):
        return _error_json(status, code, message)
    html = render_to_string(
        "sandbox/error.html", {"status": status, "message": message}, request=request
    )
    return HttpResponse(html, status=status)
