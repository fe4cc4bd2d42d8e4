"""HTTP GET for feeds: conditional, redirect-following, bounded in time and in size.

The only module that talks HTTP. Every failure comes out as a FetchError with a one-line message,
but for requests cut short by close(): AbandonedError, which nothing records.

Requests go through the proxies HTTP_PROXY, HTTPS_PROXY and ALL_PROXY name, but for hosts in
NO_PROXY; every request holds one of its host's slots (HostSlots) while it runs.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpcore
import httpx

from feedwatch import __version__
from feedwatch.errors import (
    AbandonedError,
    ConfigError,
    FetchError,
    HTTPStatusError,
    NetworkError,
    TooLargeError,
)
from feedwatch.models import FetchResult, Validators
from feedwatch.poll.pool import HostSlots, host_of
from feedwatch.text import printable

# Fetcher.fetch's check_url: raises a FetchError for a URL not to be fetched; may return the
# addresses its host may be connected to (netguard.AddressGuard does).
CheckURL = Callable[[str], Sequence[str] | None]
USER_AGENT = f"feedwatch/{__version__} (+https://github.com/feedwatch/feedwatch)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.9, */*;q=0.1"
)
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
# A body not kept (redirect, error page) up to this long is read to keep its connection.
DRAIN_LIMIT = 64 * 1024
# Hosts whose idle connections are kept for their next request; past this many, those asked
# for least recently close theirs.
MAX_HOST_POOLS = 128
# A host name as DNS takes it (IDNA-encoded; "_" appears in real ones); IPv6 literals aside.
_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class Fetcher:
    """One pooled HTTP client, safe to share between threads fetching at the same time.

    Raises ConfigError when a proxy the environment names cannot be used.
    """

    def __init__(
        self, timeout: float, max_bytes: int = 20 * 1024 * 1024, user_agent: str = USER_AGENT
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._slots = HostSlots()
        self._closed = False
        # Requests go straight to the transport, not through an httpx.Client: redirects are
        # followed in fetch(), which needs each hop's status and URL; no cookies are kept, as
        # one fetcher serves every feed and page for the process's life and would replay a
        # site's tracking ids to it forever; and the client's layers for what is not used
        # cost a third of a 304's CPU.
        self._transport = _DeadlineTransport(urllib.request.getproxies_environment())
        self._headers = {
            "User-Agent": user_agent,
            "Accept": ACCEPT,
            # Only what _Decoder can undo step by step under the size cap.
            "Accept-Encoding": "gzip, deflate",
        }
        self._timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def limit_per_host(self, per_host: int | None) -> None:
        """At most `per_host` requests at once to any one host (None: no limit), counted over
        every fetch through this fetcher, from whichever thread; running ones carry on."""
        self._slots.set_limit(per_host)

    def close(self) -> None:
        """Close the connections; fetches still running end in AbandonedError."""
        self._closed = True
        self._transport.close()

    def fetch(
        self,
        url: str,
        validators: Validators | None = None,
        check_url: CheckURL | None = None,
    ) -> FetchResult:
        """GET `url`, conditionally when `validators` are given, following up to 5 redirects.

        Returns 2xx responses with the decoded body, and 304 with an empty one. Raises
        HTTPStatusError for any other status, TooLargeError past `max_bytes` of decoded body,
        NetworkError for everything else, including running past `timeout` seconds in total
        (connecting, sending, waiting for headers and reading the body, over every hop).
        `check_url` is called with `url` and each redirect target before connecting to it;
        a FetchError it raises ends the fetch, and the addresses it returns, if any, are the
        ones a new connection to that host is made to (no second lookup). Waiting for a slot
        on the host (see limit_per_host) does not count against `timeout` before the first
        request.
        Raises AbandonedError, whatever went wrong, once close() has been called.
        """
        sent = validators or Validators()
        headers: dict[str, str] = {}
        if sent.etag:
            headers["If-None-Match"] = sent.etag
        if sent.last_modified:
            headers["If-Modified-Since"] = sent.last_modified
        try:
            if self._closed:
                raise AbandonedError(url)
            return self._follow(url, headers, sent, check_url)
        except Exception as exc:
            if self._closed:
                # A closed client fails what it was doing in many ways ("Bad file
                # descriptor", "client has been closed"): none of them is the server's answer.
                raise AbandonedError(url) from None
            if isinstance(exc, FetchError):
                # Its message quotes the server (reason phrase, Location, host names) and
                # becomes the feed's stored error and a log line: nothing in it may drive a
                # terminal.
                exc.args = (printable(str(exc)),)
            raise

    def _follow(
        self,
        url: str,
        headers: dict[str, str],
        sent: Validators,
        check_url: CheckURL | None,
    ) -> FetchResult:
        # The URL being fetched once a redirect has been followed, None before.
        hop: str | None = None
        moved: str | None = None
        only_permanent = True
        token = None
        try:
            current = httpx.URL(url)
            for _ in range(MAX_REDIRECTS + 1):
                addresses = None if check_url is None else _check(check_url, str(current), url, hop)
                with _pinning(current, addresses), self._slots.hold(host_of(str(current))):
                    if token is None:
                        token = _deadline.set(time.monotonic() + self.timeout)
                    # Conditional headers go to every hop: a redirect may lead to the resource
                    # whose validators we hold.
                    with self._get(current, headers) as response:
                        location = response.headers.get("location")
                        if response.status_code not in REDIRECTS or not location:
                            return self._result(url, hop, response, sent, moved)
                        _drain(response)
                        current = _redirect_target(response)
                        hop = str(current)
                        if only_permanent and response.status_code in PERMANENT_REDIRECTS:
                            moved = hop
                        else:
                            only_permanent = False
        except _BadRedirect as exc:
            raise NetworkError(str(exc), url) from None
        except httpx.TimeoutException as exc:
            raise NetworkError(_at(f"timed out after {self.timeout:g}s", hop), url) from exc
        except httpx.UnsupportedProtocol as exc:
            raise NetworkError(_at("not an http:// or https:// URL", hop), url) from exc
        except httpx.InvalidURL as exc:
            raise NetworkError(_at(f"invalid URL: {_one_line(exc)}", hop), url) from exc
        except httpx.HTTPError as exc:
            raise NetworkError(_at(_explain(exc), hop), url) from exc
        finally:
            if token is not None:
                _deadline.reset(token)
        raise NetworkError(_at(f"too many redirects (more than {MAX_REDIRECTS})", hop), url)

    @contextmanager
    def _get(self, url: httpx.URL, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """One GET of `url`, its body left to read; closed (its connection given back) after."""
        request = httpx.Request(
            "GET", url, headers={**self._headers, **headers}, extensions={"timeout": self._timeouts}
        )
        response = self._transport.handle_request(request)
        response.request = request
        try:
            yield response
        finally:
            response.close()

    def _result(
        self,
        url: str,
        hop: str | None,
        response: httpx.Response,
        sent: Validators,
        moved: str | None,
    ) -> FetchResult:
        status = response.status_code
        headers = {name.lower(): value for name, value in response.headers.items()}
        final_url = str(response.url)
        max_age = _max_age(headers.get("cache-control", ""))
        if status == 304:
            # A 304 may omit the validators; the ones sent are still the current ones.
            validators = Validators(
                etag=headers.get("etag") or sent.etag,
                last_modified=headers.get("last-modified") or sent.last_modified,
            )
            _drain(response)
            return FetchResult(final_url, status, headers, b"", validators, moved, max_age)
        if status >= 300:  # a 3xx still here had no usable Location
            _drain(response)
            reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
            message = _at(f"HTTP {status} {reason}".strip(), hop)
            retry_after = retry_after_time(headers.get("retry-after"), datetime.now(UTC))
            raise HTTPStatusError(message, url, status, retry_after)
        content = self._read_body(url, hop, response)
        validators = Validators(headers.get("etag"), headers.get("last-modified"))
        return FetchResult(final_url, status, headers, content, validators, moved, max_age)

    def _read_body(self, url: str, hop: str | None, response: httpx.Response) -> bytes:
        try:
            decoder = _Decoder(response.headers.get("content-encoding", ""))
        except ValueError as exc:
            raise NetworkError(_at(str(exc), hop), url) from exc
        chunks: list[bytes] = []
        size = 0
        for raw in response.iter_raw():
            room = self.max_bytes - size
            try:
                data = decoder.decode(raw, room + 1)
            except zlib.error as exc:
                message = f"corrupt {decoder.coding} body: {exc}"
                raise NetworkError(_at(message, hop), url) from exc
            if len(data) > room:
                raise TooLargeError(_at(f"body larger than {self.max_bytes} bytes", hop), url)
            chunks.append(data)
            size += len(data)
        return b"".join(chunks)


class _BadRedirect(Exception):
    """A redirect whose Location is no URL to follow; the message names it."""


def _redirect_target(response: httpx.Response) -> httpx.URL:
    """The absolute URL a redirect response points to; _BadRedirect unless it is usable."""
    location = response.headers["location"].strip()
    try:
        target = response.url.join(location)
    except httpx.InvalidURL:
        raise _BadRedirect(f"redirected to an invalid URL {location!r}") from None
    if target.scheme not in ("http", "https"):
        raise _BadRedirect(f"redirected to {location!r}, not an http:// or https:// URL")
    host = target.raw_host.decode("ascii", "replace")
    # httpx percent-encodes a space in a host name and takes any port number; either would
    # only fail later as a host that "could not be resolved".
    if not (":" in host or _HOST_NAME.fullmatch(host)) or (target.port or 0) > 65535:
        raise _BadRedirect(f"redirected to an invalid URL {location!r}")
    return target


def _check(
    check_url: CheckURL, current: str, url: str, hop: str | None
) -> Sequence[str] | None:
    """Fetcher.fetch's `check_url` on `current`, giving what it returns; what it raises names
    the hop, if a redirect."""
    try:
        return check_url(current)
    except FetchError as exc:
        if hop is None:
            raise
        # The same error, its class kept (a blocked address is not a network failure), told
        # against the URL fetched and naming the redirect target it is about.
        exc.args = (_at(str(exc), hop),)
        exc.url = url
        raise


@contextmanager
def _pinning(url: httpx.URL, addresses: Sequence[str] | None) -> Iterator[None]:
    """While it lasts, connections to `url`'s host from this thread go to `addresses`."""
    # As httpcore names the host to the network backend: IDNA-encoded, an IPv6 address bare.
    token = _pinned.set((url.raw_host.decode("ascii"), tuple(addresses)) if addresses else None)
    try:
        yield
    finally:
        _pinned.reset(token)


