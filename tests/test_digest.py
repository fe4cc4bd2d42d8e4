"""The digest feed: what readers get, what hostile articles cannot do, how it reaches disk."""

from __future__ import annotations

import errno
import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from lxml import etree as lxml_etree

from feedwatch import __version__
from feedwatch.config import DigestSettings
from feedwatch.errors import DigestError
from feedwatch.models import DigestItem, Enclosure, Source
from feedwatch.poll import parser, reading
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


# What would start markup in a reader that shows titles as HTML.
TAG_OPENER = re.compile(r"<[A-Za-z/!?]")


def assert_plain_title(title: str | None) -> None:
    assert not TAG_OPENER.search(title or ""), title


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
    assert_plain_title(channel.findtext("title"))
    assert_absolute_http(channel.findtext("link"))
    assert_rfc822(channel.findtext("lastBuildDate"))
    guids = []
    for item in channel.findall("item"):
        assert item.find("title") is not None or item.find("description") is not None
        for single in ("title", "link", "description", "guid", "pubDate", "source"):
            assert len(item.findall(single)) <= 1, single
        assert_plain_title(item.findtext("title"))
        assert_plain_title(item.findtext("source"))
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


def publish(items: list[DigestItem], settings: DigestSettings, **options: Any) -> list[Path]:
    """Render every feed and write them, as a publish does: each file, written or not."""
    rendered = digest.render_all(items, settings, **options)
    digest.write(rendered)
    return list(rendered)


def write_rss(items: list[DigestItem], settings: DigestSettings, *, built: datetime) -> Path:
    """The combined RSS digest alone, rendered and written: its path."""
    [path] = publish(items, settings, built=built, formats=["rss"], per_show=False)
    return path


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

    assert write_rss(items, settings, built=BUILT) == path

    assert path.read_bytes() == digest.render(items, settings, built=BUILT)
    assert list(path.parent.iterdir()) == [path]
    assert path.stat().st_mode & 0o444 == 0o444  # whoever serves it can read it


def test_write_replaces_the_previous_digest_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "digest.xml"
    settings = SETTINGS.model_copy(update={"path": path})
    write_rss([make_item(1)], settings, built=BUILT)
    old = path.read_bytes()

    with path.open("rb") as reader:
        write_rss([make_item(2)], settings, built=BUILT + timedelta(minutes=15))
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
        write_rss([make_item()], settings, built=BUILT)

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
        write_rss([make_item()], settings, built=BUILT)

    assert folder.is_dir()
    assert list(tmp_path.iterdir()) == [folder]


def test_failed_write_keeps_the_previous_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "digest.xml"
    settings = SETTINGS.model_copy(update={"path": path})
    write_rss([make_item(1)], settings, built=BUILT)
    previous = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(DigestError, match="No space left on device"):
        write_rss([make_item(2)], settings, built=BUILT)

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
    write_rss(items, settings, built=BUILT)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    before, stat = path.read_bytes(), path.stat()

    write_rss(items, settings, built=BUILT + timedelta(minutes=15))

    assert path.read_bytes() == before
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == (stat.st_mtime_ns, stat.st_ino)

    changed = [make_item(1, summary=("A corrected first sentence.",)), make_item(2)]
    write_rss(changed, settings, built=BUILT + timedelta(minutes=30))

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


# --- Atom 1.0 and JSON Feed 1.1, per-show feeds --------------------------------------------

ATOM_NS = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")


def assert_valid_atom(document: bytes) -> ET.Element:
    """The W3C validator's Atom 1.0 rules that can be checked offline."""
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed = ET.fromstring(document)
    assert feed.tag == f"{ATOM_NS}feed"
    for required in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM_NS}{required}")) == 1, required
    assert (feed.findtext(f"{ATOM_NS}title") or "").strip()
    assert RFC3339.match(feed.findtext(f"{ATOM_NS}updated") or "")
    selves = [link for link in feed.findall(f"{ATOM_NS}link") if link.get("rel") == "self"]
    assert len(selves) == 1
    assert selves[0].get("type") == "application/atom+xml"
    feed_has_author = feed.find(f"{ATOM_NS}author/{ATOM_NS}name") is not None
    ids = []
    for entry in feed.findall(f"{ATOM_NS}entry"):
        for single in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM_NS}{single}")) == 1, single
        assert_plain_title(entry.findtext(f"{ATOM_NS}title"))
        entry_id = entry.findtext(f"{ATOM_NS}id") or ""
        assert urlsplit(entry_id).scheme, entry_id  # an absolute IRI
        ids.append(entry_id)
        assert RFC3339.match(entry.findtext(f"{ATOM_NS}updated") or "")
        assert RFC3339.match(entry.findtext(f"{ATOM_NS}published") or "")
        assert feed_has_author or entry.find(f"{ATOM_NS}author/{ATOM_NS}name") is not None
        for link in entry.findall(f"{ATOM_NS}link"):
            assert_absolute_http(link.get("href"))
        for category in entry.findall(f"{ATOM_NS}category"):
            assert (category.get("term") or "").strip()
        content = entry.find(f"{ATOM_NS}content")
        assert content is not None
        assert content.get("type") == "html"
    for link in feed.findall(f"{ATOM_NS}link"):
        assert_absolute_http(link.get("href"))
    assert len(ids) == len(set(ids)), "ids must be unique"
    return feed


