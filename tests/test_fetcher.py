from __future__ import annotations

import contextlib
import gzip
import http.client
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from feedwatch import __version__
from feedwatch.errors import (
    AbandonedError,
    BlockedAddressError,
    ConfigError,
    HTTPStatusError,
    NetworkError,
    TooLargeError,
)
from feedwatch.models import Validators
from feedwatch.poll import http as http_module
from feedwatch.poll.http import USER_AGENT, Fetcher
from httpserver import FeedServer

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Screen Ledger</title>'
    b"<item><title>The Lantern Keepers renewed</title></item></channel></rss>"
)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(timeout=5) as shared:
        yield shared


def raw_response(
    body: bytes, headers: dict[str, str], status: int = 200
) -> Callable[[BaseHTTPRequestHandler], None]:
    """A route handler sending `body` exactly as given, e.g. already compressed."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return handle


def test_gzipped_body_is_decoded(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.serve("/feed.xml", FEED)
    result = fetcher.fetch(url)
    assert result.status == 200
    assert result.headers["content-encoding"] == "gzip"  # the server did compress it
    assert result.content == FEED
    assert result.url == url
    assert result.headers["content-type"] == "application/xml; charset=utf-8"
    assert all(name == name.lower() for name in result.headers)


def test_sends_user_agent_and_feed_preferring_accept(server: FeedServer, fetcher: Fetcher) -> None:
    fetcher.fetch(server.serve("/feed.xml", FEED))
    sent = server.hits("/feed.xml")[0].headers
    assert sent["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith(f"feedwatch/{__version__} ")
    assert sent["accept"].startswith("application/rss+xml, application/atom+xml")
    assert "*/*;q=0.1" in sent["accept"]
    assert "gzip" in sent["accept-encoding"]


def test_custom_user_agent(server: FeedServer) -> None:
    url = server.serve("/feed.xml", FEED)
    with Fetcher(timeout=5, user_agent="feedwatch-test/1") as fetcher:
        fetcher.fetch(url)
    assert server.hits("/feed.xml")[0].headers["user-agent"] == "feedwatch-test/1"


def test_validators_make_the_second_request_conditional(
    server: FeedServer, fetcher: Fetcher
) -> None:
    url = server.serve("/feed.xml", FEED)
    first = fetcher.fetch(url)
    assert first.validators.etag
    assert first.validators.last_modified

    second = fetcher.fetch(url, first.validators)
    assert second.status == 304
    assert second.not_modified
    assert second.content == b""
    assert second.validators == first.validators
    sent = server.hits("/feed.xml")[1].headers
    assert sent["if-none-match"] == first.validators.etag
    assert sent["if-modified-since"] == first.validators.last_modified


def test_304_without_last_modified_keeps_the_one_sent(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.serve("/feed.xml", FEED)
    first = fetcher.fetch(url)
    # The test server's 304 carries only the ETag.
    second = fetcher.fetch(url, first.validators)
    assert second.validators.last_modified == first.validators.last_modified


def test_redirect_is_followed_and_final_url_reported(server: FeedServer, fetcher: Fetcher) -> None:
    final = server.serve("/new/feed.xml", FEED)
    old = server.serve(
        "/old/feed.xml", b"", status=301, headers={"Location": final}, conditional=False
    )
    result = fetcher.fetch(old)
    assert result.url == final
    assert result.content == FEED


def test_redirect_loop_is_a_network_error(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.url("/loop")
    server.serve("/loop", b"", status=302, headers={"Location": url}, conditional=False)
    with pytest.raises(NetworkError, match="too many redirects"):
        fetcher.fetch(url)
    assert len(server.hits("/loop")) == 6  # the first request and five redirects


@pytest.mark.parametrize(
    ("status", "message"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")]
)
def test_error_status_raises_with_status(
    server: FeedServer, fetcher: Fetcher, status: int, message: str
) -> None:
    url = server.serve("/broken", b"oops", status=status, conditional=False)
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(url)
    assert caught.value.status == status
    assert str(caught.value) == message
    assert caught.value.url == url


def test_error_after_redirect_names_the_final_url(server: FeedServer, fetcher: Fetcher) -> None:
    old = server.serve(
        "/moved", b"", status=301, headers={"Location": server.url("/gone")}, conditional=False
    )
    with pytest.raises(HTTPStatusError, match=r"HTTP 404 Not Found \(redirected to .*/gone\)"):
        fetcher.fetch(old)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("http://exa mple.com/feed", "redirected to an invalid URL 'http://exa mple.com/feed'"),
        ("http://[::1/", "redirected to an invalid URL 'http://[::1/'"),
        (
            "http://example.com:99999/feed",
            "redirected to an invalid URL 'http://example.com:99999/feed'",
        ),
        (
            "ftp://example.com/feed",
            "redirected to 'ftp://example.com/feed', not an http:// or https:// URL",
        ),
    ],
)
def test_redirect_to_an_unusable_url_names_it(
    server: FeedServer, fetcher: Fetcher, location: str, message: str
) -> None:
    url = server.serve("/odd", b"", status=302, headers={"Location": location}, conditional=False)
    with pytest.raises(NetworkError) as caught:
        fetcher.fetch(url)
    assert (str(caught.value), caught.value.url) == (message, url)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_network_failure_after_a_redirect_names_the_redirect_target(
    server: FeedServer, fetcher: Fetcher
) -> None:
    target = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    url = server.serve("/moved", b"", status=301, headers={"Location": target}, conditional=False)
    with pytest.raises(NetworkError) as caught:
        fetcher.fetch(url)
    assert (str(caught.value), caught.value.url) == (
        f"connection refused (redirected to {target})",
        url,
    )


def test_oversized_body_after_a_redirect_names_the_redirect_target(server: FeedServer) -> None:
    target = server.serve("/big", b"", handler=raw_response(b"x" * 100, {}))
    url = server.serve("/moved", b"", status=302, headers={"Location": "/big"}, conditional=False)
    with Fetcher(timeout=5, max_bytes=99) as fetcher, pytest.raises(TooLargeError) as caught:
        fetcher.fetch(url)
    assert str(caught.value) == f"body larger than 99 bytes (redirected to {target})"


def test_check_url_refusing_a_redirect_target_keeps_its_error_and_names_the_target(
    server: FeedServer, fetcher: Fetcher
) -> None:
    def refuse_private(url: str) -> None:
        if "/private/" in url:
            raise BlockedAddressError("refused: a non-public address", url)

    target = server.serve("/private/feed.xml", FEED)
    url = server.serve("/moved", b"", status=302, headers={"Location": target}, conditional=False)
    with pytest.raises(BlockedAddressError) as caught:
        fetcher.fetch(url, check_url=refuse_private)
    assert str(caught.value) == f"refused: a non-public address (redirected to {target})"
    assert caught.value.url == url
    assert server.hits("/private/feed.xml") == []


def test_error_without_a_redirect_claims_none(server: FeedServer, fetcher: Fetcher) -> None:
    # httpx spells the URL it requests "/no%20such%20feed"; that is no redirect.
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(server.url("/no such feed"))
    assert str(caught.value) == "HTTP 404 Not Found"


def test_refused_connection_is_a_network_error(fetcher: Fetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError) as caught:
        fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert str(caught.value) == "connection refused"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/feed.xml", "not an http:// or https:// URL"),
        ("feed.xml", "not an http:// or https:// URL"),
        ("http://[::1/feed.xml", "invalid URL"),
    ],
)
def test_unusable_url_is_a_network_error(fetcher: Fetcher, url: str, message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        fetcher.fetch(url)


def test_server_closing_without_answer_is_a_network_error(
    server: FeedServer, fetcher: Fetcher
) -> None:
    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True

    url = server.serve("/hangup", b"", handler=hang_up)
    with pytest.raises(NetworkError) as caught:
        fetcher.fetch(url)
    assert "\n" not in str(caught.value)


def test_no_answer_within_timeout(server: FeedServer) -> None:
    url = server.serve("/slow", FEED, delay=1.0)
    with (
        Fetcher(timeout=0.3) as fetcher,
        pytest.raises(NetworkError, match=r"timed out after 0.3s"),
    ):
        fetcher.fetch(url)


def test_trickling_server_is_cut_off_at_the_overall_deadline(server: FeedServer) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        try:
            for _ in range(100):
                handler.wfile.write(b"x")
                time.sleep(0.2)
        except OSError:  # the client gave up, as it should
            return

    url = server.serve("/trickle", b"", handler=trickle)
    started = time.monotonic()
    with Fetcher(timeout=1) as fetcher, pytest.raises(NetworkError, match="timed out after 1s"):
        fetcher.fetch(url)
    assert time.monotonic() - started < 2


def test_body_at_the_cap_is_accepted(server: FeedServer) -> None:
    body = bytes(range(256)) * 400  # 102,400 bytes
    url = server.serve("/exact", b"", handler=raw_response(body, {"Content-Type": "text/plain"}))
    with Fetcher(timeout=5, max_bytes=len(body)) as fetcher:
        assert fetcher.fetch(url).content == body


def test_body_over_the_cap_is_too_large(server: FeedServer) -> None:
    body = bytes(range(256)) * 400
    url = server.serve("/big", b"", handler=raw_response(body, {"Content-Type": "text/plain"}))
    with (
        Fetcher(timeout=5, max_bytes=len(body) - 1) as fetcher,
        pytest.raises(TooLargeError) as caught,
    ):
        fetcher.fetch(url)
    assert str(caught.value) == f"body larger than {len(body) - 1} bytes"


def test_decoded_size_counts_not_the_compressed_size(server: FeedServer) -> None:
    body = b"<rss>" + b"Harbour Lights " * 20_000 + b"</rss>"  # 300 kB, compresses to ~1 kB
    url = server.serve("/compressible", body)
    with Fetcher(timeout=5, max_bytes=100_000) as fetcher, pytest.raises(TooLargeError):
        fetcher.fetch(url)


def _gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, compressor.flush()])


def test_gzip_bomb_stops_at_the_cap_quickly_and_in_little_memory(server: FeedServer) -> None:
    bomb = _gzip_of_zeros(50 * 1024 * 1024)
    assert len(bomb) < 100_000
    url = server.serve(
        "/bomb.xml",
        b"",
        handler=raw_response(bomb, {"Content-Type": "application/xml", "Content-Encoding": "gzip"}),
    )
    with Fetcher(timeout=5, max_bytes=1024 * 1024) as fetcher:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(TooLargeError, match="body larger than 1048576 bytes"):
                fetcher.fetch(url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert time.monotonic() - started < 1
    assert peak < 8 * 1024 * 1024


@pytest.mark.parametrize(
    "compress",
    [zlib.compress, lambda data: zlib.compress(data)[2:-4]],
    ids=["zlib-wrapped", "raw"],
)
def test_deflate_bodies_are_decoded(
    server: FeedServer, fetcher: Fetcher, compress: Callable[[bytes], bytes]
) -> None:
    url = server.serve(
        "/deflate.xml", b"", handler=raw_response(compress(FEED), {"Content-Encoding": "deflate"})
    )
    assert fetcher.fetch(url).content == FEED


def test_corrupt_gzip_is_a_network_error(server: FeedServer, fetcher: Fetcher) -> None:
    broken = gzip.compress(FEED)[:10] + b"not deflate data at all"
    url = server.serve(
        "/corrupt.xml", b"", handler=raw_response(broken, {"Content-Encoding": "gzip"})
    )
    with pytest.raises(NetworkError, match="corrupt gzip body"):
        fetcher.fetch(url)


def test_unrequested_encoding_is_a_network_error(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.serve(
        "/brotli.xml", b"", handler=raw_response(b"\x8b\x02\x80", {"Content-Encoding": "br"})
    )
    with pytest.raises(NetworkError, match="unsupported Content-Encoding: br"):
        fetcher.fetch(url)


def test_one_fetcher_serves_several_threads_at_once(server: FeedServer, fetcher: Fetcher) -> None:
    urls = [server.serve(f"/feed-{n}.xml", FEED + str(n).encode(), delay=0.3) for n in range(6)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(fetcher.fetch, urls))
    assert [result.content for result in results] == [FEED + str(n).encode() for n in range(6)]
    assert time.monotonic() - started < 1.2  # one after another would take 1.8 s
    assert Validators() not in [result.validators for result in results]


def test_cookies_a_server_sets_are_never_sent_back(server: FeedServer, fetcher: Fetcher) -> None:
    # One client serves every feed and page for the daemon's life: it must not carry a site's
    # tracking or session cookies from one request to the next.
    first = server.serve("/first.rss", FEED, headers={"Set-Cookie": "visitor=abc123; Path=/"})
    second = server.serve("/second.rss", FEED)
    fetcher.fetch(first)
    fetcher.fetch(second)
    fetcher.fetch(first)
    assert all("cookie" not in hit.headers for hit in server.requests)


def test_a_hostile_reason_phrase_reaches_the_error_without_escapes(
    server: FeedServer, fetcher: Fetcher
) -> None:
    def status_line(handler: BaseHTTPRequestHandler) -> None:
        # ESC ] 0;pwned BEL: sets a terminal's title; ESC [31m: red text.
        handler.wfile.write(
            b"HTTP/1.1 503 \x1b]0;pwned\x07Slow \x1b[31mdown\r\nContent-Length: 0\r\n\r\n"
        )

    url = server.serve("/hostile", b"", handler=status_line)
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(url)
    assert str(caught.value) == "HTTP 503 Slow down"


def test_a_redirect_to_a_hostile_location_is_named_without_escapes(
    server: FeedServer, fetcher: Fetcher
) -> None:
    target = server.url("/\x1b]0;pwned\x07")
    url = server.serve("/odd", b"", handler=raw_response(b"", {"Location": target}, status=302))
    with pytest.raises(NetworkError) as caught:
        fetcher.fetch(url)
    # Shown, escaped, rather than acted on: the reader sees what the server tried.
    shown = server.url("/") + "\\x1b]0;pwned\\x07"
    assert str(caught.value) == f"redirected to an invalid URL '{shown}'"


class Proxy:
    """A forwarding HTTP proxy on 127.0.0.1: answers absolute-URI GETs by fetching them
    itself, and counts them."""

    def __init__(self) -> None:
        self.forwarded: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forwarded.append(self.path)
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
                try:
                    upstream.request("GET", target.path, headers={"Host": target.netloc})
                    answer = upstream.getresponse()
                    body = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    running = Proxy()
    yield running
    running.close()


def test_http_proxy_from_the_environment_carries_the_request(
    server: FeedServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.serve("/feed.xml", FEED)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(url).content == FEED
    assert proxy.forwarded == [url]


def test_a_host_in_no_proxy_is_fetched_directly(
    server: FeedServer, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.serve("/feed.xml", FEED)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(url).content == FEED
    assert proxy.forwarded == []
    assert len(server.hits("/feed.xml")) == 1


def test_an_unusable_proxy_in_the_environment_is_a_config_error(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConfigError, match=r"^HTTPS_PROXY: cannot use proxy 'socks5://"):
        Fetcher(timeout=5)


def test_a_fetch_cut_short_by_close_is_abandoned_not_a_network_error(server: FeedServer) -> None:
    release = threading.Event()

    def answer_late(handler: BaseHTTPRequestHandler) -> None:
        release.wait(5)
        raw_response(FEED, {"Content-Type": "application/xml"})(handler)

    url = server.serve("/slow.xml", b"", handler=answer_late)
    fetcher = Fetcher(timeout=5)
    with ThreadPoolExecutor(1) as threads:
        running = threads.submit(fetcher.fetch, url)
        wait_for_hit = time.monotonic() + 5
        while not server.hits("/slow.xml") and time.monotonic() < wait_for_hit:
            time.sleep(0.01)
        fetcher.close()
        release.set()
        with pytest.raises(AbandonedError):
            running.result(timeout=5)
    with pytest.raises(AbandonedError):
        fetcher.fetch(url)


def test_304s_and_redirects_keep_the_connection_for_the_next_request(
    server: FeedServer, fetcher: Fetcher
) -> None:
    # A warm cycle is all 304s: opening a connection for each would cost more than the poll.
    url = server.serve("/feed.xml", FEED)
    moved = server.serve("/old.xml", b"moved", status=301, headers={"Location": url})
    first = fetcher.fetch(url)
    for _ in range(3):
        assert fetcher.fetch(url, first.validators).status == 304
    assert fetcher.fetch(moved).url == url
    ports = {request.client_port for request in server.requests}
    assert len(server.requests) == 6
    assert len(ports) == 1


def poll_each(servers: list[FeedServer], fetcher: Fetcher) -> list[set[int]]:
    """Fetch /feed.xml from each server; then each server's connection ports so far."""
    for each in servers:
        fetcher.fetch(each.serve("/feed.xml", FEED))
    return [{request.client_port for request in each.requests} for each in servers]


