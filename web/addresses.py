"""Who sent a request: the one place that reads X-Forwarded-For (and X-Forwarded-Proto:
`came_over_https`).

Behind the ISP's web server every request comes from the proxy's address; the proxy
appends the address it saw to X-Forwarded-For. A client can send its own
X-Forwarded-For, so the header is read only when the peer is a trusted proxy, and then
from the right: the first address that is not a trusted proxy is the client (the
"rightmost untrusted" rule: whatever a client wrote lies left of it). Rate limits, the
/metrics allowlist and the logs all use `client_ip(request)`.
"""

from __future__ import annotations

import ipaddress

from aiohttp import hdrs, web

from web.settings import IpNetwork

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CLIENT_IP = web.RequestKey("client_ip", str)
"""Set once per request by the observing middleware; read it through `client_ip()`."""

TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[IpNetwork, ...])
"""`http.trusted_proxies` parsed, on the root application."""

UNKNOWN = "unknown"


def parse_ip(text: str) -> IpAddress | None:
    """An address as a peer or a proxy writes it (`[::1]` brackets allowed); an
    IPv4-mapped IPv6 address (::ffff:10.0.0.1, a dual-stack socket) becomes IPv4."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def inside(ip: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def resolve_client(
    peer: str | None, forwarded_for: list[str], trusted: tuple[IpNetwork, ...]
) -> str:
    """The client's address from the peer and the X-Forwarded-For headers (in order)."""
    ip = parse_ip(peer or "")
    if ip is None:
        return peer or UNKNOWN  # a Unix socket: no address to go on
    if not trusted or not inside(ip, trusted):
        return str(ip)
    hops = [part for header in forwarded_for for part in header.split(",")]
    for hop in reversed(hops):
        hop_ip = parse_ip(hop)
        if hop_ip is None:
            break  # garbage left of what our proxies wrote: the last trusted hop stands
        ip = hop_ip
        if not inside(ip, trusted):
            break
    return str(ip)


def client_ip(request: web.Request) -> str:
    """The client's address (see the module's docstring); computed once per request."""
    known: str | None = request.get(CLIENT_IP)
    if known is not None:
        return known
    resolved = resolve_client(
        request.remote,
        request.headers.getall(hdrs.X_FORWARDED_FOR, []),
        request.config_dict.get(TRUSTED_PROXIES, ()),
    )
    request[CLIENT_IP] = resolved
    return resolved


X_FORWARDED_PROTO = "X-Forwarded-Proto"


def came_over_https(request: web.Request) -> bool:
    """Whether the browser reached us over HTTPS: our own TLS, or a trusted proxy's
    X-Forwarded-Proto (its last value: the one that proxy wrote). From any other peer the
    header is the client's own writing and is ignored."""
    if request.secure:
        return True
    peer = parse_ip(request.remote or "")
    trusted = request.config_dict.get(TRUSTED_PROXIES, ())
    if peer is None or not trusted or not inside(peer, trusted):
        return False
    values = [
        v.strip() for h in request.headers.getall(X_FORWARDED_PROTO, []) for v in h.split(",")
    ]
    return bool(values) and values[-1].lower() == "https"
