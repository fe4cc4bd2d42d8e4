"""Feed bodies read in worker processes (poll/processes.py): the same answers as in the
polling thread, and a worker's death costs nothing but a warning."""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

import feedparser
import pytest

from daemonkit import rss, story, wait_until, write_config
from feedwatch import config
from feedwatch.cli import main
from feedwatch.daemon import Daemon
from feedwatch.errors import AbandonedError, ParseError
from feedwatch.pipeline import Pipeline
from feedwatch.poll import parser, reading
from feedwatch.poll.http import Fetcher
from feedwatch.poll.processes import SMALL_BODY, Readers, _Worker, sent_to_worker
from feedwatch.store import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
URL = "https://tvwire.example/rss"
HEADERS = {"content-type": "application/rss+xml"}


def long_feed(name: str = "tvwire", news: str = "a new season") -> bytes:
    """A feed past SMALL_BODY, as entertainment sites write them: many long entries."""
    paragraph = "The studio confirmed the casting, the schedule and the budget. " * 6
    stories = [(f"Weather {n}", paragraph) for n in range(40)]
    body = rss(name, [story("Daredevil", news), *stories])
    assert len(body) > SMALL_BODY
    return body


def read_by(readers: Readers, body: bytes) -> reading.Reading:
    return readers.read(body, HEADERS, URL, max_entries=100, now=NOW)


def workers() -> list[multiprocessing.Process]:
    return multiprocessing.active_children()


def reading_script(path: Path, then: str, *, first: str = "") -> Path:
    """A script at `path` that reads the feed on its stdin with Readers(processes=1), as a
    program using feedwatch would (`first` at its top), then runs the lines `then`."""
    path.write_text(
        f"{first}"
        "import multiprocessing, sys, time\n"
        "from datetime import datetime, UTC\n"
        "from feedwatch.poll.processes import Readers\n"
        "if __name__ == '__main__':\n"
        "    readers = Readers(processes=1)\n"
        "    readers.read(sys.stdin.buffer.read(), {}, 'https://tvwire.example/rss',"
        " max_entries=100, now=datetime.now(UTC))\n"
        + "".join(f"    {line}\n" for line in then.splitlines())
    )
    return path


def no_process_starts(process: object) -> None:
    """SpawnProcess.start on a machine at its limit of processes."""
    raise BlockingIOError(11, "Resource temporarily unavailable")


@pytest.fixture
def worker() -> Iterator[_Worker]:
    started = _Worker(multiprocessing.get_context("spawn"))
    yield started
    started.stop(wait=1)


def test_a_long_feed_is_read_in_a_worker_as_it_is_read_here():
    body = long_feed()
    with closing(Readers(processes=2)) as readers:
        found = read_by(readers, body)
        assert workers()
    assert not workers()  # closing stops them
    assert found == reading.read(body, HEADERS, URL, max_entries=100, now=NOW)
    assert found.articles[0].title == "Daredevil a new season"
    assert found.feed.title == "tvwire" and found.feed.entries == ()


def test_long_feeds_read_one_at_a_time_keep_one_worker():
    body = long_feed()
    with closing(Readers(processes=2)) as readers:
        for _ in range(3):
            read_by(readers, body)
        assert len(workers()) == 1


def test_a_short_feed_is_read_here_without_starting_a_worker():
    body = rss("tvwire", [story("Daredevil", "a new season")])
    with closing(Readers(processes=2)) as readers:
        [article] = read_by(readers, body).articles
        assert not workers()
    assert article.title == "Daredevil a new season"


@pytest.mark.parametrize(
    ("size", "busy", "sent"),
    [(SMALL_BODY - 1, False, False), (SMALL_BODY, False, True), (100, True, True)],
)
def test_a_short_body_goes_to_a_worker_only_while_another_read_is_under_way(size, busy, sent):
    assert sent_to_worker(size, busy) is sent


