"""The daemon: polls due feeds, publishes new matches, serves them, reloads, stops cleanly."""

from __future__ import annotations

import http.client
import json
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from daemonkit import (
    SHOWS,
    Concurrency,
    Feedwatch,
    replace_text,
    rss,
    story,
    wait_until,
    write_config,
)
from feedwatch import config
from feedwatch.cli import main
from feedwatch.daemon import Daemon
from feedwatch.errors import StoreError
from feedwatch.metrics import Metrics
from feedwatch.pipeline import Pipeline
from feedwatch.poll.http import Fetcher
from feedwatch.publish.web import App, DigestServer
from feedwatch.store import Store

FAST = {"interval": "1s", "min_interval": "1s"}


def digest_titles(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {entry.title for entry in feedparser.parse(path.read_bytes()).entries}


def get(base: str, path: str) -> tuple[int, bytes]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def metrics_with(app: Running, line: str) -> str | None:
    """The daemon's /metrics text when it contains `line`."""
    text = get(app.web.url, "/metrics")[1].decode()
    return text if line in text else None


def metric_value(text: str, name: str) -> float:
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " "))


def health_of(app: Running) -> dict:
    return json.loads(get(app.web.url, "/healthz")[1])


class Running:
    """A Daemon and its HTTP server in this process, on a config file in tmp_path."""

    def __init__(self, config_path: Path, **options: float) -> None:
        self.config_path = config_path
        cfg = config.load(config_path)
        self.store = Store.open(cfg.database)
        self.fetcher = Fetcher(timeout=cfg.poll.timeout.total_seconds())
        self.metrics = Metrics()
        self.daemon = Daemon(Pipeline(cfg, self.store, self.fetcher), self.metrics, **options)
        self.web = DigestServer(
            App(lambda: self.daemon.config.digest.path, self.metrics, self.daemon.health),
            "127.0.0.1",
            0,
        )
        self.digest = cfg.digest.path

    def start(self) -> Running:
        self.daemon.start()
        self.web.start()
        return self

    def close(self) -> bool:
        try:
            return self.daemon.stop()
        finally:
            self.web.close()
            self.fetcher.close()
            self.store.close()


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for item in started:
        item.close()


