"""Full text: teaser entries take their text from the linked page, fetched once per version."""

from __future__ import annotations

import sqlite3
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from feedwatch import config
from feedwatch.cli import main
from feedwatch.errors import ConfigError
from feedwatch.models import Article, Page
from feedwatch.poll.extractor import extract
from feedwatch.poll.http import Fetcher
from feedwatch.poll.pages import BUDGET_TIMEOUTS, PageFetcher, Pages, pages_to_fetch, wants_page
from feedwatch.store import Store
from feedwatch.text import html_to_text
from httpserver import FeedServer

PAGES = Path(__file__).parent / "data" / "pages"
SITE = "https://screenledger.example"  # the host the teaser feed links to, swapped for ours

FINALE = "The Lantern Keepers finale: Mara Voss finally climbs the north tower"
CASTING = "A familiar face heads back to television this spring"
SET_VISIT = "Inside the lighthouse: a visit to the set of The Lantern Keepers"
STORM = "In pictures: the storm that ended The Lantern Keepers"
RECAP = "Night Ferry, season one: everything that happened"

FINALE_PAGE = "/tv/lantern-keepers-finale.html"
CASTING_PAGE = "/tv/night-ferry-casting.html"
SET_VISIT_PAGE = "/tv/lantern-keepers-set-visit.html"  # not served: 404
STORM_PAGE = "/images/lantern-keepers-storm.jpg"
RECAP_PAGE = "/tv/night-ferry-recap.html"
ALL_PAGES = (FINALE_PAGE, CASTING_PAGE, SET_VISIT_PAGE, STORM_PAGE, RECAP_PAGE)

SHOWS = """\
shows:
  - name: The Lantern Keepers
    keywords: [The Lantern Keepers]
  - name: Night Ferry
    keywords: [Night Ferry]
"""


# --- the decisions ---------------------------------------------------------------------------


def article(
    entry_id: str = "e1",
    url: str | None = "https://screenledger.example/tv/story.html",
    *,
    summary: str = "A teaser. Read more...",
    body: str = "",
) -> Article:
    return Article(entry_id, url, "A headline", summary, body, None)


LONG = "A whole article in the feed. " * 40  # 1,160 characters


@pytest.mark.parametrize(
    ("full_text", "story", "fetched"),
    [
        ("auto", article(), True),  # a teaser
        ("auto", article(body=LONG), False),  # the feed has the whole text
        ("auto", article(summary=LONG), False),
        ("auto", article(summary="", body=""), True),  # only a title
        (True, article(body=LONG), True),
        (True, article(), True),
        (False, article(), False),
        ("auto", article(url=None), False),
        (True, article(url="mailto:desk@screenledger.example"), False),
        (True, article(url="ftp://screenledger.example/story.txt"), False),
    ],
)
def test_which_entries_want_their_page(full_text: bool | str, story: Article, fetched: bool):
    assert wants_page(story, full_text, min_text=1000) is fetched


def test_the_threshold_is_the_entry_text_length() -> None:
    story = article(summary="x" * 500)
    assert wants_page(story, "auto", min_text=501)
    assert not wants_page(story, "auto", min_text=500)
    assert not wants_page(story, "auto", min_text=0)


def test_pages_are_fetched_once_per_version_and_once_per_url() -> None:
    unchanged = article("e1", "https://a.example/1")
    changed = article("e2", "https://a.example/2", summary="Edited teaser. Read more...")
    new = article("e3", "https://a.example/3")
    joins_stored = article("e4", "https://a.example/stored")
    same_link = article("e5", "https://a.example/3")
    whole = article("e6", "https://a.example/6", body=LONG)
    urls = pages_to_fetch(
        [unchanged, changed, new, joins_stored, same_link, whole],
        full_text="auto",
        min_text=1000,
        versions={"e1": unchanged.version, "e2": article("e2").version},
        stored_urls={"https://a.example/stored"},
    )
    assert urls == ["https://a.example/2", "https://a.example/3"]