def test_a_burst_of_short_feeds_is_read_in_the_workers_each_answer_for_its_own_read(
    monkeypatch,
):
    weather = [(f"Weather {n}", "The studio confirmed the schedule. " * 4) for n in range(12)]
    bodies = {
        f"https://wire{n}.example/rss": rss(f"wire{n}", [story("Daredevil", f"news {n}"), *weather])
        for n in range(48)
    }
    assert max(map(len, bodies.values())) < SMALL_BODY
    expected = {
        url: reading.read(body, HEADERS, url, max_entries=100, now=NOW)
        for url, body in bodies.items()
    }
    here = []  # parsed in this process; the workers are spawned, without this patch
    parse = parser.parse
    monkeypatch.setattr(parser, "parse", lambda *a, **kw: (here.append(a[2]), parse(*a, **kw))[1])

    def read(url: str) -> reading.Reading:
        return readers.read(bodies[url], HEADERS, url, max_entries=100, now=NOW)

    with closing(Readers(processes=2)) as readers, ThreadPoolExecutor(8) as threads:
        found = dict(zip(bodies, threads.map(read, bodies), strict=True))
        assert len(workers()) == 2
    assert found == expected
    assert len(here) < len(bodies) / 2


def test_closing_abandons_the_reads_still_waiting_for_a_worker_at_once():
    body = long_feed()
    readers = Readers(processes=1)
    with ThreadPoolExecutor(16) as threads:
        reads = [
            threads.submit(readers.read, body, HEADERS, URL, max_entries=100, now=NOW)
            for _ in range(16)
        ]
        wait_until(workers)  # still starting: the reads sent so far wait in its pipe
        started = time.monotonic()
        readers.close()
        assert time.monotonic() - started < 1
        errors = [read.exception(timeout=5) for read in reads]
    assert not workers()
    # Those not sent yet were read here.
    assert any(isinstance(error, AbandonedError) for error in errors)
    assert all(error is None or isinstance(error, AbandonedError) for error in errors)