@pytest.fixture
def feedwatch_log() -> Iterator[list[logging.LogRecord]]:
    """What the feedwatch loggers say, whatever an earlier test set up."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("feedwatch")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_new_matches_are_published_served_and_counted_after_one_poll(server, tmp_path, running):
    url = server.serve(
        "/news.rss",
        rss("news", [story("Daredevil", "a new season"), ("Weather", "Rain all week. " * 4)]),
    )
    app = Running(write_config(tmp_path, [url]), tick=0.05)
    running.append(app.start())

    wait_until(lambda: digest_titles(app.digest) == {"Daredevil a new season"})
    status, body = get(app.web.url, "/feed.xml")
    assert status == 200
    assert [e.title for e in feedparser.parse(body).entries] == ["Daredevil a new season"]

    # The digest is written a moment before the publish is counted.
    metrics = wait_until(lambda: metrics_with(app, "feedwatch_digest_items 1.0"))
    assert 'feedwatch_polls_total{status="200"} 1.0' in metrics
    assert 'feedwatch_articles_stored_total{kind="new"} 2.0' in metrics
    assert "feedwatch_matched_entries_total 1.0" in metrics
    assert "feedwatch_poll_duration_seconds_count 1.0" in metrics
    wait_until(lambda: health_of(app)["last_cycle"])
    health = health_of(app)
    assert health["feeds"] == 1
    assert health["feeds_failing"] == 0


def test_a_burst_of_new_articles_is_published_a_few_times_not_after_each_poll(
    server, tmp_path, running, feedwatch_log
):
    # Twelve feeds answering one after another, 0.1 s apart: a second and a bit of new
    # articles, each poll's published at once were there no gap between publishes.
    urls = [
        server.serve(
            f"/news{n}.rss",
            b"",
            handler=Concurrency(rss(f"news{n}", [story("Daredevil", f"scoop {n}")]), n / 10),
        )
        for n in range(12)
    ]
    app = Running(
        write_config(tmp_path, urls, poll={"concurrency": 12, "per_host": 12}),
        tick=0.05,
        publish_gap=4.0,  # however slow the machine, the burst is over within one gap
    )
    running.append(app.start())

    expected = {f"Daredevil scoop {n}" for n in range(12)}
    wait_until(lambda: digest_titles(app.digest) == expected, timeout=20)
    polls = [r for r in feedwatch_log if "HTTP 200, 1 new" in r.getMessage()]
    publishes = [r for r in feedwatch_log if r.getMessage().startswith("digest: ")]
    assert len(polls) == 12
    # A gap apart: at start (nothing yet) or with the first poll's article, then the rest.
    assert len(publishes) <= 3


def test_polls_that_finish_while_one_is_written_are_written_together(
    server, tmp_path, monkeypatch
):
    urls = [
        server.serve(f"/news{n}.rss", rss(f"news{n}", [story("Daredevil", f"scoop {n}")]))
        for n in range(6)
    ]
    cfg = config.load(write_config(tmp_path, urls))
    with closing(Store.open(cfg.database)) as store, Fetcher(timeout=5) as fetcher:
        pipeline = Pipeline(cfg, store, fetcher)
        batches = []
        record_polls = store.record_polls

        def slow_first_write(intents):
            batches.append(len(intents))
            if len(batches) == 1:  # the other five are fetched and waiting meanwhile
                wait_until(lambda: len(pipeline._writer._queue) == 5)
            return record_polls(intents)

        monkeypatch.setattr(store, "record_polls", slow_first_write)
        outcomes = []
        threads = [
            threading.Thread(target=lambda feed=feed: outcomes.append(pipeline.poll(feed)))
            for feed in cfg.feeds
        ]
        threads[0].start()
        wait_until(lambda: batches)  # its write has begun: the others are polled now
        for thread in threads[1:]:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert sorted(outcome.new for outcome in outcomes) == [1] * 6
    assert batches == [1, 5]


def teaser_feeds(server, tmp_path, pages: Concurrency, feeds: int = 6) -> Path:
    """A config of `feeds` feeds whose one entry each links to a page `pages` answers
    (slowly): its text is fetched, full_text being true."""
    urls = []
    for n in range(feeds):
        page_url = server.serve(f"/page{n}.html", b"", handler=pages)
        teaser = rss(f"news{n}", [story("Daredevil", f"teaser {n}")]).replace(
            f"https://news{n}.example/story/0".encode(), page_url.encode()
        )
        urls.append(server.serve(f"/news{n}.rss", teaser))
    path = write_config(tmp_path, urls, poll={"concurrency": feeds, "per_host": 2 * feeds})
    path.write_text(path.read_text() + "fetch:\n  full_text: true\n  allow_private: true\n")
    return path


PAGE = (Path(__file__).parent / "data" / "pages" / "lantern-keepers-finale.html").read_bytes()


def test_in_a_burst_the_polls_pages_are_fetched_at_once(server, tmp_path, running):
    pages = Concurrency(PAGE, 0.3)
    app = Running(teaser_feeds(server, tmp_path, pages), tick=0.05)
    running.append(app.start())

    wait_until(lambda: all(server.hits(f"/page{n}.html") for n in range(6)))
    # Not one after another by the thread that writes the burst's polls together.
    assert pages.peak_total >= 3


def test_once_fetches_the_pages_of_a_batchs_feeds_at_once(server, tmp_path):
    pages = Concurrency(PAGE, 0.3)
    assert main(["-c", str(teaser_feeds(server, tmp_path, pages)), "once"]) == 0
    assert all(len(server.hits(f"/page{n}.html")) == 1 for n in range(6))
    assert pages.peak_total >= 3


def test_unchanged_feeds_are_revalidated_and_failures_counted(server, tmp_path, running):
    good = server.serve("/good.rss", rss("good", [story("Luke Cage", "a reunion")]))
    bad = server.serve("/bad.rss", b"down", status=500, content_type="text/plain")
    app = Running(write_config(tmp_path, [good, bad], poll=FAST), tick=0.05)
    running.append(app.start())

    # The server sees the 304 a moment before the poll that got it is counted.
    metrics = wait_until(lambda: metrics_with(app, 'feedwatch_polls_total{status="304"}'), 5)
    assert 'feedwatch_polls_total{status="500"}' in metrics
    assert metric_value(metrics, "feedwatch_poll_errors_total") >= 1
    assert health_of(app)["feeds_failing"] == 1
    assert digest_titles(app.digest) == {"Luke Cage a reunion"}


def test_stop_gives_up_on_a_hung_poll_after_the_grace_period(server, tmp_path, running):
    release = threading.Event()

    def hang(request):
        release.wait(10)
        request.send_response(500)
        request.send_header("Content-Length", "0")
        request.end_headers()

    url = server.serve("/hung.rss", b"", handler=hang)
    app = Running(write_config(tmp_path, [url]), tick=0.05, grace=0.3)
    app.start()
    try:
        wait_until(lambda: server.hits("/hung.rss"))
        started = time.monotonic()
        assert app.close() is False
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_a_poll_abandoned_at_shutdown_records_no_error_and_no_back_off(
    server, tmp_path, feedwatch_log
):
    release = threading.Event()

    def answer_late(request):
        release.wait(10)
        body = rss("late", [story("Daredevil", "a new season")])
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    url = server.serve("/late.rss", b"", handler=answer_late)
    path = write_config(tmp_path, [url])
    app = Running(path, tick=0.05, grace=0.2)
    app.start()
    try:
        wait_until(lambda: server.hits("/late.rss"))
        assert app.close() is False
    finally:
        release.set()  # the fetcher is closed: what arrives now is no answer to record
    # The poll's one log line says it has ended, one way or the other.
    (ended,) = wait_until(lambda: [r for r in feedwatch_log if url in r.getMessage()])
    assert "poll abandoned at shutdown" in ended.getMessage()
    with closing(Store.open(config.load(path).database)) as store:
        (report,) = store.feed_reports()
    assert (report.last_error, report.errors, report.last_fetched) == (None, 0, None)
    assert report.next_poll is None  # due at once at the next start
    assert not [r for r in feedwatch_log if r.levelno >= logging.ERROR]


def test_reload_adds_and_removes_feeds_and_shows(server, tmp_path, running, feedwatch_log):
    old = server.serve("/old.rss", rss("old", [story("Daredevil", "a premiere date")]))
    kept = server.serve("/kept.rss", rss("kept", [story("Daredevil", "a casting")]))
    new = server.serve("/new.rss", rss("new", [story("Jessica Jones", "a comeback")]))
    path = write_config(tmp_path, [old, kept], poll=FAST)
    app = Running(path, tick=0.05, watch_every=0.1)
    running.append(app.start())
    wait_until(lambda: server.hits("/old.rss") and server.hits("/kept.rss"))

    write_config(
        tmp_path,
        [kept, new],
        poll=FAST,
        shows=SHOWS + "  - name: Jessica Jones\n    keywords: [Jessica Jones]\n",
    )
    wait_until(lambda: "Jessica Jones a comeback" in digest_titles(app.digest))
    old_hits = len(server.hits("/old.rss"))
    kept_hits = len(server.hits("/kept.rss"))
    wait_until(lambda: len(server.hits("/kept.rss")) >= kept_hits + 2, timeout=5)
    # A poll of the removed feed already running at the reload may still land; no more.
    assert len(server.hits("/old.rss")) <= old_hits + 1
    assert [r.getMessage() for r in feedwatch_log if "config reloaded" in r.getMessage()] == [
        "config reloaded (file changed): 2 feeds (1 added, 1 removed), 3 shows"
    ]


def test_a_broken_edit_is_reported_once_and_the_running_config_kept(
    server, tmp_path, running, feedwatch_log
):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    path = write_config(tmp_path, [url])
    app = Running(path, tick=0.05, watch_every=0.05)
    running.append(app.start())
    before = app.daemon.config

    replace_text(path, path.read_text().replace("  - url:", "  - link:", 1))
    errors = wait_until(lambda: [r for r in feedwatch_log if r.levelno == logging.ERROR])
    time.sleep(0.2)  # several more file checks: the same broken file is not reported again
    errors = [r for r in feedwatch_log if r.levelno == logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert message.startswith("config reload (file changed) failed, keeping the running config: ")
    assert f"{path.resolve()}:" in message or f"{path}:" in message
    assert "\n" not in message
    assert app.daemon.config is before
    assert json.loads(get(app.web.url, "/healthz")[1])["feeds"] == 1


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_poll_lets_it_finish_and_exits_0(server, tmp_path, stop):
    fast = server.serve("/fast.rss", rss("fast", [story("Daredevil", "a teaser")]))
    slow = server.serve("/slow.rss", rss("slow", [story("Luke Cage", "a spin-off")]), delay=1.5)
    path = write_config(tmp_path, [fast, slow])
    process = Feedwatch(path)
    try:
        wait_until(lambda: server.hits("/slow.rss"), timeout=20)
        process.signal(stop)
        started = time.monotonic()
        assert process.wait(10) == 0
        assert time.monotonic() - started < 10
    finally:
        process.kill()

    assert process.logged(f"{stop.name}: stopping")
    assert process.logged("stopped")
    assert not [line for line in process.raw if "Traceback" in line]
    # The poll in flight was finished, stored and published.
    assert digest_titles(tmp_path / "out" / "digest.xml") == {
        "Daredevil a teaser",
        "Luke Cage a spin-off",
    }
    with sqlite3.connect(tmp_path / "state" / "feedwatch.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        statuses = dict(db.execute("SELECT url, last_status FROM feeds"))
    assert statuses == {fast: 200, slow: 200}


def test_sighup_and_file_changes_reload_a_running_daemon(server, tmp_path, capsys):
    first = server.serve("/first.rss", rss("first", [story("Daredevil", "a poster")]))
    second = server.serve("/second.rss", rss("second", [story("Luke Cage", "a script")]))
    path = write_config(tmp_path, [first])
    process = Feedwatch(path)
    try:
        base = process.url()
        process.signal(signal.SIGHUP)
        wait_until(lambda: process.logged("config reloaded (SIGHUP): 1 feeds"))

        good = path.read_text()
        replace_text(path, good.replace("feeds:", "feeds: [", 1))
        error = wait_until(lambda: process.logged("config reload", level="error"))[0]
        assert f"{path.resolve()}:" in error["message"]
        assert process.process.poll() is None

        write_config(tmp_path, [first, second])
        wait_until(lambda: server.hits("/second.rss"))
        wait_until(lambda: "Luke Cage a script" in digest_titles(tmp_path / "out" / "digest.xml"))
        assert json.loads(get(base, "/healthz")[1])["feeds"] == 2
        process.signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    # Every line is one JSON object (--log-format json), and one line per poll.
    polls = [event for event in process.lines if event.get("feed") == first]
    assert polls and all(event["level"] == "info" for event in polls)

    assert main(["-c", str(path), "feeds"]) == 0
    assert "never" not in capsys.readouterr().out


def test_a_poll_that_hits_a_bug_is_logged_counted_and_backed_off(
    server, tmp_path, running, feedwatch_log, monkeypatch
):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    calls: list[int] = []

    def broken(self, feed, state=None, **options):
        calls.append(1)
        raise RuntimeError("parser bug")

    monkeypatch.setattr(Pipeline, "poll", broken)
    # min_interval 1m: kept back 1m after the first failure, 2m after the second, by the
    # daemon's clock, which the test moves on.
    offset = [timedelta()]
    app = Running(
        write_config(tmp_path, [url], poll={"min_interval": "1m"}),
        tick=0.05,
        clock=lambda: datetime.now(UTC) + offset[0],
    )
    running.append(app.start())

    wait_until(lambda: len(calls) == 1)
    # Seconds the clock moves on, and the polls made by then: 50s in, still kept back; 65s,
    # polled again; 65 + 100s, kept back 120s this time; 65 + 130s, polled a third time.
    for seconds, polls in [(50, 1), (15, 2), (100, 2), (30, 3)]:
        offset[0] += timedelta(seconds=seconds)
        wait_until(lambda: len(calls) >= polls)  # noqa: B023 (called at once)
        time.sleep(0.2)  # several ticks
        assert len(calls) == polls
    errors = [r for r in feedwatch_log if r.levelno == logging.ERROR]
    assert len(errors) >= 2
    assert all(r.exc_info and "RuntimeError: parser bug" in r.getMessage() for r in errors)
    assert [error.getMessage() for error in errors[:2]] == [
        f"{url}: the poll failed: RuntimeError: parser bug; trying again in {seconds}s"
        for seconds in (60, 120)
    ]
    metrics = get(app.web.url, "/metrics")[1].decode()
    assert metric_value(metrics, "feedwatch_poll_errors_total") >= 2
    assert health_of(app)["feeds_failing"] == 1


def test_a_publish_that_hits_a_bug_is_reported_and_the_next_one_still_runs(
    server, tmp_path, running, feedwatch_log, monkeypatch
):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    app = Running(write_config(tmp_path, [url], poll=FAST), tick=0.05)
    real = Pipeline.publish
    publishes = []

    def flaky(self):
        publishes.append(1)
        if len(publishes) == 2:  # the first after start()
            raise RuntimeError("summariser bug")
        return real(self)

    monkeypatch.setattr(Pipeline, "publish", flaky)
    running.append(app.start())

    error = wait_until(lambda: [r for r in feedwatch_log if "cannot publish" in r.getMessage()])
    assert error[0].exc_info and error[0].levelno == logging.ERROR
    status, body = get(app.web.url, "/healthz")
    assert status == 503
    assert json.loads(body)["last_publish_error"] == "RuntimeError: summariser bug"
    assert json.loads(body)["status"] == "failing"

    # The publisher is still there: the next new article is published.
    server.serve(
        "/news.rss", rss("news", [story("Daredevil", "a trailer"), story("Luke Cage", "a cast")])
    )
    wait_until(lambda: digest_titles(app.digest) == {"Daredevil a trailer", "Luke Cage a cast"})
    wait_until(lambda: get(app.web.url, "/healthz")[0] == 200)
    assert health_of(app)["last_publish_error"] is None


def test_the_last_publish_gets_its_own_time_after_the_grace_period(server, tmp_path, monkeypatch):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a finale")]))
    real = Pipeline.publish

    def slow(self):
        time.sleep(0.6)  # longer than the polls' grace period
        return real(self)

    monkeypatch.setattr(Pipeline, "publish", slow)
    app = Running(write_config(tmp_path, [url]), tick=0.05, grace=0.2)
    app.start()
    try:
        wait_until(lambda: metrics_with(app, 'feedwatch_polls_total{status="200"} 1.0'))
    finally:
        # Stopping while the poll's publish runs: it is waited for before the store closes.
        assert app.close() is True
    assert digest_titles(app.digest) == {"Daredevil a finale"}


# --- health that tells the truth about the store ---------------------------------------------


def test_a_schedule_that_cannot_be_read_is_503_until_a_read_works(
    server, tmp_path, running, monkeypatch
):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    app = Running(write_config(tmp_path, [url], poll=FAST), tick=0.05)
    real = Store.claim_due
    broken = threading.Event()
    malformed = "database sqlite:///state/feedwatch.db: database disk image is malformed"

    def claim_due(self, now, **options):
        if broken.is_set():
            raise StoreError(malformed)
        return real(self, now, **options)

    monkeypatch.setattr(Store, "claim_due", claim_due)
    running.append(app.start())
    wait_until(lambda: health_of(app)["last_cycle"])
    assert get(app.web.url, "/healthz")[0] == 200

    broken.set()
    app.daemon.wake()
    wait_until(lambda: get(app.web.url, "/healthz")[0] == 503)
    health = health_of(app)
    assert health["status"] == "failing"
    assert health["problems"] == [f"cannot read the schedule: {malformed}"]
    metrics = get(app.web.url, "/metrics")[1].decode()
    assert metric_value(metrics, 'feedwatch_store_errors_total{operation="read"}') >= 1

    broken.clear()
    app.daemon.wake()
    wait_until(lambda: get(app.web.url, "/healthz")[0] == 200)
    assert health_of(app)["problems"] == []


def test_a_poll_that_cannot_be_recorded_is_503_until_one_is(server, tmp_path, running, monkeypatch):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    app = Running(write_config(tmp_path, [url], poll=FAST), tick=0.05)
    real = Pipeline.poll
    failures = []

    def poll(self, feed, state=None, **options):
        if len(failures) < 2:
            failures.append(1)
            raise StoreError("database sqlite:///state/feedwatch.db: disk I/O error")
        return real(self, feed, state, **options)

    monkeypatch.setattr(Pipeline, "poll", poll)
    running.append(app.start())
    wait_until(lambda: failures)
    status, body = get(app.web.url, "/healthz")
    assert status == 503
    assert json.loads(body)["problems"] == [
        "cannot record a poll: database sqlite:///state/feedwatch.db: disk I/O error"
    ]
    # Held back 1s, then 2s; the third poll is recorded.
    wait_until(lambda: digest_titles(app.digest) == {"Daredevil a trailer"}, timeout=8)
    wait_until(lambda: get(app.web.url, "/healthz")[0] == 200)
    metrics = get(app.web.url, "/metrics")[1].decode()
    assert metric_value(metrics, 'feedwatch_store_errors_total{operation="write"}') == 2


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_file_deleted_or_replaced_under_the_daemon_stops_it_writing(
    server, tmp_path, running, feedwatch_log, how
):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    app = Running(write_config(tmp_path, [url], poll=FAST), tick=0.05)
    running.append(app.start())
    wait_until(lambda: digest_titles(app.digest) == {"Daredevil a trailer"})
    database = tmp_path / "state" / "feedwatch.db"
    if how == "deleted":
        database.unlink()
    else:
        other = tmp_path / "other.db"
        sqlite3.connect(other).close()
        other.replace(database)

    wait_until(lambda: get(app.web.url, "/healthz")[0] == 503)
    health = health_of(app)
    assert health["polling"] is False
    assert health["problems"] == [
        f"the database file {database} was "
        + ("deleted" if how == "deleted" else "replaced by another file")
        + "; polling and publishing stopped until feedwatch is restarted"
    ]
    polls = len(server.hits("/news.rss"))
    digest_written = app.digest.stat().st_mtime_ns
    # New articles would now be stored in the old file, lost at restart: none are fetched.
    server.serve("/news.rss", rss("news", [story("Luke Cage", "a cast")]))
    time.sleep(2.5)  # FAST polls every 1s
    assert len(server.hits("/news.rss")) <= polls + 1  # at most one already under way
    assert app.digest.stat().st_mtime_ns == digest_written
    assert get(app.web.url, "/healthz")[0] == 503
    [error] = [r for r in feedwatch_log if r.levelno == logging.ERROR]
    assert error.getMessage().startswith(f"the database file {database} was ")
    assert "restart feedwatch" in error.getMessage()
    metrics = get(app.web.url, "/metrics")[1].decode()
    assert metric_value(metrics, 'feedwatch_store_errors_total{operation="file"}') == 1


def test_a_corrupted_database_under_run_is_503_with_the_reason(server, tmp_path):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    config = write_config(tmp_path, [url], poll=FAST)
    process = Feedwatch(config)
    try:
        base = process.url()
        wait_until(lambda: digest_titles(tmp_path / "out" / "digest.xml"))
        assert get(base, "/healthz")[0] == 200
        garbage = bytes(range(256)) * 64
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / "state" / f"feedwatch.db{suffix}"
            size = path.stat().st_size
            with path.open("r+b") as handle:
                # The main file keeps its 100-byte header: still SQLite, its pages garbage.
                handle.seek(100 if not suffix else 0)
                handle.write((garbage * (size // len(garbage) + 1))[: size - handle.tell()])
        wait_until(lambda: get(base, "/healthz")[0] == 503, timeout=10)
        [problem] = json.loads(get(base, "/healthz")[1])["problems"]
        # Whichever of the dispatcher and the publisher reads the database first says so.
        assert problem.startswith(
            ("cannot read the schedule: database sqlite:///", "cannot publish the digest: ")
        )
        assert problem.endswith(": database disk image is malformed")
        process.signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        process.kill()
    assert not [line for line in process.raw if "Traceback" in line]