def assert_valid_json_feed(document: bytes) -> dict[str, Any]:
    """JSON Feed 1.1's rules: version URL, title, items, unique string ids, absolute URLs."""
    feed = json.loads(document)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str)
    assert feed["title"].strip()
    assert isinstance(feed["items"], list)
    for key in ("home_page_url", "feed_url"):
        if key in feed:
            assert_absolute_http(feed[key])
    ids = []
    for item in feed["items"]:
        assert isinstance(item["id"], str)
        assert item["id"].strip()
        ids.append(item["id"])
        assert "content_html" in item or "content_text" in item
        assert_plain_title(item.get("title"))
        if "url" in item:
            assert_absolute_http(item["url"])
        if "date_published" in item:
            assert RFC3339.match(item["date_published"])
        for attachment in item.get("attachments", []):
            assert_absolute_http(attachment["url"])
            assert attachment["mime_type"]
        for author in item.get("authors", []):
            assert author["name"]
    assert len(ids) == len(set(ids)), "ids must be unique"
    return feed


def parse_atom(document: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def rendered(fmt: str, items: list[DigestItem], show: str | None = None) -> bytes:
    document = digest.RENDERERS[fmt](items, SETTINGS, built=BUILT, show=show)
    {"rss": assert_valid_rss20, "atom": assert_valid_atom, "json": assert_valid_json_feed}[fmt](
        document
    )
    return document


def read_back(fmt: str, document: bytes) -> list[dict[str, Any]]:
    """Each item as a reader gets it: title, link, id, tags, description HTML."""
    if fmt == "json":
        return [
            {
                "title": item.get("title"),
                "link": item.get("url"),
                "id": item["id"],
                "tags": item.get("tags", []),
                "html": item["content_html"],
                "authors": [author["name"] for author in item.get("authors", [])],
            }
            for item in json.loads(document)["items"]
        ]
    parsed = parse(document) if fmt == "rss" else parse_atom(document)
    return [
        {
            "title": entry.get("title"),
            "link": next(
                (link.href for link in entry.get("links", []) if link.rel == "alternate"), None
            ),
            "id": entry.id,
            "tags": [tag.term for tag in entry.get("tags", [])],
            "html": entry.summary if fmt == "rss" else entry.content[0].value,
            "authors": [author.get("name") for author in entry.get("authors", [])],
        }
        for entry in parsed.entries
    ]


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_every_format_carries_every_item_field(fmt: str) -> None:
    items = [
        make_item(1, shows=("Law & Order", "Grey's Anatomy"), authors=("Nellie Andreeva",)),
        make_item(2, url=None, shows=("Daredevil",)),
        make_item(3, published=datetime(2024, 4, 30, 23, 59, 1, tzinfo=UTC)),
    ]
    entries = read_back(fmt, rendered(fmt, items))

    assert [entry["title"] for entry in entries] == [item.title for item in items]
    assert [entry["link"] for entry in entries] == [item.url for item in items]
    assert [entry["tags"] for entry in entries] == [list(item.shows) for item in items]
    assert [entry["authors"] for entry in entries] == [["Nellie Andreeva"], [], []]
    # The guid is the id in every format: readers that saw an item never see it as new again.
    assert [entry["id"] for entry in entries] == [item.guid for item in items]
    facts = html_facts(entries[0]["html"])
    assert facts.paragraphs == [
        "First sentence of story 1. Second sentence of story 1.",
        "Shows: Law & Order, Grey's Anatomy",
        "Source: Example Entertainment",
    ]


def test_atom_and_json_dates_are_rfc3339_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    item = make_item(1, published=datetime(2024, 5, 1, 14, 30, tzinfo=paris))
    feed = assert_valid_atom(rendered("atom", [item]))
    assert feed.findtext(f"{ATOM_NS}updated") == "2024-05-06T07:08:09Z"
    assert feed.findtext(f"{ATOM_NS}entry/{ATOM_NS}published") == "2024-05-01T12:30:00Z"
    entry = parse_atom(rendered("atom", [item])).entries[0]
    assert entry.published_parsed[:6] == (2024, 5, 1, 12, 30, 0)
    assert json.loads(rendered("json", [item]))["items"][0]["date_published"] == (
        "2024-05-01T12:30:00Z"
    )


@pytest.mark.parametrize(
    ("fmt", "show", "own_address", "page"),
    [
        ("rss", None, "https://example.org/tv/feed.xml", "https://example.org/tv/"),
        ("atom", None, "https://example.org/tv/feed.atom", "https://example.org/tv/"),
        ("json", None, "https://example.org/tv/feed.json", "https://example.org/tv/"),
        (
            "rss",
            "Marvel's Jessica Jones",
            "https://example.org/tv/shows/marvel-s-jessica-jones/feed.xml",
            "https://example.org/tv/shows/marvel-s-jessica-jones/",
        ),
        (
            "atom",
            "Daredevil",
            "https://example.org/tv/shows/daredevil/feed.atom",
            "https://example.org/tv/shows/daredevil/",
        ),
        (
            "json",
            "Luke Cage",
            "https://example.org/tv/shows/luke-cage/feed.json",
            "https://example.org/tv/shows/luke-cage/",
        ),
    ],
)
def test_each_feed_names_its_own_address_and_page(
    fmt: str, show: str | None, own_address: str, page: str
) -> None:
    settings = SETTINGS.model_copy(update={"link": "https://example.org/tv/"})
    document = digest.RENDERERS[fmt]([make_item()], settings, built=BUILT, show=show)
    assert (digest.RSS_TYPE, digest.ATOM_TYPE, digest.JSON_TYPE) == (
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    )
    if fmt == "json":
        feed = assert_valid_json_feed(document)
        assert (feed["feed_url"], feed["home_page_url"]) == (own_address, page)
        return
    parsed = parse(document) if fmt == "rss" else parse_atom(document)
    selves = [link for link in parsed.feed.links if link.rel == "self"]
    assert [(link.href, link.type) for link in selves] == [(own_address, digest.MEDIA_TYPES[fmt])]
    assert parsed.feed.link == page
    assert digest.feed_path(fmt, show) == own_address.removeprefix("https://example.org/tv/")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Marvel's Jessica Jones", "marvel-s-jessica-jones"),
        ("Jessica Jones", "jessica-jones"),
        ("Pokémon: Horizons", "pokemon-horizons"),
        ("  Law & Order: SVU!  ", "law-order-svu"),
        ("ÉLITE", "elite"),
        ("24", "24"),
    ],
)
def test_show_slugs(name: str, expected: str) -> None:
    assert digest.slug(name) == expected


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_show_feed_has_only_that_shows_items_and_says_so(fmt: str) -> None:
    items = [
        make_item(1, shows=("Daredevil",)),
        make_item(2, shows=("Luke Cage",)),
        make_item(3, shows=("Luke Cage", "Daredevil")),
    ]
    document = rendered(fmt, items, show="Daredevil")
    entries = read_back(fmt, document)
    assert [entry["title"] for entry in entries] == [items[0].title, items[2].title]
    title = (
        json.loads(document)["title"]
        if fmt == "json"
        else (parse(document) if fmt == "rss" else parse_atom(document)).feed.title
    )
    assert title == "My shows: Daredevil"
    assert read_back(fmt, rendered(fmt, items, show="Iron Fist")) == []