class _Unbuildable:
    """Pickles in the worker; rebuilding it here raises."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_refuse_to_build, ())


def _refuse_to_build() -> None:
    raise TypeError("cannot be rebuilt")


def _answer_that_cannot_come_back() -> _Unbuildable:
    return _Unbuildable()


def _answer_that_cannot_leave() -> object:
    return threading.Lock()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (_answer_that_cannot_leave, "unreadable (TypeError: cannot pickle '_thread.lock' object)"),
        (_answer_that_cannot_come_back, "unreadable (TypeError: cannot be rebuilt)"),
    ],
)
def test_an_answer_that_cannot_make_the_trip_fails_its_own_read_and_the_worker_goes_on(
    worker, answer, error
):
    # Reads are reading.read, whose answers always pickle; these stand for a bug that made
    # one that does not, which must not leave its read, or the next, waiting for ever.
    with pytest.raises(ParseError) as raised:
        worker.submit(answer).result(timeout=30)
    assert str(raised.value) == error
    read = functools.partial(reading.read, long_feed(), HEADERS, URL, max_entries=100, now=NOW)
    assert worker.submit(read).result(timeout=30) == read()


def test_stopping_a_worker_does_not_wait_for_a_thread_blocked_sending_it_more(worker):
    busy = worker.submit(functools.partial(time.sleep, 30))
    # Far more than the pipe holds: its sender waits for a worker that reads no more.
    more = functools.partial(reading.read, b"x" * 4_000_000, HEADERS, URL, max_entries=1, now=NOW)
    with ThreadPoolExecutor(1) as thread:
        sending = thread.submit(worker.submit, more)
        wait_until(lambda: worker.outstanding == 2)
        started = time.monotonic()
        worker.stop(wait=1)
        assert time.monotonic() - started < 5
        assert sending.result(timeout=5).exception(timeout=5) is not None
    assert busy.exception(timeout=5) is not None
    assert not workers()


def test_a_read_that_cannot_be_sent_is_refused_and_counts_for_nothing(worker):
    with pytest.raises(AttributeError, match="Can't pickle local object"):
        worker.submit(lambda: None)
    assert worker.outstanding == 0
    read = functools.partial(reading.read, long_feed(), HEADERS, URL, max_entries=100, now=NOW)
    assert worker.submit(read).result(timeout=30) == read()


def test_a_process_that_never_closes_its_readers_still_exits(tmp_path):
    script = reading_script(
        tmp_path / "reads.py",
        "print('read', flush=True)\n"
        # Moves multiprocessing's exit hook to run first, as a library's logging can.
        "multiprocessing.get_logger()",
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        input=long_feed(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == b"read\n"


def test_a_long_page_that_is_no_feed_is_the_same_parse_error_from_a_worker():
    page = (
        '<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" '
        'href="/feed.xml"></head><body>' + "<p>Schedules and casting news.</p>" * 800
    ).encode()
    with closing(Readers(processes=1)) as readers, pytest.raises(ParseError) as raised:
        readers.read(page, {"content-type": "text/html"}, URL, max_entries=100, now=NOW)
    assert str(raised.value) == (
        "not an RSS/Atom feed (looks like an HTML page); "
        "this page advertises https://tvwire.example/feed.xml; configure that"
    )


def test_a_worker_killed_costs_its_document_a_warning_and_nothing_else(caplog):
    body = long_feed()
    expected = reading.read(body, HEADERS, URL, max_entries=100, now=NOW)
    with closing(Readers(processes=1)) as readers:
        assert read_by(readers, body) == expected
        [worker] = workers()
        os.kill(worker.pid, signal.SIGKILL)
        wait_until(lambda: not worker.is_alive())
        with caplog.at_level(logging.WARNING):
            assert read_by(readers, body) == expected
        assert "a process reading feeds ended unexpectedly" in caplog.text
        # The next long one has a worker again.
        assert read_by(readers, body) == expected
        assert [w.pid for w in workers()] != [worker.pid] and len(workers()) == 1


def test_workers_leave_stopping_to_the_daemon_when_the_terminal_sends_sigint(caplog):
    body = long_feed()
    with closing(Readers(processes=1)) as readers:
        read_by(readers, body)
        [worker] = workers()
        # Ctrl-C reaches the whole process group; the daemon decides when its workers go.
        os.kill(worker.pid, signal.SIGINT)
        os.kill(worker.pid, signal.SIGTERM)
        with caplog.at_level(logging.WARNING):
            read_by(readers, body)
        assert workers() == [worker] and not caplog.text


def test_once_over_long_feeds_stores_and_publishes_what_they_say(server, tmp_path):
    feeds = [server.serve(f"/{n}.rss", long_feed(f"wire{n}", f"news {n}")) for n in range(3)]
    config = write_config(tmp_path, feeds, full_text=False)
    assert main(["-c", str(config), "once"]) == 0
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    titles = sorted(entry.title for entry in digest.entries)
    assert titles == ["Daredevil news 0", "Daredevil news 1", "Daredevil news 2"]


def test_when_no_process_can_be_started_feeds_are_read_here(monkeypatch, caplog):
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", no_process_starts)
    body = long_feed()
    expected = reading.read(body, HEADERS, URL, max_entries=100, now=NOW)
    with closing(Readers(processes=2)) as readers, caplog.at_level(logging.WARNING):
        assert read_by(readers, body) == expected
        assert read_by(readers, body) == expected
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning == (
        f"{URL}: no process to read feeds can be started "
        "([Errno 11] Resource temporarily unavailable): read here from now on"
    )


def test_when_no_more_processes_can_be_started_the_workers_there_are_go_on(monkeypatch, caplog):
    body = long_feed()
    expected = reading.read(body, HEADERS, URL, max_entries=100, now=NOW)
    with closing(Readers(processes=2)) as readers:
        with ThreadPoolExecutor(8) as threads:  # a burst: both workers start
            list(threads.map(lambda _: read_by(readers, body), range(16)))
        killed, kept = workers()
        os.kill(killed.pid, signal.SIGKILL)
        wait_until(lambda: not killed.is_alive())
        monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", no_process_starts)
        with caplog.at_level(logging.WARNING), ThreadPoolExecutor(8) as threads:
            # Another burst: the kept worker has reads waiting, so another is asked for.
            found = list(threads.map(lambda _: read_by(readers, body), range(16)))
        assert found == [expected] * 16
        assert workers() == [kept]  # never stopped, nor its reads redone
    assert "no more processes to read feeds can be started" in caplog.text
    assert "reading in the 1 there are" in caplog.text


def test_when_no_thread_can_be_started_for_a_worker_feeds_are_read_here(monkeypatch, caplog):
    start = threading.Thread.start

    def refused(thread: threading.Thread) -> None:
        if thread.name.startswith("reader-"):
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refused)
    body = long_feed()
    expected = reading.read(body, HEADERS, URL, max_entries=100, now=NOW)
    with closing(Readers(processes=1)) as readers, caplog.at_level(logging.WARNING):
        assert read_by(readers, body) == expected
        assert not workers()  # the one started for it is gone
    assert "no process to read feeds can be started (can't start new thread)" in caplog.text


def test_workers_end_when_the_process_that_started_them_is_killed(tmp_path):
    script = reading_script(
        tmp_path / "reads.py",
        "print(*[worker.pid for worker in multiprocessing.active_children()], flush=True)\n"
        "time.sleep(60)",
    )
    started = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    started.stdin.write(long_feed())
    started.stdin.close()
    [worker] = [int(pid) for pid in started.stdout.readline().split()]
    started.kill()  # -9: it closes nothing
    started.wait()

    def gone() -> bool:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, timeout=10)


def test_the_feedwatch_commands_workers_do_not_load_its_command_line(tmp_path):
    # A spawned worker runs its parent's main script again: the script pip writes for the
    # `feedwatch` command, importing its entry point. Importing the CLI there would load its
    # libraries (pydantic for the config, among them) into every worker, for nothing.
    [command] = entry_points(group="console_scripts", name="feedwatch")
    script = reading_script(
        tmp_path / "feedwatch",
        "[worker] = multiprocessing.active_children()\n"
        "with open(f'/proc/{worker.pid}/maps') as maps:\n"
        "    print('pydantic_core' in maps.read())\n"
        "readers.close()",
        first=f"from {command.module} import {command.attr}\n",
    )
    done = subprocess.run(
        [sys.executable, str(script)], input=long_feed(), capture_output=True, check=True
    )
    assert done.stdout.split() == [b"False"]


def test_workers_left_unused_are_stopped_and_the_next_long_feed_starts_them_again():
    now = [0.0]
    body = long_feed()
    expected = reading.read(body, HEADERS, URL, max_entries=100, now=NOW)
    with closing(Readers(processes=1, idle_stop=300, clock=lambda: now[0])) as readers:
        assert not readers.stop_if_idle()  # nothing to stop
        read_by(readers, body)
        [worker] = workers()
        now[0] = 299.0
        assert not readers.stop_if_idle() and workers() == [worker]
        # A short feed read here meanwhile does not keep the worker.
        read_by(readers, rss("tvwire", [story("Daredevil", "a new season")]))
        now[0] = 300.0
        assert readers.stop_if_idle()
        assert not workers()
        assert read_by(readers, body) == expected
        assert len(workers()) == 1 and workers() != [worker]


def test_a_daemon_stops_its_workers_once_they_have_been_idle(server, tmp_path):
    url = server.serve("/wire.rss", long_feed())
    cfg = config.load(write_config(tmp_path, [url], full_text=False))
    now = [0.0]
    readers = Readers(processes=1, idle_stop=300, clock=lambda: now[0])
    with (
        closing(Store.open(cfg.database)) as store,
        closing(Fetcher(timeout=5)) as fetcher,
        closing(readers),
    ):
        daemon = Daemon(Pipeline(cfg, store, fetcher, readers=readers), tick=0.05)
        daemon.start()
        try:
            [polled] = wait_until(lambda: [r for r in store.feed_reports() if r.articles])
            assert polled.last_status == 200 and len(workers()) == 1  # read in a worker
            now[0] = 300.0  # and no long feed came since
            wait_until(lambda: not workers())
        finally:
            daemon.stop()
    digest = feedparser.parse(cfg.digest.path.read_bytes())
    assert [entry.title for entry in digest.entries] == ["Daredevil a new season"]


@pytest.mark.parametrize(("processes", "started"), [(None, True), (0, False)])
def test_poll_processes_0_reads_long_feeds_without_starting_a_process(
    server, tmp_path, monkeypatch, processes, started
):
    spawned = []
    start = multiprocessing.context.SpawnProcess.start
    monkeypatch.setattr(
        multiprocessing.context.SpawnProcess,
        "start",
        lambda process: (spawned.append(process), start(process)),
    )
    feeds = [server.serve(f"/{n}.rss", long_feed(f"wire{n}", f"news {n}")) for n in range(2)]
    poll = {} if processes is None else {"processes": processes}
    config = write_config(tmp_path, feeds, full_text=False, poll=poll)
    assert main(["-c", str(config), "once"]) == 0
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    titles = sorted(entry.title for entry in digest.entries)
    assert titles == ["Daredevil news 0", "Daredevil news 1"]
    assert bool(spawned) == started
