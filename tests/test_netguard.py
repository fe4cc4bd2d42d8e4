"""The address guard: page fetches never reach loopback, private, link-local or multicast hosts.

No test here connects anywhere but 127.0.0.1: names are resolved by injected resolvers, and
where a test needs a redirect "into a private network" the name it uses resolves, for real,
to the test server itself, so a guard that let it through would show up as a request there.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from feedwatch.errors import BlockedAddressError, NetworkError
from feedwatch.poll.http import Fetcher
from feedwatch.poll.netguard import AddressGuard, is_public
from httpserver import FeedServer

PAGE = b"<html><body><p>A page.</p></body></html>"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        # IPv4
        ("93.184.215.14", True),
        ("8.8.8.8", True),
        ("127.0.0.1", False),  # loopback
        ("127.255.255.254", False),
        ("10.0.0.1", False),  # RFC 1918
        ("172.16.5.4", False),
        ("172.31.255.255", False),
        ("172.32.0.1", True),  # just past 172.16/12
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("100.127.255.254", False),
        ("100.128.0.1", True),  # just past 100.64/10
        ("169.254.169.254", False),  # link-local: cloud metadata services
        ("0.0.0.0", False),  # unspecified
        ("0.1.2.3", False),  # "this network"
        ("224.0.0.251", False),  # multicast (mDNS)
        ("239.255.255.250", False),  # multicast (SSDP)
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),  # broadcast
        ("192.0.2.10", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        # IPv6
        ("2606:4700:4700::1111", True),
        ("2a00:1450:4001:81b::200e", True),
        ("::1", False),  # loopback
        ("::", False),  # unspecified
        ("fe80::1", False),  # link-local
        ("fe80::1%eth0", False),
        ("fd12:3456:789a::1", False),  # unique local (fc00::/7)
        ("fec0::1", False),  # site-local, deprecated
        ("ff02::1", False),  # multicast, link scope
        ("ff0e::1", False),  # multicast, global scope
        ("2001:db8::1", False),  # documentation
        # IPv4 inside IPv6: judged by the IPv4 address
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:10.1.2.3", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", True),
        ("::127.0.0.1", False),  # IPv4-compatible, deprecated
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public(address) is public
    assert is_public(ip_address(address)) is public


def resolver(table: dict[str, Sequence[str]]):
    """A resolver answering from `table`; any other name does not resolve."""

    def resolve(host: str) -> Sequence[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


def test_a_public_host_passes() -> None:
    guard = AddressGuard(resolver({"news.example": ["93.184.215.14", "2606:4700::6812:1"]}))
    guard("https://news.example/tv/story.html")  # no exception


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://localhost/admin", ["127.0.0.1", "::1"]),
        ("http://router.example/", ["192.168.0.1"]),
        ("http://metadata.example/latest/meta-data/", ["169.254.169.254"]),
        ("http://mapped.example/", ["::ffff:127.0.0.1"]),
        ("http://cgnat.example/", ["100.64.12.1"]),
        ("http://multicast.example/", ["239.1.2.3"]),
        # Any one non-public address is enough: the client may connect to any of them.
        ("http://mixed.example/", ["93.184.215.14", "10.0.0.7"]),
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused(
    url: str, addresses: list[str]
) -> None:
    host = url.split("/")[2]
    guard = AddressGuard(resolver({host: addresses}))
    with pytest.raises(BlockedAddressError, match=r"non-public address .*fetch\.allow_private"):
        guard(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.0.0.1/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_the_real_resolver_sees_through_address_spellings(url: str) -> None:
    # IP literals resolve without any DNS query.
    with pytest.raises(BlockedAddressError):
        AddressGuard()(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://files.example/a",
        "http:///no-host",
        "http://[::1/",
        "http://files.example:notaport/",
    ],
)
def test_only_http_urls_naming_a_host_are_fetched(url: str) -> None:
    with pytest.raises(BlockedAddressError, match="only http:// and https:// URLs naming a host"):
        AddressGuard(resolver({}))(url)


def test_a_name_that_does_not_resolve_is_a_network_error() -> None:
    with pytest.raises(NetworkError, match="could not be resolved") as caught:
        AddressGuard(resolver({}))("https://nowhere.example/")
    assert not isinstance(caught.value, BlockedAddressError)


def test_the_fetcher_asks_the_guard_before_connecting(server: FeedServer) -> None:
    url = server.serve("/page.html", PAGE, content_type="text/html")
    with Fetcher(timeout=5) as fetcher, pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1"):
        fetcher.fetch(url, check_url=AddressGuard())
    assert server.hits("/page.html") == []


def loopback_or_public(address: IPv4Address | IPv6Address) -> bool:
    """Lets the test server's own address through, as fetch.allow_private would."""
    return address == IPv4Address("127.0.0.1") or is_public(address)


def test_a_redirect_into_a_private_address_is_refused(server: FeedServer) -> None:
    port = server.url("/").split(":")[2].split("/")[0]
    # "localhost" really is this test server, but the injected resolver says 10.0.0.1: only
    # a guard that checks the redirect refuses it; one that did not would reach /secret.
    server.serve("/secret", b"internal", content_type="text/plain")
    start = server.serve(
        "/start",
        b"",
        status=302,
        headers={"Location": f"http://localhost:{port}/secret"},
        conditional=False,
    )
    guard = AddressGuard(
        resolver({"127.0.0.1": ["127.0.0.1"], "localhost": ["10.0.0.1"]}),
        allowed=loopback_or_public,
    )
    with Fetcher(timeout=5) as fetcher:
        with pytest.raises(BlockedAddressError, match=r"localhost resolves to 10\.0\.0\.1, a"):
            fetcher.fetch(start, check_url=guard)
        # The same redirect without the guard does reach the target: the test can fail.
        assert fetcher.fetch(start).content == b"internal"
    assert len(server.hits("/start")) == 2
    assert len(server.hits("/secret")) == 1


def test_a_redirect_between_allowed_addresses_is_followed(server: FeedServer) -> None:
    final = server.serve("/final.html", PAGE, content_type="text/html")
    start = server.serve(
        "/moved.html", b"", status=301, headers={"Location": final}, conditional=False
    )
    seen: list[str] = []

    def recording(url: str) -> None:
        seen.append(url)
        AddressGuard(resolver({"127.0.0.1": ["127.0.0.1"]}), allowed=loopback_or_public)(url)

    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(start, check_url=recording).content == PAGE
    assert seen == [start, final]


def test_a_page_is_fetched_from_the_addresses_the_guard_checked(server: FeedServer) -> None:
    # No DNS server knows an .invalid name (RFC 6761): only the guard's resolver answers it,
    # so the page arrives only if the fetch connects where the guard looked, not where a
    # second lookup (which a rebinding DNS server would answer otherwise) would send it.
    port = server.url("/").split(":")[2].split("/")[0]
    server.serve("/page.html", PAGE, content_type="text/html")
    url = f"http://rebound.invalid:{port}/page.html"
    # ::1 first, where the test server does not listen: the next address is tried.
    guard = AddressGuard(
        resolver({"rebound.invalid": ["::1", "127.0.0.1"]}),
        allowed=lambda address: address.is_loopback,
    )
    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(url, check_url=guard).content == PAGE
    # The addresses held for that fetch only (a new fetcher: the first keeps its connection).
    with Fetcher(timeout=5) as fetcher, pytest.raises(NetworkError, match="resolve"):
        fetcher.fetch(url)
    assert len(server.hits("/page.html")) == 1
