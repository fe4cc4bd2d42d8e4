"""Keeps page fetches away from the machine's own network.

A feed entry's link is untrusted input: without this guard, a feed could make feedwatch
request http://127.0.0.1:8080/..., a router's admin page or a cloud metadata service
(169.254.169.254) and, through the summary, publish what it answered. Before each request,
the first and one after every redirect, the host is resolved and the fetch is refused unless
every address it resolves to is public.

The fetcher then connects to those very addresses, not to what resolving the name again
would give, so a DNS server answering with a public address for the check and a private one
for the connection ("DNS rebinding") gets nowhere. Two paths remain: a connection kept open
from an earlier request to the same host and port (a feed's, which no guard checks) is
reused, and a proxy (HTTP_PROXY) resolves names itself. Set-ups that must rule those out
should also deny private destinations at the network level (firewall or egress proxy).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

from feedwatch.errors import BlockedAddressError, NetworkError
from feedwatch.urls import http_host

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str], Sequence[str]]

# RFC 6052's well-known NAT64 prefix: on IPv6-only networks (DNS64) every IPv4 site
# resolves into it, so it is judged by the IPv4 address it carries.
_NAT64 = IPv6Network("64:ff9b::/96")


def is_public(address: str | IPAddress) -> bool:
    """True for an address on the public internet; False for loopback, private (RFC 1918,
    fc00::/7), shared (CGNAT 100.64/10), link-local, multicast, unspecified, reserved and
    documentation ranges, also when wrapped in an IPv4-mapped, 6to4 or NAT64 IPv6 address.
    """
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if ip.is_site_local:  # deprecated fec0::/10, which Python counts as global
            return False
    # is_global alone lets multicast through (224.0.0.0/4, ff00::/8).
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressGuard:
    """Fetcher.fetch's `check_url`: raises BlockedAddressError for URLs it must not reach, and
    gives the addresses it checked for those it may.

    `resolver` and `allowed` are there for tests: a resolver that maps names to chosen
    addresses, and a rule that lets a test server on loopback through.
    """

    def __init__(
        self, resolver: Resolver = resolve, allowed: Callable[[IPAddress], bool] = is_public
    ) -> None:
        self._resolve = resolver
        self._allowed = allowed

    def __call__(self, url: str) -> tuple[str, ...]:
        """The addresses `url`'s host resolves to, all allowed, which the fetch connects to."""
        host = http_host(url)
        if host is None:
            raise BlockedAddressError(
                "refused: only http:// and https:// URLs naming a host are fetched", url
            )
        try:
            addresses = [ip_address(address) for address in self._resolve(host)]
        except (OSError, UnicodeError) as exc:
            raise NetworkError("host name could not be resolved", url) from exc
        except ValueError as exc:  # the resolver gave something that is not an address
            raise NetworkError(f"host name could not be resolved: {exc}", url) from exc
        if not addresses:
            raise NetworkError("host name could not be resolved", url)
        # One non-public address is enough to refuse: the client may connect to any of them.
        for address in addresses:
            if not self._allowed(address):
                where = (
                    f"{address} is a"
                    if _same(host, address)
                    else f"{host} resolves to {address}, a"
                )
                raise BlockedAddressError(
                    f"refused: {where} non-public address (set fetch.allow_private: true to allow)",
                    url,
                )
        return tuple(str(address) for address in addresses)


def _same(host: str, address: IPAddress) -> bool:
    """Whether the URL's host is that address written out (an IP literal)."""
    try:
        return ip_address(host) == address
    except ValueError:
        return False
