"""HTTP GET for feeds: conditional, redirect-following, bounded in time and in size.

The only module that talks HTTP. Every failure comes out as a FetchError with a one-line message.
"""

from __future__ import annotations

import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType

import httpcore
import httpx

from feedwatch import __version__
from feedwatch.errors import HTTPStatusError, NetworkError, TooLargeError
from feedwatch.models import FetchResult, Validators

USER_AGENT = f"feedwatch/{__version__} (+https://github.com/feedwatch/feedwatch)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})


class Fetcher:
    """One pooled HTTP client, safe to share between threads fetching at the same time."""

    def __init__(
        self, timeout: float, max_bytes: int = 20 * 1024 * 1024, user_agent: str = USER_AGENT
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=timeout,
            # Redirects are followed in fetch(), which needs each hop's status and URL.
            follow_redirects=False,
            # No cookies kept: the client is shared by every feed and page for the process's
            # life, and would replay one site's cookies (tracking ids, sessions) to it forever.
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            transport=_DeadlineTransport(),
            headers={
                "User-Agent": user_agent,
                "Accept": ACCEPT,
                # Only what _Decoder can undo step by step under the size cap.
                "Accept-Encoding": "gzip, deflate",
            },
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        validators: Validators | None = None,
        check_url: Callable[[str], None] | None = None,
    ) -> FetchResult:
        """GET `url`, conditionally when `validators` are given, following up to 5 redirects.

        Returns 2xx responses with the decoded body, and 304 with an empty one. Raises
        HTTPStatusError for any other status, TooLargeError past `max_bytes` of decoded body,
        NetworkError for everything else, including running past `timeout` seconds in total
        (connecting, sending, waiting for headers and reading the body, over every hop).
        `check_url` is called with `url` and each redirect target before connecting to it;
        a FetchError it raises ends the fetch.
        """
        sent = validators or Validators()
        headers: dict[str, str] = {}
        if sent.etag:
            headers["If-None-Match"] = sent.etag
        if sent.last_modified:
            headers["If-Modified-Since"] = sent.last_modified
        token = _deadline.set(time.monotonic() + self.timeout)
        try:
            return self._follow(url, headers, sent, check_url)
        except httpx.TimeoutException as exc:
            raise NetworkError(f"timed out after {self.timeout:g}s", url) from exc
        except httpx.UnsupportedProtocol as exc:
            raise NetworkError("not an http:// or https:// URL", url) from exc
        except httpx.InvalidURL as exc:
            raise NetworkError(f"invalid URL: {_one_line(exc)}", url) from exc
        except httpx.HTTPError as exc:
            raise NetworkError(_explain(exc), url) from exc
        finally:
            _deadline.reset(token)

    def _follow(
        self,
        url: str,
        headers: dict[str, str],
        sent: Validators,
        check_url: Callable[[str], None] | None,
    ) -> FetchResult:
        current = httpx.URL(url)
        moved: str | None = None
        only_permanent = True
        for _ in range(MAX_REDIRECTS + 1):
            if check_url is not None:
                check_url(str(current))
            # Conditional headers go to every hop: a redirect may lead to the resource
            # whose validators we hold.
            with self._client.stream("GET", current, headers=headers) as response:
                location = response.headers.get("location")
                if response.status_code not in REDIRECTS or not location:
                    return self._result(url, response, sent, moved)
                current = response.url.join(location.strip())
                if only_permanent and response.status_code in PERMANENT_REDIRECTS:
                    moved = str(current)
                else:
                    only_permanent = False
        raise NetworkError(f"too many redirects (more than {MAX_REDIRECTS})", url)

    def _result(
        self, url: str, response: httpx.Response, sent: Validators, moved: str | None
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
            return FetchResult(final_url, status, headers, b"", validators, moved, max_age)
        if status >= 300:  # a 3xx still here had no usable Location
            reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
            message = f"HTTP {status} {reason}".strip()
            if final_url != url:
                message += f" (redirected to {final_url})"
            retry_after = retry_after_time(headers.get("retry-after"), datetime.now(UTC))
            raise HTTPStatusError(message, url, status, retry_after)
        content = self._read_body(url, response)
        validators = Validators(headers.get("etag"), headers.get("last-modified"))
        return FetchResult(final_url, status, headers, content, validators, moved, max_age)

    def _read_body(self, url: str, response: httpx.Response) -> bytes:
        try:
            decoder = _Decoder(response.headers.get("content-encoding", ""))
        except ValueError as exc:
            raise NetworkError(str(exc), url) from exc
        chunks: list[bytes] = []
        size = 0
        for raw in response.iter_raw():
            room = self.max_bytes - size
            try:
                data = decoder.decode(raw, room + 1)
            except zlib.error as exc:
                raise NetworkError(f"corrupt {decoder.coding} body: {exc}", url) from exc
            if len(data) > room:
                raise TooLargeError(f"body larger than {self.max_bytes} bytes", url)
            chunks.append(data)
            size += len(data)
        return b"".join(chunks)


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
        timeout = _within(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport on a connection pool whose sockets keep the fetch's deadline."""

    def __init__(self) -> None:
        super().__init__()
        limits = httpx.Limits()
        # httpx has no setting for the network layer; httpcore's pool takes one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


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
