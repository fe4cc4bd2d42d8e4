"""The digest feed: what readers get, what hostile articles cannot do, how it reaches disk."""

from __future__ import annotations

import errno
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from feedwatch import __version__
from feedwatch.config import DigestSettings
from feedwatch.errors import DigestError
from feedwatch.models import DigestItem
from feedwatch.publish import feeds as digest

BUILT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
SETTINGS = DigestSettings(
    title="My shows",
    link="https://digest.example.org/",
    description="What the trades say about my shows.",
    max_items=50,
)
HOSTILE_URL = "javascript:alert(document.cookie)"
# Every C0 control XML 1.0 forbids, plus the two noncharacters; tab/LF/CR are allowed.
FORBIDDEN = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
# Those that separate words (vertical tab, form feed, U+001C-U+001F) become a space; the rest go.
ILLEGAL = "".join(char for char in FORBIDDEN if not char.isspace())


def make_item(number: int = 1, **changes: object) -> DigestItem:
    fields: dict[str, object] = {
        "guid": f"feedwatch:article:{number:04d}",
        "title": f"Casting news number {number}",
        "url": f"https://news.example.com/story/{number}",
        "published": datetime(2024, 5, 1, 12, number % 60, tzinfo=UTC),
        "summary": (f"First sentence of story {number}.", f"Second sentence of story {number}."),
        "shows": ("Daredevil", "Luke Cage"),
        "feed_title": "Example Entertainment",
        "feed_url": "https://news.example.com/rss",
    }
    fields.update(changes)
    return DigestItem(**fields)  # type: ignore[arg-type]


class _HTMLFacts(HTMLParser):
    """Tags, attributes and text runs of one description."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.paragraphs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag == "p":
            self.paragraphs.append("")

    def handle_data(self, data: str) -> None:
        self.paragraphs[-1] += data


def html_facts(fragment: str) -> _HTMLFacts:
    facts = _HTMLFacts()
    facts.feed(fragment)
    facts.close()
    return facts


def assert_valid_rss20(document: bytes) -> ET.Element:
    """The W3C validator's RSS 2.0 rules that can be checked offline."""
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(document)
    assert root.tag == "rss"
    assert root.get("version") == "2.0"
    channels = root.findall("channel")
    assert len(channels) == 1
    channel = channels[0]
    for required in ("title", "link", "description"):
        assert len(channel.findall(required)) == 1, required
    assert (channel.findtext("title") or "").strip()
    assert_absolute_http(channel.findtext("link"))
    assert_rfc822(channel.findtext("lastBuildDate"))
    guids = []
    for item in channel.findall("item"):
        assert item.find("title") is not None or item.find("description") is not None
        for single in ("title", "link", "description", "guid", "pubDate", "source"):
            assert len(item.findall(single)) <= 1, single
        guid = item.find("guid")
        assert guid is not None
        assert (guid.text or "").strip()
        assert guid.get("isPermaLink") in ("true", "false")
        guids.append(guid.text)
        assert_rfc822(item.findtext("pubDate"))
        if item.find("link") is not None:
            assert_absolute_http(item.findtext("link"))
        for category in item.findall("category"):
            assert (category.text or "").strip()
        source = item.find("source")
        if source is not None:
            assert_absolute_http(source.get("url"))
            assert (source.text or "").strip()
    assert len(guids) == len(set(guids)), "guids must be unique"
    return channel


def assert_absolute_http(url: str | None) -> None:
    assert url is not None
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https"), url
    assert parts.hostname, url
    assert not any(char.isspace() or char in '"<>' for char in url), url


def assert_rfc822(value: str | None) -> datetime:
    assert value is not None
    moment = parsedate_to_datetime(value)
    assert moment.tzinfo is not None, value
    return moment


