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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedwatch import digest, fulltext, parser, policy, pool
from feedwatch.config import Config, FeedSettings
from feedwatch.errors import FetchError, HTTPStatusError, ParseError
from feedwatch.fetcher import Fetcher
from feedwatch.matcher import Matcher
from feedwatch.models import Article, Entry, FeedState, FetchResult, ParsedFeed, Schedule
from feedwatch.store import SaveResult, Store
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
    next_poll: datetime | None = None  # None when gone
    gone: bool = False  # answered 410: not polled again until reset


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
        self.pages = fulltext.PageFetcher(config, fetcher, store)
        # Summarising and publishing touch shared state (sumy objects, the digest file); polls
        # may run in several threads, so those two steps run one at a time.
        self._publish_lock = threading.Lock()
        store.sync_feeds(
            [(feed.url, feed.title) for feed in config.feeds], policy.fingerprints(config.feeds)
        )

    def poll(
        self, feed: FeedSettings, fetcher: Fetcher | pool.Prefetch | None = None
    ) -> PollOutcome:
        """Fetch, parse, match and store one feed now, then schedule its next poll.

        Polls whatever the schedule says: due() and pollable() choose the feeds. A per-feed
        failure is recorded against the feed and scheduled for a retry, never raised.
        Logs one line per poll. Several feeds may be polled at once from different threads.
        `fetcher` replaces the Pipeline's own for this poll (run_cycle fetches ahead).
        """
        started = time.monotonic()
        now = datetime.now(UTC)
        state = self.store.feed_state(feed.url)
        try:
            result = (fetcher or self.fetcher).fetch(state.fetch_url, state.validators)
            parsed = (
                None
                if result.not_modified
                else parser.parse(result.content, result.headers, result.url)
            )
        except (FetchError, ParseError) as exc:
            outcome = self._failed(feed, state, exc, now=now, started=started)
        else:
            outcome = self._fetched(feed, state, result, parsed, now=now, started=started)
        _log(outcome)
        return outcome

    def _fetched(
        self,
        feed: FeedSettings,
        state: FeedState,
        result: FetchResult,
        parsed: ParsedFeed | None,
        *,
        now: datetime,
        started: float,
    ) -> PollOutcome:
        saved, matched = SaveResult(), 0
        if parsed is None:  # 304: only the poll and the schedule are written
            ttl, update_period = state.ttl, state.update_period
        else:
            if parsed.warning:
                log.info("%s: recovered from malformed feed: %s", feed.url, parsed.warning)
            articles = [to_article(entry, result.url) for entry in parsed.entries]
            # Teasers are matched, and later summarised, with their linked page's text.
            pages = self.pages.fetch(feed, articles)
            pairs = [(article, self.matcher.match(pages.apply(article))) for article in articles]
            saved = self.store.save_articles(feed.url, pairs, at=now, pages=pages.fetched)
            matched = sum(1 for _, shows in pairs if shows)
            ttl, update_period = parsed.ttl, parsed.update_period
        hints = policy.Hints(
            ttl=ttl,
            update_period=update_period,
            max_age=result.max_age,
            publish_gap=self._publish_gap(feed, now),
        )
        next_poll = policy.next_poll(feed.url, now, self._interval(feed, hints), self._bounds)
        # Validators are stored only after the articles are, so a crash in between re-fetches
        # the feed instead of skipping entries that were never saved.
        self.store.record_poll(
            feed.url,
            at=now,
            status=result.status,
            validators=result.validators,
            feed=parsed,
            schedule=Schedule(next_poll=next_poll),
            moved_to=result.permanent_url,
        )
        return PollOutcome(
            feed.url,
            result.status,
            new=saved.new,
            updated=saved.updated,
            matched=matched,
            seconds=time.monotonic() - started,
            next_poll=next_poll,
        )

    def _failed(
        self,
        feed: FeedSettings,
        state: FeedState,
        exc: FetchError | ParseError,
        *,
        now: datetime,
        started: float,
    ) -> PollOutcome:
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        errors = state.errors + 1
        if status == 410:
            schedule = Schedule(errors=errors, gone_since=now)
        else:
            asked = (
                exc.retry_after
                if isinstance(exc, HTTPStatusError) and status in policy.RETRY_STATUSES
                else None
            )
            hints = policy.Hints(
                ttl=state.ttl,
                update_period=state.update_period,
                publish_gap=self._publish_gap(feed, now),
            )
            next_poll = policy.next_poll(
                feed.url,
                now,
                self._interval(feed, hints),
                self._bounds,
                errors=errors,
                retry_after=asked,
            )
            # What is honoured, not what was asked: both stay within poll.max_interval.
            retry_after = next_poll if asked is not None else None
            schedule = Schedule(next_poll=next_poll, errors=errors, retry_after=retry_after)
        self.store.record_poll(feed.url, at=now, status=status, error=str(exc), schedule=schedule)
        return PollOutcome(
            feed.url,
            status,
            error=str(exc),
            seconds=time.monotonic() - started,
            next_poll=schedule.next_poll,
            gone=schedule.gone_since is not None,
        )

    @property
    def _bounds(self) -> policy.Bounds:
        return policy.Bounds(self.config.poll.min_interval, self.config.poll.max_interval)

    def _interval(self, feed: FeedSettings, hints: policy.Hints) -> timedelta:
        return policy.interval(self.config.interval_for(feed), hints, self._bounds)

    def _publish_gap(self, feed: FeedSettings, now: datetime) -> timedelta | None:
        times = self.store.publish_times(feed.url, until=now, limit=policy.RECENT_ENTRIES)
        return policy.publish_gap(times, now)

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
        """The configured feeds whose next poll time has come (gone and waiting ones never)."""
        return [feed for feed, state in self._states() if policy.is_due(state, now)]

    def pollable(self, now: datetime) -> list[FeedSettings]:
        """The configured feeds a plain `feedwatch once` polls: all but the gone ones and those
        whose server asked to wait (Retry-After) until after `now`."""
        return [feed for feed, state in self._states() if not policy.is_held(state, now)]

    def next_due(self) -> datetime | None:
        """When the earliest feed is next due (maybe past); None when one is due at once.

        When every feed is gone: poll.max_interval from now, worth a look after a reload.
        """
        times = [policy.due_at(state) for _, state in self._states() if state.gone_since is None]
        if not times:
            return datetime.now(UTC) + self.config.poll.max_interval
        return None if None in times else min(times)  # type: ignore[type-var]

    def _states(self) -> list[tuple[FeedSettings, FeedState]]:
        stored = self.store.feed_states()
        # A feed not stored yet (configured after this Pipeline synced) is due at once.
        return [
            (feed, stored.get(feed.url) or FeedState(feed.url, feed.url))
            for feed in self.config.feeds
        ]

    def run_cycle(self, feeds: Iterable[FeedSettings] | None = None) -> CycleReport:
        """Poll `feeds` (default: pollable() ones), then publish.

        Requests go out several at once, within poll.concurrency and poll.per_host, while
        responses are parsed and stored one feed at a time in the order given: the outcome
        never depends on which server answered first (e.g. which of two feeds carrying the
        same story it is credited to), and parsing, which holds the GIL, gains nothing from
        threads anyway.
        """
        chosen = list(self.pollable(datetime.now(UTC)) if feeds is None else feeds)
        limits = self.config.poll
        # How far requests run ahead of storing: bounds the response bodies held in memory.
        window = 4 * limits.concurrency
        polls: list[PollOutcome] = []
        requested = 0
        with pool.Prefetch(self.fetcher, limits.concurrency, limits.per_host) as ahead:
            for index, feed in enumerate(chosen):
                while requested < min(len(chosen), index + window):
                    state = self.store.feed_state(chosen[requested].url)
                    ahead.request(state.fetch_url, state.validators)
                    requested += 1
                polls.append(self.poll(feed, fetcher=ahead))
        summarised, items = self.publish()
        return CycleReport(tuple(polls), summarised, items, self.config.digest.path)


def _log(outcome: PollOutcome) -> None:
    fields = {
        "feed": outcome.url,
        "status": outcome.status,
        "new": outcome.new,
        "updated": outcome.updated,
        "matched": outcome.matched,
        "seconds": round(outcome.seconds, 3),
        "error": outcome.error,
        "gone": outcome.gone,
        "next_poll": outcome.next_poll.isoformat() if outcome.next_poll else None,
    }
    extra = {"fields": fields}
    if outcome.error is None:
        log.info(
            "%s: HTTP %s, %d new, %d updated, %.2fs",
            outcome.url,
            outcome.status,
            outcome.new,
            outcome.updated,
            outcome.seconds,
            extra=extra,
        )
    elif outcome.gone:
        log.error(
            "%s: %s; marked gone, not polled again until reset",
            outcome.url,
            outcome.error,
            extra=extra,
        )
    else:
        log.error(
            "%s: %s; next poll %s",
            outcome.url,
            outcome.error,
            f"{outcome.next_poll:%Y-%m-%d %H:%M:%S}Z",
            extra=extra,
        )