def test_a_changed_entry_refetches_even_when_its_url_is_stored() -> None:
    changed = article("e1", "https://a.example/1", summary="New teaser.")
    urls = pages_to_fetch(
        [changed],
        full_text=True,
        min_text=1000,
        versions={"e1": "an older version"},
        stored_urls={"https://a.example/1"},
    )
    assert urls == ["https://a.example/1"]


def test_the_page_replaces_the_body_only_when_it_says_more() -> None:
    teaser = article()
    url = "https://screenledger.example/tv/story.html"
    page = Page(url, datetime.now(UTC), text="The page. " * 30)
    pages = Pages(fetched={url: page})
    enriched = pages.apply(teaser)
    assert enriched.body == page.text and enriched.summary == teaser.summary
    assert enriched.text == page.text
    # The version, which decides what is fetched again, stays that of the feed's text.
    assert enriched.version != teaser.version
    whole = article(body=LONG)
    assert pages.apply(whole) == whole  # the feed says more than the page
    # An article stored from another feed lends its page to a new entry that joins it.
    stored = "Stored page text. " * 20
    assert Pages(stored={url: stored}).apply(teaser).body == stored
    assert Pages().apply(teaser) == teaser


def test_full_text_and_fetch_settings(tmp_path: Path) -> None:
    base = "feeds:\n  - url: https://a.example/feed\n{extra}" + SHOWS
    default = config.parse(base.format(extra=""), tmp_path / "f.yaml")
    assert default.full_text_for(default.feeds[0]) == "auto"
    assert (default.fetch.allow_private, default.fetch.min_text) == (False, 1000)
    assert default.fetch.max_pages == 20
    for value, expected in (("true", True), ("false", False), ("auto", "auto")):
        cfg = config.parse(base.format(extra=f"    full_text: {value}\n"), tmp_path / "f.yaml")
        assert cfg.full_text_for(cfg.feeds[0]) == expected
    # fetch.full_text is every feed's default; a feed's own setting wins.
    text = "fetch:\n  full_text: false\n" + base.format(extra="") + "  - url: https://b.example/\n"
    text += "    full_text: true\n"
    both = config.parse(text.replace(SHOWS, "") + SHOWS, tmp_path / "f.yaml")
    assert [both.full_text_for(feed) for feed in both.feeds] == [False, True]
    with pytest.raises(ConfigError, match=r"f\.yaml:3: feeds\.0\.full_text: 'sometimes' is not"):
        config.parse(base.format(extra="    full_text: sometimes\n"), tmp_path / "f.yaml")
    with pytest.raises(ConfigError, match=r"fetch\.allow_privat: unknown key"):
        config.parse("fetch:\n  allow_privat: true\n" + base.format(extra=""), tmp_path / "f.yaml")


# --- end to end through `feedwatch once` -----------------------------------------------------


def serve_site(server: FeedServer, feed: bytes | None = None) -> str:
    """Serves the teaser feed and the pages it links to (but one); returns the feed URL."""
    html = "text/html; charset=utf-8"
    server.serve(FINALE_PAGE, html_page("lantern-keepers-finale.html"), content_type=html)
    server.serve(CASTING_PAGE, html_page("night-ferry-casting.html"), content_type=html)
    server.serve(STORM_PAGE, b"\xff\xd8\xff\xe0" + bytes(2000), content_type="image/jpeg")
    server.serve(RECAP_PAGE, "<html><body><p>The recap page.</p></body></html>", content_type=html)
    return server.serve("/tv/feed.rss", feed or teaser_feed(server))


def html_page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def page_text(name: str) -> str:
    text = extract(html_page(name), SITE)
    assert text is not None
    return text


