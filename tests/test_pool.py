"""Bounded concurrency: so many requests at once, so many per host, for `once` and `run`."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import feedparser
import pytest

from daemonkit import Concurrency, replace_text, rss, story, wait_until, write_config
from feedwatch import config
from feedwatch.cli import main
from feedwatch.daemon import Daemon
from feedwatch.errors import NetworkError, ParseError
from feedwatch.models import FetchResult, Validators
from feedwatch.pipeline import Pipeline
from feedwatch.poll.http import Fetcher
from feedwatch.poll.pool import HostPool, HostSlots, Prefetch, host_of
from feedwatch.store import Store


class Overlap:
    """Records how many calls run at once, overall and per key."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0

    def __call__(self, key: str) -> str:
        with self.lock:
            self.now[key] += 1
            self.peak[key] = max(self.peak[key], self.now[key])
            self.peak_total = max(self.peak_total, sum(self.now.values()))
        time.sleep(self.seconds)
        with self.lock:
            self.now[key] -= 1
        return key


def test_the_pool_keeps_both_limits():
    overlap = Overlap(0.05)
    pool = HostPool(concurrency=4, per_host=2)
    keys = [f"host{i % 3}" for i in range(12)]
    futures = [pool.submit(key, overlap, key) for key in keys]
    assert [future.result(timeout=5) for future in futures] == keys
    assert overlap.peak_total == 4
    assert max(overlap.peak.values()) == 2
    assert pool.shutdown(timeout=1)


def test_a_busy_host_does_not_hold_up_the_others():
    gate = threading.Event()
    pool = HostPool(concurrency=4, per_host=1)
    blocked = pool.submit("slow", gate.wait, 5)
    queued_behind = pool.submit("slow", lambda: "second")
    other = pool.submit("fast", lambda: "done")
    assert other.result(timeout=2) == "done"
    assert not queued_behind.done()
    gate.set()
    assert blocked.result(timeout=2) is True
    assert queued_behind.result(timeout=2) == "second"
    assert pool.shutdown(timeout=2)


