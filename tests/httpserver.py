"""A local HTTP server for tests: serves feeds and pages written for this project.

Every route answers conditional requests (ETag and Last-Modified) and gzips when asked,
like a well-behaved feed host; routes can also force a status, headers or a delay.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    conditional: bool = True
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))
    # Full control for fault modes: called with the handler, must write the whole response.
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    status: int
    client_port: int = 0  # which connection it came on: the same port means a kept-alive one


class _QuietServer(ThreadingHTTPServer):
    # Clients that hang up early (timeouts, size caps) are part of the tests, not errors.
    def handle_error(self, request: object, client_address: object) -> None:
        pass


class FeedServer:
    """Threaded HTTP server on 127.0.0.1 with a free port; see `url()` and `serve()`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes | str | None = None, **options: object) -> str:
        """Serve `body` (or tests/data/<path> when None) at `path`; returns the full URL."""
        if body is None:
            body = (DATA / path.lstrip("/")).read_bytes()
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                route = server.routes.get(self.path)
                headers = {name.lower(): value for name, value in self.headers.items()}
                if route is None:
                    server._record(Request(self.path, headers, 404, self.client_address[1]))
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.handler is not None:
                    server._record(
                        Request(self.path, headers, route.status, self.client_address[1])
                    )
                    route.handler(self)
                    return
                # As RFC 9110 says: If-None-Match, when sent, decides alone.
                if "if-none-match" in headers:
                    unchanged = headers["if-none-match"] == route.etag
                else:
                    unchanged = headers.get("if-modified-since") == route.last_modified
                if route.conditional and route.status == 200 and unchanged:
                    server._record(Request(self.path, headers, 304, self.client_address[1]))
                    self._send(304, b"", {"ETag": route.etag})
                    return
                server._record(Request(self.path, headers, route.status, self.client_address[1]))
                extra = {"Content-Type": route.content_type, **route.headers}
                if route.conditional:
                    extra |= {"ETag": route.etag, "Last-Modified": route.last_modified}
                body = route.body
                if "gzip" in headers.get("accept-encoding", ""):
                    body = gzip.compress(body)
                    extra["Content-Encoding"] = "gzip"
                self._send(route.status, body, extra)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        return Handler
