"""Several workers on one database: feeds claimed with leases, one publisher at a time.

The PostgreSQL tests run against the server on 127.0.0.1:5432, each in a database of its
own, and skip with the reason when it does not answer.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from daemonkit import Feedwatch, rss, story, wait_until, write_config
from feedwatch import config
from feedwatch.daemon import Daemon
from feedwatch.errors import ConfigError, StoreError
from feedwatch.metrics import Metrics
from feedwatch.models import PollIntent, Schedule
from feedwatch.pipeline import Pipeline
from feedwatch.poll.http import Fetcher
from feedwatch.store import Store
from test_daemon import digest_titles
from test_store import fresh_postgres_database, postgres  # noqa: F401 (fixtures)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedwatch.db'}"
    return request.getfixturevalue("fresh_postgres_database")


def stored(url: str, feeds: list[str]) -> Store:
    """A store at `url` with `feeds` configured, none polled yet."""
    store = Store.open(url)
    store.sync_feeds([(feed, None) for feed in feeds], {feed: "entry" for feed in feeds})
    return store


def claimed(store: Store, owner: str, at: datetime, limit: int = 10) -> list[str]:
    return [state.url for state in store.claim_due(at, owner=owner, lease=LEASE, limit=limit)]


# --- claims ----------------------------------------------------------------------------------


def test_a_due_feed_is_claimed_by_one_worker_until_its_lease_expires(database):
    feeds = ["https://a.example/rss", "https://b.example/rss", "https://c.example/rss"]
    with closing(stored(database, feeds)) as store:
        assert claimed(store, "one", NOW, limit=2) == feeds[:2]
        assert claimed(store, "two", NOW) == feeds[2:]
        assert claimed(store, "two", NOW + LEASE - timedelta(seconds=1)) == []
        # Never polled (so still due) and the lease run out: worker one is taken to be dead.
        assert claimed(store, "two", NOW + LEASE) == feeds


def test_a_freed_lease_is_claimable_at_once_and_a_kept_one_only_once_it_ends(database):
    feeds = ["https://a.example/rss", "https://b.example/rss"]
    with closing(stored(database, feeds)) as store:
        assert claimed(store, "one", NOW) == feeds
        store.release_claims("one", [feeds[0]])
        store.release_claims("one", [feeds[1]], until=NOW + timedelta(minutes=5))
        store.release_claims("two")  # not its leases: changes nothing
        assert claimed(store, "two", NOW + timedelta(seconds=1)) == [feeds[0]]
        # Worker two never polls it: its own lease runs out too, but the kept one not yet.
        assert claimed(store, "two", NOW + timedelta(minutes=4)) == [feeds[0]]
        assert claimed(store, "two", NOW + timedelta(minutes=5)) == feeds


def test_only_feeds_due_configured_and_not_waiting_are_claimed(database):
    due, later, gone, waiting, dropped = (f"https://{name}.example/rss" for name in "abcde")
    with closing(stored(database, [due, later, gone, waiting, dropped])) as store:
        store.record_poll(PollIntent(later, NOW, 200, schedule=Schedule(NOW + timedelta(hours=1))))
        store.record_poll(PollIntent(gone, NOW, 410, schedule=Schedule(errors=1, gone_since=NOW)))
        store.record_poll(
            PollIntent(
                waiting,
                NOW,
                429,
                schedule=Schedule(NOW, errors=1, retry_after=NOW + timedelta(hours=2)),
            )
        )
        # Configured no more: another sync without it.
        store.sync_feeds(
            [(url, None) for url in (due, later, gone, waiting)],
            {url: "entry" for url in (due, later, gone, waiting)},
        )
        tomorrow = Schedule(NOW + timedelta(days=1))
        assert claimed(store, "one", NOW) == [due]
        store.record_poll(PollIntent(due, NOW, 200, schedule=tomorrow))
        assert claimed(store, "one", NOW + timedelta(hours=1)) == [later]
        store.record_poll(PollIntent(later, NOW, 200, schedule=tomorrow))
        assert claimed(store, "one", NOW + timedelta(hours=2)) == [waiting]


@pytest.mark.postgres
def test_workers_claiming_at_the_same_time_share_the_feeds_without_overlap(
    fresh_postgres_database,  # noqa: F811
):
    feeds = [f"https://feed{n}.example/rss" for n in range(200)]
    stored(fresh_postgres_database, feeds).close()
    got: dict[int, list[str]] = defaultdict(list)

    def work(worker: int) -> None:
        with closing(Store.open(fresh_postgres_database)) as store:
            while batch := claimed(store, f"worker{worker}", NOW, limit=7):
                got[worker].extend(batch)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [url for urls in got.values() for url in urls]
    assert sorted(every) == sorted(feeds)  # each claimed once
    assert len(got) > 1


# --- the publisher ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_one_process_publishes_and_another_takes_over_when_its_connection_dies(
    fresh_postgres_database,  # noqa: F811
    caplog,
):
    first, second = Store.open(fresh_postgres_database), Store.open(fresh_postgres_database)
    try:
        holder, other = first.publish_lock(), second.publish_lock()
        assert holder.held() and holder.held()  # and it stays its
        assert not other.held()
        # As when the holding process is killed: PostgreSQL ends its session.
        admin = create_engine(fresh_postgres_database, poolclass=NullPool)
        with admin.connect() as connection:
            # With a timeout it returns once the session has ended, and its lock with it.
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory'"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        admin.dispose()
        assert other.held()
        assert not holder.held()
        assert "lost the digest lock" in caplog.text
        other.close()  # a worker stopping lets go at once
        assert holder.held()
        holder.close()
    finally:
        first.close()
        second.close()


# --- config ----------------------------------------------------------------------------------


def test_the_lease_is_twice_the_timeout_unless_set_and_never_shorter_than_it(tmp_path):
    path = write_config(tmp_path, ["https://a.example/rss"], poll={"timeout": "7s"})
    assert config.load(path).poll.lease_time == timedelta(seconds=14)
    path = write_config(tmp_path, ["https://a.example/rss"], poll={"lease": "2m"})
    assert config.load(path).poll.lease_time == timedelta(minutes=2)
    path = write_config(tmp_path, ["https://a.example/rss"], poll={"lease": "3s"})
    with pytest.raises(ConfigError, match=r"lease must not be shorter than timeout") as error:
        config.load(path)
    assert "\n" not in str(error.value)


# --- the daemon, on its own clock ------------------------------------------------------------


class Clock:
    """The time now, moved on by `advance`: schedules tested without waiting them out."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