HOSTILE_FEED = Path(__file__).parent / "data" / "digest" / "hostile_title.rss"


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_a_twice_escaped_title_is_published_as_harmless_text(fmt: str) -> None:
    # The feed means the text "<script>alert(1)</script>"; a reader showing titles as HTML
    # must display that, never run it.
    feed = parser.parse(HOSTILE_FEED.read_bytes(), {}, "https://trades.example.com/rss")
    [article] = reading.to_articles(feed.entries[:1], "https://trades.example.com/rss")
    item = make_item(1, title=article.title, feed_title=feed.title or "")
    document = rendered(fmt, [item])

    entry = read_back(fmt, document)[0]
    assert entry["title"] == "< script>alert(1)< /script>"
    assert html_facts(f"<p>{entry['title']}</p>").tags == ["p"]
    # The feed's own title is escaped twice too: its text is "Night <b>Desk</b>".
    assert html_facts(entry["html"]).paragraphs[-1] == "Source: Night < b>Desk< /b>"
    if fmt != "json":
        assert b"alert(1)&lt;/script" not in document
    assert b"<script" not in document


def test_no_title_in_any_format_can_open_a_tag() -> None:
    title = "<img src=x onerror=alert(1)> <!-- c --> <?php x ?> </b> a < b"
    for fmt in ("rss", "atom", "json"):
        published = read_back(fmt, rendered(fmt, [make_item(title=title)]))[0]["title"]
        assert published == "< img src=x onerror=alert(1)> < !-- c --> < ?php x ?> < /b> a < b"


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_several_sources_are_all_named_with_their_links(fmt: str) -> None:
    item = make_item(
        sources=(
            Source("Example Entertainment", "https://news.example.com/rss", "https://n.ex/1"),
            Source("Variety", "https://variety.example/feed/", "https://variety.example/s/1"),
            Source("Deadline", "https://deadline.example/feed/", None),
        )
    )
    facts = html_facts(read_back(fmt, rendered(fmt, [item]))[0]["html"])
    assert facts.paragraphs[-2:] == [
        "Source: Example Entertainment",
        "Also reported by: Variety, Deadline",
    ]
    hrefs = [value for _, name, value in facts.attributes if name == "href"]
    assert hrefs == [
        "https://news.example.com/rss",
        "https://variety.example/s/1",
        "https://deadline.example/feed/",
    ]


