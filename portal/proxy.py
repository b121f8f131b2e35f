"""What a request says about its client, believed only as far as the proxy is trusted.

`TRUSTED_PROXY_COUNT` reverse proxies stand in front of the portal, each
appending the address it was connected from to `X-Forwarded-For`; the
last of them connects to the portal (`REMOTE_ADDR`). The client address is
therefore the entry the outermost proxy wrote, `TRUSTED_PROXY_COUNT`
entries from the end of the header split on commas: anything to its left
was sent by the client and may be forged. With no proxy configured, or when
that entry is not an address, `REMOTE_ADDR` is the answer.

The header is parsed here, not by django-ipware: python-ipware splits it
with quote awareness, so an unbalanced `"` in the client's part (`1.2.3.4,
for="`) swallowed the entry the proxy appended and the count from the right
landed on one the client wrote. A proxy writes plain addresses, never
quotes, so a plain comma split is the right reading of what it wrote.

Sign-in throttling, the audit log (through `request.client_ip`, set by
`portal.middleware.ClientIPMiddleware`) and the logs all read the address
from `client_ip()`, so they always agree.
"""

import ipaddress
import re

from django.http import HttpRequest

from portal import conf

#: The request ids kept from a trusted proxy: 8-64 letters, digits, '.', '_' or
#: '-' (a UUID, nginx's $request_id, ...), starting with a letter or digit.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")
#: `[v6]`, `[v6]:port` or `v4:port`: the spellings that carry a port or brackets.
_BRACKETED = re.compile(r"\[([^\]]+)\](?::\d{1,5})?")
_V4_WITH_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address, or None if the request carries no usable one."""
    proxies = conf.trusted_proxy_count()
    if proxies:
        entries = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(entries) >= proxies:
            address = forwarded_entry_parse(entries[-proxies])
            if address:
                return address
    return forwarded_entry_parse(request.META.get("REMOTE_ADDR", ""))


def forwarded_entry_parse(value: str) -> str | None:
    """Return the address in one X-Forwarded-For entry (port and brackets dropped), or None."""
    value = value.strip()
    match = _BRACKETED.fullmatch(value) or _V4_WITH_PORT.fullmatch(value)
    if match:
        value = match.group(1)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return None if address.is_unspecified else str(address)


def forwarded_request_id(request: HttpRequest) -> str | None:
    """Return the proxy's X-Request-ID if a proxy is trusted and the id well formed."""
    if not conf.trusted_proxy_count():
        return None
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if REQUEST_ID_PATTERN.fullmatch(incoming) else None