@pytest.fixture
def clocked(tmp_path) -> Iterator[tuple[Clock, list[Daemon]]]:
    clock, started = Clock(), []
    yield clock, started
    for daemon in started:
        daemon.stop()
        daemon.pipeline.fetcher.close()
        daemon.pipeline.store.close()


def start(path: Path, clock: Callable[[], datetime], started: list[Daemon]) -> Daemon:
    cfg = config.load(path)
    store, fetcher = Store.open(cfg.database), Fetcher(timeout=cfg.poll.timeout.total_seconds())
    daemon = Daemon(Pipeline(cfg, store, fetcher), Metrics(), tick=0.05, clock=clock)
    started.append(daemon)
    daemon.start()
    return daemon


def test_feeds_come_due_by_the_daemons_clock(server, tmp_path, clocked):
    clock, started = clocked
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    path = write_config(tmp_path, [url], poll={"interval": "10m", "min_interval": "1s"})
    start(path, clock, started)
    wait_until(lambda: len(server.hits("/news.rss")) == 1)
    clock.advance(timedelta(minutes=8))  # the 10m interval, less its jitter, not yet over
    time.sleep(0.3)  # several ticks
    assert len(server.hits("/news.rss")) == 1
    clock.advance(timedelta(minutes=4))
    wait_until(lambda: len(server.hits("/news.rss")) == 2)


def test_a_poll_that_cannot_be_recorded_keeps_its_lease_for_the_back_off(
    server, tmp_path, clocked, monkeypatch
):
    clock, started = clocked
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    real, calls = Pipeline.poll, []

    def poll(self, feed, state=None, **options):
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("database sqlite:///state/feedwatch.db: disk I/O error")
        return real(self, feed, state, **options)

    monkeypatch.setattr(Pipeline, "poll", poll)
    path = write_config(tmp_path, [url], poll={"min_interval": "1m"})
    daemon = start(path, clock, started)
    wait_until(lambda: calls)
    with closing(Store.open(config.load(path).database)) as store:
        # Held 1m here, and the lease with it: another worker would not poll it either.
        later = clock() + timedelta(seconds=50)
        assert store.claim_due(later, owner="other", lease=LEASE, limit=1) == []
    clock.advance(timedelta(seconds=30))
    time.sleep(0.3)
    assert len(calls) == 1
    clock.advance(timedelta(seconds=31))
    wait_until(lambda: digest_titles(daemon.config.digest.path) == {"Daredevil a trailer"})
    assert len(calls) == 2


