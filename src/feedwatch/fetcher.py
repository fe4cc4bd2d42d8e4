"""HTTP GET for feeds: conditional, redirect-following, bounded in time and in size.

The only module that talks HTTP. Every failure comes out as a FetchError with a one-line message.
"""

from __future__ import annotations

import socket
import ssl
import time
import zlib
from types import TracebackType

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


class Fetcher:
    """One pooled HTTP client, safe to share between threads fetching at the same time."""

    def __init__(
        self, timeout: float, max_bytes: int = 20 * 1024 * 1024, user_agent: str = USER_AGENT
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
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

    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """GET `url`, conditionally when `validators` are given.

        Returns 2xx responses with the decoded body, and 304 with an empty one. Raises
        HTTPStatusError for any other status, TooLargeError past `max_bytes` of decoded body,
        NetworkError for everything else, including running past `timeout` seconds in total.
        """
        sent = validators or Validators()
        headers: dict[str, str] = {}
        if sent.etag:
            headers["If-None-Match"] = sent.etag
        if sent.last_modified:
            headers["If-Modified-Since"] = sent.last_modified
        # httpx's timeouts apply to each read, so a server dribbling bytes would never trip them.
        deadline = time.monotonic() + self.timeout
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                return self._result(url, response, sent, deadline)
        except httpx.TimeoutException as exc:
            raise NetworkError(f"timed out after {self.timeout:g}s", url) from exc
        except httpx.TooManyRedirects as exc:
            raise NetworkError(f"too many redirects (more than {MAX_REDIRECTS})", url) from exc
        except httpx.UnsupportedProtocol as exc:
            raise NetworkError("not an http:// or https:// URL", url) from exc
        except httpx.InvalidURL as exc:
            raise NetworkError(f"invalid URL: {_one_line(exc)}", url) from exc
        except httpx.HTTPError as exc:
            raise NetworkError(_explain(exc), url) from exc

    def _result(
        self, url: str, response: httpx.Response, sent: Validators, deadline: float
    ) -> FetchResult:
        status = response.status_code
        headers = {name.lower(): value for name, value in response.headers.items()}
        final_url = str(response.url)
        if status == 304:
            # A 304 may omit the validators; the ones sent are still the current ones.
            validators = Validators(
                etag=headers.get("etag") or sent.etag,
                last_modified=headers.get("last-modified") or sent.last_modified,
            )
            return FetchResult(final_url, status, headers, b"", validators)
        if status >= 300:  # redirects were followed: a 3xx still here had no usable Location
            reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
            message = f"HTTP {status} {reason}".strip()
            if final_url != url:
                message += f" (redirected to {final_url})"
            raise HTTPStatusError(message, url, status)
        content = self._read_body(url, response, deadline)
        validators = Validators(headers.get("etag"), headers.get("last-modified"))
        return FetchResult(final_url, status, headers, content, validators)

    def _read_body(self, url: str, response: httpx.Response, deadline: float) -> bytes:
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
            if time.monotonic() > deadline:
                raise NetworkError(f"timed out after {self.timeout:g}s", url)
        return b"".join(chunks)


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