class FakeDownloads:
    """Answers 304 to an ETag of "same", else a body; reads one answer at a time, each after
    `reading` is set."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.reading = threading.Event()
        self.reading.set()

    def request(self, url: str, validators: Validators | None = None) -> FetchResult:
        self.calls.append(url)
        if "bad" in url:
            raise NetworkError("connection refused", url)
        etag = validators.etag if validators else None
        if etag == '"same"':
            return FetchResult(url, 304, {}, b"")
        return FetchResult(url, 200, {}, f"body of {url} ({etag})".encode())

    def read(self, result: FetchResult) -> str:
        if result.not_modified:
            return f"{result.url} not modified"
        if b"unreadable" in result.content:
            raise ParseError("not a feed")
        assert self.reading.wait(5)
        return result.content.decode()


def test_prefetch_answers_each_request_with_its_own_response_or_error():
    downloads = FakeDownloads()
    with Prefetch(downloads, concurrency=2, per_host=1) as ahead:
        ahead.request("http://a/1", Validators(etag='"1"'))
        ahead.request("http://bad/2", Validators())
        ahead.request("http://a/unreadable", Validators())
        ahead.request("http://a/3", Validators(etag='"same"'))
        wait_until(lambda: len(downloads.calls) == 4)
        assert ahead.fetch("http://a/1", Validators(etag='"1"')) == 'body of http://a/1 ("1")'
        with pytest.raises(NetworkError, match="refused"):
            ahead.fetch("http://bad/2")
        with pytest.raises(ParseError, match="not a feed"):
            ahead.fetch("http://a/unreadable")
        assert ahead.fetch("http://a/3", Validators(etag='"same"')) == "http://a/3 not modified"
        # Not requested ahead (or asked with other validators): fetched there and then.
        assert ahead.fetch("http://a/1", Validators(etag='"2"')) == 'body of http://a/1 ("2")'
    assert downloads.calls[4:] == ["http://a/1"]


def test_requests_go_on_while_answers_are_read_until_as_many_wait_to_be_read():
    downloads = FakeDownloads()
    downloads.reading.clear()
    with Prefetch(downloads, concurrency=2, per_host=2) as ahead:
        for number in range(5):
            ahead.request(f"http://a/{number}", Validators())
        # Two answers being read and two more waiting to be: the fifth request waits.
        wait_until(lambda: len(downloads.calls) == 4)
        time.sleep(0.2)
        assert len(downloads.calls) == 4
        downloads.reading.set()
        assert [ahead.fetch(f"http://a/{number}") for number in range(5)] == [
            f"body of http://a/{number} (None)" for number in range(5)
        ]


def test_shutdown_drops_queued_calls_and_gives_up_on_hung_ones_at_the_deadline():
    gate = threading.Event()
    pool = HostPool(concurrency=1, per_host=1)
    running = pool.submit("h", gate.wait, 10)
    queued = pool.submit("h", lambda: "never")
    wait_until(lambda: pool.running == 1)
    started = time.monotonic()
    assert pool.shutdown(timeout=0.2) is False
    assert time.monotonic() - started < 1
    assert queued.cancelled()
    gate.set()
    assert running.result(timeout=2) is True
    with pytest.raises(RuntimeError):
        pool.submit("h", lambda: None)


def test_a_call_that_gives_its_slot_up_lets_the_next_start_beside_it():
    pool = HostPool(concurrency=1, per_host=1)
    going_on, done = threading.Event(), threading.Event()

    def gives_up() -> str:
        pool.release()
        pool.release()  # again: nothing more to give
        going_on.set()
        assert done.wait(5)
        return "first"

    first = pool.submit("h", gives_up)
    second = pool.submit("h", lambda: "second")
    # Both limits are 1, and the first call still runs: the second started all the same.
    assert second.result(timeout=5) == "second"
    assert going_on.is_set() and not first.done()
    assert pool.running == 0
    # A pool shut down waits for the calls that gave their slots up too.
    assert not pool.shutdown(timeout=0.2)
    done.set()
    assert first.result(timeout=5) == "first"
    assert pool.shutdown(timeout=5)
    pool.release()  # outside a call: nothing


def test_new_limits_apply_to_what_is_queued():
    gate = threading.Event()
    pool = HostPool(concurrency=1, per_host=1)
    futures = [pool.submit("h", gate.wait, 5) for _ in range(3)]
    wait_until(lambda: pool.running == 1)
    pool.set_limits(concurrency=3, per_host=3)
    wait_until(lambda: pool.running == 3)
    gate.set()
    assert all(future.result(timeout=2) for future in futures)
    assert pool.shutdown(timeout=2)


def test_workers_go_on_with_queued_tasks_rather_than_start_new_threads():
    gate = threading.Event()

    def task() -> str:
        gate.wait(5)
        return threading.current_thread().name

    pool = HostPool(concurrency=2, per_host=2)
    futures = [pool.submit("h", task) for _ in range(30)]
    gate.set()
    assert len({future.result(timeout=5) for future in futures}) == 2
    assert pool.shutdown(timeout=2)


def test_host_slots_let_per_host_holders_in_at_once_and_the_next_when_one_leaves():
    slots = HostSlots(per_host=2)
    entered = threading.Event()
    leave = threading.Event()

    def third() -> None:
        with slots.hold("a"):
            entered.set()

    with slots.hold("a"), slots.hold("b"):
        with slots.hold("a"):
            waiting = threading.Thread(target=third)
            waiting.start()
            assert not entered.wait(0.2)
            with slots.hold("b"):  # another host is not held up
                leave.set()
        assert entered.wait(2)
    waiting.join(2)


def test_host_slots_take_a_new_limit_at_once():
    slots = HostSlots(per_host=1)
    entered = threading.Event()

    def second() -> None:
        with slots.hold("a"):
            entered.set()

    with slots.hold("a"):
        waiting = threading.Thread(target=second)
        waiting.start()
        assert not entered.wait(0.2)
        slots.set_limit(2)
        assert entered.wait(2)
    waiting.join(2)


def test_host_is_the_lower_case_host_name():
    assert host_of("https://Feeds.Example.com:8443/a?b") == "feeds.example.com"
    assert host_of("not a url") == ""


def slow_feeds(server, count_per_host: int, seconds: float) -> tuple[Concurrency, list[str]]:
    """Feeds on two host names of the one test server, each answering after `seconds`."""
    handler = Concurrency(rss("slow", [story("Daredevil", "a new season")]), seconds)
    urls = []
    for index in range(count_per_host):
        path = f"/slow{index}.rss"
        server.serve(path, b"", handler=handler)
        urls.append(server.url(path))
        urls.append(server.url(path).replace("127.0.0.1", "localhost"))
    return handler, urls


def test_once_polls_in_parallel_within_the_limits(server, tmp_path, capsys):
    handler, urls = slow_feeds(server, 5, 0.2)
    cfg = write_config(tmp_path, urls, poll={"concurrency": 3, "per_host": 2})
    assert main(["-c", str(cfg), "once"]) == 0
    assert "10 feeds polled (0 failed)" in capsys.readouterr().out
    # Each answer takes 0.2 s, so these peaks mean requests were in flight together.
    assert handler.peak_total == 3
    assert handler.peak == {"127.0.0.1": 2, "localhost": 2}


def test_once_credits_a_shared_story_to_the_feed_listed_first(server, tmp_path):
    shared = story("Daredevil", "a new season")
    first = server.serve("/first.rss", rss("first", [shared], site="studio"), delay=0.3)
    second = server.serve("/second.rss", rss("second", [shared], site="studio"))
    cfg = write_config(tmp_path, [first, second])
    assert main(["-c", str(cfg), "once"]) == 0
    # The second feed answered first, but the first listed is stored first.
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    assert [entry.source.title for entry in digest.entries] == ["first"]


def test_the_daemon_keeps_to_per_host_and_overall_limits(server, tmp_path):
    handler, urls = slow_feeds(server, 4, 0.2)
    cfg = config.load(write_config(tmp_path, urls, poll={"concurrency": 3, "per_host": 2}))
    store = Store.open(cfg.database)
    fetcher = Fetcher(timeout=5)
    daemon = Daemon(Pipeline(cfg, store, fetcher), tick=0.05)
    try:
        daemon.start()
        wait_until(lambda: len(server.requests) == 8)
    finally:
        assert daemon.stop()
        fetcher.close()
        store.close()
    assert handler.peak_total == 3
    assert handler.peak == {"127.0.0.1": 2, "localhost": 2}


def test_the_daemon_fetches_the_next_feed_while_a_poll_waits_for_its_write(
    server, tmp_path, monkeypatch
):
    paths = [f"/news{n}.rss" for n in range(3)]
    urls = [server.serve(path, rss(path, [story("Daredevil", path)])) for path in paths]
    cfg = config.load(write_config(tmp_path, urls, poll={"concurrency": 1, "per_host": 1}))
    store = Store.open(cfg.database)
    fetcher = Fetcher(timeout=5)
    record_polls = store.record_polls
    written: list[int] = []

    def slow_first_write(intents, **options):
        written.append(len(intents))
        if len(written) == 1:
            # One poll at a time, and one more fetched and read waiting for the first's write.
            wait_until(lambda: sum(len(server.hits(path)) for path in paths) == 2)
        return record_polls(intents, **options)

    monkeypatch.setattr(store, "record_polls", slow_first_write)
    daemon = Daemon(Pipeline(cfg, store, fetcher), tick=0.05)
    try:
        daemon.start()
        wait_until(lambda: sum(written) == 3)
    finally:
        assert daemon.stop()
        fetcher.close()
        store.close()
    assert written[0] == 1
    assert [len(server.hits(path)) for path in paths] == [1, 1, 1]


def test_polls_waiting_on_the_database_are_no_more_than_twice_the_pool(
    server, tmp_path, monkeypatch
):
    urls = [server.serve(f"/f{n}.rss", rss(f"f{n}", [story("Daredevil", "a")])) for n in range(40)]
    cfg = config.load(write_config(tmp_path, urls, poll={"concurrency": 2, "per_host": 64}))
    store = Store.open(cfg.database)
    fetcher = Fetcher(timeout=5)
    release_claims = store.release_claims
    gate = threading.Event()

    def slow_release(owner, urls=None, *, until=None):
        if until is None and urls is not None:
            gate.wait(10)  # freeing the leases of polls written: a database that is slow
        return release_claims(owner, urls, until=until)

    monkeypatch.setattr(store, "release_claims", slow_release)
    daemon = Daemon(Pipeline(cfg, store, fetcher), tick=0.05)
    peak = 0
    try:
        daemon.start()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            polls = [t for t in threading.enumerate() if t.name.startswith("poll-")]
            peak = max(peak, len(polls))
            time.sleep(0.01)
    finally:
        gate.set()
        assert daemon.stop()
        fetcher.close()
        store.close()
    # Two fetching, and two more fetched and waiting on the database, none beyond.
    assert 2 < peak <= 4


def test_stopping_counts_the_polls_waiting_for_their_writes(server, tmp_path, monkeypatch, caplog):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    cfg = config.load(write_config(tmp_path, [url], poll={"concurrency": 1}))
    store = Store.open(cfg.database)
    fetcher = Fetcher(timeout=5)
    record_polls = store.record_polls
    writing, gate = threading.Event(), threading.Event()

    def slow_write(intents, **options):
        writing.set()
        assert gate.wait(5)
        return record_polls(intents, **options)

    monkeypatch.setattr(store, "record_polls", slow_write)
    daemon = Daemon(Pipeline(cfg, store, fetcher), tick=0.05, grace=0.3)
    try:
        daemon.start()
        wait_until(writing.is_set)
        caplog.set_level(logging.INFO, logger="feedwatch.daemon")
        assert not daemon.stop()
    finally:
        gate.set()
        fetcher.close()
        store.close()
    assert "waiting up to 0.3s for 1 polls in flight" in caplog.text
    assert "1 polls still running after 0.3s, abandoned" in caplog.text


def test_the_daemon_never_sends_a_feed_out_again_on_a_schedule_read_before_its_poll_ended(
    server, tmp_path
):
    finished = threading.Event()

    def answer_slowly(handler):
        time.sleep(0.2)
        body = rss("slow", [story("Daredevil", "a new season")])
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    url = server.serve("/slow.rss", b"", handler=answer_slowly)
    cfg = config.load(write_config(tmp_path, [url]))
    store = Store.open(cfg.database)
    fetcher = Fetcher(timeout=5)
    pipeline = Pipeline(cfg, store, fetcher)
    read_schedule = pipeline.due

    def due_read_while_the_poll_runs(now):
        # The schedule says "due" because the poll has not committed yet; the answer only
        # reaches the dispatcher once the poll has finished.
        answer = read_schedule(now)
        if server.hits("/slow.rss"):
            finished.wait(5)
            time.sleep(0.05)
        return answer

    pipeline.due = due_read_while_the_poll_runs
    poll = pipeline.poll

    def poll_and_say_so(feed, state=None, **options):
        try:
            return poll(feed, state, **options)
        finally:
            finished.set()

    pipeline.poll = poll_and_say_so
    daemon = Daemon(pipeline, tick=0.02)
    try:
        daemon.start()
        wait_until(finished.is_set)
        time.sleep(0.5)  # several ticks: room for a second, wrong dispatch
    finally:
        assert daemon.stop()
        fetcher.close()
        store.close()
    assert len(server.hits("/slow.rss")) == 1


FULL_TEXT = "fetch:\n  full_text: true\n  allow_private: true\n"


def feeds_with_pages(
    server, feeds: int, pages: int, seconds: float
) -> tuple[Concurrency, list[str]]:
    """`feeds` feeds on 127.0.0.1, each linking to `pages` pages of its own there; feeds and
    pages all answer after `seconds`, through one handler counting the overlap."""
    bodies = {}
    for feed in range(feeds):
        items = "".join(
            f"<item><title>Daredevil news {feed}-{page}</title>"
            f"<link>{server.url(f'/page{feed}-{page}.html')}</link>"
            f"<guid>f{feed}-{page}</guid><description>Daredevil.</description></item>"
            for page in range(pages)
        )
        body = f'<rss version="2.0"><channel><title>f{feed}</title>{items}</channel></rss>'
        bodies[f"/feed{feed}.rss"] = body.encode()
        bodies |= {f"/page{feed}-{page}.html": b"<html></html>" for page in range(pages)}
    handler = Concurrency(b"", seconds, bodies=bodies)
    for path in bodies:
        server.serve(path, b"", handler=handler)
    return handler, [server.url(f"/feed{feed}.rss") for feed in range(feeds)]


def test_once_keeps_per_host_over_feeds_and_their_pages_together(server, tmp_path):
    handler, urls = feeds_with_pages(server, feeds=4, pages=3, seconds=0.15)
    cfg = write_config(tmp_path, urls, poll={"concurrency": 6, "per_host": 2})
    replace_text(cfg, cfg.read_text() + FULL_TEXT)
    assert main(["-c", str(cfg), "once"]) == 0
    assert len(server.requests) == 4 + 4 * 3
    assert handler.peak == {"127.0.0.1": 2}


def test_the_daemon_keeps_per_host_over_feeds_and_their_pages_together(server, tmp_path):
    handler, urls = feeds_with_pages(server, feeds=4, pages=3, seconds=0.15)
    path = write_config(tmp_path, urls, poll={"concurrency": 6, "per_host": 2})
    replace_text(path, path.read_text() + FULL_TEXT)
    cfg = config.load(path)
    store = Store.open(cfg.database)
    fetcher = Fetcher(timeout=5)
    daemon = Daemon(Pipeline(cfg, store, fetcher), tick=0.05)
    try:
        daemon.start()
        wait_until(lambda: len(server.requests) == 4 + 4 * 3)
    finally:
        assert daemon.stop()
        fetcher.close()
        store.close()
    assert handler.peak == {"127.0.0.1": 2}


def test_a_redirected_request_counts_against_the_host_it_reaches(server):
    handler = Concurrency(b"<rss/>", 0.2)
    target = server.serve("/moved.rss", b"", handler=handler)
    direct = server.serve("/direct.rss", b"", handler=handler)
    server.serve("/old.rss", b"", status=301, headers={"Location": target}, conditional=False)
    old = server.url("/old.rss").replace("127.0.0.1", "localhost")
    with Fetcher(timeout=5) as fetcher, ThreadPoolExecutor(4) as threads:
        fetcher.limit_per_host(1)
        results = list(threads.map(fetcher.fetch, [old, direct, old, direct]))
    assert [result.url for result in results] == [target, direct, target, direct]
    assert handler.peak == {"127.0.0.1": 1}


def test_waiting_for_a_slot_on_the_host_does_not_count_against_the_timeout(server):
    handler = Concurrency(b"<rss/>", 0.4)
    url = server.serve("/slow.rss", b"", handler=handler)
    with Fetcher(timeout=0.6) as fetcher, ThreadPoolExecutor(2) as threads:
        fetcher.limit_per_host(1)
        # The second waits 0.4 s for the first, then takes 0.4 s itself: 0.8 s in all.
        results = list(threads.map(fetcher.fetch, [url, url]))
    assert [result.status for result in results] == [200, 200]
    assert handler.peak == {"127.0.0.1": 1}