def test_a_poll_in_flight_keeps_its_lease_however_long_it_takes(server, tmp_path, clocked):
    clock, started = clocked
    answer = threading.Event()
    body = rss("slow", [story("Daredevil", "a trailer")])

    def slow(request):
        answer.wait(10)
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    url = server.serve("/slow.rss", b"", handler=slow)
    path = write_config(tmp_path, [url], poll={"timeout": "5s"})  # a lease of 10s
    start(path, clock, started)
    try:
        wait_until(lambda: server.hits("/slow.rss"))
        clock.advance(timedelta(seconds=8))
        time.sleep(0.3)  # several ticks: the lease, more than half over, is renewed
        with closing(Store.open(config.load(path).database)) as store:
            later = clock() + timedelta(seconds=5)  # past the first lease, not the renewed one
            assert store.claim_due(later, owner="other", lease=LEASE, limit=1) == []
    finally:
        answer.set()


def test_stopping_frees_the_leases_of_polls_dropped_or_abandoned(server, tmp_path, clocked):
    clock, started = clocked
    answer = threading.Event()

    def hang(request):
        answer.wait(10)

    url = server.serve("/hung.rss", b"", handler=hang)
    path = write_config(tmp_path, [url])
    daemon = start(path, clock, started)
    daemon.grace = 0.2
    try:
        wait_until(lambda: server.hits("/hung.rss"))
        assert daemon.stop() is False
        with closing(Store.open(config.load(path).database)) as store:
            # Another worker takes it at once, not a lease later.
            assert claimed(store, "other", clock()) == [url]
    finally:
        answer.set()


@pytest.mark.postgres
def test_a_worker_that_does_not_publish_has_the_publisher_publish_what_it_stored(
    server,
    tmp_path,
    clocked,
    fresh_postgres_database,  # noqa: F811
):
    _, started = clocked
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    path = write_config(tmp_path, [url], database=fresh_postgres_database, full_text=False)
    with closing(stored(fresh_postgres_database, [])) as store:
        store.record_poll(PollIntent(url, NOW, None, schedule=Schedule(datetime.now(UTC))))
    # The publisher lives a day behind: the feed is never due for it, only for the other.
    publisher = start(path, lambda: datetime.now(UTC) - timedelta(days=1), started)
    other = start(path, lambda: datetime.now(UTC), started)
    assert publisher.health()["publishing"] and not other.health()["publishing"]
    wait_until(lambda: server.hits("/news.rss"))
    wait_until(lambda: digest_titles(publisher.config.digest.path) == {"Daredevil a trailer"})


# --- three `feedwatch run --no-serve` on one PostgreSQL --------------------------------------


VICTIMS_LAST_REQUESTS = 0.25  # seconds