def _at(message: str, hop: str | None) -> str:
    """`message` naming the redirect target it is about, if the failure came after a redirect."""
    return message if hop is None else f"{message} (redirected to {hop})"


def retry_after_time(value: str | None, now: datetime) -> datetime | None:
    """A Retry-After header (delay-seconds or an HTTP-date) as a UTC time; None if unusable."""
    value = (value or "").strip()
    if value.isdecimal():
        # Past ten digits (three centuries) it is no usable answer, and int() refuses thousands.
        return now + timedelta(seconds=int(value)) if len(value) <= 10 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # An HTTP-date is always GMT; parsedate leaves "-0000" naive.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _max_age(cache_control: str) -> timedelta | None:
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.strip().lower() == "max-age":
            seconds = value.strip().strip('"')
            if seconds.isdecimal() and len(seconds) <= 10 and int(seconds) > 0:
                return timedelta(seconds=int(seconds))
            return None
    return None


# The deadline of the fetch running in this thread (time.monotonic()), None outside one.
_deadline: ContextVar[float | None] = ContextVar("feedwatch_fetch_deadline", default=None)
# The host being fetched and the addresses its check_url approved: a connection to that host
# goes to one of them, not to what a second lookup of its name might answer.
_pinned: ContextVar[tuple[str, tuple[str, ...]] | None] = ContextVar(
    "feedwatch_fetch_pinned", default=None
)


