"""The daemon: APScheduler wakes a dispatcher that hands due feeds to a bounded pool.

- Every TICK seconds APScheduler runs the dispatcher. It claims from the store as many due
  feeds as the pool has room for (store/claims.py: an indexed query, each feed leased to this
  worker for `poll.lease`), and hands them to a HostPool: `poll.concurrency` at once,
  `poll.per_host` per host. A poll fetched and read gives its slot up to the next one while
  it waits for its write (polls finishing together are written together), up to as many
  more waiting. Each poll frees its lease once recorded; a lease half run out
  while its feed is still queued or polled (full-text pages can take several timeouts) is
  renewed at the next tick. Several `feedwatch run` processes on one PostgreSQL database
  thus share the feeds, each due feed polled by one of them; the feeds of a worker that dies
  are claimed by another once its leases expire.
- One worker publishes: the one holding the store's publish lock (on PostgreSQL an advisory
  lock, freed when its holder's connection ends; on SQLite always this one), looked at every
  tick, so another takes over when the holder dies. A poll that stored new or changed
  articles asks for a publish; a worker that does not publish tells the one that does
  through a setting it watches. One publisher thread summarises and rewrites the digest;
  requests made while it works are folded into one more run, so polls never queue behind
  the summariser and the digest is never more than one publish behind the polls.
- A second job checks the config file every WATCH_EVERY seconds; a changed file (or SIGHUP)
  is reloaded: a new Pipeline over the same store and fetcher. A broken edit is logged and
  the running config kept.
- A poll that could not be recorded (the store failed, or a bug) is logged and its feed kept
  back: min_interval, doubled per such failure in a row, at most max_interval, so a
  persistent fault never has feedwatch poll a server every tick. Its lease is kept that long,
  so no other worker polls it meanwhile either.
- Health: a store that cannot be read (the schedule) or written (a poll) is reported by
  /healthz (503) until that works again. Each tick checks that the SQLite file opened is
  still the one at its path: once deleted or replaced, nothing more is polled or published
  (it would be written to a file no one will open again) and /healthz says so until restart.
- stop(): no new polls; queued ones are dropped (their leases freed), running ones get
  `grace` seconds to finish (each commits its own writes), then a last publish of what they
  stored, with up to `publish_grace` seconds of its own. A poll still running when the
  fetcher is then closed ends in AbandonedError and records nothing: no error, no back-off.
- Signals turns SIGTERM/SIGINT into that stop and SIGHUP into a reload, for `run` and `serve`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import queue
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from feedwatch import config, logs, policy
from feedwatch.batching import GroupWriter
from feedwatch.errors import AbandonedError, ConfigError, FeedwatchError, StoreError
from feedwatch.metrics import Metrics
from feedwatch.poll.pool import HostPool, host_of

if TYPE_CHECKING:
    from feedwatch.config import Config, FeedSettings
    from feedwatch.models import FeedState
    from feedwatch.pipeline import Pipeline

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0  # seconds running polls get to finish after SIGTERM/SIGINT
FINAL_PUBLISH_GRACE = 10.0  # seconds the last digest rewrite gets after that
TICK = 1.0
# Seconds from one publish's start to the next at least: a burst of polls storing new articles
# (a start, a reload, every feed due) is published every few seconds, not after each poll, whose
# writes then no longer wait behind the publisher's.
PUBLISH_GAP = 2.0
MAX_SLEEP = timedelta(seconds=30)  # how long a schedule that could not be read is left alone
# The setting a worker that does not publish changes when it stored something new.
CHANGES_SETTING = "digest.changes"
WATCH_EVERY = 2.0
# Keys a reload cannot apply to a running process: the store, fetcher and server are kept.
RESTART_KEYS = ("database", "server", "poll.timeout", "poll.max_bytes", "poll.processes")


@dataclass(eq=False)
class _Cycle:
    """The feeds one dispatch handed out; done when the last of them is."""

    started: float
    left: int


def worker_name() -> str:
    """This process among the workers sharing a database: host, pid, and a random part
    (pids are reused, e.g. by a restarted container)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class _Hold:
    """A feed kept from dispatch after polls that could not be recorded."""

    failures: int  # in a row
    seconds: float
    until: datetime


