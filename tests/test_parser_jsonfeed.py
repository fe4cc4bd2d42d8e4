"""JSON Feed 1.0 and 1.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedwatch.errors import ParseError
from feedwatch.models import Enclosure, ParsedFeed
from feedwatch.poll.parser import parse

DATA = Path(__file__).parent / "data" / "parser"
JSON = {"Content-Type": "application/feed+json; charset=utf-8"}


def fixture(name: str, headers: dict[str, str] = JSON) -> ParsedFeed:
    return parse((DATA / name).read_bytes(), headers, "https://feeds.example/sub/feed.json")


def test_json_feed_11_feed_fields() -> None:
    feed = fixture("jsonfeed_11.json")
    assert (feed.title, feed.link, feed.language) == (
        "Pilot Season",
        "https://pilotseason.example/",
        "en-gb",
    )
    assert feed.warning is None


def test_json_feed_11_item_fields() -> None:
    finale = fixture("jsonfeed_11.json").entries[0]
    assert finale.id == "pilot-2024-118"
    assert finale.link == "https://pilotseason.example/2024/harbour-lights-finale"
    # Plain text arrives escaped into HTML, so later stages read every format alike.
    assert finale.title == "Harbour Lights &amp; the finale &lt;everyone&gt; wanted"
    assert finale.content_html == (
        "The finale airs on Sunday.\n\nCast &amp; crew say goodbye &lt;tonight&gt;."
    )
    assert finale.summary_html == "A farewell to the lighthouse drama."
    assert finale.published == datetime(2024, 5, 1, 19, 30, tzinfo=UTC)
    assert finale.authors == ("Ada Reel", "Ben Cutaway")
    assert finale.tags == ("Harbour Lights", "finales")
    assert finale.language == "en-us"
    assert finale.enclosures == (
        Enclosure("https://feeds.example/media/finale-trailer.mp4", "video/mp4", 7340032),
        Enclosure("https://cdn.pilotseason.example/finale.jpg", "image/jpeg", None),
    )


def test_external_url_modified_date_and_html_content() -> None:
    review = fixture("jsonfeed_11.json").entries[1]
    assert review.link == "https://elsewhere.example/reviews/glass-orchard"
    assert review.id.startswith("sha256:")
    assert review.published == datetime(2024, 4, 30, 10, 0, tzinfo=UTC)
    assert review.content_html == "<p>A <em>slow</em> but rewarding mystery.</p>"
    assert review.summary_html == ""


def test_items_with_nothing_to_show_or_no_object_are_skipped() -> None:
    feed = fixture("jsonfeed_11.json")
    assert [entry.id for entry in feed.entries][2:] == ["pilot-2024-120", "pilot-2024-122"]
    assert feed.skipped == 2
    assert feed.entries[3].published is None  # "someday soon"


def test_json_feed_10_author_and_numeric_id() -> None:
    feed = fixture("jsonfeed_10.json")
    (episode,) = feed.entries
    assert episode.id == "40211"
    assert episode.authors == ("Cora Boom",)
    assert episode.published == datetime(2024, 3, 31, 6, 10, tzinfo=UTC)
    assert episode.enclosures == (
        Enclosure("https://rerun.example/audio/211.mp3", "audio/mpeg", None),
    )


@pytest.mark.parametrize(
    "headers", [{}, {"Content-Type": "application/json"}, {"Content-Type": "text/xml"}]
)
def test_recognised_by_content_type_or_by_its_body(headers: dict[str, str]) -> None:
    assert fixture("jsonfeed_10.json", headers).title == "Rerun Radio"


def test_xml_served_as_json_is_still_read_as_xml() -> None:
    body = b'<rss version="2.0"><channel><title>Mislabelled</title></channel></rss>'
    assert parse(body, {"Content-Type": "application/json"}, "https://feeds.example/f").title == (
        "Mislabelled"
    )


def _feed(**fields: Any) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", **fields}).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [}', "not valid JSON"),
        (b"\xff\xfe{\x00", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b'["https://jsonfeed.org/version/1.1"]', "not a JSON Feed"),
        (json.dumps({"title": "TV", "items": []}).encode(), "not a JSON Feed"),
        (_feed(title="TV"), "without an items list"),
        (_feed(items={"id": "1"}), "without an items list"),
    ],
    ids=["syntax", "encoding", "deep", "array", "no-version", "no-items", "items-not-list"],
)
def test_bad_json_is_a_one_line_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        parse(body, JSON, "https://feeds.example/feed.json")
    assert "\n" not in str(caught.value)


def test_fields_of_the_wrong_type_are_ignored() -> None:
    body = _feed(
        title=["not", "a", "title"],
        items=[
            {
                "id": {"nested": True},
                "url": "https://feeds.example/a",
                "title": 7,
                "tags": "not a list",
                "authors": [{"name": 3}, "Ada"],
                "attachments": [{"url": None}, "https://feeds.example/b.mp3"],
                "date_published": 20240101,
            }
        ],
    )
    feed = parse(body, JSON, "https://feeds.example/feed.json")
    (entry,) = feed.entries
    assert feed.title is None
    assert (entry.title, entry.tags, entry.authors, entry.enclosures) == ("", (), (), ())
    assert entry.id.startswith("sha256:")


def test_many_items_keep_the_newest() -> None:
    items = [
        {"id": str(day), "title": f"day {day}", "date_published": f"2024-01-{day:02d}T00:00:00Z"}
        for day in range(1, 29)
    ]
    feed = parse(_feed(items=items[::-1]), JSON, "https://feeds.example/f.json", max_entries=5)
    assert [entry.id for entry in feed.entries] == ["28", "27", "26", "25", "24"]
    assert feed.truncated == 23
    oldest_first = parse(_feed(items=items), JSON, "https://feeds.example/f.json", max_entries=5)
    assert [entry.id for entry in oldest_first.entries] == ["24", "25", "26", "27", "28"]
    assert oldest_first.truncated == 23


@pytest.mark.parametrize("name", ["daringfireball.jsonfeed.json", "humanwhocodes.jsonfeed.json"])
def test_real_json_feeds(name: str, shared_corpus: Path) -> None:
    body = (shared_corpus / "real-feeds" / name).read_bytes()
    document = json.loads(body)
    feed = parse(body, JSON, f"https://feeds.example/{name}")
    assert feed.title == document["title"]
    assert len(feed.entries) + feed.skipped == len(document["items"])
    assert [entry.id for entry in feed.entries] == [
        item["id"] for item in document["items"] if "id" in item
    ][: len(feed.entries)]
    assert all(entry.published is not None for entry in feed.entries)


def test_feedparser_json_samples(shared_corpus: Path) -> None:
    folder = shared_corpus / "feedparser-tests" / "json"
    samples = sorted(path for path in folder.rglob("*.json") if path.is_file())
    if not samples:
        pytest.skip(f"no JSON samples under {folder}")
    for path in samples:
        try:
            feed = parse(path.read_bytes(), JSON, "https://feeds.example/feed.json")
        except ParseError as error:
            assert "\n" not in str(error), path.name
        else:
            assert all(entry.id for entry in feed.entries), path.name


def test_html_where_publishers_put_it_is_read_as_html() -> None:
    # Seen in real feeds: an HTML teaser in the plain-text summary, and content_html escaped
    # twice. Neither may reach a reader as "<p>" text.
    item = {
        "id": "1",
        "title": "Fish & <Chips>",
        "summary": "<p>A <em>teaser</em>.</p>",
        "content_html": "&lt;p&gt;The whole &amp; story.&lt;/p&gt;",
    }
    [entry] = parse(_feed(items=[item]), JSON, "https://site.example/feed.json").entries
    assert entry.title == "Fish &amp; &lt;Chips&gt;"
    assert entry.summary_html == "<p>A <em>teaser</em>.</p>"
    assert entry.content_html == "<p>The whole & story.</p>"