def teaser_feed(server: FeedServer, edit: Callable[[str], str] = lambda text: text) -> bytes:
    text = (PAGES / "teasers.rss").read_text(encoding="utf-8").replace(SITE, server.base)
    return edit(text).encode("utf-8")


def write_config(
    folder: Path, feed_url: str, *, fetch: str = "  allow_private: true\n", feed: str = ""
) -> Path:
    path = folder / "feeds.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            database: sqlite:///state/feedwatch.db
            poll:
              timeout: 5s
            digest:
              path: out/digest.xml
            """
        )
        + ("fetch:\n" + fetch if fetch else "")
        + f"feeds:\n  - url: {feed_url}\n{feed}"
        + SHOWS,
        encoding="utf-8",
    )
    return path


def digest_entries(folder: Path) -> dict[str, feedparser.FeedParserDict]:
    digest = feedparser.parse((folder / "out" / "digest.xml").read_bytes())
    assert not digest.bozo, digest.get("bozo_exception")
    return {entry.title: entry for entry in digest.entries}


def description(entry: feedparser.FeedParserDict) -> str:
    return html_to_text(entry.summary)


def stored_pages(folder: Path) -> dict[str, tuple[str | None, str | None]]:
    """Article URL path -> (page text, page error), straight from the database."""
    with sqlite3.connect(folder / "state" / "feedwatch.db") as connection:
        rows = connection.execute("SELECT url, page_text, page_error FROM articles").fetchall()
    return {urlsplit(url).path: (text, error) for url, text, error in rows}


def page_hits(server: FeedServer) -> dict[str, int]:
    return {path: len(server.hits(path)) for path in ALL_PAGES}


@pytest.fixture
def site(server: FeedServer, tmp_path: Path) -> Iterator[Path]:
    yield write_config(tmp_path, serve_site(server))


def test_teaser_summaries_come_from_the_linked_pages(site: Path, tmp_path: Path) -> None:
    assert main(["-c", str(site), "once"]) == 0
    entries = digest_entries(tmp_path)
    shows = {title: [tag.term for tag in entry.tags] for title, entry in entries.items()}
    assert shows == {
        FINALE: ["The Lantern Keepers"],
        # Only the page names the show: the teaser does not.
        CASTING: ["Night Ferry"],
        SET_VISIT: ["The Lantern Keepers"],
        STORM: ["The Lantern Keepers"],
        RECAP: ["Night Ferry"],
    }
    # Each summary opens with a sentence of the page's article text, not of the teaser.
    finale = description(entries[FINALE])
    assert finale[:60] in page_text("lantern-keepers-finale.html")
    assert "Read more" not in finale and "a storm and a long climb" not in finale
    casting = description(entries[CASTING])
    assert casting[:60] in page_text("night-ferry-casting.html")
    for boilerplate in ("Trending", "Related", "newsletter", "comment", "All rights reserved"):
        assert boilerplate not in finale and boilerplate not in casting


def test_a_failed_page_falls_back_to_the_feed_text_and_is_recorded(
    site: Path, tmp_path: Path, server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(site), "once"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 2, err
    assert any(SET_VISIT_PAGE in line and "HTTP 404" in line for line in warnings)
    assert any(STORM_PAGE in line and "not an HTML page (image/jpeg)" in line for line in warnings)
    assert not any(line.startswith("ERROR") for line in err.splitlines())

    entries = digest_entries(tmp_path)
    assert description(entries[SET_VISIT]).startswith("We toured the lighthouse set")
    assert description(entries[STORM]).startswith("Photos from the storm scenes")

    pages = stored_pages(tmp_path)
    assert pages[SET_VISIT_PAGE] == (None, "HTTP 404 Not Found")
    assert pages[STORM_PAGE] == (None, "not an HTML page (image/jpeg)")
    assert pages[FINALE_PAGE][0] and pages[FINALE_PAGE][1] is None
    assert pages[RECAP_PAGE] == (None, None)  # the feed had the whole text: never fetched


def test_pages_are_fetched_once_per_article_version(
    site: Path, tmp_path: Path, server: FeedServer
) -> None:
    assert main(["-c", str(site), "once"]) == 0
    once = {FINALE_PAGE: 1, CASTING_PAGE: 1, SET_VISIT_PAGE: 1, STORM_PAGE: 1, RECAP_PAGE: 0}
    assert page_hits(server) == once

    # The feed changes: one teaser is edited, the other entries stay as they were.
    edited = teaser_feed(
        server, lambda text: text.replace("has a new role on the water", "is back on screen")
    )
    server.serve("/tv/feed.rss", edited)
    assert main(["-c", str(site), "once"]) == 0
    assert page_hits(server) == {**once, CASTING_PAGE: 2}

    # Unchanged feed (304): nothing is fetched but the feed.
    assert main(["-c", str(site), "once"]) == 0
    assert page_hits(server) == {**once, CASTING_PAGE: 2}
    casting = description(digest_entries(tmp_path)[CASTING])
    assert casting[:60] in page_text("night-ferry-casting.html")


def test_by_default_pages_on_private_addresses_are_refused(
    server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, serve_site(server), fetch="")
    assert main(["-c", str(path), "once"]) == 0
    assert set(page_hits(server).values()) == {0}

    entries = digest_entries(tmp_path)
    # Matched on the teaser alone: the casting story never names its show.
    assert set(entries) == {FINALE, SET_VISIT, STORM, RECAP}
    assert description(entries[FINALE]).startswith("The Lantern Keepers closed its third season")

    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    refused = [line for line in warnings if "refused" in line]
    assert len(refused) == 4, err
    assert all("127.0.0.1" in line and "fetch.allow_private" in line for line in refused)
    error = stored_pages(tmp_path)[FINALE_PAGE][1]
    assert error is not None and error.startswith("refused: 127.0.0.1 is a non-public address")


@pytest.mark.parametrize(
    ("setting", "fetched"),
    [
        ("false", set()),
        ("true", {FINALE_PAGE, CASTING_PAGE, SET_VISIT_PAGE, STORM_PAGE, RECAP_PAGE}),
        ("auto", {FINALE_PAGE, CASTING_PAGE, SET_VISIT_PAGE, STORM_PAGE}),
    ],
)
def test_full_text_setting_per_feed(
    server: FeedServer, tmp_path: Path, setting: str, fetched: set[str]
) -> None:
    path = write_config(tmp_path, serve_site(server), feed=f"    full_text: {setting}\n")
    assert main(["-c", str(path), "once"]) == 0
    assert {page for page, hits in page_hits(server).items() if hits} == fetched


def test_min_text_and_max_pages(server: FeedServer, tmp_path: Path) -> None:
    fetch = "  allow_private: true\n  min_text: 80\n  max_pages: 1\n"
    path = write_config(tmp_path, serve_site(server), fetch=fetch)
    assert main(["-c", str(path), "once"]) == 0
    # Teasers of 68 and 72 characters are under 80; only the first of them is fetched.
    assert page_hits(server) == {
        FINALE_PAGE: 0,
        CASTING_PAGE: 1,
        SET_VISIT_PAGE: 0,
        STORM_PAGE: 0,
        RECAP_PAGE: 0,
    }


def test_a_page_that_hangs_does_not_hold_up_the_cycle(server: FeedServer, tmp_path: Path) -> None:
    feed = serve_site(server)
    finale = html_page("lantern-keepers-finale.html")
    server.serve(FINALE_PAGE, finale, delay=3, content_type="text/html")
    path = write_config(tmp_path, feed)
    path.write_text(path.read_text().replace("timeout: 5s", "timeout: 0.5s"))
    started = time.monotonic()
    assert main(["-c", str(path), "once"]) == 0
    assert time.monotonic() - started < 2.5
    assert description(digest_entries(tmp_path)[FINALE]).startswith("The Lantern Keepers closed")
    assert stored_pages(tmp_path)[FINALE_PAGE][1] == "timed out after 0.5s"


# --- the page fetcher's limits ---------------------------------------------------------------


@pytest.fixture
def page_fetcher(tmp_path: Path) -> Iterator[Callable[[str], tuple[PageFetcher, Store]]]:
    opened: list[tuple[Store, Fetcher]] = []

    def make(settings: str) -> tuple[PageFetcher, Store]:
        cfg = config.parse(
            settings + "feeds:\n  - url: http://127.0.0.1/feed\n" + SHOWS, tmp_path / "f.yaml"
        )
        store = Store.open(f"sqlite:///{tmp_path / 'pages.db'}")
        fetcher = Fetcher(timeout=cfg.poll.timeout.total_seconds())
        opened.append((store, fetcher))
        return PageFetcher(cfg, fetcher, store), store

    yield make
    for store, fetcher in opened:
        fetcher.close()
        store.close()


def slow_pages(server: FeedServer, count: int, pause: float) -> tuple[list[Article], list[int]]:
    """`count` teaser articles whose pages take `pause` seconds; the list records the peak
    number of page requests in flight at once."""
    body = html_page("night-ferry-casting.html")
    lock = threading.Lock()
    active = [0]
    peak = [0]

    def handle(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(pause)
        with lock:
            active[0] -= 1
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the client gave up
            pass

    articles = []
    for number in range(count):
        url = server.serve(f"/slow/{number}.html", b"", handler=handle)
        articles.append(article(f"e{number}", url))
    return articles, peak


def test_page_fetches_keep_to_the_per_host_limit(server: FeedServer, page_fetcher) -> None:
    fetcher, _ = page_fetcher("poll:\n  per_host: 2\nfetch:\n  allow_private: true\n")
    articles, peak = slow_pages(server, 6, pause=0.15)
    pages = fetcher.fetch(config.FeedSettings(url="http://127.0.0.1/feed"), articles, {})
    assert all(page.text and "Night Ferry" in page.text for page in pages.fetched.values())
    assert len(pages.fetched) == 6
    assert peak == [2]


def test_the_pages_of_one_poll_end_within_their_budget(server: FeedServer, page_fetcher) -> None:
    fetcher, _ = page_fetcher(
        "poll:\n  per_host: 1\n  timeout: 0.4s\nfetch:\n  allow_private: true\n"
    )
    articles, _ = slow_pages(server, 8, pause=0.3)
    started = time.monotonic()
    pages = fetcher.fetch(config.FeedSettings(url="http://127.0.0.1/feed"), articles, {})
    budget = BUDGET_TIMEOUTS * 0.4
    assert time.monotonic() - started < budget + 0.5
    late = [page for page in pages.fetched.values() if page.error]
    assert 0 < len(late) < 8
    assert all(page.error and page.error.startswith(f"gave up after {budget:g}s") for page in late)
    assert all(page.text for page in pages.fetched.values() if not page.error)


def test_the_charset_in_the_content_type_is_honoured(server: FeedServer, page_fetcher) -> None:
    fetcher, _ = page_fetcher("fetch:\n  allow_private: true\n")
    paragraph = (
        "<p>The café scene in the third episode was filmed in one take, said the naïve young "
        "director, who had rehearsed it for a week with the whole cast and crew.</p>"
    )
    html = f"<html><head><title>Café</title></head><body><article>{paragraph * 3}</article>"
    url = server.serve(
        "/latin1.html",
        (html + "</body></html>").encode("latin-1"),
        content_type="text/html; charset=ISO-8859-1",
    )
    pages = fetcher.fetch(
        config.FeedSettings(url="http://127.0.0.1/feed"), [article("e1", url)], {}
    )
    text = pages.fetched[url].text
    assert text is not None and "The café scene" in text and "the naïve young" in text
