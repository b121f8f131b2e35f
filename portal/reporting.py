"""Django's error reports (admin e-mails, the debug page) with OAuth query values masked.

The Canvas callback's query string carries the authorization code and the
state (and Canvas's `error_description`): Django shows a request's GET
items, its full URL, META's QUERY_STRING / REQUEST_URI / RAW_URI and the
`repr` of every request in the traceback's variables. All of them are
masked here, on every page, whether DEBUG is on or not.
"""

import re
from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

#: GET parameters whose values are never shown: OAuth's, and any that look secret.
SENSITIVE_PARAMETER = re.compile(
    r"^(code|state|error_description|error_uri|session_state|iss)$"
    r"|token|secret|key|pass|verifier|signature",
    re.IGNORECASE,
)
_URI_KEYS = ("REQUEST_URI", "RAW_URI")


def query_mask(query: str, *, substitute: str) -> str:
    """Return `query` with every sensitive parameter's value replaced by `substitute`."""
    pairs = parse_qsl(query, keep_blank_values=True)
    masked = [(k, substitute if SENSITIVE_PARAMETER.search(k) else v) for k, v in pairs]
    return urlencode(masked, safe="*/")


def uri_mask(uri: str, *, substitute: str) -> str:
    """Return `uri` (a path or a full URL) with its query string masked."""
    base, sep, query = uri.partition("?")
    return base + sep + query_mask(query, substitute=substitute) if sep else uri


class PortalExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, also masking the query string in META and request reprs."""

    def get_safe_request_meta(self, request: HttpRequest) -> dict:
        meta = super().get_safe_request_meta(request)
        if isinstance(meta.get("QUERY_STRING"), str):
            meta["QUERY_STRING"] = query_mask(
                meta["QUERY_STRING"], substitute=self.cleansed_substitute
            )
        for key in _URI_KEYS:
            if isinstance(meta.get(key), str):
                meta[key] = uri_mask(meta[key], substitute=self.cleansed_substitute)
        return meta

    def cleanse_special_types(self, request: HttpRequest, value):
        if isinstance(value, HttpRequest):
            # Its repr is the full path, query string included.
            return f"<{type(value).__name__}: {value.method} {value.path!r}>"
        return super().cleanse_special_types(request, value)


class PortalExceptionReporter(ExceptionReporter):
    """Django's reporter, showing GET items and the request URL with values masked."""

    def get_traceback_data(self) -> dict:
        data = super().get_traceback_data()
        if self.request is not None:
            stars = self.filter.cleansed_substitute
            data["request_GET_items"] = [
                (k, stars if SENSITIVE_PARAMETER.search(k) else v)
                for k, v in self.request.GET.items()
            ]
            data["request_insecure_uri"] = uri_mask(data["request_insecure_uri"], substitute=stars)
        return data
