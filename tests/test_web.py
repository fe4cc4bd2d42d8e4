"""The web view: pages from a store filled by `feedwatch once`, every feed format, OPML, the
favicon, 404 and 503 pages; and the phrase highlighting they use, exactly."""

from __future__ import annotations

import contextlib
import gzip
import json
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import lxml.html
import pytest

from daemonkit import Feedwatch
from feedwatch.publish.highlight import excerpt, pieces, spans
from test_server import Client
from webkit import Site, fill_site, serve_site


@pytest.fixture
def site(tmp_path: Path, server) -> Iterator[Site]:
    with serve_site(tmp_path, server) as served:
        yield served


@pytest.fixture
def web(site: Site) -> Client:
    return Client(site.url)


def page(web: Client, path: str) -> lxml.html.HtmlElement:
    status, headers, body = web.get(path)
    assert status == 200, (path, status)
    assert headers["content-type"] == "text/html; charset=utf-8"
    return lxml.html.fromstring(body)


def texts(document: lxml.html.HtmlElement, selector: str) -> list[str]:
    return [" ".join(node.text_content().split()) for node in document.cssselect(selector)]


# --- highlighting --------------------------------------------------------------------------


def test_a_phrase_is_found_as_the_matcher_finds_it():
    text = "MARVEL’S  Daredevil returns; daredevils do not count, Daredevil's do."
    # Overlapping occurrences are one mark; "daredevils" is another word.
    assert [text[a:b] for a, b in spans(text, ["Marvel's Daredevil", "Daredevil"])] == [
        "MARVEL’S  Daredevil",
        "Daredevil",
    ]
    assert pieces("Pokémon Horizons", ["pokemon"]) == [("Pokémon", True), (" Horizons", False)]


def test_pieces_put_back_the_whole_text():
    text = "Luke Cage and Power Man: one hero, Luke Cage."
    cut = pieces(text, ["Luke Cage", "power man"])
    assert "".join(piece for piece, _ in cut) == text
    assert [piece for piece, marked in cut if marked] == ["Luke Cage", "Power Man", "Luke Cage"]
    assert pieces("", ["x"]) == [("", False)]
    assert pieces("No phrase here.", []) == [("No phrase here.", False)]


def test_an_excerpt_is_cut_around_the_first_occurrence():
    text = " ".join(f"word{n}" for n in range(200)) + " Daredevil " + "tail " * 100
    cut = excerpt(text, ["daredevil"], width=100)
    assert cut.startswith("…") and cut.endswith("…")
    assert "Daredevil" in cut and len(cut) <= 102
    assert excerpt("short text", ["x"]) == "short text"


# --- pages ---------------------------------------------------------------------------------


def test_the_front_page_lists_the_latest_items_newest_first(web):
    document = page(web, "/")
    titles = texts(document, ".item h2")
    assert titles == [
        "Jessica Jones & friends",
        "Harlem's hero is back",
        "Ranking every Daredevil fight scene",
        "Daredevil: Born Again films its second season",
    ]
    # No show matched the cooking show: it is not in the digest.
    assert "Cooking show renewed" not in document.text_content()
    first = document.cssselect(".item")[1]
    assert texts(first, ".matches li") == ["Luke Cage: matched “Power Man”"]
    # The phrase that matched is marked in the summary, the rest is the summary's own text.
    assert texts(first, ".summary mark") == ["Power Man"]
    assert texts(first, ".summary")[0].startswith("Mike Colter spoke about playing Power Man")
    assert texts(first, ".meta a") == ["TV Wire"]
    assert first.cssselect("time")[0].get("datetime") == "2026-11-20T01:00:00Z"
    assert first.cssselect("h2 a")[0].get("href") == "https://tvwire.example/story/1"
    assert page(web, "/index.html").text_content() == document.text_content()


def test_feed_markup_never_reaches_the_page(web):
    _, _, body = web.get("/")
    assert b"<script" not in body and b"<b>" not in body
    document = lxml.html.fromstring(body)
    assert "big news" in texts(document, ".item .summary")[0]


