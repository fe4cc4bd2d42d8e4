"""feedwatch's HTTP server: /feed.xml with validators and gzip, /healthz, /metrics; `serve`."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from daemonkit import Feedwatch, write_config
from feedwatch.cli import main
from feedwatch.metrics import Metrics
from feedwatch.publish.web import MAX_HEADER_BYTES, App, DigestServer, accepts_gzip

DIGEST = (
    b"""<?xml version='1.0' encoding='utf-8'?>
<rss version="2.0"><channel><title>Test digest</title><link>http://localhost:8080/</link>
<description>Articles about the shows you track.</description></channel></rss>
"""
    * 20
)  # long enough for gzip to make it smaller


class Client:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port

    def get(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        timeout: float = 5,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            connection.close()


@pytest.fixture
def digest_file(tmp_path) -> Path:
    return tmp_path / "out" / "digest.xml"


@pytest.fixture
def web(digest_file) -> Iterator[Client]:
    metrics = Metrics()
    server = DigestServer(App(lambda: digest_file, metrics, lambda: {"feeds": 3}), "127.0.0.1", 0)
    server.start()
    try:
        yield Client(server.url)
    finally:
        server.close()


def write_digest(path: Path, body: bytes = DIGEST, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_no_digest_yet_is_503_with_retry_after(web):
    status, headers, _ = web.get("/feed.xml")
    assert status == 503
    assert headers["retry-after"].isdigit()


def test_feed_is_served_with_validators(web, digest_file):
    write_digest(digest_file, mtime=1_700_000_000)
    status, headers, body = web.get("/feed.xml")
    assert status == 200
    assert body == DIGEST
    assert headers["content-type"].startswith("application/rss+xml")
    assert headers["etag"].startswith('"')
    assert headers["last-modified"] == formatdate(1_700_000_000, usegmt=True)


def test_revalidation_with_the_etag_or_the_date_is_304(web, digest_file):
    write_digest(digest_file, mtime=1_700_000_000)
    _, headers, _ = web.get("/feed.xml")
    status, again, body = web.get("/feed.xml", {"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    assert again["etag"] == headers["etag"]
    status, _, body = web.get("/feed.xml", {"If-Modified-Since": headers["last-modified"]})
    assert (status, body) == (304, b"")
    # If-None-Match decides alone: a stale tag gets the feed even with a current date.
    status, _, body = web.get(
        "/feed.xml",
        {"If-None-Match": '"stale"', "If-Modified-Since": headers["last-modified"]},
    )
    assert (status, body) == (200, DIGEST)
    earlier = formatdate(1_700_000_000 - 60, usegmt=True)
    assert web.get("/feed.xml", {"If-Modified-Since": earlier})[0] == 200


def test_a_rewritten_digest_gets_a_new_etag(web, digest_file):
    write_digest(digest_file, mtime=1_700_000_000)
    _, first, _ = web.get("/feed.xml")
    write_digest(digest_file, DIGEST.replace(b"Test digest", b"New title"), mtime=1_700_000_100)
    status, second, body = web.get("/feed.xml", {"If-None-Match": first["etag"]})
    assert status == 200
    assert b"New title" in body
    assert second["etag"] != first["etag"]


def test_gzip_only_when_asked(web, digest_file):
    write_digest(digest_file)
    status, headers, body = web.get("/feed.xml", {"Accept-Encoding": "gzip, deflate"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == DIGEST
    assert len(body) < len(DIGEST)
    assert "accept-encoding" in headers["vary"].lower()
    # The gzip variant revalidates too.
    assert (
        web.get("/feed.xml", {"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})[0]
        == 304
    )
    _, plain, body = web.get("/feed.xml", {"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in plain
    assert body == DIGEST


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP", True),
        ("*", True),
        ("gzip;q=0", False),
        ("*, gzip;q=0", False),
        ("br, deflate", False),
        ("", False),
    ],
)
def test_accept_encoding_negotiation(header, expected):
    assert accepts_gzip(header) is expected


def test_head_gives_headers_without_a_body(web, digest_file):
    write_digest(digest_file)
    status, headers, body = web.get("/feed.xml", method="HEAD")
    assert status == 200
    assert body == b""
    assert headers["content-length"] == str(len(DIGEST))


def test_healthz_is_json_status(web, digest_file):
    write_digest(digest_file, mtime=1_700_000_000)
    status, headers, body = web.get("/healthz")
    assert status == 200
    assert headers["content-type"] == "application/json"
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["feeds"] == 3
    assert health["digest_updated"] == "2023-11-14T22:13:20+00:00"


def test_metrics_count_the_requests_served(web, digest_file):
    write_digest(digest_file)
    web.get("/feed.xml")
    web.get("/nowhere")
    status, headers, body = web.get("/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert 'feedwatch_http_requests_total{code="200",path="/feed.<ext>"} 1.0' in text
    assert 'feedwatch_http_requests_total{code="404",path="other"} 1.0' in text
    assert "process_cpu_seconds_total" in text


def test_other_paths_and_methods_are_refused(web, digest_file):
    write_digest(digest_file)
    assert web.get("/")[0] == 404
    assert web.get("/feed.xml/../etc/passwd")[0] == 404
    status, headers, _ = web.get("/feed.xml", method="POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_serve_command_serves_the_digest_and_stops_on_sigterm(server, tmp_path):
    config = write_config(tmp_path, [server.url("/unused.rss")])
    write_digest(tmp_path / "out" / "digest.xml")
    process = Feedwatch(config, "serve")
    try:
        client = Client(process.url())
        status, _, body = client.get("/feed.xml")
        assert (status, body) == (200, DIGEST)
        assert json.loads(client.get("/healthz")[2])["polling"] is False
        process.signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    assert not server.requests  # serving never polls
    assert not [line for line in process.raw if "Traceback" in line]


def test_a_port_in_use_is_a_one_line_error(server, tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, [server.url("/unused.rss")])
        config.write_text(config.read_text().replace("port: 0", f"port: {port}"))
        assert main(["-c", str(config), "serve"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"feedwatch: cannot serve HTTP on 127.0.0.1:{port}: ")
    assert len(err.strip().splitlines()) == 1


def test_healthz_is_503_while_the_last_digest_rewrite_failed(digest_file):
    write_digest(digest_file)
    health = {"last_publish_error": "cannot write digest out/digest.xml: No space left on device"}
    server = DigestServer(App(lambda: digest_file, Metrics(), lambda: health), "127.0.0.1", 0)
    server.start()
    try:
        client = Client(server.url)
        status, _, body = client.get("/healthz")
        assert status == 503
        assert json.loads(body)["status"] == "failing"
        assert json.loads(body)["last_publish_error"] == health["last_publish_error"]

        health["last_publish_error"] = None  # the next rewrite worked
        status, _, body = client.get("/healthz")
        assert (status, json.loads(body)["status"]) == (200, "ok")
    finally:
        server.close()


def test_close_without_start_releases_the_port_and_threads(digest_file):
    # `run` binds the port before starting the daemon; a daemon that fails to start must not
    # leave it listening.
    before = set(threading.enumerate())
    server = DigestServer(App(lambda: digest_file, Metrics()), "127.0.0.1", 0)
    port = urlsplit(server.url).port
    server.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert not [thread for thread in set(threading.enumerate()) - before if thread.is_alive()]


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1024, 16 * 1024 * 1024])
def test_an_oversized_request_header_gets_431(web, digest_file, size):
    # 16 MB: still being sent when the 431 is written. Closed at once, the server's socket
    # would send a reset, and the client would never read the answer.
    write_digest(digest_file)
    with socket.create_connection((web.host, web.port), timeout=10) as sock:
        sock.sendall(b"GET /feed.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
        sock.sendall(b"a" * size + b"\r\n\r\n")
        answer = sock.makefile("rb").readline()
    assert answer.split()[1:] == [b"431", b"Request", b"Header", b"Fields", b"Too", b"Large"]
    assert web.get("/feed.xml")[0] == 200  # and the server goes on


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_clients_that_never_read_do_not_grow_the_servers_memory(server, tmp_path):
    # 50 x a 4 MB digest held in memory would be 200 MB; waitress's defaults kept ~26 MB of it.
    config = write_config(tmp_path, [server.url("/unused.rss")])
    body = b"<rss>" + os.urandom(2_000_000).hex().encode() + b"</rss>"
    write_digest(tmp_path / "out" / "digest.xml", body)
    process = Feedwatch(config, "serve")
    clients: list[socket.socket] = []
    try:
        client = Client(process.url())
        assert client.get("/feed.xml")[2] == body  # the digest is read and cached
        before = _rss_kib(process.process.pid)
        for _ in range(50):
            sock = socket.create_connection((client.host, client.port), timeout=5)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"GET /feed.xml HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            clients.append(sock)
        # Every one has been answered (as far as it reads) once /healthz answers behind them:
        # 200 MB go to temporary files first, which a loaded machine's disk takes time over.
        assert client.get("/healthz", timeout=60)[0] == 200
        growth = max(_rss_kib(process.process.pid) for _ in range(20)) - before
        assert growth < 16 * 1024, f"RSS grew by {growth} KiB"
    finally:
        for sock in clients:
            sock.close()
        process.kill()
