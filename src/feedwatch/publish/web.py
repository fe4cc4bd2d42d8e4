"""feedwatch's own HTTP server: the web view, every digest feed, /healthz and /metrics.

A WSGI app served by waitress, routed by Werkzeug (the only module that imports either). The
feeds are read from the store on each request, as the publishing process last saved them
(whichever process that is), so a new digest is served at once by every process sharing the
database; what was read is kept while its ETag stays the same, so revalidations read no body.
A feed the store has none of (a database an older feedwatch published to), or every feed
while the store cannot be read, is served from its local file, kept while the file stays the
same. The pages (/, /shows/<slug>/, /search, /feeds) are rendered from the store on each
request (publish/pages.py); while the store cannot be read they answer 503 and the feeds and
/healthz go on.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from feedwatch import __version__, opml, stories
from feedwatch.errors import FeedwatchError
from feedwatch.metrics import Metrics
from feedwatch.models import DigestItem, entity_tag
from feedwatch.publish import feeds, pages

if TYPE_CHECKING:
    from feedwatch.config import Config
    from feedwatch.store import Store

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Answer = tuple[int, list[tuple[str, str]], bytes]

FEED_TYPE = "application/rss+xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
RETRY_SECONDS = 10  # told to clients asking for the digest before it first exists

# What waitress may hold per connection, so that slow or non-reading clients cannot grow the
# process: at most CONNECTION_LIMIT connections, each keeping in memory at most
# MAX_HEADER_BYTES of request head, INBUF_OVERFLOW of body and OUTBUF_OVERFLOW of response
# (the rest of a response waits in a temporary file). 100 x (8 + 64 + 64) KiB = 13.3 MiB
# for the buffers, on top of the one copy of each feed the App keeps (plain and gzipped).
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
# The pages allow nothing but this server's own stylesheet, icon and search form.
_PAGE_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
_STATIC = {"favicon.ico": "image/x-icon", "style.css": "text/css; charset=utf-8"}
_FEED_FORMATS = "any(xml, atom, json)"
_GET = ["GET", "HEAD"]


def _get(path: str, **options: Any) -> Rule:
    return Rule(path, methods=_GET, **options)


_ROUTES = Map(
    [
        _get("/", endpoint="digest"),
        _get("/index.html", endpoint="digest"),
        _get("/shows/<show>/", endpoint="show"),
        _get("/shows/<show>/index.html", endpoint="show"),
        _get(f"/feed.<{_FEED_FORMATS}:ext>", endpoint="feed"),
        _get(f"/shows/<show>/feed.<{_FEED_FORMATS}:ext>", endpoint="feed"),
        _get(f"/roundup.<{_FEED_FORMATS}:ext>", endpoint="feed"),
        _get("/feed.xsl", endpoint="stylesheet"),
        _get("/opml.xml", endpoint="opml"),
        _get("/search", endpoint="search"),
        _get("/feeds", endpoint="feeds"),
        _get("/favicon.ico", endpoint="static", defaults={"name": "favicon.ico"}),
        _get("/style.css", endpoint="static", defaults={"name": "style.css"}),
        _get("/healthz", endpoint="healthz"),
        _get("/metrics", endpoint="metrics"),
    ],
    strict_slashes=True,
    merge_slashes=False,
)


def _route(request: Request) -> str:
    """The route a request took, as declared ("/shows/<show>/"), for /metrics: one label per
    route, so that scanners cannot grow the label set; "other" when none."""
    try:
        rule, _ = _ROUTES.bind_to_environ(request.environ).match(return_rule=True)
    except HTTPException:  # no route, another method, or a redirect to add a slash
        return "other"
    # "/feed.<any(xml, atom, json):ext>" reads as "/feed.<ext>".
    return _CONVERTER.sub(r"<\1>", str(rule.rule))


_CONVERTER = re.compile(r"<(?:[^<>:]+:)?(\w+)>")


@dataclass(frozen=True, slots=True)
class _Digest:
    """One version of a feed, as served."""

    stamp: tuple[int, int, int] | None  # a file's st_ino, st_mtime_ns, st_size; None: stored
    body: bytes
    gzipped: bytes
    etag: str  # of the plain body; the gzip variant's tag adds "-gzip"
    last_modified: str
    modified: int  # whole seconds, as Last-Modified says

    @classmethod
    def of(cls, stamp: tuple[int, int, int] | None, body: bytes, modified: float) -> _Digest:
        return cls(
            stamp=stamp,
            body=body,
            # mtime=0: the same digest always compresses to the same bytes.
            gzipped=gzip.compress(body, mtime=0),
            etag=entity_tag(body),
            last_modified=formatdate(modified, usegmt=True),
            modified=int(modified),
        )


class App:
    """The WSGI application; GET and HEAD only.

    With `config` and `store`: the web view, every feed `served_files` names (from the
    store, else from its file), /feed.xsl, /opml.xml and /favicon.ico. Without them: /feed.xml
    alone, from its file. Always /healthz and /metrics. `store` raises StoreError while the
    database cannot be read; the pages then answer 503, the feeds come from their files.
    """

    def __init__(
        self,
        digest_path: Callable[[], Path],
        metrics: Metrics,
        health: Callable[[], Mapping[str, Any]] = dict,
        *,
        config: Callable[[], Config] | None = None,
        store: Callable[[], Store] | None = None,
    ) -> None:
        # Callables: a config reload may move the digest.
        self._digest_path = digest_path
        self._metrics = metrics
        self._health = health
        self._config = config
        self._store = store
        self._cache: dict[Path, _Digest] = {}
        self._stored: dict[str, _Digest] = {}  # by the name each feed is stored under
        self._cache_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        status, headers, body = self._answer(request)
        if dict(headers).get("Content-Type") == HTML_TYPE and len(body) > 1024:
            # Pages are made afresh for each request, so compressed afresh too.
            headers.append(("Vary", "Accept-Encoding"))
            if accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
                headers.append(("Content-Encoding", "gzip"))
                body = gzip.compress(body, mtime=0)
        self._metrics.request(_route(request), status)
        if status != 304:
            headers.append(("Content-Length", str(len(body))))
        response = Response(_pieces(body), status=status, headers=headers, direct_passthrough=True)
        response.autocorrect_location_header = False
        # Werkzeug answers HEAD and 304 without a body itself.
        return response(environ, start_response)

    def _answer(self, request: Request) -> Answer:
        try:
            endpoint, values = _ROUTES.bind_to_environ(request.environ).match()
        except MethodNotAllowed:
            return 405, [("Allow", ", ".join(_GET)), ("Content-Type", "text/plain")], (
                b"use GET or HEAD\n"
            )
        except RequestRedirect as moved:
            # To the path with its slash (/shows/x -> /shows/x/), on this same host: the
            # Location is a path, never built from the request's Host header.
            parts = urlsplit(moved.new_url)
            location = parts.path + (f"?{parts.query}" if parts.query else "")
            return 308, [("Location", location), ("Content-Type", "text/plain")], b""
        except NotFound:
            return self._not_found()
        if endpoint == "healthz":
            return self._healthz()
        if endpoint == "metrics":
            body, content_type = self._metrics.exposition(request.headers.get("Accept", ""))
            return 200, [("Content-Type", content_type), ("Cache-Control", "no-store")], body
        if self._config is None or self._store is None:
            if endpoint == "feed" and request.path == "/feed.xml":
                return self._feed(request.environ, self._read_feed(self._digest_path()), FEED_TYPE)
            return self._not_found()
        config = self._config()
        if endpoint == "feed":
            return self._served_feed(request, config)
        if endpoint == "stylesheet":
            return 200, [("Content-Type", f"{feeds.XSL_TYPE}; charset=utf-8")], feeds.stylesheet()
        if endpoint == "opml":
            content_type = f"{opml.MEDIA_TYPE}; charset=utf-8"
            return 200, [("Content-Type", content_type)], opml.render_config(config)
        if endpoint == "static":
            name = values["name"]
            headers = [("Content-Type", _STATIC[name]), ("Cache-Control", "max-age=86400")]
            return 200, headers, pages.static(name)
        return self._page(endpoint, values, request, config, self._store)

    def _served_feed(self, request: Request, config: Config) -> Answer:
        digest = config.digest
        shows = [show.name for show in config.shows]
        served = feeds.served_files(
            self._digest_path(),
            digest.formats,
            digest.per_show,
            shows,
            # Roundups written once (`once --roundup`) stay served after digest.roundup is off.
            roundup=True,
        )
        files = {path for path, _ in served.values()}
        with self._cache_lock:
            # A reload may have dropped shows or formats: their feeds are not kept any longer.
            for stale in [path for path in self._cache if path not in files]:
                del self._cache[stale]
            for gone in [name for name in self._stored if name not in served]:
                del self._stored[gone]
        name = request.path.removeprefix("/")
        found = served.get(name)
        if found is None:
            return self._not_found()
        path, media_type = found
        file_type = f"{media_type}; charset=utf-8"
        try:
            stored = self._stored_feed(name)
        except FeedwatchError as exc:
            log.warning("feed %s: %s", request.path, exc)
            from_file = self._read_feed(path)
            if from_file is None:
                return _unavailable(b"the digest cannot be read from the database just now\n")
            return self._feed(request.environ, from_file, file_type)
        if stored is None:  # no publish since the database was made or upgraded: the file
            return self._feed(request.environ, self._read_feed(path), file_type)
        digest, stored_type = stored
        return self._feed(request.environ, digest, f"{stored_type}; charset=utf-8")

    def _page(
        self,
        endpoint: str,
        values: Mapping[str, str],
        request: Request,
        config: Config,
        opened: Callable[[], Store],
    ) -> Answer:
        site = pages.Site.of(config)
        try:
            store = opened()
            if endpoint in ("digest", "show"):
                show = None
                if endpoint == "show":
                    show = site.show(values["show"])
                    if show is None:
                        return self._not_found(site)
                items = [pages.digest_item(site, item) for item in _digest_items(store, config)]
                if show is not None:
                    items = [item for item in items if show.name in {m.show for m in item.matches}]
                return _html(200, pages.digest_page(site, items, show))
            if endpoint == "search":
                query = " ".join(request.args.get("q", "").split())[: pages.MAX_QUERY]
                if not query:
                    return _html(200, pages.search_page(site, "", None))
                hits = store.search(query, pages.SEARCH_LIMIT)
                found = [pages.search_item(site, hit, query) for hit in hits]
                return _html(200, pages.search_page(site, query, found))
            rows = pages.feed_rows(config, store.feed_reports(), datetime.now(UTC))
            return _html(200, pages.feeds_page(site, rows))
        except FeedwatchError as exc:
            log.warning("page %s: %s", request.path, exc)
            page = pages.error_page(
                site,
                503,
                "Cannot read the database",
                "feedwatch cannot read its database just now; the feeds are still served. "
                "Try again in a moment.",
            )
            status, headers, body = _html(503, page)
            return status, [*headers, ("Retry-After", str(RETRY_SECONDS))], body

    def _not_found(self, site: pages.Site | None = None) -> Answer:
        if self._config is None:
            return 404, [("Content-Type", "text/plain")], b"not found\n"
        site = site or pages.Site.of(self._config())
        page = pages.error_page(site, 404, "Not found", "There is no page at this address.")
        return _html(404, page)

    def _feed(
        self, environ: Mapping[str, Any], digest: _Digest | None, content_type: str
    ) -> Answer:
        if digest is None:
            return _unavailable(b"the digest has not been written yet\n")
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
        headers.append(("Content-Type", content_type))
        if use_gzip:
            headers.append(("Content-Encoding", "gzip"))
            return 200, headers, digest.gzipped
        return 200, headers, digest.body

    def _healthz(self) -> Answer:
        """200 and "status": "ok"; 503, "failing" and the reasons under "problems" while the
        store fails (health()'s own "problems") or the last digest rewrite failed, since the
        digest served is then older than what was stored."""
        updated = self._digest_updated()
        health = self._health()
        problems = list(health.get("problems") or ())
        if health.get("last_publish_error"):
            problems.append(f"cannot publish the digest: {health['last_publish_error']}")
        status = {
            "status": "failing" if problems else "ok",
            "version": __version__,
            "digest_updated": updated.isoformat() if updated else None,
            **health,
            "problems": problems,
        }
        body = json.dumps(status).encode("utf-8") + b"\n"
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        return (503 if problems else 200), headers, body

    def _digest_updated(self) -> datetime | None:
        """When the combined RSS feed served was published: as stored, else its file's date."""
        digest = None
        if self._store is not None:
            try:
                found = self._stored_feed(feeds.feed_path("rss"))
            except FeedwatchError:
                found = None  # the store's trouble is health()'s to report
            digest = found[0] if found else None
        digest = digest or self._read_feed(self._digest_path())
        return datetime.fromtimestamp(digest.modified, UTC) if digest else None

    def _stored_feed(self, name: str) -> tuple[_Digest, str] | None:
        """The feed stored under `name`, and its media type; None while none is stored.
        Raises FeedwatchError while the store cannot be read."""
        assert self._store is not None
        with self._cache_lock:
            cached = self._stored.get(name)
        found = self._store().published_feed(name, cached.etag if cached else None)
        if found is None:
            return None
        if found.not_modified:  # the version cached
            assert cached is not None
            return cached, found.media_type
        digest = _Digest.of(None, found.body, found.updated.timestamp())
        with self._cache_lock:
            self._stored[name] = digest
        return digest, found.media_type

    def _read_feed(self, path: Path) -> _Digest | None:
        """The feed file at `path` as it is on disk now; None while there is none to read."""
        try:
            with path.open("rb") as handle:
                info = os.fstat(handle.fileno())
                stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
                with self._cache_lock:
                    cached = self._cache.get(path)
                    if cached is not None and cached.stamp == stamp:
                        return cached
                body = handle.read()
        except OSError:
            return None
        digest = _Digest.of(stamp, body, info.st_mtime)
        with self._cache_lock:
            self._cache[path] = digest
        return digest


def _digest_items(store: Store, config: Config) -> list[DigestItem]:
    """The digest's items as the pipeline last published them: its stories, newest first,
    with the summaries kept for the current summary settings (SummarySettings.key)."""
    settings = config.summary.key
    found = store.digest_stories(config.digest.max_items, settings)
    return [stories.digest_item(story) for story in found]


def _html(status: int, body: bytes) -> Answer:
    headers = [("Content-Type", HTML_TYPE), ("Cache-Control", "no-cache"), *_PAGE_HEADERS]
    return status, headers, body


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


def _unavailable(message: bytes) -> Answer:
    """503 with a plain-text reason, to be asked again in RETRY_SECONDS."""
    return 503, [("Content-Type", "text/plain"), ("Retry-After", str(RETRY_SECONDS))], message


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