def test_enclosures_in_every_format() -> None:
    audio = Enclosure("https://cdn.example.com/ep1.mp3", "audio/mpeg", 12345)
    image = Enclosure("https://cdn.example.com/still.jpg")
    item = make_item(enclosures=(Enclosure("javascript:x()"), audio, image))

    rss = parse(rendered("rss", [item])).entries[0]
    assert [(e.href, e.type, e.length) for e in rss.enclosures] == [
        ("https://cdn.example.com/ep1.mp3", "audio/mpeg", "12345")
    ]
    atom_entry = parse_atom(rendered("atom", [item])).entries[0]
    assert [(e.href, e.get("length")) for e in atom_entry.enclosures] == [
        ("https://cdn.example.com/ep1.mp3", "12345"),
        ("https://cdn.example.com/still.jpg", None),
    ]
    assert atom_entry.enclosures[0].type == "audio/mpeg"
    json_item = json.loads(rendered("json", [item]))["items"][0]
    assert json_item["attachments"] == [
        {
            "url": "https://cdn.example.com/ep1.mp3",
            "mime_type": "audio/mpeg",
            "size_in_bytes": 12345,
        },
        {"url": "https://cdn.example.com/still.jpg", "mime_type": "application/octet-stream"},
    ]


def test_rss_names_authors_with_dc_creator() -> None:
    document = rendered("rss", [make_item(authors=("Nellie Andreeva", "Joe Otterson"))])
    raw = assert_valid_rss20(document).find("item")
    assert raw is not None
    creators = raw.findall("{http://purl.org/dc/elements/1.1/}creator")
    assert [creator.text for creator in creators] == ["Nellie Andreeva", "Joe Otterson"]
    assert raw.find("author") is None  # RSS <author> must be an e-mail address


def test_json_feed_untitled_item_still_has_content() -> None:
    feed = assert_valid_json_feed(rendered("json", [make_item(title="", summary=())]))
    assert "title" not in feed["items"][0]
    assert html_facts(feed["items"][0]["content_html"]).paragraphs[-1] == (
        "Source: Example Entertainment"
    )
    atom_entry = parse_atom(rendered("atom", [make_item(title="")])).entries[0]
    assert atom_entry.title == "https://news.example.com/story/1"


def test_rss_points_browsers_at_the_stylesheet_which_renders_it() -> None:
    document = rendered("rss", [make_item(title="Casting <news> & more")])
    assert document.splitlines()[1] == (
        b'<?xml-stylesheet type="text/xsl" href="https://digest.example.org/feed.xsl"?>'
    )
    stylesheet = lxml_etree.XSLT(lxml_etree.fromstring(digest.stylesheet()))
    page = str(stylesheet(lxml_etree.fromstring(document)))
    assert "<h1>My shows</h1>" in page
    assert '<a href="https://news.example.com/story/1">Casting &lt; news&gt; &amp; more</a>' in page
    assert "<p>First sentence of story 1. Second sentence of story 1.</p>" in page


