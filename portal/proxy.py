"""What a request says about its client, believed only as far as the proxy is trusted.

`TRUSTED_PROXY_COUNT` reverse proxies stand in front of the portal, each
appending the address it was connected from to `X-Forwarded-For`; the
last of them connects to the portal (`REMOTE_ADDR`). The client address is
therefore the entry the outermost proxy wrote, `TRUSTED_PROXY_COUNT`
entries from the end: anything to its left was sent by the client and may
be forged. django-ipware parses the header (ports, brackets, IPv4-mapped
IPv6, RFC 7239 forms); with no proxy configured, or when the header does
not hold what the proxies should have written, `REMOTE_ADDR` is the answer.

Sign-in throttling, the audit log (through `request.client_ip`, set by
`portal.middleware.ClientIPMiddleware`) and the logs all read the address
from `client_ip()`, so they always agree.
"""

import ipaddress
import re

from django.http import HttpRequest
from ipware import get_client_ip

from portal import conf

#: The request ids kept from a trusted proxy: 8-64 letters, digits, '.', '_' or
#: '-' (a UUID, nginx's $request_id, ...), starting with a letter or digit.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address, or None if the request carries no usable one."""
    proxies = conf.trusted_proxy_count()
    if proxies:
        # strict=False: earlier, client-written entries may be malformed; only
        # the trusted entries at the end must be addresses. ipware's
        # proxy_count counts the proxies listed in the header, which is one
        # fewer than the proxies in front (the last one is REMOTE_ADDR).
        address, _routable = get_client_ip(
            request,
            proxy_order="left-most",
            proxy_count=proxies - 1,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,
        )
        if address:
            return address
    return _bare_ip(request.META.get("REMOTE_ADDR", ""))


def forwarded_request_id(request: HttpRequest) -> str | None:
    """Return the proxy's X-Request-ID if a proxy is trusted and the id well formed."""
    if not conf.trusted_proxy_count():
        return None
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if REQUEST_ID_PATTERN.fullmatch(incoming) else None


def _bare_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