def test_connections_to_many_hosts_are_each_kept_for_their_next_poll(fetcher: Fetcher) -> None:
    # More hosts than one httpcore pool holds connections (100): each still keeps its own.
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(FeedServer()) for _ in range(110)]
        poll_each(servers, fetcher)
        assert poll_each(servers, fetcher) == [
            {each.requests[0].client_port} for each in servers
        ]


def test_past_max_host_pools_the_host_asked_for_least_recently_reconnects(
    fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_module, "MAX_HOST_POOLS", 3)
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(FeedServer()) for _ in range(4)]
        poll_each(servers, fetcher)
        again = poll_each(servers, fetcher)
    # Each host's turn came after three others: every one had closed its idle connection.
    assert [len(ports) for ports in again] == [2, 2, 2, 2]


def test_an_error_page_does_not_cost_the_connection(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.serve("/feed.xml", FEED)
    missing = server.serve("/gone.xml", b"<html>not here</html>", status=404, conditional=False)
    with pytest.raises(HTTPStatusError):
        fetcher.fetch(missing)
    fetcher.fetch(url)
    assert len({request.client_port for request in server.requests}) == 1


def test_the_ca_bundle_is_loaded_for_the_first_https_request_only(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    create = http_module.httpx.create_ssl_context
    monkeypatch.setattr(
        http_module.httpx, "create_ssl_context", lambda *a, **k: made.append(1) or create(*a, **k)
    )
    url = server.serve("/feed.xml", FEED)
    with Fetcher(timeout=5) as fetcher:
        fetcher.fetch(url)
        assert made == []  # http:// feeds alone never pay for it
        # The test server speaks plain HTTP, so each handshake fails; two hosts, one context.
        secure = url.replace("http://", "https://")
        for host in ("127.0.0.1", "localhost"):
            with pytest.raises(NetworkError):
                fetcher.fetch(secure.replace("127.0.0.1", host))
        assert made == [1]
