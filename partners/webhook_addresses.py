"""Where a partner webhook may be sent: https to a host whose every address is public.

A webhook URL is typed by staff and then fetched by our workers, so it must
not be a way into our own network (SSRF): loopback, private, link-local
(cloud metadata at 169.254.169.254), multicast, reserved and unspecified
addresses are refused, IPv4 and IPv6, IPv4-mapped IPv6 included. The check
runs when the URL is saved (model field validator) and again before every
delivery, because DNS can change; the delivery then connects to the address
that was checked, not to a fresh lookup (no DNS rebinding in between).

Plain ``http`` is refused unless ``WEBHOOK_ALLOW_HTTP`` is on, and addresses
inside ``WEBHOOK_ALLOWED_NETWORKS`` are let through: both exist for tests that
deliver to a receiver on loopback, and are empty/off by default.

This module sits beside ``models/`` and ``webhooks/``, not inside either: the
``Partner`` model validates its URL with it and ``webhooks/`` reads the
models, so it imports neither.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REFUSED = "This webhook address is not allowed: use https to a public host name."


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``address`` and say ``host`` (TLS name and Host header)."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, never empty
    address: str


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _is_public(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address) and (ip.sixtofour is not None or ip.teredo is not None):
        return False  # tunnels that embed another address: no partner needs them
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def _allowed(ip: IPAddress) -> bool:
    if _is_public(ip):
        return True
    networks = getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", []) or []
    return any(ip in ipaddress.ip_network(net) for net in networks)


def resolve(url: str) -> Target:
    """Check ``url`` and its host's addresses now; ValidationError (one plain message) if anything is off."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(REFUSED) from exc
    allowed_schemes = {"https", "http"} if getattr(settings, "WEBHOOK_ALLOW_HTTP", False) else {"https"}
    host = parts.hostname or ""
    if parts.scheme not in allowed_schemes or not host or parts.username or parts.password:
        raise ValidationError(REFUSED)
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise ValidationError("This webhook address could not be found (DNS).") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        try:
            addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        except ValueError as exc:
            raise ValidationError(REFUSED) from exc
    # Every address must pass: a host with one public and one private address is refused.
    if not addresses or not all(_allowed(ip) for ip in addresses):
        raise ValidationError(REFUSED)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))


def validate_webhook_url(value: str) -> None:
    """Model/form validator (save time). Blank is allowed: no webhook."""
    if value:
        resolve(value)
