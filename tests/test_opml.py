"""OPML import and export, and editing the config file without losing what its author wrote."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from feedwatch import config, config_file, opml
from feedwatch.cli import main
from feedwatch.errors import ConfigError, SubscriptionError
from feedwatch.models import FeedLink

DATA = Path(__file__).parent / "data" / "opml"
SUBSCRIPTIONS = DATA / "subscriptions.opml"
CONFIG = DATA / "feeds.yaml"

NEW_FEEDS = [
    FeedLink("https://screenbeat.example.com/atom.xml", "Screen Beat"),
    FeedLink("https://streamnotes.example.org/index.rdf", "Stream Notes & More"),
    FeedLink("https://nightdesk.example.com/rss", "Night Desk"),
]
# The config as its author wrote it, with the three new feeds after the last one.
EDITED = """\
# My feedwatch config: written by hand, comments and all.
database: sqlite:///feedwatch.db   # next to this file

feeds:
    # the first feed I ever added
    - url: https://tvwire.example.net/feed
      title: "TV Wire"     # quoted on purpose
      interval: 10m
    - url: https://screenbeat.example.com/atom.xml
      title: Screen Beat
    - url: https://streamnotes.example.org/index.rdf
      title: Stream Notes & More
    - url: https://nightdesk.example.com/rss
      title: Night Desk

# What I watch, in order of how much.
shows:
    - name: Daredevil
      keywords: [Daredevil, "Matt Murdock"]

digest:
    path: digest.xml   # served by `feedwatch serve`
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    shutil.copy(CONFIG, path)
    return path


def test_parse_reads_nested_outlines_in_order_each_url_once() -> None:
    feeds = opml.parse(SUBSCRIPTIONS.read_bytes())
    assert feeds == [
        NEW_FEEDS[0],
        NEW_FEEDS[1],
        FeedLink("HTTPS://TVWire.example.net:443/feed", "TV Wire (again)"),
        NEW_FEEDS[2],
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("not_xml.opml", "not_xml.opml: not XML: "),
        ("no_feeds.opml", "no_feeds.opml: no outline with an xmlUrl: no feeds to import"),
        (
            "bad_url.opml",
            "bad_url.opml: outline 2: 'feed://bad.example.com/rss' is not an http:// or https://",
        ),
        ("entities.opml", "entities.opml: not OPML: it declares a document type"),
    ],
)
def test_broken_opml_is_a_one_line_error(name: str, message: str) -> None:
    with pytest.raises(SubscriptionError) as caught:
        opml.parse((DATA / name).read_bytes(), name)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_feed_list_that_is_not_opml_is_refused() -> None:
    rss = (Path(__file__).parent / "data" / "feeds" / "tvwire.rss").read_bytes()
    with pytest.raises(SubscriptionError, match="not OPML: expected <opml> with a <body>"):
        opml.parse(rss, "tvwire.rss")


def test_render_is_opml_2_that_parse_reads_back() -> None:
    feeds = [
        FeedLink("https://a.example.com/rss?x=1&y=2", 'A & "B" <C>'),
        FeedLink("https://b.example/"),
    ]
    document = opml.render(feeds, title="My <digest>")
    root = ET.fromstring(document)
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "My <digest>"
    outlines = root.findall("body/outline")
    # OPML 2.0: every outline has text; a feed's is type="rss" with its xmlUrl.
    assert [outline.attrib for outline in outlines] == [
        {"type": "rss", "text": 'A & "B" <C>', "title": 'A & "B" <C>', "xmlUrl": feeds[0].url},
        {"type": "rss", "text": "https://b.example/", "xmlUrl": "https://b.example/"},
    ]
    assert opml.parse(document) == [feeds[0], FeedLink("https://b.example/", "https://b.example/")]


def test_render_config_lists_the_configured_feeds() -> None:
    document = opml.render_config(config.load(CONFIG))
    assert opml.parse(document) == [FeedLink("https://tvwire.example.net/feed", "TV Wire")]
    assert ET.fromstring(document).findtext("head/title") == "feedwatch digest: feeds"


def test_add_feeds_keeps_comments_order_quoting_and_indentation(config_path: Path) -> None:
    added = config_file.add_feeds(config_path, [*NEW_FEEDS, NEW_FEEDS[0]])
    assert added == NEW_FEEDS
    assert config_path.read_text(encoding="utf-8") == EDITED
    assert [feed.url for feed in config.load(config_path).feeds][1:] == [
        feed.url for feed in NEW_FEEDS
    ]


def test_add_feeds_skips_a_feed_already_there_spelt_differently(config_path: Path) -> None:
    before = config_path.read_bytes()
    assert (
        config_file.add_feeds(config_path, [FeedLink("HTTPS://TVWire.example.net:443/feed")]) == []
    )
    assert config_path.read_bytes() == before


def test_add_feeds_to_a_broken_config_writes_nothing(config_path: Path) -> None:
    config_path.write_text("feeds: [\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        config_file.add_feeds(config_path, NEW_FEEDS)
    assert config_path.read_text(encoding="utf-8") == "feeds: [\n"
    assert list(config_path.parent.iterdir()) == [config_path]


def test_import_adds_the_new_feeds_and_says_which(config_path: Path, capsys) -> None:
    assert main(["-c", str(config_path), "import", str(SUBSCRIPTIONS)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "added: https://screenbeat.example.com/atom.xml  (Screen Beat)",
        "added: https://streamnotes.example.org/index.rdf  (Stream Notes & More)",
        "added: https://nightdesk.example.com/rss  (Night Desk)",
        f"3 feeds added to {config_path}; 1 already there",
    ]
    assert config_path.read_text(encoding="utf-8") == EDITED

    assert main(["-c", str(config_path), "import", str(SUBSCRIPTIONS)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("0 feeds added")
    assert config_path.read_text(encoding="utf-8") == EDITED


@pytest.mark.parametrize("name", ["not_xml.opml", "no_feeds.opml", "bad_url.opml", "missing.opml"])
def test_import_of_a_broken_opml_is_one_line_exit_2_and_writes_nothing(
    config_path: Path, name: str, capsys
) -> None:
    before = config_path.read_bytes()
    assert main(["-c", str(config_path), "import", str(DATA / name)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"feedwatch: {DATA / name}: ")
    assert captured.err.count("\n") == 1
    assert config_path.read_bytes() == before
    assert list(config_path.parent.iterdir()) == [config_path]


def test_export_then_import_is_a_round_trip(config_path: Path, tmp_path: Path, capsys) -> None:
    config_file.add_feeds(config_path, NEW_FEEDS)
    exported = tmp_path / "out.opml"
    assert main(["-c", str(config_path), "export", str(exported)]) == 0
    assert main(["-c", str(config_path), "export"]) == 0
    assert capsys.readouterr().out.encode() == exported.read_bytes()

    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(
        "feeds:\n  - url: https://tvwire.example.net/feed\n"
        "shows:\n  - name: Daredevil\n    keywords: [Daredevil]\n",
        encoding="utf-8",
    )
    assert main(["-c", str(fresh), "import", str(exported)]) == 0
    reloaded = config.load(fresh)
    assert [(feed.url, feed.title) for feed in reloaded.feeds] == [
        ("https://tvwire.example.net/feed", None),
        *((feed.url, feed.title) for feed in NEW_FEEDS),
    ]
