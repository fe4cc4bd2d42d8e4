"""What the daemon counts, exposed at /metrics (Prometheus text format) and /healthz.

The only module that imports prometheus_client. Each Metrics has its own registry, so two in
one process (tests) never share counts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import choose_encoder

_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_CYCLE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Poll(Protocol):
    """The parts of a poll's outcome (pipeline.PollOutcome) that are counted."""

    url: str
    status: int | None
    new: int
    updated: int
    matched: int
    error: str | None
    seconds: float


class Metrics:
    """Counters, histograms and the health summary of one running feedwatch."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # CPU seconds, memory, open files
        r = self.registry
        self._polls = Counter(
            "feedwatch_polls",
            "Feed polls by HTTP status ('none' when no response came back).",
            ["status"],
            registry=r,
        )
        self._poll_errors = Counter(
            "feedwatch_poll_errors", "Polls that failed and were recorded as errors.", registry=r
        )
        self._articles = Counter(
            "feedwatch_articles_stored",
            "Articles stored: new ones, and known ones whose text changed.",
            ["kind"],
            registry=r,
        )
        self._matched = Counter(
            "feedwatch_matched_entries",
            "Entries of polled feeds that mentioned at least one tracked show.",
            registry=r,
        )
        self._poll_seconds = Histogram(
            "feedwatch_poll_duration_seconds",
            "One poll: fetch, parse, match and store.",
            buckets=_POLL_BUCKETS,
            registry=r,
        )
        self._cycle_seconds = Histogram(
            "feedwatch_cycle_duration_seconds",
            "From dispatching the feeds that were due together until the last of them is done.",
            buckets=_CYCLE_BUCKETS,
            registry=r,
        )
        self._last_cycle = Gauge(
            "feedwatch_last_cycle_timestamp_seconds",
            "When the last cycle ended (Unix time).",
            registry=r,
        )
        self._publish_seconds = Histogram(
            "feedwatch_publish_duration_seconds",
            "Summarising new matches and rewriting the digest.",
            buckets=_CYCLE_BUCKETS,
            registry=r,
        )
        self._publish_errors = Counter(
            "feedwatch_publish_errors",
            "Digest rewrites that failed; the previous digest stays served.",
            registry=r,
        )
        self._store_errors = Counter(
            "feedwatch_store_errors",
            "Store operations that failed, by what was tried ('file': the SQLite file was gone).",
            ["operation"],
            registry=r,
        )
        self._summaries = Counter(
            "feedwatch_summaries_written", "Article summaries written.", registry=r
        )
        self._digest_items = Gauge(
            "feedwatch_digest_items", "Items in the digest last written.", registry=r
        )
        self._feeds = Gauge("feedwatch_feeds", "Feeds in the running config.", registry=r)
        self._failing = Gauge(
            "feedwatch_feeds_failing", "Configured feeds whose last poll failed.", registry=r
        )
        self._in_flight = Gauge("feedwatch_polls_in_flight", "Polls running right now.", registry=r)
        self._reloads = Counter(
            "feedwatch_config_reloads",
            "Config reloads by result ('error': the running config was kept).",
            ["result"],
            registry=r,
        )
        self._requests = Counter(
            "feedwatch_http_requests",
            "Requests to feedwatch's own HTTP server by path and status code.",
            ["path", "code"],
            registry=r,
        )
        self._lock = threading.Lock()
        self._configured: set[str] = set()
        self._failing_urls: set[str] = set()
        self._last_cycle_at: datetime | None = None
        self._last_publish_at: datetime | None = None
        self._last_publish_error: str | None = None
        # What is failing in the store now, by operation, in words; reported until it works.
        self._store_problems: dict[str, str] = {}
        self._running: Callable[[], int] = lambda: 0

    def set_feeds(self, urls: Iterable[str], failing: Iterable[str] = ()) -> None:
        """The configured feeds, and those among them known to be failing (from the store)."""
        with self._lock:
            self._configured = set(urls)
            self._failing_urls = (self._failing_urls | set(failing)) & self._configured
            self._feeds.set(len(self._configured))
            self._failing.set(len(self._failing_urls))

    def track_in_flight(self, running: Callable[[], int]) -> None:
        """Read the number of polls in flight from `running` whenever it is asked for."""
        self._running = running
        self._in_flight.set_function(running)

    def poll_done(self, outcome: Poll) -> None:
        self._polls.labels(status=str(outcome.status) if outcome.status else "none").inc()
        self._poll_seconds.observe(outcome.seconds)
        self._articles.labels(kind="new").inc(outcome.new)
        self._articles.labels(kind="updated").inc(outcome.updated)
        self._matched.inc(outcome.matched)
        if outcome.error:
            self._poll_errors.inc()
        with self._lock:
            if outcome.error and outcome.url in self._configured:
                self._failing_urls.add(outcome.url)
            elif not outcome.error:
                self._failing_urls.discard(outcome.url)
            self._failing.set(len(self._failing_urls))

    def poll_failed(self, url: str) -> None:
        """A poll that could not even be recorded (the store failed)."""
        self._polls.labels(status="none").inc()
        self._poll_errors.inc()
        with self._lock:
            if url in self._configured:
                self._failing_urls.add(url)
            self._failing.set(len(self._failing_urls))

    def cycle_done(self, seconds: float) -> None:
        now = datetime.now(UTC)
        self._cycle_seconds.observe(seconds)
        self._last_cycle.set(now.timestamp())
        with self._lock:
            self._last_cycle_at = now

    def published(self, seconds: float, summaries: int, items: int) -> None:
        self._publish_seconds.observe(seconds)
        self._summaries.inc(summaries)
        self._digest_items.set(items)
        with self._lock:
            self._last_publish_at = datetime.now(UTC)
            self._last_publish_error = None

    def publish_failed(self, message: str, *, store: bool = False) -> None:
        """The last digest rewrite failed with `message` (one line); reported until one works.
        `store`: it failed because the store did (also counted as a store error)."""
        self._publish_errors.inc()
        if store:
            self._store_errors.labels(operation="publish").inc()
        with self._lock:
            self._last_publish_error = message

    def store_failed(self, operation: str, problem: str) -> None:
        """The store failed at `operation` ("read", "write", "file"): counted, and `problem`
        (one line) reported by health() until store_ok(operation)."""
        self._store_errors.labels(operation=operation).inc()
        with self._lock:
            self._store_problems[operation] = problem

    def store_ok(self, operation: str) -> None:
        """`operation` worked again."""
        with self._lock:
            self._store_problems.pop(operation, None)

    def reloaded(self, *, ok: bool) -> None:
        self._reloads.labels(result="ok" if ok else "error").inc()

    def request(self, route: str, code: int) -> None:
        """One request to feedwatch's server, by the route it took ("/shows/<show>/"; "other"
        for any path no route serves, so that scanners cannot grow the label set)."""
        self._requests.labels(path=route, code=str(code)).inc()

    def health(self) -> dict[str, Any]:
        """The daemon's state for /healthz."""
        with self._lock:
            return {
                "feeds": len(self._configured),
                "feeds_failing": len(self._failing_urls),
                "polls_in_flight": self._running(),
                "last_cycle": _iso(self._last_cycle_at),
                "last_publish": _iso(self._last_publish_at),
                "last_publish_error": self._last_publish_error,
                "problems": list(self._store_problems.values()),
            }

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric in the format the Accept header asks for: (body, content type)."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
