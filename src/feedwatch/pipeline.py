"""One poll of one feed, and one full cycle over many: the pipeline's glue.

fetch -> parse -> match -> store, per feed; then summarise what is new and publish the digest.
A feed that fails is recorded against that feed and never stops the others.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feedwatch import decide, language, matcher, policy, roundup, stories
from feedwatch.batching import GroupWriter
from feedwatch.config import Config, FeedSettings, ShowSettings
from feedwatch.errors import FetchError, ParseError, StoreError
from feedwatch.matcher import Matcher
from feedwatch.models import (
    Article,
    DigestItem,
    FeedState,
    FetchResult,
    ParsedFeed,
    PollIntent,
    ShowMatch,
    StoredPoll,
    StoredStory,
    Validators,
)
from feedwatch.poll import pages as fulltext
from feedwatch.poll import pool
from feedwatch.poll.http import Fetcher
from feedwatch.poll.processes import Readers
from feedwatch.publish import feeds as digest
from feedwatch.store import Store
from feedwatch.store.repository import PollRecord, PruneReport
from feedwatch.summariser import Summariser

log = logging.getLogger(__name__)

SUMMARY_BATCH = 20  # summaries saved per transaction
# Polls written per transaction in a cycle: one commit each costs more than the poll's rows.
WRITE_BATCH_FEEDS = 50
WRITE_BATCH_ENTRIES = 2000
SHOWS_SETTING = "shows"  # the store's name for the fingerprint its matches were made with
PUBLISHED_SETTING = "published"  # digest.inputs_version of the feeds the store serves


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


class Downloads:
    """Fetches a feed and reads the answer: all of a poll that needs neither the store nor
    the order of feeds, so run_cycle runs it ahead in worker threads (pool.Prefetch), where
    a body is read in another thread than the one that requested it."""

    def __init__(
        self,
        fetcher: Fetcher,
        readers: Readers,
        max_entries: int,
        clock: Callable[[], datetime] = policy.utc_now,
    ) -> None:
        self._fetcher = fetcher
        self._readers = readers
        self._max_entries = max_entries
        self._clock = clock

    def fetch(self, url: str, validators: Validators | None = None) -> Download:
        """Raises FetchError or ParseError."""
        return self.read(self.request(url, validators))

    def request(self, url: str, validators: Validators | None = None) -> FetchResult:
        """The feed's answer. Raises FetchError."""
        return self._fetcher.fetch(url, validators)

    def read(self, result: FetchResult) -> Download:
        """What `result` says. Raises ParseError."""
        if result.not_modified:
            return Download(result)
        # No entry is dated after the fetch: a future date is a feed's mistake or an embargo.
        found = self._readers.read(
            result.content,
            result.headers,
            result.url,
            max_entries=self._max_entries,
            now=self._clock(),
        )
        # Held until its batch is written: without the body, which nothing after this needs.
        return Download(dataclasses.replace(result, content=b""), found.feed, found.articles)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A feed's answer, or why there is none, waiting for its batch to be written."""

    feed: FeedSettings
    state: FeedState
    at: datetime  # when it was polled
    started: float  # time.monotonic() then
    download: Download | None = None
    error: FetchError | ParseError | None = None
    pages: fulltext.Pages | None = None  # fetched ahead (Pipeline.poll), else by _pages_for

    @property
    def entry_ids(self) -> list[str]:
        return [a.entry_id for a in self.download.articles] if self.download else []


def _batch_size(queue: Sequence[_Fetched]) -> int:
    """How many of the first polls queued are written together: WRITE_BATCH_FEEDS, or fewer
    with about WRITE_BATCH_ENTRIES entries between them."""
    entries = 0
    for size, fetched in enumerate(queue[:WRITE_BATCH_FEEDS], start=1):
        entries += len(fetched.entry_ids)
        if entries >= WRITE_BATCH_ENTRIES:
            return size
    return min(len(queue), WRITE_BATCH_FEEDS)


