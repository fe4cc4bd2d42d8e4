"""What hostile or huge bodies cost: entries past max_entries, deep nesting, broken markup."""

from __future__ import annotations

import resource
import time
from datetime import UTC, datetime, timedelta

import pytest

from feedwatch.errors import ParseError
from feedwatch.poll.parser import MAX_DEPTH, parse

XML = {"Content-Type": "application/rss+xml"}
START = datetime(2020, 1, 1, tzinfo=UTC)


def _rss(count: int, *, newest_first: bool = True, dated: bool = True) -> bytes:
    days = range(count - 1, -1, -1) if newest_first else range(count)
    items = b"".join(
        b"<item><title>Episode %d</title><link>https://feeds.example/e/%d</link>%s</item>"
        % (
            day,
            day,
            (START + timedelta(minutes=day))
            .strftime("<pubDate>%a, %d %b %Y %H:%M:%S GMT</pubDate>")
            .encode()
            if dated
            else b"",
        )
        for day in days
    )
    return b'<rss version="2.0"><channel><title>Big</title>' + items + b"</channel></rss>"


def _titles(body: bytes, max_entries: int) -> tuple[list[str], int]:
    feed = parse(body, XML, "https://feeds.example/f", max_entries=max_entries)
    assert feed.warning is None
    return [entry.title for entry in feed.entries], feed.truncated


@pytest.mark.parametrize("count", [8, 12, 30])
def test_newest_entries_are_kept_in_either_order(count: int) -> None:
    newest = [f"Episode {day}" for day in range(count - 1, count - 5, -1)]
    assert _titles(_rss(count), 4) == (newest, count - 4)
    assert _titles(_rss(count, newest_first=False), 4) == (newest[::-1], count - 4)


def test_undated_entries_keep_document_order() -> None:
    titles, truncated = _titles(_rss(30, dated=False), 4)
    assert titles == ["Episode 29", "Episode 28", "Episode 27", "Episode 26"]
    assert truncated == 26


def test_feed_within_the_limit_is_whole() -> None:
    assert _titles(_rss(10), 10) == ([f"Episode {day}" for day in range(9, -1, -1)], 0)


def test_hundred_thousand_items_parse_fast_and_small() -> None:
    body = _rss(100_000)
    assert len(body) > 10_000_000
    before = resource.getrusage(resource.RUSAGE_SELF)
    feed = parse(body, XML, "https://feeds.example/f")
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert len(feed.entries) == 1000
    assert feed.truncated == 99_000
    assert feed.entries[0].title == "Episode 99999"
    # Generous: the machine is shared; bench/parser.py gives the figure.
    assert cpu < 10
    assert after.ru_maxrss < 400 * 1024  # KiB on Linux; pytest itself takes part of it


@pytest.mark.parametrize("closed", [True, False], ids=["closed", "unclosed"])
def test_deep_nesting_is_refused_quickly(closed: bool) -> None:
    depth = 400_000
    body = (
        b'<rss version="2.0"><channel><item><title>x</title><description>'
        + b"<a>" * depth
        + (b"</a>" * depth if closed else b"")
        + b"</description></item></channel></rss>"
    )
    started = time.process_time()
    with pytest.raises(ParseError, match="refused"):
        parse(body, XML, "https://feeds.example/f")
    assert time.process_time() - started < 2


def test_nesting_within_the_limit_parses() -> None:
    depth = MAX_DEPTH - 10
    body = (
        b'<rss version="2.0"><channel><item><title>Deep</title><description><![CDATA['
        + b"<br>" * 10_000  # HTML in CDATA is text, however it nests
        + b"]]></description><category>"
        + b"<b>" * depth
        + b"</b>" * depth
        + b"</category></item></channel></rss>"
    )
    assert [entry.title for entry in parse(body, XML, "https://feeds.example/f").entries] == [
        "Deep"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<channel<item<link</item</link>", "unreadable feed"),
        (b"<entry<links//<link>", "no readable entries"),
    ],
)
def test_bodies_that_broke_the_parser_are_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        parse(body, {}, "https://feeds.example/f")
    assert "\n" not in str(caught.value)


def test_one_broken_entry_is_skipped_and_the_others_kept() -> None:
    # The first item's <link> holds markup feedparser turns into a dict-shaped value.
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><links//<link></entry>"
        b"<entry><title>Kept</title><id>tag:feeds.example,2024:kept</id></entry></feed>"
    )
    feed = parse(body, {}, "https://feeds.example/f")
    assert [entry.id for entry in feed.entries] == ["tag:feeds.example,2024:kept"]
    assert feed.skipped == 1


def test_many_unclosed_html_tags_are_not_deep_nesting() -> None:
    # Unescaped HTML with a <p> never closed in each of 1,500 items: sloppy, not hostile.
    items = b"".join(
        b"<item><title>Item %d</title><description><p>Text %d</description></item>" % (n, n)
        for n in range(1500)
    )
    body = b'<rss version="2.0"><channel><title>Sloppy</title>' + items + b"</channel></rss>"
    feed = parse(body, XML, "https://feeds.example/f", max_entries=2000)
    assert len(feed.entries) == 1500
