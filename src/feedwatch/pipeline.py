"""One poll of one feed, and one full cycle over many: the pipeline's glue.

fetch -> parse -> match -> store, per feed; then summarise what is new and publish the digest.
A feed that fails is recorded against that feed and never stops the others.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedwatch import language, logs, matcher, policy, roundup, stories
from feedwatch.config import Config, FeedSettings, ShowSettings
from feedwatch.errors import FetchError, HTTPStatusError, ParseError, StoreError
from feedwatch.matcher import Matcher
from feedwatch.models import (
    Article,
    DigestItem,
    Entry,
    FeedState,
    FetchResult,
    ParsedFeed,
    Schedule,
    ShowMatch,
    StoredStory,
    Validators,
)
from feedwatch.poll import discover, parser, pool
from feedwatch.poll import pages as fulltext
from feedwatch.poll.http import Fetcher
from feedwatch.publish import feeds as digest
from feedwatch.store import Store
from feedwatch.store.repository import PruneReport, ScheduleFor
from feedwatch.summariser import Summariser
from feedwatch.text import html_to_text
from feedwatch.urls import canonical_url, identity_keys

log = logging.getLogger(__name__)

SUMMARY_BATCH = 20  # summaries saved per transaction
SHOWS_SETTING = "shows"  # the store's name for the fingerprint its matches were made with


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of one feed did."""

    url: str
    status: int | None
    new: int = 0
    updated: int = 0
    matched: int = 0
    skipped: int = 0  # entries left out: unreadable, empty, or past poll.max_entries
    error: str | None = None
    seconds: float = 0.0
    next_poll: datetime | None = None  # None when gone, or when the poll was not recorded
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