def test_every_file_is_written_beside_the_digest(tmp_path: Path) -> None:
    settings = SETTINGS.model_copy(update={"path": tmp_path / "digest.xml"})
    items = [make_item(1, shows=("Daredevil",)), make_item(2, shows=("Luke Cage",))]

    paths = publish(
        items, settings, built=BUILT, shows=["Daredevil", "Luke Cage", "Iron Fist"]
    )

    names = sorted(str(path.relative_to(tmp_path)) for path in paths)
    assert names == sorted(
        ["digest.xml", "digest.atom", "digest.json"]
        + [
            f"shows/{show}.{ext}"
            for show in ("daredevil", "luke-cage", "iron-fist")
            for ext in ("xml", "atom", "json")
        ]
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "digest.atom",
        "digest.json",
        "digest.xml",
        "shows",
    ]
    assert_valid_atom((tmp_path / "digest.atom").read_bytes())
    assert [
        entry["title"]
        for entry in read_back("rss", (tmp_path / "shows/daredevil.xml").read_bytes())
    ] == [items[0].title]
    assert read_back("json", (tmp_path / "shows/iron-fist.json").read_bytes()) == []


def test_publishing_honours_formats_and_per_show(tmp_path: Path) -> None:
    settings = SETTINGS.model_copy(update={"path": tmp_path / "digest.xml"})
    paths = publish(
        [make_item()],
        settings,
        built=BUILT,
        formats=["rss", "json"],
        per_show=False,
        shows=["Daredevil"],
    )
    assert paths == [tmp_path / "digest.xml", tmp_path / "digest.json"]
    assert sorted(tmp_path.iterdir()) == sorted(paths)

    with pytest.raises(DigestError, match="unknown digest format 'opml'"):
        publish([make_item()], settings, built=BUILT, formats=["opml"])


def test_publishing_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    settings = SETTINGS.model_copy(update={"path": tmp_path / "digest.xml"})
    items = [make_item(1), make_item(2)]
    paths = publish(items, settings, built=BUILT, shows=["Daredevil"])
    for path in paths:
        os.utime(path, (1_700_000_000, 1_700_000_000))
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths}

    publish(items, settings, built=BUILT + timedelta(hours=1), shows=["Daredevil"])

    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths} == before

    changed = [make_item(1, title="A corrected title"), make_item(2)]
    publish(changed, settings, built=BUILT + timedelta(hours=2), shows=["Daredevil"])
    for path in paths:
        assert path.stat().st_mtime_ns != before[path][1], path
        assert b"A corrected title" in path.read_bytes()
    atom_feed = assert_valid_atom((tmp_path / "digest.atom").read_bytes())
    assert atom_feed.findtext(f"{ATOM_NS}updated") == "2024-05-06T09:08:09Z"


def test_served_files_route_each_feed_address_to_its_file(tmp_path: Path) -> None:
    digest_path = tmp_path / "digest.xml"
    routes = digest.served_files(digest_path, ["rss", "json"], True, ["Marvel's Jessica Jones"])
    assert routes == {
        "feed.xml": (digest_path, "application/rss+xml"),
        "feed.json": (tmp_path / "digest.json", "application/feed+json"),
        "shows/marvel-s-jessica-jones/feed.xml": (
            tmp_path / "shows" / "marvel-s-jessica-jones.xml",
            "application/rss+xml",
        ),
        "shows/marvel-s-jessica-jones/feed.json": (
            tmp_path / "shows" / "marvel-s-jessica-jones.json",
            "application/feed+json",
        ),
    }
    settings = SETTINGS.model_copy(update={"path": digest_path})
    written = publish(
        [make_item()],
        settings,
        built=BUILT,
        formats=["rss", "json"],
        shows=["Marvel's Jessica Jones"],
    )
    assert sorted(written) == sorted(path for path, _ in routes.values())


def test_a_digest_path_ending_like_another_format_is_never_written_over(tmp_path: Path) -> None:
    settings = SETTINGS.model_copy(update={"path": tmp_path / "digest.json"})
    written = publish([make_item()], settings, built=BUILT, per_show=False)
    assert written == [settings.path, tmp_path / "digest.atom", tmp_path / "digest.json.json"]
    assert_valid_rss20(settings.path.read_bytes())
    assert_valid_json_feed((tmp_path / "digest.json.json").read_bytes())


def test_an_atom_id_is_an_absolute_iri_even_for_a_bare_guid() -> None:
    items = [make_item(1, guid="urn:feedwatch:0a1b"), make_item(2, guid="story 2/ü")]
    ids = [entry["id"] for entry in read_back("atom", rendered("atom", items))]
    assert ids == ["urn:feedwatch:0a1b", "urn:feedwatch:guid:story%202%2F%C3%BC"]