class Counting:
    """Answers feeds[path] after `delay` seconds, noting when each path was asked for."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.feeds: dict[str, bytes] = {}
        self.hits: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.hits[request.path].append(time.time())
        time.sleep(self.delay)
        body = self.feeds[request.path]
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def times(self) -> dict[str, list[float]]:
        with self._lock:
            return {path: list(times) for path, times in self.hits.items()}


def feed_body(number: int, extra: int = 0) -> bytes:
    # One feed in ten is about a show, so the digest has something to show.
    stories = [
        story("Daredevil", f"news {number}.{index}")
        if number % 10 == 0
        else (f"Weather {number}.{index}", "Rain all week. " * 4)
        for index in range(1 + extra)
    ]
    return rss(f"feed{number}", stories)


@pytest.mark.postgres
def test_three_workers_poll_each_feed_once_per_interval_and_survive_a_kill(
    server,
    tmp_path,
    fresh_postgres_database,  # noqa: F811
):
    interval, lease, feeds = 10.0, 4.0, 300
    counting = Counting(delay=0.5)  # so that a worker killed has polls in flight
    urls = []
    for number in range(feeds):
        path = f"/feed/{number}.xml"
        counting.feeds[path] = feed_body(number)
        urls.append(server.serve(path, b"", handler=counting))
    path = write_config(
        tmp_path,
        urls,
        poll={"interval": "10s", "min_interval": "1s", "timeout": "2s", "per_host": 16},
        database=fresh_postgres_database,
        full_text=False,
    )
    workers = [Feedwatch(path, "run", "--no-serve") for _ in range(3)]
    try:
        wait_until(lambda: len(counting.times()) == feeds, timeout=40)
        # A whole interval more: every feed polled again, by whichever worker claimed it
        # (a round of 300 polls can take several seconds beside the rest of the suite).
        first_round_over = time.time()
        wait_until(
            lambda: all(times[-1] > first_round_over for times in counting.times().values()),
            timeout=interval + 20,
        )
        publishers = [w for w in workers if w.logged("this worker publishes the digest")]
        assert len(publishers) == 1
        polled_by = [len([e for e in w.lines if e.get("feed") and "status" in e]) for w in workers]
        assert all(polled_by), polled_by  # the work is shared

        # The publisher killed mid-poll: its leases stay until they expire.
        victim = publishers[0]
        owner = victim.logged("(worker ")[0]["message"].split("(worker ", 1)[1].split(")")[0]
        wait_until(lambda: leases_of(fresh_postgres_database, owner), timeout=10, every=0.01)
        victim.process.kill()
        victim.process.wait(10)
        killed = time.time()
        leases = leases_of(fresh_postgres_database, owner)
        counting.feeds["/feed/0.xml"] = feed_body(0, extra=1)  # news for the next publisher
        wait_until(
            lambda: all(times[-1] > killed for times in counting.times().values()),
            timeout=interval * 1.1 + lease + 10,
        )
        survivors = [w for w in workers if w is not victim]
        taking_over = "this worker publishes the digest from now on"
        wait_until(lambda: [w for w in survivors if w.logged(taking_over)])
        wait_until(
            lambda: "Daredevil news 0.1" in digest_titles(tmp_path / "out" / "digest.xml"),
            timeout=interval + 10,
        )
        for worker in survivors:
            worker.signal(signal.SIGTERM)
        for worker in survivors:
            assert worker.wait(20) == 0
    finally:
        for worker in workers:
            worker.kill()

    hits = counting.times()
    # A feed the killed worker had leased is polled again only once its lease is over.
    assert leases, "the killed worker held no lease"
    for feed_path, until in leases.items():
        # A request the killed worker sent as it died can be noted a little after: this
        # server's threads share one GIL with the test's. Others poll the feed later.
        again = [when for when in hits[feed_path] if when > killed + VICTIMS_LAST_REQUESTS]
        assert again[0] >= until - 0.5, (feed_path, again[0] - killed)
    # Every other pair of polls of a feed is an interval apart, less its jitter (10%) and
    # the time a request waits for its turn on the one host (300 feeds, 16 at a time) on a
    # busy machine; a feed polled twice (by two workers, or again before its time) would be
    # well under a second apart.
    for feed_path, times in hits.items():
        gaps = [
            later - earlier
            for earlier, later in itertools.pairwise(times)
            if feed_path not in leases or later < killed
        ]
        assert min(gaps) >= interval * 0.7, (feed_path, times)
    with closing(Store.open(fresh_postgres_database)) as store:
        articles = store.stored_articles()
        assert sum(len(batch) for batch in articles) == feeds + 1  # each entry stored once
    logs_new = sum(e.get("new", 0) for w in workers for e in w.lines if e.get("feed"))
    assert logs_new <= feeds + 1
    assert not [line for w in workers for line in w.raw if "Traceback" in line]


def leases_of(url: str, owner: str) -> dict[str, float]:
    """Path -> when (epoch seconds) each lease `owner` holds ends."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT url, lease_until FROM feeds WHERE lease_owner = %(owner)s",
                {"owner": owner},
            ).all()
    finally:
        engine.dispose()
    return {"/" + url.split("/", 3)[3]: until.timestamp() for url, until in rows}
