"""Safe local URLs: every redirect target or "back" link taken from a request passes here."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_local_url(request: HttpRequest, url: str | None, *, fallback: str = "") -> str:
    """Return `url` if it stays on this site (host, and https when the request is), else fallback.

    Relative paths pass; another host, another scheme, `//evil`, `javascript:`
    and backslash tricks do not (Django's `url_has_allowed_host_and_scheme`).
    """
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return fallback


def safe_local_path(request: HttpRequest, url: str | None) -> str:
    """Return the path and query of `url` if it is a safe local URL with an absolute path, else ''.

    For a page's own address sent back by the browser (htmx's HX-Current-URL,
    a Referer): the host is dropped, so the result is always a local path.
    """
    if not safe_local_url(request, url):
        return ""
    parts = urlsplit(url)
    if not parts.path.startswith("/"):
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")