def _within(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """`timeout` for one socket operation, shortened to what is left of the fetch's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the fetch's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every operation ends by the fetch's deadline.

    httpx's timeouts apply to each read, so a server trickling its headers or body one byte at
    a time would never trip them; here each read may only wait for what is left of the total.
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _within(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _within(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        pinned = _pinned.get()
        *first, last = pinned[1] if pinned is not None and pinned[0] == host else (host,)
        # Each address in turn, as a lookup's would be: the last one's failure is the fetch's.
        for address in first:
            with suppress(httpcore.ConnectError):
                return self._connect(address, port, timeout, local_address, socket_options)
        return self._connect(last, port, timeout, local_address, socket_options)

    def _connect(
        self,
        host: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.NetworkStream:
        timeout = _within(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.BaseTransport):
    """httpx's transport rebuilt on httpcore's own pools, whose public constructors take the
    network layer: every socket, direct or to a proxy, keeps the fetch's deadline.

    `proxies` as urllib.request.getproxies_environment() gives them: httpx reads the
    environment only for its own default transports, which cannot keep the deadline.
    """

    def __init__(self, proxies: dict[str, str]) -> None:
        limits = httpx.Limits()
        options: dict[str, Any] = {
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": _DeadlineBackend(),
        }
        self._proxies = proxies
        self._direct = _HostPools(options)
        # One pool per proxy, by the scheme of the URLs it carries.
        self._via: dict[str, httpcore.HTTPProxy] = {}
        built: dict[str, httpcore.HTTPProxy] = {}
        for scheme in ("http", "https"):
            named_by = scheme if proxies.get(scheme) else "all"
            address = proxies.get(named_by)
            if not address:
                continue
            if address not in built:
                through = {**options, "ssl_context": self._direct.tls()}
                built[address] = _proxy_pool(f"{named_by.upper()}_PROXY", address, through)
            self._via[scheme] = built[address]
        self._proxied = list(built.values())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        pool = self._via.get(url.scheme)
        if pool is None or urllib.request.proxy_bypass_environment(url.host, self._proxies):
            pool = self._direct.of(url)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = pool.handle_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),  # type: ignore[arg-type]  # the sync pools' is sync
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._direct.close()
        for pool in self._proxied:
            pool.close()


class _HostPools:
    """One httpcore pool per origin (scheme, host, port), for requests that go direct.

    Not one pool for all: httpcore's pool looks at each of its connections, several times
    over, for every request it takes and every response it finishes, so shared by a config of
    a hundred hosts it cost 4 ms of CPU per request (a warm cycle of bench/poll.py over 100
    hosts: 5.7 s of CPU, 2.5 s with these); and holding its 100 connections, it closes one to
    open the next, so a config of more hosts reconnected for every poll. Past MAX_HOST_POOLS,
    the pools asked for least recently whose connections are all idle close them.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], httpcore.ConnectionPool]
        self._pools = OrderedDict()
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._tls_lock = threading.Lock()

    def tls(self) -> ssl.SSLContext:
        """The TLS context every https:// pool shares, made for the first: loading the CA
        bundle takes 20 ms, which a config of http:// feeds never needs to pay."""
        with self._tls_lock:
            if self._tls is None:
                self._tls = httpx.create_ssl_context()
            return self._tls

    def of(self, url: httpx.URL) -> httpcore.ConnectionPool:
        origin = (url.raw_scheme, url.raw_host, url.port)
        with self._lock:
            pool = self._pools.pop(origin, None)
            if pool is None:
                options = self._options
                if url.raw_scheme == b"https":
                    options = {**options, "ssl_context": self.tls()}
                pool = httpcore.ConnectionPool(**options)
            self._pools[origin] = pool  # the most recently asked for, last
            evicted = []
            if (surplus := len(self._pools) - MAX_HOST_POOLS) > 0:
                idle = [key for key in list(self._pools)[:-1] if _idle(self._pools[key])]
                evicted = [self._pools.pop(key) for key in idle[:surplus]]
        for stale in evicted:
            stale.close()
        return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()