class Pipeline:
    """Long-lived pieces of one running feedwatch, shared by every poll.

    `clock` gives the time every poll is decided at (decide.py); `readers` read the feeds'
    bodies (by default, in the polling thread).
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        clock: Callable[[], datetime] = policy.utc_now,
        readers: Readers | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.clock = clock
        self.readers = readers or Readers(processes=0)
        self.matcher = Matcher(config.shows)
        self.summariser = Summariser(config.summary.algorithm)
        self.pages = fulltext.PageFetcher(config, fetcher, store)
        # Summarising and publishing touch shared state (sumy objects, the digest file); polls
        # may run in several threads, so those two steps run one at a time.
        self._publish_lock = threading.Lock()
        # Polls from the daemon's threads, written together when they finish together.
        self._writer: GroupWriter[_Fetched, PollOutcome | StoreError] = GroupWriter(
            self._record, _batch_size
        )
        store.sync_feeds(
            [(feed.url, feed.title) for feed in config.feeds], policy.fingerprints(config.feeds)
        )
        # A config whose shows changed (once, daemon start, reload) is judged from here on.
        self.rejudge()
        # The fetcher is the process's one: its per-host limit holds for feeds and pages alike,
        # whichever pool or thread asks. Set last, so a reload that fails keeps the old one.
        fetcher.limit_per_host(config.poll.per_host)

    def poll(
        self,
        feed: FeedSettings,
        state: FeedState | None = None,
        *,
        answered: Callable[[], None] | None = None,
    ) -> PollOutcome:
        """Fetch, parse, match and store one feed now, then schedule its next poll.

        `state`: the feed's, as read under its lease (Store.claim_due); else it is read here.
        `answered` is called once the feed (and the pages it needs) is fetched and read, as
        the poll begins to wait for its write.

        Polls whatever the schedule says: due() and pollable() choose the feeds. A per-feed
        failure (the database refusing this feed's articles included) is recorded against
        the feed and scheduled for a retry, never raised; StoreError is raised only when the
        poll could not be recorded at all.
        Logs one line per poll. Several feeds may be polled at once from different threads;
        those that finish while others are being written are written together, in one
        transaction (batching.GroupWriter). A poll cut short by closing the fetcher (shutdown)
        records nothing: AbandonedError.
        """
        state = state or self.store.feed_state(feed.url)
        fetched = self._with_pages(self._fetch(feed, state, self._downloads()))
        if answered is not None:
            answered()
        outcome = self._writer.write(fetched)
        if isinstance(outcome, StoreError):
            raise outcome
        _log(outcome)
        return outcome

    def _with_pages(self, fetched: _Fetched) -> _Fetched:
        """`fetched` with the pages its entries need, fetched in the poll's own thread: in
        the batch writer, every poll waiting to be written would wait for them too."""
        download = fetched.download
        if download is None or not self._may_fetch_pages(fetched):
            return fetched
        url = fetched.feed.url
        stored = self.store.stored_polls({url: fetched.entry_ids}, until=fetched.at)[url]
        pages = self.pages.fetch(fetched.feed, download.articles, stored.versions)
        return dataclasses.replace(fetched, pages=pages)

    def _may_fetch_pages(self, fetched: _Fetched) -> bool:
        """Whether the poll read entries whose pages its full_text setting may want."""
        return bool(fetched.entry_ids) and self.config.full_text_for(fetched.feed) is not False

    def _downloads(self) -> Downloads:
        return Downloads(self.fetcher, self.readers, self.config.poll.max_entries, self.clock)

    def _fetch(
        self, feed: FeedSettings, state: FeedState, downloads: Downloads | pool.Prefetch[Download]
    ) -> _Fetched:
        started = time.monotonic()
        at = self.clock()
        try:
            download = downloads.fetch(state.fetch_url, state.validators)
        except (FetchError, ParseError) as exc:
            return _Fetched(feed, state, at, started, error=exc)
        return _Fetched(feed, state, at, started, download)

    def _record(self, batch: Sequence[_Fetched]) -> list[PollOutcome | StoreError]:
        """Decide each poll of `batch` (decide.py) from the store as read once, then write
        them all in one transaction; when that fails, each on its own, so that a feed whose
        articles the database refuses has the failure recorded and the others their polls.

        StoreError in place of a poll that could not be recorded at all.
        """
        try:
            stored = self.store.stored_polls(
                {fetched.feed.url: fetched.entry_ids for fetched in batch},
                until=min(fetched.at for fetched in batch),
            )
        except StoreError as exc:
            return [exc for _ in batch]
        pages = self._pages_for(batch, stored)
        decided = [
            (fetched, *self._decide(fetched, stored[fetched.feed.url], pages.get(fetched.feed.url)))
            for fetched in batch
        ]
        intents = [intent for _, intent, _ in decided]
        written: list[tuple[PollIntent, PollRecord] | StoreError]
        try:
            written = list(zip(intents, self.store.record_polls(intents), strict=True))
        except StoreError:
            written = [
                self._record_alone(fetched, stored[fetched.feed.url], intent)
                for fetched, intent, _ in decided
            ]
        return [
            done if isinstance(done, StoreError) else _outcome(fetched, *done, matched)
            for (fetched, _, matched), done in zip(decided, written, strict=True)
        ]

    def _record_alone(
        self, fetched: _Fetched, stored: StoredPoll, intent: PollIntent
    ) -> tuple[PollIntent, PollRecord] | StoreError:
        """Write one poll, or when that fails, the failure: the intent written and how."""
        try:
            return intent, self.store.record_poll(intent)
        except StoreError as exc:
            if intent.error is not None:
                return exc
            # Its articles were refused (rolled back); the failure itself may still be kept.
            failure = decide.failed(
                fetched.state, stored, exc, at=fetched.at, **self._rules(fetched.feed)
            )
            try:
                return failure, self.store.record_poll(failure)
            except StoreError as again:
                return again

    def _pages_for(
        self, batch: Sequence[_Fetched], stored: Mapping[str, StoredPoll]
    ) -> dict[str, fulltext.Pages]:
        """The pages (full text) each poll of `batch` that read a document goes by, by feed
        URL: those fetched ahead (Pipeline.poll), else fetched here, several polls' at once:
        one after another, a batch of teaser feeds waited for each feed's pages in turn."""
        read = [f for f in batch if f.download is not None and f.download.parsed is not None]

        def pages_of(fetched: _Fetched) -> fulltext.Pages:
            assert fetched.download is not None
            if fetched.pages is not None:
                return fetched.pages
            versions = stored[fetched.feed.url].versions
            return self.pages.fetch(fetched.feed, fetched.download.articles, versions)

        fetching = [f for f in read if f.pages is None and self._may_fetch_pages(f)]
        if len(fetching) < 2:
            return {fetched.feed.url: pages_of(fetched) for fetched in read}
        threads = min(len(fetching), self.config.poll.concurrency)
        with ThreadPoolExecutor(threads, thread_name_prefix="pages") as pool:
            return dict(zip([f.feed.url for f in read], pool.map(pages_of, read), strict=True))

    def _decide(
        self, fetched: _Fetched, stored: StoredPoll, pages: fulltext.Pages | None
    ) -> tuple[PollIntent, int]:
        """The poll's intent, and how many of its entries matched a show; `pages`: those
        _pages_for fetched for it."""
        feed, download, rules = fetched.feed, fetched.download, self._rules(fetched.feed)
        if download is None:
            assert fetched.error is not None
            intent = decide.failed(fetched.state, stored, fetched.error, at=fetched.at, **rules)
            return intent, 0
        pages = pages if pages is not None else fulltext.Pages()
        pairs: list[tuple[Article, tuple[ShowMatch, ...]]] = []
        if download.parsed is not None:
            if download.parsed.warning:
                log.info("%s: recovered from malformed feed: %s", feed.url, download.parsed.warning)
            # Teasers are matched, and later summarised, with their linked page's text.
            pairs = [(a, self.matcher.match(pages.apply(a))) for a in download.articles]
        intent = decide.fetched(
            fetched.state,
            stored,
            download.result,
            download.parsed,
            pairs,
            at=fetched.at,
            pages=pages.fetched,
            **rules,
        )
        return intent, sum(1 for _, shows in pairs if shows)

    def _rules(self, feed: FeedSettings) -> dict[str, Any]:
        """decide's scheduling arguments for `feed`: its interval and the bounds."""
        return {"interval": self.config.interval_for(feed), "bounds": self._bounds}

    @property
    def _bounds(self) -> policy.Bounds:
        return policy.Bounds(self.config.poll.min_interval, self.config.poll.max_interval)

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
        built = self.clock()
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
        arguments = {
            "formats": settings.formats,
            "per_show": settings.per_show,
            "shows": shows,
            "roundups": roundups,
        }
        inputs = digest.inputs_version(items, settings, **arguments)
        # What the store serves, and this machine's files: after a publisher on another
        # machine, the store holds its feeds and the files here are this one's older ones.
        # Both unchanged (as after a cycle of 304s), the feeds are left as they are.
        files = f"{PUBLISHED_SETTING} {socket.gethostname()} {settings.path.resolve()}"
        if (
            self.store.setting(PUBLISHED_SETTING) == inputs
            and self.store.setting(files) == inputs
            and digest.files_present(
                settings, settings.formats, settings.per_show, shows, roundup=roundups is not None
            )
        ):
            return
        rendered = digest.render_all(items, settings, built=built, **arguments)
        # The store first: every process serves the feeds from there, the publisher's files
        # are for readers pointed at them.
        self.store.save_published(rendered.values(), built)
        self.store.set_setting(PUBLISHED_SETTING, inputs)
        digest.write(rendered)
        self.store.set_setting(files, inputs)

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
            return self.clock() + self.config.poll.max_interval
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
        response is parsed while the next requests are out, while the results are matched and
        stored in the order given, WRITE_BATCH_FEEDS feeds (or about WRITE_BATCH_ENTRIES
        entries) per transaction: the outcome never depends on which server answered first
        (e.g. which of two feeds carrying the same story it is credited to), and a crash loses
        at most the batch being written, whose feeds are simply polled again.

        A poll that could not be recorded (StoreError) is logged and the cycle goes on; when
        no poll could be recorded at all the database is taken to be down: StoreError.
        """
        # Read once for the whole cycle: each poll below changes only its own feed's state.
        chosen = self._pollable(self.clock()) if feeds is None else self._states(feeds)
        states = [state for _, state in chosen]
        limits = self.config.poll
        # How far requests run ahead of storing: bounds the responses held in memory.
        window = 4 * limits.concurrency
        polls: list[PollOutcome] = []
        unrecorded: list[StoreError] = []
        requested = 0
        downloads = self._downloads()
        batch: list[_Fetched] = []
        entries = 0
        # One batch is decided and written while the next is fetched, by this one thread,
        # so batches are written in order, and at most two are held.
        writing: list[tuple[list[_Fetched], Future[list[PollOutcome | StoreError]]]] = []

        def written() -> None:
            """Log the outcomes of the batch being written, once it is."""
            if not writing:
                return
            done_batch, future = writing.pop()
            for fetched, done in zip(done_batch, future.result(), strict=True):
                outcome = done
                if isinstance(done, StoreError):
                    unrecorded.append(done)
                    seconds = time.monotonic() - fetched.started
                    outcome = PollOutcome(fetched.feed.url, None, error=str(done), seconds=seconds)
                polls.append(outcome)
                _log(outcome)

        with (
            pool.Prefetch(downloads, limits.concurrency, limits.per_host) as ahead,
            ThreadPoolExecutor(1, thread_name_prefix="store") as writer,
        ):
            for index, (feed, state) in enumerate(chosen):
                while requested < min(len(chosen), index + window):
                    ahead.request(states[requested].fetch_url, states[requested].validators)
                    requested += 1
                fetched = self._fetch(feed, state, ahead)
                batch.append(fetched)
                entries += len(fetched.entry_ids)
                if (
                    len(batch) == WRITE_BATCH_FEEDS
                    or entries >= WRITE_BATCH_ENTRIES
                    or (index == len(chosen) - 1)
                ):
                    written()
                    writing.append((batch, writer.submit(self._record, batch)))
                    batch, entries = [], 0
            written()
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


def _outcome(
    fetched: _Fetched, intent: PollIntent, record: PollRecord, matched: int
) -> PollOutcome:
    """What the poll did, once `intent` was written as `record`."""
    seconds = time.monotonic() - fetched.started
    schedule = record.schedule
    if intent.error is None:
        parsed = intent.feed
        return PollOutcome(
            fetched.feed.url,
            intent.status,
            new=record.saved.new,
            updated=record.saved.updated,
            matched=matched,
            skipped=parsed.skipped + parsed.truncated if parsed else 0,
            seconds=seconds,
            next_poll=schedule.next_poll,
        )
    return PollOutcome(
        fetched.feed.url,
        intent.status,
        error=intent.error,
        seconds=seconds,
        next_poll=schedule.next_poll,
        gone=schedule.gone_since is not None,
    )


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