def parse(document: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    return parsed


def test_feedparser_reads_every_field_back() -> None:
    items = [
        make_item(1, shows=("Law & Order", "Grey's Anatomy")),
        make_item(2, url=None, shows=("Daredevil",)),
        make_item(3, published=datetime(2024, 4, 30, 23, 59, 1, tzinfo=UTC)),
    ]
    document = digest.render(items, SETTINGS, built=BUILT)
    assert_valid_rss20(document)
    parsed = parse(document)

    assert parsed.feed.title == "My shows"
    assert parsed.feed.link == "https://digest.example.org/"
    assert parsed.feed.subtitle == "What the trades say about my shows."
    assert parsed.feed.generator == f"feedwatch {__version__}"
    assert parsed.feed.updated_parsed[:6] == (2024, 5, 6, 7, 8, 9)

    assert [entry.id for entry in parsed.entries] == [item.guid for item in items]
    for entry, item in zip(parsed.entries, items, strict=True):
        assert entry.title == item.title
        assert entry.get("link") == item.url
        assert entry.guidislink is False
        assert entry.published_parsed[:6] == item.published.timetuple()[:6]
        assert [tag.term for tag in entry.tags] == list(item.shows)
        assert entry.source.href == "https://news.example.com/rss"
        assert entry.source.title == "Example Entertainment"
        assert entry.summary.startswith(f"<p>{' '.join(item.summary)}</p>")


def test_description_is_summary_then_shows_then_source_and_nothing_else() -> None:
    item = make_item(
        7,
        title="A title that must stay out of the description",
        summary=("Filming starts in June.", "The cast returns."),
        shows=("Daredevil", "Luke Cage"),
    )
    parsed = parse(digest.render([item], SETTINGS, built=BUILT))
    facts = html_facts(parsed.entries[0].summary)

    assert facts.paragraphs == [
        "Filming starts in June. The cast returns.",
        "Shows: Daredevil, Luke Cage",
        "Source: Example Entertainment",
    ]
    assert ("a", "href", "https://news.example.com/rss") in facts.attributes


def test_item_without_summary_still_names_shows_and_source() -> None:
    parsed = parse(digest.render([make_item(summary=())], SETTINGS, built=BUILT))
    facts = html_facts(parsed.entries[0].summary)
    assert facts.paragraphs == ["Shows: Daredevil, Luke Cage", "Source: Example Entertainment"]


def test_hostile_article_text_is_escaped_and_sanitised() -> None:
    title = '<script>alert("t")</script> ]]> <img src=x onerror=alert(1)>'
    sentences = ("Read <script>steal()</script> now.", 'Look <img src=x onerror="pwn()"> ]]>.')
    feed_title = "<a href='javascript:alert(3)' onclick=boom()>Feed</a>"
    item = make_item(
        title=title,
        url=HOSTILE_URL,
        summary=sentences,
        shows=("<b onmouseover=x()>Show</b>",),
        feed_title=feed_title,
        feed_url='https://news.example.com/rss?x="><script>alert(2)</script>',
    )
    document = digest.render([item], SETTINGS, built=BUILT)
    channel = assert_valid_rss20(document)
    raw = channel.find("item")
    assert raw is not None
    # Plain text stays plain text, even in a reader that shows titles as HTML: no "<" there
    # can open a tag. A feed's own title is HTML: its markup goes.
    defanged = '< script>alert("t")< /script> ]]> < img src=x onerror=alert(1)>'
    assert raw.findtext("title") == defanged
    assert raw.find("link") is None
    assert [c.text for c in raw.findall("category")] == ["< b onmouseover=x()>Show< /b>"]
    assert raw.findtext("source") == "Feed"

    for description in (raw.findtext("description") or "", parse(document).entries[0].summary):
        assert "<script" not in description
        facts = html_facts(description)
        assert set(facts.tags) <= {"p", "a"}
        assert {name for _, name, _ in facts.attributes} <= {"href", "rel"}
        for _, name, value in facts.attributes:
            if name == "href":
                assert_absolute_http(value)
        assert facts.paragraphs[0] == " ".join(sentences)
        assert facts.paragraphs[-1] == "Source: Feed"
    assert b"javascript:alert(document.cookie)" not in document


def test_unsafe_feed_url_drops_source_link_but_keeps_its_name() -> None:
    item = make_item(feed_url=HOSTILE_URL)
    document = digest.render([item], SETTINGS, built=BUILT)
    raw = assert_valid_rss20(document).find("item")
    assert raw is not None
    assert raw.find("source") is None
    facts = html_facts(raw.findtext("description") or "")
    assert "a" not in facts.tags
    assert facts.paragraphs[-1] == "Source: Example Entertainment"
    assert b"javascript:" not in document


def test_urls_with_spaces_and_quotes_are_percent_encoded() -> None:
    item = make_item(url='https://news.example.com/a story?q="x"&n=ü')
    parsed = parse(digest.render([item], SETTINGS, built=BUILT))
    assert parsed.entries[0].link == "https://news.example.com/a%20story?q=%22x%22&n=%C3%BC"


def test_characters_illegal_in_xml_are_stripped_from_every_field() -> None:
    item = make_item(
        guid=f"id{ILLEGAL}-1",
        title=f"Bad{ILLEGAL}\ttitle",
        url=f"https://news.example.com/{ILLEGAL}x",
        summary=(f"One{ILLEGAL} sentence.",),
        shows=(f"Dare{ILLEGAL}devil",),
        feed_title=f"Feed{ILLEGAL}",
        feed_url=f"https://news.example.com/rss{ILLEGAL}",
    )
    settings = SETTINGS.model_copy(update={"title": f"My{ILLEGAL} shows\x0cand\x1fmore"})
    document = digest.render([item], settings, built=BUILT)
    assert_valid_rss20(document)
    parsed = parse(document)
    assert parsed.feed.title == "My shows and more"
    entry = parsed.entries[0]
    assert entry.id == "id-1"
    assert entry.title == "Bad\ttitle"
    assert entry.link == "https://news.example.com/x"
    assert [tag.term for tag in entry.tags] == ["Daredevil"]
    assert entry.source.title == "Feed"
    assert html_facts(entry.summary).paragraphs[0] == "One sentence."


def test_max_items_is_honoured_in_the_given_order() -> None:
    items = [make_item(number) for number in (5, 3, 9, 1, 7)]
    settings = SETTINGS.model_copy(update={"max_items": 3})
    parsed = parse(digest.render(items, settings, built=BUILT))
    assert [entry.id for entry in parsed.entries] == [item.guid for item in items[:3]]


def test_a_repeated_guid_is_published_once() -> None:
    items = [make_item(1), make_item(1, title="Same article, later copy"), make_item(2)]
    document = digest.render(items, SETTINGS, built=BUILT)
    assert_valid_rss20(document)
    parsed = parse(document)
    assert [entry.title for entry in parsed.entries] == [items[0].title, items[2].title]


def test_empty_digest_is_still_a_valid_feed() -> None:
    document = digest.render([], SETTINGS, built=BUILT)
    channel = assert_valid_rss20(document)
    assert channel.findall("item") == []
    parsed = parse(document)
    assert parsed.entries == []
    assert parsed.feed.title == "My shows"


def test_blank_channel_title_falls_back_to_a_name() -> None:
    settings = SETTINGS.model_copy(update={"title": "  "})
    document = digest.render([], settings, built=BUILT)
    assert_valid_rss20(document)
    assert parse(document).feed.title == "feedwatch digest"


def test_dates_are_written_in_gmt_at_the_same_instant() -> None:
    paris = timezone(timedelta(hours=2))
    items = [
        make_item(1, published=datetime(2024, 5, 1, 14, 30, tzinfo=paris)),
        make_item(2, published=datetime(2024, 5, 1, 9, 15)),  # naive means UTC
    ]
    built = datetime(2024, 5, 6, 9, 0, tzinfo=paris)
    channel = assert_valid_rss20(digest.render(items, SETTINGS, built=built))
    assert channel.findtext("lastBuildDate") == "Mon, 06 May 2024 07:00:00 GMT"
    assert [item.findtext("pubDate") for item in channel.findall("item")] == [
        "Wed, 01 May 2024 12:30:00 GMT",
        "Wed, 01 May 2024 09:15:00 GMT",
    ]


def test_write_creates_the_folder_and_leaves_only_the_digest(tmp_path: Path) -> None:
    path = tmp_path / "public" / "feeds" / "digest.xml"
    settings = SETTINGS.model_copy(update={"path": path})
    items = [make_item(1), make_item(2)]

    assert digest.write(items, settings, built=BUILT) == path

    assert path.read_bytes() == digest.render(items, settings, built=BUILT)
    assert list(path.parent.iterdir()) == [path]
    assert path.stat().st_mode & 0o444 == 0o444  # whoever serves it can read it


def test_write_replaces_the_previous_digest_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "digest.xml"
    settings = SETTINGS.model_copy(update={"path": path})
    digest.write([make_item(1)], settings, built=BUILT)
    old = path.read_bytes()

    with path.open("rb") as reader:
        digest.write([make_item(2)], settings, built=BUILT + timedelta(minutes=15))
        # A reader that opened the old digest still reads all of it, never a mix.
        assert reader.read() == old

    parsed = parse(path.read_bytes())
    assert [entry.id for entry in parsed.entries] == [make_item(2).guid]
    assert list(tmp_path.iterdir()) == [path]


def test_write_fails_cleanly_when_the_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("keep me", encoding="utf-8")
    settings = SETTINGS.model_copy(update={"path": blocker / "digest.xml"})

    with pytest.raises(DigestError) as caught:
        digest.write([make_item()], settings, built=BUILT)

    message = str(caught.value)
    assert "\n" not in message
    assert str(blocker / "digest.xml") in message
    assert blocker.read_text(encoding="utf-8") == "keep me"
    assert sorted(tmp_path.iterdir()) == [blocker]


def test_write_fails_cleanly_when_the_path_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "digest.xml"
    folder.mkdir()
    settings = SETTINGS.model_copy(update={"path": folder})

    with pytest.raises(DigestError, match="cannot write digest"):
        digest.write([make_item()], settings, built=BUILT)

    assert folder.is_dir()
    assert list(tmp_path.iterdir()) == [folder]


def test_failed_write_keeps_the_previous_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "digest.xml"
    settings = SETTINGS.model_copy(update={"path": path})
    digest.write([make_item(1)], settings, built=BUILT)
    previous = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(DigestError, match="No space left on device"):
        digest.write([make_item(2)], settings, built=BUILT)

    assert path.read_bytes() == previous
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("link", "own_address"),
    [
        ("https://digest.example.org/", "https://digest.example.org/feed.xml"),
        ("http://localhost:8080/", "http://localhost:8080/feed.xml"),
        ("https://example.org/tv/", "https://example.org/tv/feed.xml"),
    ],
)
def test_the_digest_names_its_own_address(link: str, own_address: str) -> None:
    # The W3C validator recommends atom:link rel="self"; `run` serves the digest at /feed.xml.
    settings = SETTINGS.model_copy(update={"link": link})
    document = digest.render([make_item()], settings, built=BUILT)
    channel = assert_valid_rss20(document)
    selves = channel.findall("{http://www.w3.org/2005/Atom}link")
    assert [element.attrib for element in selves] == [
        {"href": own_address, "rel": "self", "type": "application/rss+xml"}
    ]
    assert b'xmlns:atom="http://www.w3.org/2005/Atom"' in document
    assert channel.findtext("link") == link
    assert parse(document).feed.title == "My shows"


