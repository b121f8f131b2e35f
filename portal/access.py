"""Who may read the operator's endpoints: an allowed client address or the bearer token."""

import hmac
import ipaddress
from collections.abc import Iterable

from django.http import HttpRequest

from portal import proxy


def operator_allowed(
    request: HttpRequest,
    *,
    networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
    token: str,
) -> bool:
    """Return whether `request` carries `token` as a bearer token or comes from `networks`.

    The address is the one `portal.proxy` believes, so behind a proxy the
    proxy's own (loopback) address does not count as the client's.
    """
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            return True
    address = getattr(request, "client_ip", None) or proxy.client_ip(request)
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)