def _idle(pool: httpcore.ConnectionPool) -> bool:
    return all(connection.is_idle() or connection.is_closed() for connection in pool.connections)


def _proxy_pool(name: str, address: str, options: dict[str, Any]) -> httpcore.HTTPProxy:
    """A pool through the proxy at `address`, as the environment variable `name` gives it."""
    try:
        proxy = httpx.Proxy(address if "://" in address else f"http://{address}")
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"{name}: cannot use proxy {address!r}: {_one_line(exc)}") from None
    if proxy.url.scheme not in ("http", "https"):
        raise ConfigError(
            f"{name}: cannot use proxy {address!r}: only http:// and https:// proxies are "
            "supported"
        )
    return httpcore.HTTPProxy(
        proxy_url=httpcore.URL(
            scheme=proxy.url.raw_scheme,
            host=proxy.url.raw_host,
            port=proxy.url.port,
            target=proxy.url.raw_path,
        ),
        proxy_auth=proxy.raw_auth,
        proxy_headers=proxy.headers.raw,
        **options,
    )


def _drain(response: httpx.Response) -> None:
    """Read what is left of a response that is not kept (a 304's nothing, a redirect's or
    an error's short page), so that its connection serves the next request: httpcore closes
    one whose response was not read to the end. A longer body is left, and its connection
    closed."""
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > DRAIN_LIMIT:
                return
    except httpx.HTTPError:
        # Only the connection is lost; the answer was already read.
        return


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