@dataclass(frozen=True, slots=True)
class Download:
    """A feed's answer: the response and, unless it was a 304, the document and its entries
    as articles."""

    result: FetchResult
    parsed: ParsedFeed | None = None
    articles: tuple[Article, ...] = ()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Downloads:
    """Fetches a feed and parses the answer: all of a poll that needs neither the store nor
    the order of feeds, so run_cycle runs it ahead in worker threads (pool.Prefetch)."""

    def __init__(
        self, fetcher: Fetcher, max_entries: int, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._fetcher = fetcher
        self._max_entries = max_entries
        self._clock = clock

    def fetch(self, url: str, validators: Validators | None = None) -> Download:
        """Raises FetchError or ParseError."""
        result = self._fetcher.fetch(url, validators)
        if result.not_modified:
            return Download(result)
        # No entry is dated after the fetch: a future date is a feed's mistake or an embargo.
        try:
            parsed = parser.parse(
                result.content,
                result.headers,
                result.url,
                max_entries=self._max_entries,
                now=self._clock(),
            )
        except ParseError as exc:
            # A web page configured as a feed: say which feeds it advertises.
            found = discover.advice(result.content, result.url)
            if found is None:
                raise
            raise ParseError(f"{exc}; {found}") from None
        try:
            articles = to_articles(parsed.entries, result.url, parsed.language)
        except Exception as exc:
            # A bug, but one feed's: recorded against it, while the others go on.
            log.debug("%s: cannot read its entries", url, exc_info=True)
            raise ParseError(f"unreadable entries ({logs.described(exc)})") from None
        return Download(result, parsed, articles)


def to_articles(
    entries: Sequence[Entry], feed_url: str, language: str | None = None
) -> tuple[Article, ...]:
    """Plain-text views of one feed document's entries: what the matcher, store and
    summariser work on, each with the URL that makes it one article with other feeds'
    entries (urls.identity_keys), and the language it declares (its own, else the feed's
    `language`; the summariser detects one when neither says)."""
    links = [
        canonical_url(entry.link, base=feed_url, keep_fragment=True) if entry.link else None
        for entry in entries
    ]
    return tuple(
        Article(
            entry_id=entry.id,
            # The fragment only where it tells the feed's entries apart (a live blog's
            # blocks): elsewhere it is a spot on the page ("#comments"), not the article.
            url=key or (link.partition("#")[0] if link else None),
            title=html_to_text(entry.title),
            summary=html_to_text(entry.summary_html),
            body=html_to_text(entry.content_html),
            published=entry.published,
            authors=entry.authors,
            enclosures=entry.enclosures,
            tags=entry.tags,
            language=entry.language or language,
            key=key,
        )
        for entry, link, key in zip(entries, links, identity_keys(links), strict=True)
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
        # A config whose shows changed (once, daemon start, reload) is judged from here on.
        self.rejudge()
        # The fetcher is the process's one: its per-host limit holds for feeds and pages alike,
        # whichever pool or thread asks. Set last, so a reload that fails keeps the old one.
        fetcher.limit_per_host(config.poll.per_host)

    def poll(self, feed: FeedSettings) -> PollOutcome:
        """Fetch, parse, match and store one feed now, then schedule its next poll.

        Polls whatever the schedule says: due() and pollable() choose the feeds. A per-feed
        failure (the database refusing this feed's articles included) is recorded against
        the feed and scheduled for a retry, never raised; StoreError is raised only when the
        poll could not be recorded at all.
        Logs one line per poll. Several feeds may be polled at once from different threads.
        A poll cut short by closing the fetcher (shutdown) records nothing: AbandonedError.
        """
        return self._poll(feed, self.store.feed_state(feed.url), self._downloads())

    def _downloads(self) -> Downloads:
        return Downloads(self.fetcher, self.config.poll.max_entries)

    def _poll(
        self, feed: FeedSettings, state: FeedState, downloads: Downloads | pool.Prefetch[Download]
    ) -> PollOutcome:
        started = time.monotonic()
        now = datetime.now(UTC)
        try:
            download = downloads.fetch(state.fetch_url, state.validators)
        except (FetchError, ParseError) as exc:
            outcome = self._failed(feed, state, exc, now=now, started=started)
        else:
            try:
                outcome = self._fetched(feed, state, download, now=now, started=started)
            except StoreError as exc:
                # Its articles were refused (rolled back); the failure itself may still be kept.
                outcome = self._failed(feed, state, exc, now=now, started=started)
        _log(outcome)
        return outcome

    def _fetched(
        self,
        feed: FeedSettings,
        state: FeedState,
        download: Download,
        *,
        now: datetime,
        started: float,
    ) -> PollOutcome:
        result, parsed = download.result, download.parsed
        pairs: list[tuple[Article, tuple[ShowMatch, ...]]] = []
        pages = fulltext.Pages()
        if parsed is None:  # 304: only the poll and the schedule are written
            ttl, update_period = state.ttl, state.update_period
        else:
            if parsed.warning:
                log.info("%s: recovered from malformed feed: %s", feed.url, parsed.warning)
            # Teasers are matched, and later summarised, with their linked page's text.
            pages = self.pages.fetch(feed, download.articles)
            pairs = [(a, self.matcher.match(pages.apply(a))) for a in download.articles]
            ttl, update_period = parsed.ttl, parsed.update_period
        hints = policy.Hints(ttl=ttl, update_period=update_period, max_age=result.max_age)
        # One transaction: validators are never stored without the articles they vouch for,
        # so a crash in between re-fetches the feed instead of skipping unsaved entries.
        record = self.store.record_poll(
            feed.url,
            at=now,
            status=result.status,
            validators=result.validators,
            feed=parsed,
            schedule=self._schedule(feed, now, hints),
            moved_to=result.permanent_url,
            articles=pairs,
            pages=pages.fetched,
        )
        return PollOutcome(
            feed.url,
            result.status,
            new=record.saved.new,
            updated=record.saved.updated,
            matched=sum(1 for _, shows in pairs if shows),
            skipped=parsed.skipped + parsed.truncated if parsed else 0,
            seconds=time.monotonic() - started,
            next_poll=record.schedule.next_poll,
        )

    def _failed(
        self,
        feed: FeedSettings,
        state: FeedState,
        exc: FetchError | ParseError | StoreError,
        *,
        now: datetime,
        started: float,
    ) -> PollOutcome:
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        errors = state.errors + 1
        schedule: Schedule | ScheduleFor
        if status == 410:
            schedule = Schedule(errors=errors, gone_since=now)
        else:
            asked = (
                exc.retry_after
                if isinstance(exc, HTTPStatusError) and status in policy.RETRY_STATUSES
                else None
            )
            hints = policy.Hints(ttl=state.ttl, update_period=state.update_period)
            schedule = self._schedule(feed, now, hints, errors=errors, asked=asked)
        record = self.store.record_poll(
            feed.url, at=now, status=status, error=str(exc), schedule=schedule
        )
        return PollOutcome(
            feed.url,
            status,
            error=str(exc),
            seconds=time.monotonic() - started,
            next_poll=record.schedule.next_poll,
            gone=record.schedule.gone_since is not None,
        )

    def _schedule(
        self,
        feed: FeedSettings,
        now: datetime,
        hints: policy.Hints,
        *,
        errors: int = 0,
        asked: datetime | None = None,
    ) -> ScheduleFor:
        """The schedule after a poll at `now`, decided once the store knows the feed's newest
        publish times (those of the articles this very poll stored included).

        `errors`: failures in a row, this one included; `asked`: a 429/503's Retry-After.
        """

        def decide(newest: Callable[[int], list[datetime]]) -> Schedule:
            gap = policy.publish_gap(newest(policy.RECENT_ENTRIES), now)
            every = self._interval(feed, dataclasses.replace(hints, publish_gap=gap))
            next_poll = policy.next_poll(
                feed.url, now, every, self._bounds, errors=errors, retry_after=asked
            )
            # What is honoured, not what was asked: both stay within poll.max_interval.
            retry_after = next_poll if asked is not None else None
            return Schedule(next_poll=next_poll, errors=errors, retry_after=retry_after)

        return decide

    @property
    def _bounds(self) -> policy.Bounds:
        return policy.Bounds(self.config.poll.min_interval, self.config.poll.max_interval)

    def _interval(self, feed: FeedSettings, hints: policy.Hints) -> timedelta:
        return policy.interval(self.config.interval_for(feed), hints, self._bounds)

    def publish(self) -> tuple[int, int]:
        """Put new matches into stories, summarise the stories the digest shows that lack a
        summary, then rewrite the digest in every format.

        Returns (summaries written, items in the digest).
        """
        with self._publish_lock:
            self._assign_stories()
            limit, settings = self.config.digest.max_items, self.config.summary.key
            found = self.store.digest_stories(limit, settings)
            pending = [story for story in found if story.summary is None]
            written: dict[int, tuple[str, ...]] = {}
            # Saved a batch at a time: one transaction per summary costs more than many a
            # summary, and one for all would lose them all to a crash.
            for start in range(0, len(pending), SUMMARY_BATCH):
                batch = [
                    (story, self._summarise(story))
                    for story in pending[start : start + SUMMARY_BATCH]
                ]
                self.store.save_summaries(
                    [(story.key, story.version, sentences) for story, sentences in batch], settings
                )
                written.update((story.key, sentences) for story, sentences in batch)
            items = [
                stories.digest_item(
                    dataclasses.replace(story, summary=written.get(story.key, story.summary))
                )
                for story in found
            ]
            self._write_digest(items)
            return len(pending), len(items)

    def _write_digest(self, items: Sequence[DigestItem]) -> None:
        settings = self.config.digest
        built = datetime.now(UTC)
        shows = [show.name for show in self.config.shows]
        moments = self.store.roundups()
        roundups = None
        if settings.roundup is not None or moments:
            roundups = roundup.items(
                items,
                moments,
                shows,
                settings.zone,
                lambda show: digest.Channel.of(settings, show).page,
            )
        digest.write(items, settings, built=built)
        digest.write_formats(
            items,
            settings,
            built=built,
            formats=settings.formats,
            per_show=settings.per_show,
            shows=shows,
            roundups=roundups,
        )

    def note_roundup(self, now: datetime) -> None:
        """A daily roundup is due at `now` (digest.roundup, or `once --roundup`): the next
        publish writes its items, covering the day before `now`."""
        self.store.add_roundup(now, roundup.KEPT)

    def _assign_stories(self) -> None:
        """Give each new match its story (stories.assign), or with stories.enabled false its
        own: one item per article."""
        pending = self.store.unclustered()
        if not pending:
            return
        if not self.config.stories.enabled:
            self.store.set_stories({article_id: article_id for article_id, _ in pending})
            return
        window = self.config.stories.window
        context = self.store.story_context(
            min(when for _, when in pending) - window, max(when for _, when in pending) + window
        )
        self.store.set_stories(stories.assign(context, window))

    def _summarise(self, story: StoredStory) -> tuple[str, ...]:
        """One story (maybe of one article) summarised as one document: the best article's
        text first, in its language as declared, else as detected."""
        members = stories.ranked(story.members)
        code = language.choose(members[0].language, members[0].text)
        texts = [member.text for member in members]
        return self.summariser.summarise_many(texts, self.config.summary.sentences, code)

    def rejudge(self) -> int:
        """rejudge() the store with this config's shows."""
        return rejudge(self.store, self.config.shows, self.matcher)

    def prune(self, now: datetime) -> PruneReport:
        """Delete the stored articles older than retention.unmatched / retention.matched
        allow (see Store.prune); logs what went."""
        keep = self.config.retention
        report = self.store.prune(
            unmatched_before=now - keep.unmatched if keep.unmatched else None,
            matched_before=now - keep.matched if keep.matched else None,
            at=now,
        )
        if report.unmatched or report.matched or report.forgotten:
            log.info(
                "retention: deleted %d unmatched and %d matched articles, let go of %d "
                "entries no feed lists any more",
                report.unmatched,
                report.matched,
                report.forgotten,
                extra={"fields": dataclasses.asdict(report)},
            )
        return report

    def due(self, now: datetime) -> list[FeedSettings]:
        """The configured feeds whose next poll time has come (gone and waiting ones never)."""
        return [feed for feed, state in self._states() if policy.is_due(state, now)]

    def pollable(self, now: datetime) -> list[FeedSettings]:
        """The configured feeds a plain `feedwatch once` polls: all but the gone ones and those
        whose server asked to wait (Retry-After) until after `now`."""
        return [feed for feed, _ in self._pollable(now)]

    def _pollable(self, now: datetime) -> list[tuple[FeedSettings, FeedState]]:
        return [(feed, state) for feed, state in self._states() if not policy.is_held(state, now)]

    def next_due(self) -> datetime | None:
        """When the earliest feed is next due (maybe past); None when one is due at once.

        When every feed is gone: poll.max_interval from now, worth a look after a reload.
        """
        times = [policy.due_at(state) for _, state in self._states() if state.gone_since is None]
        if not times:
            return datetime.now(UTC) + self.config.poll.max_interval
        return None if None in times else min(times)  # type: ignore[type-var]

    def _states(
        self, feeds: Iterable[FeedSettings] | None = None
    ) -> list[tuple[FeedSettings, FeedState]]:
        """`feeds` (default: the configured ones) with their stored state, read in one query."""
        stored = self.store.feed_states()
        # A feed not stored yet (configured after this Pipeline synced) is due at once.
        return [
            (feed, stored.get(feed.url) or FeedState(feed.url, feed.url))
            for feed in (self.config.feeds if feeds is None else feeds)
        ]

    def run_cycle(self, feeds: Iterable[FeedSettings] | None = None) -> CycleReport:
        """Poll `feeds` (default: pollable() ones), then publish.

        Requests go out several at once, within poll.concurrency and poll.per_host, and each
        response is parsed in the thread that fetched it, while the results are matched and
        stored one feed at a time in the order given: the outcome never depends on which
        server answered first (e.g. which of two feeds carrying the same story it is
        credited to).

        A poll that could not be recorded (StoreError) is logged and the cycle goes on; when
        no poll could be recorded at all the database is taken to be down: StoreError.
        """
        # Read once for the whole cycle: each poll below changes only its own feed's state.
        chosen = self._pollable(datetime.now(UTC)) if feeds is None else self._states(feeds)
        states = [state for _, state in chosen]
        limits = self.config.poll
        # How far requests run ahead of storing: bounds the responses held in memory.
        window = 4 * limits.concurrency
        polls: list[PollOutcome] = []
        unrecorded: list[StoreError] = []
        requested = 0
        downloads = self._downloads()
        with pool.Prefetch(downloads, limits.concurrency, limits.per_host) as ahead:
            for index, (feed, state) in enumerate(chosen):
                while requested < min(len(chosen), index + window):
                    ahead.request(states[requested].fetch_url, states[requested].validators)
                    requested += 1
                started = time.monotonic()
                try:
                    polls.append(self._poll(feed, state, ahead))
                except StoreError as exc:
                    unrecorded.append(exc)
                    seconds = time.monotonic() - started
                    polls.append(PollOutcome(feed.url, None, error=str(exc), seconds=seconds))
                    _log(polls[-1])
        if unrecorded and len(unrecorded) == len(polls):
            raise unrecorded[0]
        summarised, items = self.publish()
        return CycleReport(tuple(polls), summarised, items, self.config.digest.path)


def rejudge(store: Store, shows: Sequence[ShowSettings], judge: Matcher | None = None) -> int:
    """Match every stored article again when the shows changed since they were last matched
    (any name, keyword, exclude or require_any); returns the articles whose shows changed.

    Newly matching articles enter the digest at their own dates; a show no longer matching
    leaves them. Nothing is fetched. `judge`: a Matcher of `shows` already built.
    """
    fingerprint = matcher.fingerprint(shows)
    if store.setting(SHOWS_SETTING) == fingerprint:
        return 0
    judge = judge or Matcher(shows)
    changed = 0
    for batch in store.stored_articles():
        changes = {}
        for article_id, article, stored in batch:
            matches = judge.match(article)
            if tuple(match.show for match in matches) != stored:
                changes[article_id] = matches
        # A batch at a time: an interrupted run is simply done again, as the fingerprint
        # is stored only at the end.
        store.replace_matches(changes)
        changed += len(changes)
    store.set_setting(SHOWS_SETTING, fingerprint)
    if changed:
        log.info("shows changed: %d stored articles matched again differently", changed)
    return changed


def _log(outcome: PollOutcome) -> None:
    fields = {
        "feed": outcome.url,
        "status": outcome.status,
        "new": outcome.new,
        "updated": outcome.updated,
        "matched": outcome.matched,
        "skipped": outcome.skipped,
        "seconds": round(outcome.seconds, 3),
        "error": outcome.error,
        "gone": outcome.gone,
        "next_poll": outcome.next_poll.isoformat() if outcome.next_poll else None,
    }
    extra = {"fields": fields}
    if outcome.error is None:
        log.info(
            "%s: HTTP %s, %d new, %d updated%s, %.2fs",
            outcome.url,
            outcome.status,
            outcome.new,
            outcome.updated,
            f", {outcome.skipped} entries skipped" if outcome.skipped else "",
            outcome.seconds,
            extra=extra,
        )
    elif outcome.next_poll is None and not outcome.gone:
        log.error("%s: %s; not recorded", outcome.url, outcome.error, extra=extra)
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