def test_pages_advertise_every_feed_and_each_link_works(web, site):
    document = page(web, "/shows/daredevil/")
    alternates = {
        link.get("href"): link.get("type") for link in document.cssselect('link[rel="alternate"]')
    }
    assert alternates == {
        "/feed.xml": "application/rss+xml",
        "/feed.atom": "application/atom+xml",
        "/feed.json": "application/feed+json",
        "/shows/daredevil/feed.xml": "application/rss+xml",
        "/shows/daredevil/feed.atom": "application/atom+xml",
        "/shows/daredevil/feed.json": "application/feed+json",
    }
    for href, media_type in alternates.items():
        status, headers, body = web.get(href)
        assert status == 200, href
        assert headers["content-type"] == f"{media_type}; charset=utf-8"
        assert headers["etag"] and headers["last-modified"]
        assert b"Daredevil" in body
    local = {a.get("href") for a in document.cssselect("a") if a.get("href").startswith("/")}
    local |= {node.get("href") for node in document.cssselect("link[href]")}
    assert {"/", "/feeds", "/opml.xml", "/favicon.ico", "/style.css"} <= local
    for href in local:
        assert web.get(href)[0] == 200, href


def test_a_show_page_has_that_shows_items_only(web):
    document = page(web, "/shows/daredevil/")
    assert texts(document, "h1") == ["Daredevil"]
    assert texts(document, ".item h2") == [
        "Ranking every Daredevil fight scene",
        "Daredevil: Born Again films its second season",
    ]
    assert document.cssselect('.shows a[aria-current="page"]')[0].text == "Daredevil"
    status, headers, _ = web.get("/shows/daredevil")
    assert (status, headers["location"]) == (308, "/shows/daredevil/")
    empty = page(web, "/shows/marvel-s-jessica-jones/")
    assert texts(empty, ".item h2") == ["Jessica Jones & friends"]


def test_search_ranks_matched_articles_and_marks_the_words(web):
    document = page(web, "/search?q=second+season")
    assert texts(document, ".item h2") == ["Daredevil: Born Again films its second season"]
    assert texts(document, ".item .summary mark")[:2] == ["second", "season"]
    assert document.cssselect("input[name=q]")[0].get("value") == "second season"
    # In the title and twice in the text ranks above one mention in the text.
    assert texts(page(web, "/search?q=season"), ".item h2") == [
        "Daredevil: Born Again films its second season",
        "Ranking every Daredevil fight scene",
    ]
    # Only matched articles are searched.
    assert texts(page(web, "/search?q=cooking"), ".item") == []


@pytest.mark.parametrize(
    "query",
    ['"', "<script>alert(1)</script>", "NOT OR (", "a" * 5000, "\0 daredevil", "日本語"],
)
def test_any_search_text_gives_a_page(web, query):
    status, _, body = web.get("/search?q=" + quote(query))
    assert status == 200
    assert b"<script>alert" not in body


def test_a_query_that_is_not_utf8_gives_a_page(web):
    assert web.get("/search?q=%ff%fe")[0] == 200
    assert web.get("/search?q=a&q=b")[0] == 200


def test_pages_are_gzipped_when_asked(web):
    _, headers, body = web.get("/")
    status, zipped, packed = web.get("/", {"Accept-Encoding": "gzip"})
    assert (status, zipped["content-encoding"], zipped["vary"]) == (200, "gzip", "Accept-Encoding")
    assert gzip.decompress(packed) == body and len(packed) < len(body)
    assert "content-encoding" not in headers


def test_an_empty_search_shows_the_form(web):
    document = page(web, "/search")
    assert document.cssselect("form.search input[name=q]")
    assert texts(document, ".item") == []


def test_the_feeds_page_is_the_health_table(web, site):
    document = page(web, "/feeds")
    rows = [texts(row, "th, td") for row in document.cssselect("tbody tr")]
    assert [row[0] for row in rows] == ["TV Wire", "Screen Beat", site.broken_feed]
    assert [(row[2], row[3]) for row in rows] == [("200", "4"), ("200", "1"), ("500", "0")]
    assert rows[2][5] == "HTTP 500 Internal Server Error"
    assert document.cssselect("tbody tr")[2].get("class") == "failing"


def test_unknown_paths_get_a_small_html_404(web):
    for path in ("/nowhere", "/shows/nothing/", "/shows/daredevil/feed.rss", "/feeds/"):
        status, headers, body = web.get(path)
        assert status == 404, path
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert b"Not found" in body


