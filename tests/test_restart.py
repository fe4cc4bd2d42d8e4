"""Restarts: the schedule and validators survive them, and a kill -9 at any moment of a cycle
loses nothing committed and duplicates nothing once feedwatch runs again."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import feedparser

import daemonkit as kit
from feedwatch import config
from feedwatch.cli import ONCE_WAIT, main
from feedwatch.pipeline import Pipeline
from feedwatch.poll.http import Fetcher
from feedwatch.store import Store
from httpserver import FeedServer

SHOWS = "shows:\n  - name: Severance\n    keywords: [Severance]\n"


def feed_body(name: str, items: int) -> bytes:
    """An RSS feed of `items` entries; every other one mentions the tracked show."""
    entries = "".join(
        f"<item><title>{name} story {n}</title>"
        f"<link>https://{name}.example/story-{n}</link>"
        f"<pubDate>Mon, 0{n + 1} Jun 2026 10:00:00 GMT</pubDate>"
        f"<description>{'Severance' if n % 2 == 0 else 'A drama'} news from {name}. "
        f"Filming went on for a week. The cast gave {n} interviews.</description></item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>https://{name}.example/</link>{entries}</channel></rss>"
    ).encode()


def write_config(folder: Path, urls: list[str]) -> Path:
    path = folder / "feeds.yaml"
    feeds = "".join(f"  - url: {url}\n" for url in urls)
    path.write_text(
        "database: sqlite:///state/feedwatch.db\n"
        "poll:\n  interval: 15m\n  timeout: 10s\n"
        # Every story here is one template: counted as articles, not grouped into stories.
        "stories:\n  enabled: false\n"
        "digest:\n  path: out/digest.xml\n"
        f"feeds:\n{feeds}{SHOWS}",
        encoding="utf-8",
    )
    return path


def committed(folder: Path) -> tuple[set[tuple[str, str]], list[str], dict[str, str | None]]:
    """What the database holds: (feed URL, entry id) pairs, article titles, ETags by feed."""
    database = folder / "state" / "feedwatch.db"
    if not database.exists():
        return set(), [], {}
    with sqlite3.connect(database) as connection:
        try:
            entries = set(
                connection.execute(
                    "SELECT feeds.url, entries.entry_id FROM entries"
                    " JOIN feeds ON feeds.id = entries.feed_id"
                )
            )
            titles = [row[0] for row in connection.execute("SELECT title FROM articles")]
            etags = dict(connection.execute("SELECT url, etag FROM feeds"))
        except sqlite3.OperationalError:  # killed before the schema was made
            return set(), [], {}
    return entries, titles, etags


def spawn_once(config_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "feedwatch", "-c", str(config_path), "once"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_restart_resumes_the_schedule_and_keeps_validators(
    server: FeedServer, tmp_path: Path, capsys
) -> None:
    urls = [server.serve(f"/{name}.rss", feed_body(name, 3)) for name in ("north", "south")]
    path = write_config(tmp_path, urls)
    assert main(["-c", str(path), "once"]) == 0
    first_etags = {url: committed(tmp_path)[2][url] for url in urls}
    requests = len(server.requests)

    # Nothing is due right after a cycle: a restarted `once --due` polls nothing.
    assert main(["-c", str(path), "once", "--due"]) == 0
    assert len(server.requests) == requests
    assert "0 feeds polled (0 failed; 2 skipped: not due, gone or told to wait)" in (
        capsys.readouterr().out
    )

    # Later, a fresh process finds both due and asks conditionally with what it stored.
    cfg = config.load(path)
    with Fetcher(timeout=5) as fetcher:
        store = Store.open(cfg.database)
        try:
            pipeline = Pipeline(cfg, store, fetcher)
            due = pipeline.due(datetime.now(UTC) + timedelta(days=1))
            assert [feed.url for feed in due] == urls
            assert [pipeline.poll(feed).status for feed in due] == [304, 304]
        finally:
            store.close()
    for url in urls:
        sent = server.hits(url.removeprefix(server.base))[-1].headers
        assert sent["if-none-match"] == first_etags[url]


def test_kill_9_while_a_feed_hangs_then_a_clean_run(server: FeedServer, tmp_path: Path) -> None:
    release = threading.Event()
    slow_body = feed_body("slow", 4)

    def hang_then_answer(handler: BaseHTTPRequestHandler) -> None:
        release.wait(30)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rss+xml")
            handler.send_header("Content-Length", str(len(slow_body)))
            handler.end_headers()
            handler.wfile.write(slow_body)
        except OSError:  # the killed client is gone
            return

    urls = [
        server.serve("/first.rss", feed_body("first", 4)),
        server.serve("/second.rss", feed_body("second", 3)),
        server.serve("/slow.rss", b"", handler=hang_then_answer),
        server.serve("/last.rss", feed_body("last", 2)),
    ]
    path = write_config(tmp_path, urls)
    process = spawn_once(path)
    try:
        # Entries and validators are committed together; wait for the validators so the
        # kill lands after at least one feed's poll is complete.
        wait_for(
            lambda: bool(server.hits("/slow.rss")) and bool(committed(tmp_path)[2].get(urls[0]))
        )
        before, _, etags = committed(tmp_path)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    polled_before = {url for url, etag in etags.items() if etag}
    assert urls[0] in polled_before

    release.set()
    server.serve("/slow.rss", slow_body)  # answers at once from now on
    assert main(["-c", str(path), "once"]) == 0

    after, titles, _ = committed(tmp_path)
    assert before <= after  # nothing committed was lost
    assert len(titles) == len(set(titles)) == 4 + 3 + 4 + 2  # nothing twice
    # What was committed before the kill is asked for conditionally, and has not changed.
    for url in polled_before:
        last = server.hits(url.removeprefix(server.base))[-1]
        assert last.headers.get("if-none-match") == etags[url]
        assert last.status == 304
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    links = [entry.link for entry in digest.entries]
    assert len(links) == len(set(links)) == 2 + 2 + 2 + 1


def test_kill_9_at_many_moments_never_loses_or_duplicates(
    server: FeedServer, tmp_path: Path
) -> None:
    # Kills land anywhere: during start-up, a fetch, a store write, summarising, the digest.
    names = [f"feed{n}" for n in range(6)]
    urls = [server.serve(f"/{name}.rss", feed_body(name, 3), delay=0.1) for name in names]
    path = write_config(tmp_path, urls)
    seen: set[tuple[str, str]] = set()
    for delay in (0.9, 1.2, 1.5, 1.8):
        process = spawn_once(path)
        time.sleep(delay)
        process.kill()
        process.wait()
        entries, titles, _ = committed(tmp_path)
        assert seen <= entries
        assert len(titles) == len(set(titles))
        seen = entries

    assert main(["-c", str(path), "once"]) == 0
    entries, titles, _ = committed(tmp_path)
    assert seen <= entries
    assert sorted(titles) == sorted(f"{name} story {n}" for name in names for n in range(3))
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    assert sorted(entry.title for entry in digest.entries) == sorted(
        f"{name} story {n}" for name in names for n in (0, 2)
    )


def feedwatch(config_path: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feedwatch", "-c", str(config_path), command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_one_daemon_per_database_and_once_beside_it_says_why_it_cannot(
    server: FeedServer, tmp_path: Path
) -> None:
    path = kit.write_config(tmp_path, [server.serve("/a.rss", feed_body("a", 4))])
    daemon = kit.Feedwatch(path, "run")
    try:
        daemon.url()
        kit.wait_until(lambda: daemon.logged("/a.rss: HTTP 200"))
        in_use = (
            f"feedwatch: database {tmp_path}/state/feedwatch.db is in use by feedwatch run, "
            f"pid {daemon.process.pid}\n"
        )
        second = feedwatch(path, "run")
        assert (second.returncode, second.stderr) == (1, in_use)
        started = time.monotonic()
        once = feedwatch(path, "once")
        assert (once.returncode, once.stderr, once.stdout) == (1, in_use, "")
        assert time.monotonic() - started >= ONCE_WAIT
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(20) == 0
    finally:
        daemon.kill()
    once = feedwatch(path, "once")
    assert once.returncode == 0
    assert "0 new and 0 updated articles" in once.stdout
    assert len(committed(tmp_path)[1]) == 4


def test_a_daemon_killed_with_9_leaves_no_lock_behind(server: FeedServer, tmp_path: Path) -> None:
    path = kit.write_config(tmp_path, [server.serve("/a.rss", feed_body("a", 2))])
    first = kit.Feedwatch(path, "run")
    try:
        first.url()
    finally:
        first.kill()
    second = kit.Feedwatch(path, "run")
    try:
        second.url()
        second.signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        second.kill()
