"""How feedwatch behaves towards feed servers: redirects, 304, 410, Retry-After, back-off,
limits and bodies that are not feeds, through the Fetcher and end to end through Pipeline.poll.
"""

from __future__ import annotations

import json
import logging
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from feedwatch import config, logs, policy
from feedwatch.cli import main
from feedwatch.errors import FetchError, HTTPStatusError, NetworkError
from feedwatch.pipeline import Pipeline
from feedwatch.poll import parser
from feedwatch.poll.http import Fetcher, retry_after_time
from feedwatch.store import Store
from httpserver import FeedServer

DATA = Path(__file__).parent / "data" / "http"
NEWS = (DATA / "news.rss").read_bytes()
UNDATED = (DATA / "undated.rss").read_bytes()
INTERVAL = timedelta(minutes=15)


def config_text(urls: list[str], poll: str = "") -> str:
    feeds = "".join(f"  - url: {url}\n" for url in urls)
    return (
        "database: sqlite:///state/feedwatch.db\n"
        "poll:\n  interval: 15m\n  timeout: 5s\n"
        + poll
        + "digest:\n  path: out/digest.xml\n"
        + "feeds:\n"
        + feeds
        + "shows:\n  - name: Severance\n    keywords: [Severance]\n"
    )


@pytest.fixture
def pipeline_for(tmp_path: Path) -> Iterator[Callable[..., Pipeline]]:
    """Builds a Pipeline on one database in tmp_path; calling again is a restart."""
    opened: list[tuple[Store, Fetcher]] = []

    def make(urls: list[str], feeds_yaml: str | None = None, poll: str = "") -> Pipeline:
        path = tmp_path / "feeds.yaml"
        path.write_text(feeds_yaml or config_text(urls, poll), encoding="utf-8")
        cfg = config.load(path)
        store = Store.open(cfg.database)
        fetcher = Fetcher(timeout=cfg.poll.timeout.total_seconds(), max_bytes=cfg.poll.max_bytes)
        opened.append((store, fetcher))
        return Pipeline(cfg, store, fetcher)

    yield make
    for store, fetcher in opened:
        fetcher.close()
        store.close()


def waited(when: datetime | None, since: datetime) -> float:
    """How many configured intervals `when` lies after `since`."""
    assert when is not None
    return (when - since) / INTERVAL


def polled_at(store: Store, url: str) -> datetime:
    """When the feed was last polled, as `feedwatch feeds` reports it."""
    [when] = [report.last_fetched for report in store.feed_reports() if report.url == url]
    assert when is not None
    return when


