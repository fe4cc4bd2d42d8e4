"""feedwatch's own HTTP server: the digest at /feed.xml, /healthz and /metrics.

A small WSGI app served by waitress (the only module that imports it). The digest is read
from disk on each request, so a digest rewritten by the daemon is served at once; what was
read is kept while the file stays the same, so revalidations cost a stat() and no hashing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from feedwatch import __version__
from feedwatch.errors import FeedwatchError
from feedwatch.metrics import Metrics

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

FEED_TYPE = "application/rss+xml; charset=utf-8"
RETRY_SECONDS = 10  # told to clients asking for the digest before it first exists

# What waitress may hold per connection, so that slow or non-reading clients cannot grow the
# process: at most CONNECTION_LIMIT connections, each keeping in memory at most
# MAX_HEADER_BYTES of request head, INBUF_OVERFLOW of body and OUTBUF_OVERFLOW of response
# (the rest of a response waits in a temporary file). 100 x (8 + 64 + 64) KiB = 13.3 MiB
# for the buffers, on top of the one copy of the digest the App keeps (plain and gzipped).
CONNECTION_LIMIT = 100
MAX_HEADER_BYTES = 8 * 1024  # beyond it, waitress answers 431 itself
INBUF_OVERFLOW = 64 * 1024
MAX_BODY_BYTES = 64 * 1024  # feedwatch takes no request bodies; beyond it, 413
OUTBUF_OVERFLOW = 64 * 1024
# Past this much unsent, a worker waits for its client to read. Far above any digest, so a
# client that never reads holds no worker; what is unsent beyond OUTBUF_OVERFLOW is on disk.
OUTBUF_HIGH_WATERMARK = 64 * 1024 * 1024
CHANNEL_TIMEOUT = 30  # seconds a connection may sit without sending or reading
CLEANUP_INTERVAL = 10  # seconds between closing such connections
# After an error answer, what a client is still sending is read and dropped for this long, or
# this much, before closing (see _Channel).
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024 * 1024
_REASONS = {
    200: "OK",
    304: "Not Modified",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class _Digest:
    """One version of the digest file, as served."""

    stamp: tuple[int, int, int]  # st_ino, st_mtime_ns, st_size
    body: bytes
    gzipped: bytes
    etag: str  # of the plain body; the gzip variant's tag adds "-gzip"
    last_modified: str
    modified: int  # whole seconds, as Last-Modified says


class App:
    """The WSGI application: GET or HEAD /feed.xml, /healthz and /metrics; 404 otherwise."""

    def __init__(
        self,
        digest_path: Callable[[], Path],
        metrics: Metrics,
        health: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        # Callables: a config reload may move the digest.
        self._digest_path = digest_path
        self._metrics = metrics
        self._health = health
        self._cache: _Digest | None = None
        self._cache_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path not in ("/feed.xml", "/healthz", "/metrics"):
            status, headers, body = 404, [("Content-Type", "text/plain")], b"not found\n"
        elif method not in ("GET", "HEAD"):
            status, headers, body = 405, [("Allow", "GET, HEAD")], b"use GET or HEAD\n"
            headers.append(("Content-Type", "text/plain"))
        elif path == "/feed.xml":
            status, headers, body = self._feed(environ)
        elif path == "/healthz":
            status, headers, body = self._healthz()
        else:
            body, content_type = self._metrics.exposition(environ.get("HTTP_ACCEPT", ""))
            status, headers = 200, [("Content-Type", content_type), ("Cache-Control", "no-store")]
        self._metrics.request(path, status)
        if status != 304:
            headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASONS[status]}", headers)
        return [] if method == "HEAD" or status == 304 else _pieces(body)

    def _feed(self, environ: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        digest = self._read_digest()
        if digest is None:
            headers = [("Content-Type", "text/plain"), ("Retry-After", str(RETRY_SECONDS))]
            return 503, headers, b"the digest has not been written yet\n"
        use_gzip = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        headers = [
            ("ETag", f'"{digest.etag}-gzip"' if use_gzip else f'"{digest.etag}"'),
            ("Last-Modified", digest.last_modified),
            # Readers may keep a copy but must ask (cheaply, with the validators) before using it.
            ("Cache-Control", "no-cache"),
            ("Vary", "Accept-Encoding"),
        ]
        if _not_modified(environ, digest):
            return 304, headers, b""
        headers.append(("Content-Type", FEED_TYPE))
        if use_gzip:
            headers.append(("Content-Encoding", "gzip"))
            return 200, headers, digest.gzipped
        return 200, headers, digest.body

    def _healthz(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """200 and "status": "ok"; 503, "failing" and the reasons under "problems" while the
        store fails (health()'s own "problems") or the last digest rewrite failed, since the
        digest served is then older than what was stored."""
        digest = self._read_digest()
        health = self._health()
        problems = list(health.get("problems") or ())
        if health.get("last_publish_error"):
            problems.append(f"cannot publish the digest: {health['last_publish_error']}")
        status = {
            "status": "failing" if problems else "ok",
            "version": __version__,
            "digest_updated": (
                datetime.fromtimestamp(digest.modified, UTC).isoformat() if digest else None
            ),
            **health,
            "problems": problems,
        }
        body = json.dumps(status).encode("utf-8") + b"\n"
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        return (503 if problems else 200), headers, body

    def _read_digest(self) -> _Digest | None:
        """The digest as it is on disk now; None while there is none to read."""
        try:
            with self._digest_path().open("rb") as handle:
                info = os.fstat(handle.fileno())
                stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
                with self._cache_lock:
                    if self._cache is not None and self._cache.stamp == stamp:
                        return self._cache
                body = handle.read()
        except OSError:
            return None
        digest = _Digest(
            stamp=stamp,
            body=body,
            # mtime=0: the same digest always compresses to the same bytes.
            gzipped=gzip.compress(body, mtime=0),
            etag=hashlib.sha256(body).hexdigest()[:32],
            last_modified=formatdate(info.st_mtime, usegmt=True),
            modified=int(info.st_mtime),
        )
        with self._cache_lock:
            self._cache = digest
        return digest


def _pieces(body: bytes) -> Iterator[bytes]:
    """The body in OUTBUF_OVERFLOW slices: handed over whole, waitress would copy all of it
    into memory per connection before moving it to its temporary file."""
    for start in range(0, len(body), OUTBUF_OVERFLOW):
        yield body[start : start + OUTBUF_OVERFLOW]


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110: q=0 means "not this")."""
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        weights[name] = weight
    for name in ("gzip", "x-gzip"):
        if name in weights:
            return weights[name] > 0
    return weights.get("*", 0.0) > 0


def _not_modified(environ: Mapping[str, Any], digest: _Digest) -> bool:
    """RFC 9110 13.2.2: If-None-Match, when sent, decides alone; else If-Modified-Since."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        # Weak comparison; either variant's tag names the same content.
        tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")}
        return bool(tags & {digest.etag, f"{digest.etag}-gzip"})
    if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return digest.modified <= since.timestamp()
    return False


class _Channel(HTTPChannel):
    """waitress's connection, sending in small pieces and hearing a client out before closing
    after an error answer.

    waitress answers e.g. 431 to a header over the limit while the client is still sending
    it, then closes; a socket closed with input unread sends a reset instead of a close, and
    the client reports "connection reset" without ever reading the 431. Here the closing
    channel shuts its sending side (the answer goes out, then the close), then reads and
    drops the rest up to LINGER_SECONDS / LINGER_BYTES, as Apache's lingering close does.
    """

    _linger = False  # the request being answered is an error: linger before closing
    _linger_until: float | None = None  # while lingering: when to give up
    _lingered = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # waitress reads as much as the socket's send buffer holds (megabytes on loopback)
        # from a response's temporary file for each send(); per connection, such reads left
        # the process megabytes bigger. Several small sends move the same bytes.
        self.sendbuf_len = min(self.sendbuf_len, OUTBUF_OVERFLOW)

    def service(self) -> None:
        # Set before the answer is written: the serving loop may close as soon as it is.
        if self.requests and self.requests[0].error is not None:
            self._linger = True
        super().service()

    def handle_close(self) -> None:
        if self._linger and self._linger_until is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            else:
                self._linger_until = time.monotonic() + LINGER_SECONDS
                self.will_close = False
                return
        super().handle_close()

    def readable(self) -> bool:
        return self._linger_until is not None or super().readable()

    def writable(self) -> bool:
        if self._linger_until is None:
            return bool(super().writable())
        # Writable wakes handle_write, which closes: at the deadline, or when waitress's
        # idle-connection cleanup asks (will_close).
        return self.will_close or time.monotonic() >= self._linger_until

    def handle_read(self) -> None:
        if self._linger_until is None:
            super().handle_read()
            return
        try:
            # recv() calls handle_close() itself at the client's end of input.
            self._lingered += len(self.recv(self.adj.recv_bytes))
        except OSError:
            super().handle_close()
            return
        if self._lingered > LINGER_BYTES and self.connected:
            super().handle_close()

    def handle_write(self) -> None:
        if self._linger_until is None:
            super().handle_write()
        elif self.connected:
            super().handle_close()


class DigestServer:
    """waitress serving an App on host:port in a background thread."""

    def __init__(self, app: App, host: str, port: int, *, threads: int = 4) -> None:
        try:
            self._server = waitress.create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                ident="feedwatch",
                connection_limit=CONNECTION_LIMIT,
                max_request_header_size=MAX_HEADER_BYTES,
                inbuf_overflow=INBUF_OVERFLOW,
                max_request_body_size=MAX_BODY_BYTES,
                outbuf_overflow=OUTBUF_OVERFLOW,
                outbuf_high_watermark=OUTBUF_HIGH_WATERMARK,
                channel_timeout=CHANNEL_TIMEOUT,
                cleanup_interval=CLEANUP_INTERVAL,
                # Behind a proxy or not, feedwatch builds no URLs from request headers.
                clear_untrusted_proxy_headers=True,
            )
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise FeedwatchError(f"cannot serve HTTP on {host}:{port}: {reason}") from None
        listeners = [d for d in self._map.values() if isinstance(d, BaseWSGIServer)]
        for listener in listeners:
            listener.channel_class = _Channel
        self._listener = listeners[0]
        host, port = self._listener.effective_host, self._listener.effective_port
        self.url = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    @property
    def _map(self) -> dict[int, Any]:
        # A single listener keeps its socket map as _map; several share one as map.
        return getattr(self._server, "_map", None) or self._server.map

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection, wait for the serving threads to end.

        Also when start() never ran (e.g. the daemon failed to start): the socket was bound
        and waitress's worker threads started when this object was made.
        """
        # Workers first: they wake the serving loop through its trigger after each response,
        # and must not write to it once closing the sockets has closed it (or reused its fd).
        self._server.task_dispatcher.shutdown(timeout=timeout)
        socket_map = self._map

        def close_all() -> None:
            for dispatcher in list(socket_map.values()):
                dispatcher.close()
            socket_map.clear()

        if not self._thread.is_alive():
            close_all()
            return
        # The serving loop is the only thread that may touch its sockets while it runs. The
        # trigger's lock is held until the wake-up is written: woken by anything else, the loop
        # could otherwise run close_all, which closes the trigger, before that write.
        trigger = self._listener.trigger
        with trigger.lock:
            trigger.thunks.append(close_all)
            trigger.pull_trigger()
        self._thread.join(timeout)