class Daemon:
    """Polls the configured feeds on their schedules until stop() is called."""

    def __init__(
        self,
        pipeline: Pipeline,
        metrics: Metrics | None = None,
        *,
        grace: float = SHUTDOWN_GRACE,
        publish_grace: float = FINAL_PUBLISH_GRACE,
        tick: float = TICK,
        watch_every: float = WATCH_EVERY,
        publish_gap: float = PUBLISH_GAP,
        clock: Callable[[], datetime] = policy.utc_now,
    ) -> None:
        """`clock` gives the time schedules and leases are read at (aware UTC datetimes)."""
        self.pipeline = pipeline
        self.metrics = metrics or Metrics()
        self.grace = grace
        self.publish_grace = publish_grace
        self._tick = tick
        self._watch_every = watch_every
        self._publish_gap = publish_gap
        poll = pipeline.config.poll
        self._pool = HostPool(poll.concurrency, poll.per_host)
        self.metrics.track_in_flight(lambda: self._pool.calls)
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._clock = clock
        self.owner = worker_name()  # the name its leases are held under
        self._lock = threading.Lock()
        self._in_flight: dict[str, datetime] = {}  # feed URL -> when its lease ends
        # Of those, the polls fetched and read that gave their slot up to wait for their write.
        self._writing: set[str] = set()
        self._claiming = threading.Lock()
        self._backlog = False  # the last claim took all it had room for: more may be due
        self._held: dict[str, _Hold] = {}
        self._wake_at = datetime.min.replace(tzinfo=UTC)
        self._wake_now = True
        self._stopping = threading.Event()
        # Held by whatever changes the scheduler's jobs, and by stop() as it sets _stopping.
        # The scheduler's shutdown holds APScheduler's job store lock until its running jobs
        # end, so a job that then asked for that lock (the config watcher's reload, moving the
        # roundup) would wait for ever, and stop() with it.
        self._scheduling = threading.Lock()
        self._store_lost = threading.Event()  # the SQLite file opened is gone from its path
        self._reload_lock = threading.Lock()
        self._config_seen = _file_state(pipeline.config.source)
        self._publish_lock = pipeline.store.publish_lock()
        self._publishing = False  # held the publish lock at the last look
        self._changes_seen: str | None = None  # CHANGES_SETTING at the last look
        self._changes_untold = False  # stored something new the publisher is not told of yet
        self._publish = threading.Condition()
        self._publish_wanted = False
        self._publisher_done = False
        self._publisher = threading.Thread(target=self._publish_loop, name="publish", daemon=True)
        # The leases of polls that end while others' are being freed go in one transaction.
        self._releases: GroupWriter[tuple[str, datetime | None], None] = GroupWriter(
            self._release_together
        )

    @property
    def config(self) -> Config:
        return self.pipeline.config

    def start(self) -> None:
        """Write the digest once (so it can be served at once), then start polling.

        A digest that cannot be written here is raised: there would be nothing to serve.
        """
        store = self.pipeline.store
        if store.created:
            # Where a database existed before, this is how its loss shows.
            log.info("created a new database at %s", store.location)
        self._publishing = self._publish_lock.held()
        if self._publishing:
            if self._publish_lock.shared:
                log.info("this worker publishes the digest")
            self._changes_seen = store.setting(CHANGES_SETTING)
            started = time.monotonic()
            self._published(started, *self.pipeline.publish())
        else:
            log.info("another worker publishes the digest; this one polls and stores")
        failing = [report.url for report in self.pipeline.store.feed_reports() if report.last_error]
        self.metrics.set_feeds([feed.url for feed in self.config.feeds], failing)
        self._publisher.start()
        # A job never overlaps itself; ticks missed while one ran are dropped, not caught up.
        options: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        self._scheduler.add_job(
            self._dispatch,
            IntervalTrigger(seconds=self._tick),
            id="dispatch",
            next_run_time=datetime.now(UTC),
            **options,
        )
        self._scheduler.add_job(
            self._watch_config, IntervalTrigger(seconds=self._watch_every), id="config", **options
        )
        # Retention: once at start, then daily.
        self._scheduler.add_job(
            self._prune,
            IntervalTrigger(days=1),
            id="prune",
            next_run_time=datetime.now(UTC),
            **options,
        )
        self._schedule_roundup()
        self._scheduler.start()

    def _schedule_roundup(self) -> None:
        """The daily roundup job at digest.roundup in digest.timezone; none when it is off."""
        settings = self.config.digest
        with self._scheduling:
            if self._stopping.is_set():
                return
            if settings.roundup is None:
                if self._scheduler.get_job("roundup") is not None:
                    self._scheduler.remove_job("roundup")
                return
            trigger = CronTrigger(
                hour=settings.roundup.hour, minute=settings.roundup.minute, timezone=settings.zone
            )
            self._scheduler.add_job(
                self._roundup,
                trigger,
                id="roundup",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )

    def _roundup(self) -> None:
        try:
            self.pipeline.note_roundup(self._clock())
        except FeedwatchError as exc:
            log.error("cannot note the daily roundup: %s", exc)
            return
        self._request_publish()

    def stop(self) -> bool:
        """Stop polling within `grace` seconds, then give the last digest rewrite up to
        `publish_grace` seconds more. True when every running poll and that rewrite finished.
        """
        with self._scheduling:
            self._stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        running = self._pool.calls
        if running:
            log.info("stopping: waiting up to %gs for %d polls in flight", self.grace, running)
        finished = self._pool.shutdown(timeout=self.grace)
        if not finished:
            log.warning(
                "stopping: %d polls still running after %gs, abandoned (what they did not "
                "commit is fetched again next time)",
                self._pool.calls,
                self.grace,
            )
        # Polls dropped from the queue, or abandoned: their feeds go to the other workers now.
        self._release()
        if self._store_file_ok():
            self._tell_publisher()  # what the last polls stored
        with self._publish:
            self._publisher_done = True
            self._publish.notify_all()
        # Its own bound: polls that used the whole grace period must not cost the final
        # rewrite, and the caller closes the store once this returns.
        if self._publisher.is_alive():
            self._publisher.join(self.publish_grace)
        self._publish_lock.close()
        if self._publisher.is_alive():
            log.warning(
                "stopping: the digest is still being rewritten after %gs, abandoned",
                self.publish_grace,
            )
            return False
        return finished

    def wake(self) -> None:
        """Look for due feeds at the next tick, even after a schedule that could not be read."""
        with self._lock:
            self._wake_now = True

    def health(self) -> dict[str, Any]:
        polling = not (self._stopping.is_set() or self._store_lost.is_set())
        return {"polling": polling, "publishing": self._publishing, **self.metrics.health()}

    def reload(self, reason: str) -> bool:
        """Read the config file again and use it from the next poll on.

        A config that does not load is logged in one line and the running one kept.
        """
        from feedwatch.pipeline import Pipeline

        with self._reload_lock:
            old = self.pipeline
            source = old.config.source
            self._config_seen = _file_state(source)
            try:
                new_config = config.load(source)
                for key in RESTART_KEYS:
                    if _setting(old.config, key) != _setting(new_config, key):
                        log.warning("config reload (%s): %s changes on restart only", reason, key)
                pipeline = Pipeline(new_config, old.store, old.fetcher, old.clock, old.readers)
            # Whatever goes wrong, the daemon goes on with the config it has.
            except Exception as exc:
                self.metrics.reloaded(ok=False)
                log_reload_failure(reason, exc)
                return False
            self.pipeline = pipeline
            self._pool.set_limits(new_config.poll.concurrency, new_config.poll.per_host)
            self.metrics.set_feeds(feed.url for feed in new_config.feeds)
            self.metrics.reloaded(ok=True)
        before = {feed.url for feed in old.config.feeds}
        after = {feed.url for feed in new_config.feeds}
        log.info(
            "config reloaded (%s): %d feeds (%d added, %d removed), %d shows",
            reason,
            len(after),
            len(after - before),
            len(before - after),
            len(new_config.shows),
        )
        self.wake()
        self._schedule_roundup()
        # Digest settings (title, size) may have changed.
        self._request_publish()
        return True

    def _dispatch(self) -> None:
        if self._stopping.is_set() or not self._store_file_ok():
            return
        self._tell_publisher()
        self.pipeline.readers.stop_if_idle()
        now = self._clock()
        with self._lock:
            if not self._wake_now and now < self._wake_at:
                return
            self._wake_now = False
        self._watch_publisher()
        self._renew(now, self.config.poll.lease_time)
        self._claim(now)

    def _claim(self, now: datetime) -> None:
        """Claim as many due feeds as the pool has room for, and queue their polls.

        Run at each tick, and by a poll that is done fetching while more feeds were due than
        the last claim took, once half the pool is free: a worker is not held to one
        pool-full a tick.
        """
        if not self._claiming.acquire(blocking=False):
            return  # the tick and a poll thread at once: one claim is enough
        try:
            with self._lock:
                concurrency = self.config.poll.concurrency
                room = min(concurrency - self._fetching(), 2 * concurrency - len(self._in_flight))
            if room <= 0:
                return
            pipeline = self.pipeline
            lease = pipeline.config.poll.lease_time
            try:
                claimed = pipeline.store.claim_due(now, owner=self.owner, lease=lease, limit=room)
            except FeedwatchError as exc:
                log.error("cannot read the schedule: %s", exc)
                if isinstance(exc, StoreError):
                    self.metrics.store_failed("read", f"cannot read the schedule: {exc}")
                with self._lock:
                    self._wake_at = now + MAX_SLEEP
                    self._backlog = False
                return
            self.metrics.store_ok("read")
            with self._lock:
                self._backlog = len(claimed) == room
                # In flight (its lease lapsed as it could not be renewed), or kept back
                # here: the lease stays this worker's until it ends, and no one else polls it.
                fresh = [
                    state
                    for state in claimed
                    if state.url not in self._in_flight and not self._is_held(state.url, now)
                ]
                self._in_flight.update((state.url, now + lease) for state in fresh)
            if not fresh:
                return
            cycle = _Cycle(time.monotonic(), len(fresh))
            for state in fresh:
                # A feed moved for good (301/308) is fetched from, so counts against its new
                # host. A pool shut down since (stop() from another thread) takes no more.
                try:
                    self._pool.submit(host_of(state.fetch_url), self._poll, state, cycle)
                except RuntimeError:
                    with self._lock:
                        self._in_flight.pop(state.url, None)
        finally:
            self._claiming.release()

    def _renew(self, now: datetime, lease: timedelta) -> None:
        """Renew the leases of the feeds in flight that are half run out."""
        with self._lock:
            ending = [url for url, until in self._in_flight.items() if until - now <= lease / 2]
        if not ending:
            return
        try:
            self.pipeline.store.release_claims(self.owner, ending, until=now + lease)
        except FeedwatchError as exc:
            # Another worker may poll them once they lapse; their articles are still stored
            # once (the store's unique keys).
            log.warning("cannot renew the leases of %d feeds in flight: %s", len(ending), exc)
            return
        with self._lock:
            for url in ending:
                if url in self._in_flight:
                    self._in_flight[url] = now + lease

    def _poll(self, state: FeedState, cycle: _Cycle) -> None:
        url = state.url
        keep_until: datetime | None = None  # the lease is kept this long after a failure
        try:
            # The config of the moment: a reload since dispatch may have changed or removed it.
            pipeline = self.pipeline
            feed = _find(pipeline.config, url)
            if feed is None or self._stopping.is_set() or not self._store_file_ok():
                return
            try:
                outcome = pipeline.poll(feed, state, answered=lambda: self._answered(url))
            except AbandonedError:
                # Closed under it at shutdown: no news of the feed, so nothing is recorded
                # and the feed is simply polled again at the next start.
                log.info("%s: poll abandoned at shutdown; polled again next start", url)
                return
            except FeedwatchError as exc:  # the poll could not be recorded, e.g. StoreError
                self.metrics.poll_failed(url)
                if isinstance(exc, StoreError):
                    self.metrics.store_failed("write", f"cannot record a poll: {exc}")
                hold = self._hold(url)
                keep_until = hold.until
                log.error("%s: %s; trying again in %gs", url, exc, hold.seconds)
                return
            except Exception as exc:
                # A bug: its traceback belongs in the log, and the daemon goes on.
                self.metrics.poll_failed(url)
                hold = self._hold(url)
                keep_until = hold.until
                log.exception(
                    "%s: the poll failed: %s; trying again in %gs",
                    url,
                    logs.described(exc),
                    hold.seconds,
                )
                return
            with self._lock:
                self._held.pop(url, None)
            self.metrics.store_ok("write")
            self.metrics.poll_done(outcome)
            if outcome.new or outcome.updated:
                self._changed()
        finally:
            # Out of flight first: a renewal must not come after the lease is freed or kept.
            with self._lock:
                self._in_flight.pop(url, None)
                self._writing.discard(url)
                cycle.left -= 1
                cycle_over = cycle.left == 0
                more = self._backlog and self._fetching() <= self.config.poll.concurrency // 2
            self._releases.write((url, keep_until))
            if more and not self._stopping.is_set():
                self._claim(self._clock())
            if cycle_over:
                self.metrics.cycle_done(time.monotonic() - cycle.started)

    def _fetching(self) -> int:
        """Polls in flight that have not given their slot up (queued or fetching). Caller
        holds the lock."""
        return len(self._in_flight) - len(self._writing)

    def _answered(self, url: str) -> None:
        """`url`'s poll is fetched and read: its slot goes to the next poll while it waits for
        its write, unless as many polls as the pool holds wait already."""
        with self._lock:
            concurrency = self.config.poll.concurrency
            # Threads that gave their slot up, to the end of _poll (lease freed) included;
            # given up under the lock, so no two polls pass this test on the same count.
            if self._pool.released >= concurrency:
                return
            self._writing.add(url)
            self._pool.release()
            more = self._backlog and self._fetching() <= concurrency // 2
        if more and not self._stopping.is_set():
            self._claim(self._clock())

    def _release_together(self, leases: Sequence[tuple[str, datetime | None]]) -> list[None]:
        """Free (or keep until when said) the leases of polls that ended together."""
        until_urls: dict[datetime | None, list[str]] = {}
        for url, until in leases:
            until_urls.setdefault(until, []).append(url)
        for until, urls in until_urls.items():
            self._release(urls, until=until)
        return [None] * len(leases)

    def _release(self, urls: list[str] | None = None, *, until: datetime | None = None) -> None:
        """Free this worker's leases on `urls` (None: all), or keep them until `until`."""
        try:
            self.pipeline.store.release_claims(self.owner, urls, until=until)
        except FeedwatchError as exc:
            # Nothing lost: a lease not freed lapses by itself within poll.lease.
            log.debug("cannot free leases: %s", exc)

    def _store_file_ok(self) -> bool:
        """False once the SQLite file the store opened is deleted or replaced; the first time,
        says so in one ERROR line and in health. Asked before each poll and publish too: a
        stat() costs far less than writing what would be lost."""
        if self._store_lost.is_set():
            return False
        problem = self.pipeline.store.file_problem()
        if problem is None:
            return True
        with self._lock:
            if self._store_lost.is_set():  # another thread found it first, and said so
                return False
            self._store_lost.set()
        self.metrics.store_failed(
            "file", f"{problem}; polling and publishing stopped until feedwatch is restarted"
        )
        log.error(
            "%s while feedwatch had it open: polling and publishing stopped (what they stored "
            "would be lost with the old file); restore the file if you have a copy, then "
            "restart feedwatch",
            problem,
        )
        return False

    def _is_held(self, url: str, now: datetime) -> bool:
        """Whether `url` is kept back by _hold() at `now`. Caller holds the lock."""
        hold = self._held.get(url)
        return hold is not None and now < hold.until

    def _hold(self, url: str) -> _Hold:
        """Keep `url` from dispatch after a poll that could not be recorded, whose schedule
        therefore still says "due": poll.min_interval doubled per failure in a row, at most
        poll.max_interval."""
        poll = self.config.poll
        with self._lock:
            previous = self._held.get(url)
            failures = previous.failures + 1 if previous else 1
            seconds = min(
                poll.min_interval.total_seconds() * 2 ** min(failures - 1, 32),
                poll.max_interval.total_seconds(),
            )
            hold = _Hold(failures, seconds, self._clock() + timedelta(seconds=seconds))
            self._held[url] = hold
        return hold

    def _changed(self) -> None:
        """Something new was stored: publish it, or have the publishing worker do so (told
        at the next tick, once for all the polls since: a write each would cost more)."""
        if self._publishing:
            self._request_publish()
            return
        with self._lock:
            self._changes_untold = True
        if self._stopping.is_set():  # no tick is coming to tell it: a poll that outran stop()
            self._tell_publisher()

    def _tell_publisher(self) -> None:
        """Tell the publishing worker that this one stored something new since the last time."""
        with self._lock:
            if not self._changes_untold:
                return
            self._changes_untold = False
        try:
            self.pipeline.store.set_setting(CHANGES_SETTING, secrets.token_hex(8))
        except FeedwatchError as exc:
            log.error("cannot tell the publishing worker of new articles: %s", exc)
            with self._lock:
                self._changes_untold = True  # again at the next tick

    def _watch_publisher(self) -> None:
        """Take over publishing once the worker that did is gone; as the publisher, publish
        what the other workers stored."""
        held = self._publish_lock.held()
        taken = held and not self._publishing
        if held != self._publishing:
            self._publishing = held
            if held:
                log.info("this worker publishes the digest from now on")
            else:
                log.warning("this worker no longer publishes the digest")
        if taken:
            self._request_publish()  # whatever the last publisher left unpublished
        if not (held and self._publish_lock.shared):
            return
        try:
            changes = self.pipeline.store.setting(CHANGES_SETTING)
        except FeedwatchError:
            return  # the claim that follows reports what is wrong with the store
        if changes != self._changes_seen:
            self._changes_seen = changes
            self._request_publish()

    def _request_publish(self) -> None:
        with self._publish:
            self._publish_wanted = True
            self._publish.notify_all()

    def _publish_loop(self) -> None:
        started = -math.inf
        while True:
            with self._publish:
                self._publish.wait_for(lambda: self._publish_wanted or self._publisher_done)
                if not self._publish_wanted:
                    return
                # The last rewrite, at stop, waits for no gap.
                gap = started + self._publish_gap - time.monotonic()
                self._publish.wait_for(lambda: self._publisher_done, timeout=max(gap, 0))
                self._publish_wanted = False
            started = time.monotonic()
            self._publish_now()

    def _publish_now(self) -> None:
        if not self._publishing or not self._store_file_ok():
            return
        started = time.monotonic()
        try:
            summarised, items = self.pipeline.publish()
        except FeedwatchError as exc:
            self.metrics.publish_failed(str(exc), store=isinstance(exc, StoreError))
            log.error("cannot publish the digest: %s", exc)
            return
        except Exception as exc:
            # A bug: logged with its traceback; the publisher lives on for the next request.
            self.metrics.publish_failed(logs.described(exc))
            log.exception("cannot publish the digest: %s", logs.described(exc))
            return
        self._published(started, summarised, items)

    def _published(self, started: float, summarised: int, items: int) -> None:
        seconds = time.monotonic() - started
        self.metrics.published(seconds, summarised, items)
        log.info(
            "digest: %d items, %d new summaries, %.2fs",
            items,
            summarised,
            seconds,
            extra={"fields": {"items": items, "summarised": summarised, "seconds": seconds}},
        )

    def _prune(self) -> None:
        """Delete what retention says is too old, and republish if the digest lost items."""
        try:
            report = self.pipeline.prune(self._clock())
        except FeedwatchError as exc:
            log.error("cannot prune old articles: %s", exc)
            return
        if report.matched:
            self._changed()

    def _watch_config(self) -> None:
        if self._stopping.is_set():
            return
        # Nothing may escape to APScheduler, which would log a traceback every few seconds.
        try:
            state = _file_state(self.config.source)
            if state is not None and state != self._config_seen:
                self.reload("file changed")
        except Exception as exc:
            log_reload_failure("file changed", exc)


