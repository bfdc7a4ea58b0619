"""Which addresses connectors may contact: the outbound (SSRF) address policy.

Addresses are judged *after* DNS resolution, and connections go to exactly the addresses
judged, so a name that resolves to a private address (DNS rebinding included) is refused.
Cloud metadata addresses and every link-local address are refused even for Connections
that allow private networks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from yarl import URL

from isthmus.errors import OutboundBlocked, UpstreamUnreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata and credential endpoints outside the link-local ranges.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("fd00:ec2::254", "fd00:ec2::23", "100.100.100.200", "192.0.0.192")
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, Teredo), if any."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be contacted, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_refusal(embedded, allow_private=allow_private)
    if address in METADATA_ADDRESSES or address.is_link_local:
        # 169.254.0.0/16 and fe80::/10 hold the metadata and credential endpoints of
        # every major cloud: refused even where private networks are allowed.
        return "a link-local or cloud metadata address"
    if address.is_multicast or address.is_unspecified:
        return "not a unicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_private or address.is_reserved or not address.is_global:
        return "a private or reserved address"
    return None


def check_literal_host(url: URL, *, allow_private: bool) -> None:
    """Refuse a URL whose host is an IP literal in a forbidden range (no DNS involved)."""
    host = url.host or ""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    reason = address_refusal(address, allow_private=allow_private)
    if reason:
        raise OutboundBlocked(f"The Connection's address is {reason}.")


async def allowed_addresses(host: str, port: int, *, allow_private: bool) -> list[tuple[int, str]]:
    """``(family, address)`` of every address ``host`` resolves to now that the policy
    allows; whoever connects goes to exactly these. Refused outright if there is none."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        raise UpstreamUnreachable("The host name could not be resolved.") from None
    allowed: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in found:
        address = str(sockaddr[0])
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if address_refusal(ip, allow_private=allow_private) is None:
            allowed.append((family, address))
    if not allowed:
        raise OutboundBlocked("The Connection's host is or resolves to a refused address.")
    return allowed