def test_an_unchanged_digest_is_not_rewritten(tmp_path: Path) -> None:
    # Readers revalidate /feed.xml with the ETag and Last-Modified of the file: a cycle that
    # changed nothing must leave both alone, or every reader downloads it all again.
    path = tmp_path / "digest.xml"
    settings = SETTINGS.model_copy(update={"path": path})
    items = [make_item(1), make_item(2)]
    digest.write(items, settings, built=BUILT)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    before, stat = path.read_bytes(), path.stat()

    digest.write(items, settings, built=BUILT + timedelta(minutes=15))

    assert path.read_bytes() == before
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == (stat.st_mtime_ns, stat.st_ino)

    changed = [make_item(1, summary=("A corrected first sentence.",)), make_item(2)]
    digest.write(changed, settings, built=BUILT + timedelta(minutes=30))

    assert path.stat().st_mtime_ns != stat.st_mtime_ns
    channel = assert_valid_rss20(path.read_bytes())
    assert channel.findtext("lastBuildDate") == "Mon, 06 May 2024 07:38:09 GMT"
    assert "A corrected first sentence." in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "url",
    ["https://news.example.com:port/story", "https:///story", "ftp://news.example.com/story"],
    ids=["port-not-a-number", "no-host", "not-http"],
)
def test_a_link_that_is_no_http_url_is_left_out(url: str) -> None:
    document = digest.render([make_item(url=url, feed_url=url)], SETTINGS, built=BUILT)
    item = assert_valid_rss20(document).find("item")
    assert item is not None
    assert item.find("link") is None
    assert item.find("source") is None
    assert url.encode() not in document
