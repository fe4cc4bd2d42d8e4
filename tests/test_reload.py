"""A reload that meets any error keeps the running config, says so in one line, and never ends
the daemon (`run`) or the server (`serve`)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from daemonkit import Feedwatch, replace_text, rss, story, wait_until, write_config
from feedwatch import config, daemon
from feedwatch.daemon import Daemon
from feedwatch.pipeline import Pipeline
from feedwatch.poll.http import Fetcher
from feedwatch.store import Store


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """What the feedwatch and APScheduler loggers say, whatever an earlier test set up."""
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    handler = Keep()
    loggers = [logging.getLogger("feedwatch"), logging.getLogger("apscheduler")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield kept
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def feed_config(server, tmp_path) -> Path:
    return write_config(
        tmp_path, [server.serve("/news.rss", rss("news", [story("Daredevil", "x")]))]
    )


@pytest.fixture
def make_daemon(feed_config) -> Iterator[Daemon]:
    cfg = config.load(feed_config)
    with closing(Store.open(cfg.database)) as store, Fetcher(timeout=5) as fetcher:
        running = Daemon(Pipeline(cfg, store, fetcher), tick=0.05, watch_every=0.05)
        yield running
        running.stop()


def errors(records: list[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records if record.levelno >= logging.ERROR]


def test_a_config_error_keeps_the_running_config(make_daemon, feed_config, records):
    before = make_daemon.config
    text = feed_config.read_text()
    line = text[: text.index("Test digest")].count("\n") + 1
    replace_text(feed_config, text.replace("Test digest", "Bell\x07"))
    assert make_daemon.reload("SIGHUP") is False
    assert make_daemon.config is before
    assert errors(records) == [
        "config reload (SIGHUP) failed, keeping the running config: "
        f"{feed_config.resolve()}:{line}: control character U+0007 is not allowed"
    ]


def test_a_bug_met_by_a_reload_keeps_the_running_config_too(make_daemon, records, monkeypatch):
    before = make_daemon.config

    def broken(self: Pipeline, *args: object) -> None:
        raise RuntimeError("half-built\npipeline")

    monkeypatch.setattr(Pipeline, "__init__", broken)
    assert make_daemon.reload("SIGHUP") is False
    assert make_daemon.config is before
    assert errors(records) == [
        "config reload (SIGHUP) failed, keeping the running config: "
        "internal error: RuntimeError: half-built; pipeline"
    ]


def test_the_file_watcher_reports_a_fifo_once_and_never_blocks(make_daemon, feed_config, records):
    before = make_daemon.config
    good = feed_config.read_text()
    make_daemon.start()
    fifo = feed_config.with_name("fifo")
    os.mkfifo(fifo)
    fifo.replace(feed_config)
    wait_until(lambda: errors(records))
    time.sleep(0.3)  # several more checks of the same FIFO: nothing new to say, none hangs
    replace_text(feed_config, good.replace("Test digest", "Renamed digest"))
    wait_until(lambda: make_daemon.config is not before)
    assert errors(records) == [
        "config reload (file changed) failed, keeping the running config: "
        f"{feed_config.resolve()}: not a regular file (a device, FIFO or socket)"
    ]
    assert make_daemon.config.digest.title == "Renamed digest"


def test_a_watcher_failure_is_one_feedwatch_line_and_no_scheduler_traceback(
    make_daemon, records, monkeypatch
):
    def broken(path: Path) -> str:
        raise RuntimeError("stat broke")

    monkeypatch.setattr(daemon, "_file_state", broken)
    make_daemon.start()
    wait_until(lambda: errors(records))
    make_daemon.stop()
    scheduler = [r for r in records if r.name.startswith("apscheduler")]
    assert scheduler  # it was heard: its INFO lines about running the job
    # (A tick skipped while the last one runs, on a busy machine, is a WARNING it may give.)
    assert not [r for r in scheduler if r.levelno >= logging.ERROR or r.exc_info]
    assert errors(records)[0] == (
        "config reload (file changed) failed, keeping the running config: "
        "internal error: RuntimeError: stat broke"
    )


@pytest.mark.parametrize("command", ["run", "serve"])
def test_sighup_with_a_hostile_file_never_ends_the_process(feed_config, command):
    process = Feedwatch(feed_config, command)
    try:
        process.url()
        good = feed_config.read_text()
        replace_text(feed_config, good.replace("path: out/digest.xml", 'path: "out\\0.xml"'))
        process.signal(signal.SIGHUP)
        wait_until(lambda: process.logged("config reload (SIGHUP) failed", level="error"))
        assert process.process.poll() is None

        replace_text(feed_config, good)
        process.signal(signal.SIGHUP)
        wait_until(lambda: process.logged("config reloaded (SIGHUP)"))
        process.signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    assert not [line for line in process.raw if "Traceback" in line or "internal error" in line]
    (error,) = process.logged("config reload (SIGHUP) failed")
    assert error["message"].endswith(": digest.path: NUL is not allowed")


def test_stop_during_a_reload_by_the_config_watcher_does_not_hang(
    make_daemon, feed_config, monkeypatch
):
    # stop() shuts the scheduler down and waits for its running jobs; the watcher's reload,
    # one of them, then changes the scheduler's jobs (the roundup's), which must not wait
    # for the shutdown in turn.
    loading, go_on = threading.Event(), threading.Event()
    load = config.load

    def slow_load(path):
        loading.set()
        go_on.wait(10)
        return load(path)

    make_daemon.start()
    monkeypatch.setattr(daemon.config, "load", slow_load)
    replace_text(feed_config, feed_config.read_text().replace("Test digest", "Other digest"))
    assert loading.wait(10)
    stopping = threading.Thread(target=make_daemon.stop, daemon=True)
    stopping.start()
    time.sleep(0.3)  # stop() is in the scheduler's shutdown, waiting for the reload's job
    go_on.set()
    stopping.join(10)
    assert not stopping.is_alive()
