"""One poll of one feed, and one full cycle over many: the pipeline's glue.

fetch -> parse -> match -> store, per feed; then summarise what is new and publish the digest.
A feed that fails is recorded against that feed and never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feedwatch import digest, parser, policy
from feedwatch.config import Config, FeedSettings
from feedwatch.errors import FetchError, HTTPStatusError, ParseError
from feedwatch.fetcher import Fetcher
from feedwatch.matcher import Matcher
from feedwatch.models import Article, Entry
from feedwatch.store import Store
from feedwatch.summariser import Summariser
from feedwatch.text import html_to_text
from feedwatch.urls import canonical_url

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of one feed did."""

    url: str
    status: int | None
    new: int = 0
    updated: int = 0
    matched: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class CycleReport:
    polls: tuple[PollOutcome, ...]
    summarised: int
    digest_items: int
    digest_path: Path

    @property
    def failed(self) -> tuple[PollOutcome, ...]:
        return tuple(poll for poll in self.polls if poll.error)


def to_article(entry: Entry, feed_url: str) -> Article:
    """Plain-text view of an entry: what the matcher, store and summariser work on."""
    return Article(
        entry_id=entry.id,
        url=canonical_url(entry.link, base=feed_url) if entry.link else None,
        title=html_to_text(entry.title),
        summary=html_to_text(entry.summary_html),
        body=html_to_text(entry.content_html),
        published=entry.published,
    )


class Pipeline:
    """Long-lived pieces of one running feedwatch, shared by every poll."""

    def __init__(self, config: Config, store: Store, fetcher: Fetcher) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.matcher = Matcher(config.shows)
        self.summariser = Summariser(config.summary.algorithm)
        # Summarising and publishing touch shared state (sumy objects, the digest file); polls
        # may run in several threads, so those two steps run one at a time.
        self._publish_lock = threading.Lock()
        store.sync_feeds([(feed.url, feed.title) for feed in config.feeds])

    def poll(self, feed: FeedSettings) -> PollOutcome:
        """Fetch, parse, match and store one feed; a per-feed failure is recorded, not raised."""
        started = time.monotonic()
        now = datetime.now(UTC)
        try:
            result = self.fetcher.fetch(feed.url, self.store.validators(feed.url))
            if result.not_modified:
                self.store.record_poll(feed.url, at=now, status=304)
                return PollOutcome(feed.url, 304, seconds=time.monotonic() - started)
            parsed = parser.parse(result.content, result.headers, result.url)
        except (FetchError, ParseError) as exc:
            status = exc.status if isinstance(exc, HTTPStatusError) else None
            self.store.record_poll(feed.url, at=now, status=status, error=str(exc))
            log.error("%s: %s", feed.url, exc)
            return PollOutcome(feed.url, status, error=str(exc), seconds=time.monotonic() - started)
        if parsed.warning:
            log.info("%s: recovered from malformed feed: %s", feed.url, parsed.warning)
        pairs = []
        for entry in parsed.entries:
            article = to_article(entry, result.url)
            pairs.append((article, self.matcher.match(article)))
        saved = self.store.save_articles(feed.url, pairs, at=now)
        # Validators are stored only after the articles are, so a crash in between re-fetches
        # the feed instead of skipping entries that were never saved.
        self.store.record_poll(
            feed.url, at=now, status=result.status, validators=result.validators, title=parsed.title
        )
        return PollOutcome(
            feed.url,
            result.status,
            new=saved.new,
            updated=saved.updated,
            matched=sum(1 for _, shows in pairs if shows),
            seconds=time.monotonic() - started,
        )

    def publish(self) -> tuple[int, int]:
        """Summarise matched articles that lack a summary, then rewrite the digest.

        Returns (summaries written, items in the digest).
        """
        with self._publish_lock:
            jobs = self.store.pending_summaries()
            for job in jobs:
                sentences = self.summariser.summarise(job.text, self.config.summary.sentences)
                self.store.save_summary(job.article_id, job.version, sentences)
            items = self.store.digest_items(self.config.digest.max_items)
            digest.write(items, self.config.digest, built=datetime.now(UTC))
            return len(jobs), len(items)

    def due(self, now: datetime) -> list[FeedSettings]:
        """The configured feeds whose next poll time has come."""
        last = self._last_polled()
        return [
            feed
            for feed in self.config.feeds
            if policy.is_due(last.get(feed.url), self.config.interval_for(feed), now)
        ]

    def next_due(self) -> datetime | None:
        """When the earliest feed is next due; None when one is due right now."""
        last = self._last_polled()
        times = [
            policy.next_poll(last.get(feed.url), self.config.interval_for(feed))
            for feed in self.config.feeds
        ]
        return None if None in times else min(times)  # type: ignore[type-var]

    def _last_polled(self) -> dict[str, datetime | None]:
        return {report.url: report.last_fetched for report in self.store.feed_reports()}

    def run_cycle(self, feeds: Iterable[FeedSettings] | None = None) -> CycleReport:
        polls = tuple(self.poll(feed) for feed in (self.config.feeds if feeds is None else feeds))
        summarised, items = self.publish()
        return CycleReport(polls, summarised, items, self.config.digest.path)