def test_feed_xsl_opml_and_favicon(web, site):
    status, headers, body = web.get("/feed.xsl")
    assert (status, headers["content-type"]) == (200, "text/xsl; charset=utf-8")
    assert b"xsl:stylesheet" in body
    status, headers, body = web.get("/opml.xml")
    assert headers["content-type"] == "text/x-opml; charset=utf-8"
    assert [outline.get("xmlUrl") for outline in lxml.etree.fromstring(body).iter("outline")] == [
        feed.url for feed in site.config.feeds
    ]
    status, headers, body = web.get("/favicon.ico")
    assert (status, headers["content-type"]) == (200, "image/x-icon")
    assert body[:4] == b"\0\0\1\0"


def test_every_feed_revalidates_and_gzips(web):
    for path in ("/feed.atom", "/shows/luke-cage/feed.json"):
        _, headers, body = web.get(path)
        status, _, empty = web.get(path, {"If-None-Match": headers["etag"]})
        assert (status, empty) == (304, b"")
        status, zipped, packed = web.get(path, {"Accept-Encoding": "gzip"})
        assert zipped["content-encoding"] == "gzip"
        assert gzip.decompress(packed) == body
    _, _, body = web.get("/shows/luke-cage/feed.json")
    assert [item["title"] for item in json.loads(body)["items"]] == ["Harlem's hero is back"]


def test_pages_answer_503_while_the_store_fails_and_the_feeds_go_on(tmp_path, server):
    with serve_site(tmp_path, server, store_fails=True) as site:
        web = Client(site.url)
        for path in ("/", "/shows/daredevil/", "/search?q=x", "/feeds"):
            status, headers, body = web.get(path)
            assert status == 503, path
            assert headers["content-type"] == "text/html; charset=utf-8"
            assert b"Cannot read the database" in body
        assert web.get("/feed.xml")[0] == 200
        assert web.get("/feed.atom")[0] == 200
        assert web.get("/healthz")[0] == 200


def test_serve_shows_the_pages_and_without_its_database_still_the_feeds(tmp_path, server):
    config, _ = fill_site(tmp_path, server)
    process = Feedwatch(config, "serve")
    try:
        web = Client(process.url())
        document = page(web, "/")
        assert "Harlem's hero is back" in texts(document, ".item h2")
        assert texts(page(web, "/feeds"), "tbody th")[:2] == ["TV Wire", "Screen Beat"]
        process.signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    # A database that cannot be opened: the pages say so, the feeds and /healthz go on.
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("sqlite:///state/feedwatch.db", "sqlite:////proc/feedwatch/db"), "utf-8"
    )
    process = Feedwatch(config, "serve")
    try:
        web = Client(process.url())
        status, _, body = web.get("/")
        assert (status, b"Cannot read the database" in body) == (503, True)
        assert web.get("/feed.xml")[0] == 200
        assert web.get("/healthz")[0] == 200
    finally:
        process.kill()


def test_serve_waits_out_a_database_that_never_answers_once_not_at_every_request(
    tmp_path, server
):
    config, _ = fill_site(tmp_path, server)
    # Accepts connections and never says a word, as a server behind a dropped route.
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(silent.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    database = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/x"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("sqlite:///state/feedwatch.db", f"{database}?connect_timeout=1"), "utf-8"
    )
    process = Feedwatch(config, "serve")
    try:
        web = Client(process.url())
        assert web.get("/")[0] == 503
        tried = len(held)
        for path in ("/", "/feed.xml", "/feed.atom", "/healthz", "/"):
            web.get(path)
        assert web.get("/feed.xml")[0] == 200
        assert tried and len(held) == tried
    finally:
        process.kill()
        silent.close()
        for connection in held:
            connection.close()


def test_run_serves_the_pages_of_its_own_store(tmp_path, server):
    config, _ = fill_site(tmp_path, server)
    process = Feedwatch(config, "run")
    try:
        web = Client(process.url())
        assert "Harlem's hero is back" in texts(page(web, "/"), ".item h2")
        assert texts(page(web, "/search?q=harlem"), ".item h2") == ["Harlem's hero is back"]
        process.signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