def log_reload_failure(reason: str, exc: Exception) -> None:
    """The one ERROR line of a config reload that did not take; a bug's traceback at DEBUG."""
    if isinstance(exc, FeedwatchError):
        why = logs.one_line(str(exc))
    else:
        log.debug("config reload (%s): internal error", reason, exc_info=exc)
        why = f"internal error: {logs.described(exc)}"
    log.error("config reload (%s) failed, keeping the running config: %s", reason, why)


def _find(cfg: Config, url: str) -> FeedSettings | None:
    return next((feed for feed in cfg.feeds if feed.url == url), None)


def _setting(cfg: Config, dotted: str) -> object:
    value: object = cfg
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def _file_state(path: Path) -> str | None:
    """A fingerprint of the file's content; None while it does not exist (an editor's save).

    Read as config.load reads it, so a FIFO or /dev/zero put in its place cannot hang or fill
    the watcher; such a file is fingerprinted by why it is refused, so a reload says so once.
    """
    try:
        return hashlib.sha256(config.read_bytes(path)).hexdigest()
    except ConfigError as exc:
        return None if not os.path.lexists(path) else f"refused: {exc}"


class Signals:
    """SIGTERM, SIGINT and SIGHUP caught from `with` on, so none is lost while starting up.

    Leaving the block hands SIGTERM/SIGINT back (a second one ends the process at once) and
    ignores SIGHUP. Must be used in the main thread.
    """

    def __init__(self) -> None:
        self._caught: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Signals:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if signum == signal.SIGHUP else handler)

    def wait(self, on_reload: Callable[[], object] | None = None) -> str:
        """Block until SIGTERM or SIGINT, calling `on_reload` on each SIGHUP meanwhile;
        returns the name of the signal that stopped it."""
        while True:
            try:
                signum = self._caught.get(timeout=1.0)
            except queue.Empty:
                continue
            if signum != signal.SIGHUP:
                return signal.Signals(signum).name
            if on_reload is not None:
                on_reload()

    def _note(self, signum: int, _frame: object) -> None:
        self._caught.put(signum)  # SimpleQueue.put may be called from a signal handler