def handler_sending(lines: list[bytes], pause: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def handle(handler: BaseHTTPRequestHandler) -> None:
        try:
            for line in lines:
                handler.wfile.write(line)
                time.sleep(pause)
        except OSError:  # the client gave up, as it should
            return

    return handle


# --- the fetcher: redirects ---------------------------------------------------------------------


def redirect(server: FeedServer, path: str, status: int, target: str) -> str:
    return server.serve(path, b"", status=status, headers={"Location": target}, conditional=False)


@pytest.mark.parametrize(
    ("chain", "moved"),
    [
        ([301], "/hop1"),
        ([308], "/hop1"),
        ([302], None),
        ([307], None),
        ([303], None),
        ([301, 301], "/hop2"),
        ([301, 302], "/hop1"),  # moved for good to hop1, which points on only for now
        ([302, 301], None),  # only the temporary address moved
        ([308, 307, 301], "/hop1"),
    ],
)
def test_permanent_url_is_where_unbroken_permanent_redirects_lead(
    server: FeedServer, chain: list[int], moved: str | None
) -> None:
    final = server.serve(f"/hop{len(chain)}", NEWS)
    for hop in reversed(range(len(chain))):
        redirect(server, f"/hop{hop}", chain[hop], server.url(f"/hop{hop + 1}"))
    with Fetcher(timeout=5) as fetcher:
        result = fetcher.fetch(server.url("/hop0"))
    assert (result.url, result.content) == (final, NEWS)
    assert result.permanent_url == (server.url(moved) if moved else None)


def test_relative_locations_are_resolved(server: FeedServer) -> None:
    server.serve("/feeds/new.xml", NEWS)
    server.serve("/feeds/old.xml", b"", status=301, headers={"Location": "new.xml"})
    with Fetcher(timeout=5) as fetcher:
        result = fetcher.fetch(server.url("/feeds/old.xml"))
    assert result.permanent_url == result.url == server.url("/feeds/new.xml")


def test_five_redirects_are_followed_and_a_sixth_is_refused(server: FeedServer) -> None:
    server.serve("/hop5", NEWS)
    for hop in range(5):
        redirect(server, f"/hop{hop}", 302, server.url(f"/hop{hop + 1}"))
    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(server.url("/hop0")).content == NEWS
        redirect(server, "/hop-1", 302, server.url("/hop0"))
        with pytest.raises(NetworkError, match=r"too many redirects \(more than 5\)"):
            fetcher.fetch(server.url("/hop-1"))
    assert server.hits("/hop5") and len(server.hits("/hop5")) == 1


def test_validators_go_to_every_hop(server: FeedServer) -> None:
    final = server.serve("/current.xml", NEWS)
    old = redirect(server, "/old.xml", 307, final)
    with Fetcher(timeout=5) as fetcher:
        first = fetcher.fetch(old)
        second = fetcher.fetch(old, first.validators)
    assert second.status == 304
    assert server.hits("/old.xml")[1].headers["if-none-match"] == first.validators.etag


def test_check_url_sees_every_hop_before_it_is_requested(server: FeedServer) -> None:
    server.serve("/c", NEWS)
    redirect(server, "/b", 302, server.url("/c"))
    redirect(server, "/a", 301, server.url("/b"))
    seen: list[tuple[str, int]] = []

    def check(url: str) -> None:
        seen.append((url, len(server.requests)))

    with Fetcher(timeout=5) as fetcher:
        fetcher.fetch(server.url("/a"), check_url=check)
    assert seen == [(server.url("/a"), 0), (server.url("/b"), 1), (server.url("/c"), 2)]


def test_check_url_can_refuse_a_redirect_target(server: FeedServer) -> None:
    server.serve("/private", NEWS)
    start = redirect(server, "/start", 302, server.url("/private"))

    def refuse_private(url: str) -> None:
        if url.endswith("/private"):
            raise NetworkError("refused: a private address", url)

    with Fetcher(timeout=5) as fetcher, pytest.raises(FetchError, match="refused: a private"):
        fetcher.fetch(start, check_url=refuse_private)
    assert server.hits("/private") == []


# --- the fetcher: Retry-After, Cache-Control, slow servers -------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", datetime(2026, 11, 24, 12, 2, tzinfo=UTC)),
        (" 0 ", datetime(2026, 11, 24, 12, 0, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 15:30:00 GMT", datetime(2026, 11, 24, 15, 30, tzinfo=UTC)),
        ("Tuesday, 24-Nov-26 15:30:00 GMT", datetime(2026, 11, 24, 15, 30, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 16:30:00 +0100", datetime(2026, 11, 24, 15, 30, tzinfo=UTC)),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("9" * 40, None),
        ("9" * 5000, None),
        ("²", None),
    ],
)
def test_retry_after_values(value: str | None, expected: datetime | None) -> None:
    assert retry_after_time(value, datetime(2026, 11, 24, 12, 0, tzinfo=UTC)) == expected


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_travels_with_the_status_error(server: FeedServer, status: int) -> None:
    url = server.serve("/busy", b"", status=status, headers={"Retry-After": "90"})
    with Fetcher(timeout=5) as fetcher, pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(url)
    assert caught.value.retry_after is not None
    assert abs(caught.value.retry_after - datetime.now(UTC) - timedelta(seconds=90)) < timedelta(
        seconds=5
    )


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ("public, max-age=600", timedelta(minutes=10)),
        ('max-age="60", must-revalidate', timedelta(minutes=1)),
        ("no-cache", None),
        ("max-age=0", None),
        ("max-age=soon", None),
        ("max-age=" + "9" * 5000, None),
    ],
)
def test_max_age_is_read_from_cache_control(
    server: FeedServer, cache_control: str, expected: timedelta | None
) -> None:
    url = server.serve("/feed.xml", NEWS, headers={"Cache-Control": cache_control})
    with Fetcher(timeout=5) as fetcher:
        assert fetcher.fetch(url).max_age == expected


def test_headers_trickling_in_are_cut_off_at_the_deadline(server: FeedServer) -> None:
    # Each line comes well within any per-read timeout; all of them take 6 s.
    lines = [b"HTTP/1.1 200 OK\r\n"] + [b"X-Padding-%d: slow\r\n" % n for n in range(60)]
    url = server.serve("/slow-headers", b"", handler=handler_sending(lines, 0.1))
    started = time.monotonic()
    with Fetcher(timeout=1) as fetcher, pytest.raises(NetworkError, match="timed out after 1s"):
        fetcher.fetch(url)
    assert time.monotonic() - started < 1.8


def test_the_deadline_covers_every_hop_together(server: FeedServer) -> None:
    final = server.serve("/final.xml", NEWS, delay=0.6)
    middle = server.serve(
        "/middle", b"", status=302, headers={"Location": final}, delay=0.6, conditional=False
    )
    with Fetcher(timeout=1) as fetcher, pytest.raises(NetworkError, match="timed out"):
        fetcher.fetch(middle)


# --- polls end to end: redirects ----------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_is_polled_at_the_new_url_from_then_on(
    server: FeedServer, pipeline_for: Callable[..., Pipeline], status: int
) -> None:
    new = server.serve("/new.rss", NEWS)
    old = redirect(server, "/old.rss", status, new)
    pipeline = pipeline_for([old])
    feed = pipeline.config.feeds[0]

    first = pipeline.poll(feed)
    assert (first.status, first.new, first.error) == (200, 3, None)
    assert pipeline.store.feed_state(old).fetch_url == new

    restarted = pipeline_for([old])
    second = restarted.poll(feed)
    assert second.status == 304
    assert len(server.hits("/old.rss")) == 1
    assert len(server.hits("/new.rss")) == 2
    # The config entry stays the feed's identity.
    [report] = restarted.store.feed_reports()
    assert (report.url, report.moved_to, report.articles) == (old, new, 3)


