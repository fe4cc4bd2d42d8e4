"""Helpers for the daemon, server and pool tests: feeds, configs, a running `feedwatch`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SHOWS = """\
shows:
  - name: Daredevil
    keywords: [Daredevil]
  - name: Luke Cage
    keywords: [Luke Cage]
"""


def wait_until(check: Callable[[], T], timeout: float = 10.0, every: float = 0.02) -> T:
    """check()'s first truthy answer; fails the test when there is none within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout}s for {check}")
        time.sleep(every)


def rss(name: str, stories: Iterable[tuple[str, str]], site: str | None = None) -> bytes:
    """A small RSS 2.0 feed titled `name` with one item per (title, text) story, linking
    to pages on https://<site or name>.example/."""
    items = []
    for index, (title, text) in enumerate(stories):
        published = format_datetime(datetime(2026, 11, 20, tzinfo=UTC) + timedelta(hours=index))
        items.append(
            f"""  <item>
    <title>{escape(title)}</title>
    <link>https://{site or name}.example/story/{index}</link>
    <guid isPermaLink="false">{name}-{index}</guid>
    <pubDate>{published}</pubDate>
    <description>{escape(text)}</description>
  </item>"""
        )
    return (
        f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>{escape(name)}</title>
  <link>https://{name}.example/</link>
  <description>Stories from {escape(name)}.</description>
{chr(10).join(items)}
</channel></rss>
"""
    ).encode()


def story(show: str, topic: str) -> tuple[str, str]:
    """A (title, text) story about `show` with enough sentences to summarise."""
    return (
        f"{show} {topic}",
        f"The makers of {show} shared news about {topic} this week. "
        f"Fans of {show} had waited a long time for it. "
        "The studio said more details would follow in the spring. "
        "Critics called the announcement a welcome surprise.",
    )


def write_config(
    folder: Path,
    urls: Iterable[str],
    *,
    poll: dict[str, object] | None = None,
    shows: str = SHOWS,
    database: str = "sqlite:///state/feedwatch.db",
    full_text: bool = True,
) -> Path:
    """feeds.yaml in `folder`: SQLite (or `database`) and the digest beside it, the server on
    a free port, the given feeds and shows; `poll` adds keys under `poll:`; `full_text`
    false fetches no article pages."""
    settings = {"timeout": "5s", **(poll or {})}
    lines = [
        f"database: {database}",
        "poll:",
        *(f"  {key}: {value}" for key, value in settings.items()),
        "server:",
        "  host: 127.0.0.1",
        "  port: 0",
        # The stories these tests serve share three template sentences: they are about
        # polling, so each article is its own item (stories are tested in test_stories.py).
        "stories:",
        "  enabled: false",
        *([] if full_text else ["fetch:", "  full_text: false"]),
        "digest:",
        "  path: out/digest.xml",
        "  title: Test digest",
        "feeds:",
        *(f"  - url: {url}" for url in urls),
    ]
    path = folder / "feeds.yaml"
    replace_text(path, "\n".join(lines) + "\n" + shows)
    return path


def replace_text(path: Path, text: str) -> None:
    """Write `path` in one step, as editors do: a running daemon never reads half a file."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)


class Concurrency:
    """A route handler that answers slowly and records how many requests overlap, per host.

    It answers `body`, or bodies[path] for the paths given there.
    """

    def __init__(self, body: bytes, seconds: float, bodies: dict[str, bytes] | None = None) -> None:
        self.body = body
        self.bodies = bodies or {}
        self.seconds = seconds
        self._lock = threading.Lock()
        self._now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0

    def __call__(self, request: BaseHTTPRequestHandler) -> None:
        host = request.headers["Host"].rsplit(":", 1)[0]
        with self._lock:
            self._now[host] += 1
            self.peak[host] = max(self.peak[host], self._now[host])
            self.peak_total = max(self.peak_total, sum(self._now.values()))
        time.sleep(self.seconds)
        with self._lock:
            self._now[host] -= 1
        body = self.bodies.get(request.path, self.body)
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


class Feedwatch:
    """`python -m feedwatch ... COMMAND [OPTIONS]` in a subprocess, its JSON log lines
    collected."""

    def __init__(self, config: Path, command: str = "run", *options: str) -> None:
        self.lines: list[dict] = []
        self.raw: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feedwatch",
                "-c",
                str(config),
                "--log-format",
                "json",
                command,
                *options,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.raw.append(line)
                self.lines.append(json.loads(line))

    def logged(self, text: str, level: str | None = None) -> list[dict]:
        """Log events whose message contains `text` (and of `level`, when given)."""
        with self._lock:
            return [
                event
                for event in self.lines
                if text in event["message"] and (level is None or event["level"] == level)
            ]

    def url(self, timeout: float = 20.0) -> str:
        """The base URL of its HTTP server, once it says it serves."""
        event = wait_until(lambda: self.logged("/feed.xml"), timeout)[0]
        return event["message"].rsplit(" at ", 1)[1].removesuffix("/feed.xml")

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
