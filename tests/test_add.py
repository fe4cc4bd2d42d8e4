"""`feedwatch add URL`: a feed, or the feed a web page advertises, added to the config file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feedwatch import config
from feedwatch.cli import main
from feedwatch.models import FeedLink
from feedwatch.poll import discover

DATA = Path(__file__).parent / "data"
HTML = "text/html; charset=utf-8"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    shutil.copy(DATA / "opml" / "feeds.yaml", path)
    return path


def configured(path: Path) -> list[tuple[str, str | None]]:
    return [(feed.url, feed.title) for feed in config.load(path).feeds]


def test_advertised_feeds_are_resolved_against_the_page_each_once() -> None:
    page = (DATA / "discover" / "several_feeds.html").read_text(encoding="utf-8")
    assert discover.advertised(page, "https://NightDesk.example.com/news/index.html") == [
        FeedLink(
            "https://nightdesk.example.com/news/feed.rss",
            "Night Desk: all stories",
            "application/rss+xml",
        ),
        FeedLink(
            "https://cdn.example.org/night/feed.json", "Night Desk (JSON)", "application/feed+json"
        ),
    ]


def test_a_page_without_feed_links_advertises_none() -> None:
    page = (DATA / "discover" / "no_feed.html").read_text(encoding="utf-8")
    assert discover.advertised(page, "https://example.com/") == []


def test_add_a_feed_url(server, config_path: Path, capsys) -> None:
    url = server.serve("/feeds/tvwire.rss")
    assert main(["-c", str(config_path), "add", url, "--title", "Local wire"]) == 0
    assert capsys.readouterr().out == f"added: {url}  (Local wire)\n"
    assert configured(config_path)[-1] == (url, "Local wire")
    assert "# What I watch, in order of how much." in config_path.read_text(encoding="utf-8")


def test_add_a_page_adds_the_feed_it_advertises(server, config_path: Path, capsys) -> None:
    page = server.serve(
        "/blog/", (DATA / "discover" / "one_feed.html").read_bytes(), content_type=HTML
    )
    assert main(["-c", str(config_path), "add", page]) == 0
    feed_url = server.url("/feeds/atom.xml")
    assert capsys.readouterr().out == f"added: {feed_url}  (Screen Beat & Friends)\n"
    assert configured(config_path)[-1] == (feed_url, "Screen Beat & Friends")


def test_add_a_page_with_several_feeds_lists_them_and_adds_nothing(
    server, config_path: Path, capsys
) -> None:
    before = config_path.read_bytes()
    page = server.serve(
        "/night/", (DATA / "discover" / "several_feeds.html").read_bytes(), content_type=HTML
    )
    assert main(["-c", str(config_path), "add", page]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"feedwatch: {page} advertises 2 feeds; add one of them by its URL\n"
    assert captured.out.splitlines() == [
        f"{server.url('/night/feed.rss')}  Night Desk: all stories [application/rss+xml]",
        "https://cdn.example.org/night/feed.json  Night Desk (JSON) [application/feed+json]",
    ]
    assert config_path.read_bytes() == before


def test_add_a_page_without_a_feed_is_one_line_exit_2(server, config_path: Path, capsys) -> None:
    before = config_path.read_bytes()
    page = server.serve(
        "/plain/", (DATA / "discover" / "no_feed.html").read_bytes(), content_type=HTML
    )
    assert main(["-c", str(config_path), "add", page]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"feedwatch: {page}: neither a feed nor a page that advertises one\n"
    assert config_path.read_bytes() == before


def test_add_a_url_that_fails_is_one_line(server, config_path: Path, capsys) -> None:
    before = config_path.read_bytes()
    assert main(["-c", str(config_path), "add", server.url("/missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("feedwatch: ")
    assert "404" in err
    assert err.count("\n") == 1
    assert config_path.read_bytes() == before


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "example.com/feed", "javascript:x()"])
def test_add_something_that_is_no_http_url_is_exit_2(config_path: Path, url: str, capsys) -> None:
    assert main(["-c", str(config_path), "add", url]) == 2
    assert capsys.readouterr().err == f"feedwatch: {url!r} is not an http:// or https:// URL\n"


def test_add_a_feed_already_there_changes_nothing(server, config_path: Path, capsys) -> None:
    url = server.serve("/feeds/tvwire.rss")
    assert main(["-c", str(config_path), "add", url]) == 0
    after_first = config_path.read_bytes()
    capsys.readouterr()
    assert main(["-c", str(config_path), "add", url, "--title", "Another name"]) == 0
    assert capsys.readouterr().out == f"{url} is already in {config_path}\n"
    assert config_path.read_bytes() == after_first


def test_add_a_json_feed_and_not_other_json(server, config_path: Path, capsys) -> None:
    feed = server.serve(
        "/feed.json",
        '{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": []}',
        content_type="application/feed+json",
    )
    assert main(["-c", str(config_path), "add", feed]) == 0
    assert configured(config_path)[-1] == (feed, None)

    api = server.serve("/api", '{"status": "ok"}', content_type="application/json")
    assert main(["-c", str(config_path), "add", api]) == 2
    assert capsys.readouterr().err.endswith("neither a feed nor a page that advertises one\n")