@pytest.mark.parametrize("status", [302, 307])
def test_a_temporary_redirect_keeps_the_old_url(
    server: FeedServer, pipeline_for: Callable[..., Pipeline], status: int
) -> None:
    new = server.serve("/today.rss", NEWS)
    old = redirect(server, "/feed.rss", status, new)
    pipeline = pipeline_for([old])
    assert pipeline.poll(pipeline.config.feeds[0]).status == 200
    assert pipeline.poll(pipeline.config.feeds[0]).status == 304
    assert len(server.hits("/feed.rss")) == 2
    assert pipeline.store.feed_state(old).fetch_url == old
    assert pipeline.store.feed_reports()[0].moved_to is None


# --- polls end to end: 304 ----------------------------------------------------------------------


def test_304_writes_nothing_but_the_poll_and_its_schedule(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    url = server.serve("/news.rss", NEWS)
    pipeline = pipeline_for([url])
    feed = pipeline.config.feeds[0]
    pipeline.poll(feed)
    pipeline.publish()
    store = pipeline.store
    before_state = store.feed_state(url)
    [before] = store.feed_reports()
    stories = store.digest_stories(10, pipeline.config.summary.key)
    assert stories and all(story.summary for story in stories)

    outcome = pipeline.poll(feed)

    assert (outcome.status, outcome.new, outcome.updated, outcome.error) == (304, 0, 0, None)
    assert "if-none-match" in server.hits("/news.rss")[1].headers
    after_state = store.feed_state(url)
    [after] = store.feed_reports()
    assert after.last_fetched is not None and before.last_fetched is not None
    assert after.last_fetched > before.last_fetched
    assert after_state.next_poll is not None and before_state.next_poll is not None
    assert after_state.next_poll != before_state.next_poll  # rescheduled from this poll
    assert after_state.next_poll > after.last_fetched
    assert outcome.next_poll == after_state.next_poll
    assert (after.title, after.articles, after.last_status) == (before.title, 3, 304)
    assert after_state.validators == before_state.validators
    assert store.digest_stories(10, pipeline.config.summary.key) == stories


# --- polls end to end: 410 ----------------------------------------------------------------------


def test_410_marks_the_feed_gone_until_reset(
    server: FeedServer, pipeline_for: Callable[..., Pipeline], tmp_path: Path, capsys
) -> None:
    gone = server.serve("/gone.rss", b"", status=410, conditional=False)
    alive = server.serve("/news.rss", NEWS)
    pipeline = pipeline_for([gone, alive])
    outcome = pipeline.poll(pipeline.config.feeds[0])
    assert (outcome.status, outcome.gone, outcome.next_poll) == (410, True, None)

    later = datetime.now(UTC) + timedelta(days=30)
    assert [feed.url for feed in pipeline.due(later)] == [alive]
    assert [feed.url for feed in pipeline.pollable(later)] == [alive]
    config_path = str(tmp_path / "feeds.yaml")
    assert main(["-c", config_path, "once"]) == 0
    assert len(server.hits("/gone.rss")) == 1
    assert "1 skipped: gone or told to wait" in capsys.readouterr().out

    assert main(["-c", config_path, "feeds"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if "/gone.rss" in line]
    assert "gone since" in row and "HTTP 410 Gone" in row

    assert main(["-c", config_path, "feeds", "--reset", gone]) == 0
    assert "reset" in capsys.readouterr().out
    server.serve("/gone.rss", NEWS)  # back from the dead
    assert main(["-c", config_path, "once", "--due"]) == 0
    assert server.hits("/gone.rss")[-1].status == 200
    assert pipeline.store.feed_state(gone).gone_since is None


def test_a_gone_feed_comes_back_when_its_config_entry_changes(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    url = server.serve("/gone.rss", b"", status=410, conditional=False)
    pipeline = pipeline_for([url])
    pipeline.poll(pipeline.config.feeds[0])
    assert pipeline_for([url]).pollable(datetime.now(UTC)) == []  # a restart changes nothing

    edited = config_text([url]).replace(f"  - url: {url}\n", f"  - url: {url}\n    title: Back\n")
    reloaded = pipeline_for([url], feeds_yaml=edited)
    assert [feed.url for feed in reloaded.due(datetime.now(UTC))] == [url]


def test_reset_of_an_unknown_feed_is_a_usage_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text(["http://127.0.0.1:9/feed"]), encoding="utf-8")
    assert main(["-c", str(path), "feeds", "--reset", "http://127.0.0.1:9/other"]) == 2
    assert "is not a feed in" in capsys.readouterr().err


# --- polls end to end: Retry-After and back-off --------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [(429, lambda now: "7200"), (503, lambda now: format_datetime(now + timedelta(hours=2), True))],
    ids=["429-seconds", "503-date"],
)
def test_retry_after_is_honoured_and_holds_the_feed(
    server: FeedServer,
    pipeline_for: Callable[..., Pipeline],
    tmp_path: Path,
    capsys,
    case: tuple[int, Callable[[datetime], str]],
) -> None:
    status, retry_after = case
    now = datetime.now(UTC)
    url = server.serve(
        "/busy.rss",
        b"",
        status=status,
        headers={"Retry-After": retry_after(now)},
        conditional=False,
    )
    pipeline = pipeline_for([url])
    outcome = pipeline.poll(pipeline.config.feeds[0])
    state = pipeline.store.feed_state(url)
    assert outcome.status == status and state.errors == 1
    assert state.retry_after == state.next_poll == outcome.next_poll
    assert abs(waited(state.retry_after, now) - 8) < 0.01  # two hours, no jitter

    assert pipeline.due(now + timedelta(hours=1)) == []
    assert pipeline.pollable(now + timedelta(hours=1)) == []
    assert pipeline.due(now + timedelta(hours=2, minutes=1)) == list(pipeline.config.feeds)
    assert main(["-c", str(tmp_path / "feeds.yaml"), "once"]) == 0
    assert len(server.hits("/busy.rss")) == 1
    capsys.readouterr()
    assert main(["-c", str(tmp_path / "feeds.yaml"), "feeds"]) == 0
    assert "1 failure, told to wait" in capsys.readouterr().out


def test_errors_back_off_exponentially_and_a_success_resets(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    url = server.serve("/flaky.rss", b"oops", status=500, conditional=False)
    pipeline = pipeline_for([url])
    feed = pipeline.config.feeds[0]
    for errors, factor in ((1, 2), (2, 4), (3, 8)):
        outcome = pipeline.poll(feed)
        state = pipeline.store.feed_state(url)
        assert (outcome.status, state.errors, state.retry_after) == (500, errors, None)
        polled = polled_at(pipeline.store, url)
        assert 0.9 * factor <= waited(state.next_poll, polled) < 1.1 * factor

    # 429 without Retry-After is just another failure.
    server.serve("/flaky.rss", b"slow down", status=429, conditional=False)
    pipeline.poll(feed)
    state = pipeline.store.feed_state(url)
    assert state.errors == 4 and state.retry_after is None
    assert 0.9 * 16 <= waited(state.next_poll, polled_at(pipeline.store, url)) < 1.1 * 16
    assert pipeline.pollable(datetime.now(UTC)) == [feed]

    server.serve("/flaky.rss", UNDATED)
    assert pipeline.poll(feed).error is None
    state = pipeline.store.feed_state(url)
    assert state.errors == 0
    assert 0.9 <= waited(state.next_poll, polled_at(pipeline.store, url)) < 1.1


def test_back_off_stops_at_max_interval(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    url = server.serve("/down.rss", b"", status=502, conditional=False)
    pipeline = pipeline_for([url], poll="  max_interval: 1h\n")
    for _ in range(4):
        pipeline.poll(pipeline.config.feeds[0])
    state = pipeline.store.feed_state(url)
    assert state.errors == 4 and state.next_poll is not None
    polled = polled_at(pipeline.store, url)
    assert timedelta(minutes=54) <= state.next_poll - polled <= timedelta(hours=1)


# --- polls end to end: what the feed says -----------------------------------------------------


RSS_HINTS = (
    '<?xml version="1.0"?><rss version="2.0" '
    'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>Hints</title>{}'
    "<item><title>One</title></item></channel></rss>"
)


@pytest.mark.parametrize(
    ("elements", "ttl", "update_period"),
    [
        ("<ttl>60</ttl>", timedelta(hours=1), None),
        ("<ttl> 90 </ttl>", timedelta(minutes=90), None),
        ("<ttl>0</ttl>", None, None),
        ("<ttl>soon</ttl>", None, None),
        ("<ttl>-5</ttl>", None, None),
        ("<ttl>" + "9" * 5000 + "</ttl>", None, None),
        ("<ttl>99999999</ttl>", timedelta(days=3650), None),  # cut, later to poll.max_interval
        (
            "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>",
            None,
            timedelta(minutes=30),
        ),
        ("<sy:updatePeriod>Weekly</sy:updatePeriod>", None, timedelta(weeks=1)),
        ("<sy:updateFrequency>4</sy:updateFrequency>", None, timedelta(hours=6)),  # daily
        ("<sy:updatePeriod>fortnightly</sy:updatePeriod>", None, None),
        ("<sy:updateFrequency>0</sy:updateFrequency>", None, None),
        ("", None, None),
    ],
)
def test_the_parser_reads_the_feeds_polling_hints(
    elements: str, ttl: timedelta | None, update_period: timedelta | None
) -> None:
    parsed = parser.parse(RSS_HINTS.format(elements).encode(), {}, "https://hints.example/")
    assert (parsed.ttl, parsed.update_period) == (ttl, update_period)


def test_the_feeds_own_hints_slow_its_polling(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    url = server.serve("/hinted.rss", (DATA / "hinted.rss").read_bytes())
    pipeline = pipeline_for([url])
    pipeline.poll(pipeline.config.feeds[0])
    state = pipeline.store.feed_state(url)
    assert (state.ttl, state.update_period) == (timedelta(hours=3), timedelta(hours=2))
    polled = polled_at(pipeline.store, url)
    assert 0.9 * 12 <= waited(state.next_poll, polled) < 1.1 * 12  # the <ttl>

    # A 304 keeps the stored hints.
    pipeline.poll(pipeline.config.feeds[0])
    state = pipeline.store.feed_state(url)
    assert 0.9 * 12 <= waited(state.next_poll, polled_at(pipeline.store, url)) < 1.1 * 12


def paced_feed(every: timedelta) -> bytes:
    """An RSS feed of five stories published `every` apart, the newest an hour ago."""
    newest = datetime.now(UTC) - timedelta(hours=1)
    items = "".join(
        f"<item><title>Story {n} every {every}</title><guid>{every}-{n}</guid>"
        f"<pubDate>{format_datetime(newest - n * every, usegmt=True)}</pubDate></item>"
        for n in range(5)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()


def test_how_often_a_feed_publishes_sets_its_interval_after_200_and_304_alike(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    url = server.serve("/paced.rss", paced_feed(timedelta(hours=4)))
    pipeline = pipeline_for([url])
    feed = pipeline.config.feeds[0]

    def intervals_waited(status: int) -> float:
        assert pipeline.poll(feed).status == status
        state = pipeline.store.feed_state(url)
        return waited(state.next_poll, polled_at(pipeline.store, url))

    # sqrt(15m x 4h) = 1h: four intervals, give or take the jitter.
    assert 0.9 * 4 <= intervals_waited(200) < 1.1 * 4
    assert 0.9 * 4 <= intervals_waited(304) < 1.1 * 4
    # The feed now publishes hourly (with the stories stored before, the median gap is an
    # hour): sqrt(15m x 1h) = 30m.
    server.serve("/paced.rss", paced_feed(timedelta(hours=1)))
    assert 0.9 * 2 <= intervals_waited(200) < 1.1 * 2
    assert 0.9 * 2 <= intervals_waited(304) < 1.1 * 2


def test_cache_control_max_age_slows_polling(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    url = server.serve("/cached.rss", UNDATED, headers={"Cache-Control": "max-age=3600"})
    pipeline = pipeline_for([url], poll="  max_interval: 30m\n")
    pipeline.poll(pipeline.config.feeds[0])
    state = pipeline.store.feed_state(url)
    assert state.next_poll is not None
    polled = polled_at(pipeline.store, url)
    # An hour asked, 30 minutes allowed, give or take the jitter within the bounds.
    assert timedelta(minutes=27) <= state.next_poll - polled <= timedelta(minutes=30)


# --- polls end to end: bodies that are not feeds ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ((DATA / "not_a_feed.html").read_bytes(), "text/html", "looks like an HTML page"),
        (random.Random(7).randbytes(64 * 1024), "application/octet-stream", "not an RSS/Atom"),
        ((DATA / "billion_laughs.xml").read_bytes(), "application/rss+xml", "entity bomb"),
    ],
    ids=["html", "random-bytes", "entity-bomb"],
)
def test_a_body_that_is_not_a_feed_is_a_recorded_error(
    server: FeedServer,
    pipeline_for: Callable[..., Pipeline],
    body: bytes,
    content_type: str,
    message: str,
) -> None:
    bad = server.serve("/bad", body, content_type=content_type)
    good = server.serve("/news.rss", NEWS)
    pipeline = pipeline_for([bad, good])
    tracemalloc.start()
    try:
        report = pipeline.run_cycle()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * 1024 * 1024
    failed, fine = report.polls
    assert failed.error is not None and message in failed.error
    assert (failed.status, failed.new) == (None, 0)
    assert (fine.error, fine.new) == (None, 3)
    reports = {r.url: r for r in pipeline.store.feed_reports()}
    assert (reports[bad].articles, reports[bad].errors) == (0, 1)
    assert reports[bad].last_error == failed.error
    # Only the good feed's matching article reaches the digest.
    stories = pipeline.store.digest_stories(10, pipeline.config.summary.key)
    assert [story.members[0].sources[0].feed_url for story in stories] == [good]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20MB", 20 * 1024 * 1024),
        ("512KB", 512 * 1024),
        ("1.5 GB", 3 * 1024**3 // 2),
        ("64 KiB", 64 * 1024),
        ("2m", 2 * 1024 * 1024),
        ("100B", 100),
        ("4096", 4096),
        (4096, 4096),
    ],
)
def test_max_bytes_accepts_sizes(tmp_path: Path, value: object, expected: int) -> None:
    text = config_text(["https://tvwire.example/rss"], poll=f"  max_bytes: {value}\n")
    assert config.parse(text, tmp_path / "feeds.yaml").poll.max_bytes == expected


def test_max_bytes_defaults_to_20_mb(tmp_path: Path) -> None:
    cfg = config.parse(config_text(["https://tvwire.example/rss"]), tmp_path / "feeds.yaml")
    assert cfg.poll.max_bytes == 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("20 parsecs", "'20 parsecs' is not a size; use e.g. 512KB, 20MB or 1GB"),
        ("0KB", "a size must be at least 1 byte"),
        ("true", "expected a size such as 512KB or 20MB"),
    ],
)
def test_bad_max_bytes_names_the_line(tmp_path: Path, value: str, message: str) -> None:
    text = config_text(["https://tvwire.example/rss"], poll=f"  max_bytes: {value}\n")
    with pytest.raises(config.ConfigError) as caught:
        config.parse(text, tmp_path / "feeds.yaml")
    assert str(caught.value) == f"{tmp_path / 'feeds.yaml'}:5: poll.max_bytes: {message}"


def test_max_bytes_from_the_config_caps_the_body(
    server: FeedServer, tmp_path: Path, capsys
) -> None:
    url = server.serve("/news.rss", NEWS)
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text([url], poll="  max_bytes: 1KB\n"), encoding="utf-8")
    assert main(["-c", str(path), "once"]) == 0
    assert main(["-c", str(path), "feeds"]) == 0
    assert "body larger than 1024 bytes" in capsys.readouterr().out


# --- logging and threads ------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def cycle_log() -> Iterator[Records]:
    # `feedwatch` logs do not propagate to the root logger (logs.setup), so listen directly.
    records = Records()
    logger = logging.getLogger("feedwatch.pipeline")
    old_level = logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(records)
    logger.setLevel(old_level)


def test_each_poll_logs_one_line_with_structured_fields(
    server: FeedServer, pipeline_for: Callable[..., Pipeline], cycle_log: Records
) -> None:
    good = server.serve("/news.rss", NEWS)
    bad = server.serve("/broken.rss", b"", status=500, conditional=False)
    pipeline = pipeline_for([good, bad])
    pipeline.poll(pipeline.config.feeds[0])
    pipeline.poll(pipeline.config.feeds[1])

    info, error = cycle_log.records
    assert info.levelno == logging.INFO
    assert info.getMessage().startswith(f"{good}: HTTP 200, 3 new, 0 updated, ")
    assert error.levelno == logging.ERROR
    assert error.getMessage().startswith(f"{bad}: HTTP 500 Internal Server Error; next poll ")
    event = json.loads(logs.JSONFormatter().format(info))
    assert event["message"] == info.getMessage()
    assert {k: event[k] for k in ("feed", "status", "new", "updated", "matched", "error")} == {
        "feed": good,
        "status": 200,
        "new": 3,
        "updated": 0,
        "matched": 1,
        "error": None,
    }
    assert event["seconds"] >= 0
    assert datetime.fromisoformat(event["next_poll"]) > datetime.now(UTC)
    failed = json.loads(logs.JSONFormatter().format(error))
    assert (failed["status"], failed["error"]) == (500, "HTTP 500 Internal Server Error")


def test_polls_from_several_threads_each_keep_their_own_state(
    server: FeedServer, pipeline_for: Callable[..., Pipeline]
) -> None:
    urls = [server.serve(f"/feed-{n}.rss", UNDATED, delay=0.2) for n in range(3)]
    urls += [server.serve(f"/down-{n}", b"", status=500, conditional=False) for n in range(3)]
    pipeline = pipeline_for(urls)
    with ThreadPoolExecutor(max_workers=6) as workers:
        outcomes = list(workers.map(pipeline.poll, pipeline.config.feeds))
    assert [outcome.status for outcome in outcomes] == [200] * 3 + [500] * 3
    states = pipeline.store.feed_states()
    assert [states[url].errors for url in urls] == [0, 0, 0, 1, 1, 1]
    assert all(states[url].validators.etag for url in urls[:3])
    assert pipeline.due(datetime.now(UTC)) == []
    next_due = pipeline.next_due()
    assert next_due == min(state.next_poll for state in states.values() if state.next_poll)
    assert policy.is_due(states[urls[0]], next_due + INTERVAL * 2)