# httpcore's errors as the httpx ones Fetcher._follow tells apart, most specific first.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.NetworkError, httpx.NetworkError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _HTTPX_ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _Decoder:
    """Undoes a Content-Encoding in bounded steps, so a compression bomb stops at the cap.

    httpx's own decoders inflate each network chunk whole: 64 KiB of gzip can become 64 MiB.
    """

    def __init__(self, content_encoding: str) -> None:
        codings = [
            coding
            for coding in (part.strip().lower() for part in content_encoding.split(","))
            if coding and coding != "identity"
        ]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise ValueError(f"unsupported Content-Encoding: {content_encoding}")
        self.coding = codings[0] if codings else None
        self._zlib: zlib._Decompress | None = None
        self._started = False
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)

    def decode(self, data: bytes, limit: int) -> bytes:
        """The decoded bytes of `data`, at most `limit` of them when compressed.

        The caller passes one byte more than it accepts and stops once it gets that many.
        Below the limit zlib consumes all its input, so nothing is ever left to flush.
        """
        if self._zlib is None:
            return data
        first = not self._started
        self._started = True
        try:
            return self._zlib.decompress(data, limit)
        except zlib.error:
            if not (first and self.coding == "deflate"):
                raise
            # "deflate" should be zlib-wrapped, but many servers send a raw deflate stream.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._zlib.decompress(data, limit)


def _explain(exc: httpx.HTTPError) -> str:
    """A one-line reason for a transport failure, from the OS error underneath when there is one."""
    root: BaseException = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    if isinstance(root, socket.gaierror):
        return "host name could not be resolved"
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {root.verify_message}"
    if isinstance(root, ssl.SSLError):
        return f"TLS error: {root.reason or _one_line(root)}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"HTTP protocol error: {_one_line(exc)}"
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    return _one_line(exc) or type(exc).__name__


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
