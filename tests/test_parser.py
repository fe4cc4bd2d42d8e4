from __future__ import annotations

import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedwatch.errors import ParseError
from feedwatch.models import ParsedFeed
from feedwatch.poll.parser import parse

DATA = Path(__file__).parent / "data" / "parser"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
XML = {"Content-Type": "application/xml"}


def _listing(folder: Path, pattern: str = "*") -> list[Any]:
    """File names under `folder`, read at collection time; one skipped case when it is absent."""
    if not folder.is_dir():
        return [
            pytest.param("", marks=pytest.mark.skip(reason=f"shared corpus not found at {folder}"))
        ]
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob(pattern)
        if path.is_file() and path.suffix != ".md"
    )


def fixture(name: str, url: str = "https://feeds.example/feed.xml", **headers: str) -> ParsedFeed:
    return parse((DATA / name).read_bytes(), {**XML, **headers}, url)


def test_rss2_entries_and_fields() -> None:
    feed = fixture("rss20_content.xml")
    assert feed.title == "Screen Ledger"
    assert feed.link == "https://screenledger.example/"
    assert feed.warning is None
    renewal, casting, ratings = feed.entries

    assert renewal.id == "screenledger-10421"
    assert renewal.title == "The Lantern Keepers renewed for a fourth season"
    assert renewal.link == "https://screenledger.example/news/lantern-keepers-season-four"
    assert renewal.published == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert renewal.summary_html == "<p>The lighthouse drama returns next spring.</p>"
    assert renewal.content_html.startswith("<p>The lighthouse drama returns next spring, the")
    assert "<em>eight</em> episodes" in renewal.content_html

    # Markup in a title is kept for the caller to turn into text.
    assert casting.title == "Harbour Lights star joins <i>Glass Orchard</i> cast"
    assert casting.published == datetime(2024, 3, 6, 22, 15, tzinfo=UTC)
    assert casting.content_html == ""
    assert casting.summary_html == "Casting news for the orchard mystery."

    assert ratings.link is None
    assert ratings.published is None


def test_entry_without_guid_is_identified_by_its_link_and_title() -> None:
    casting = fixture("rss20_content.xml").entries[1]
    assert casting.id.startswith("sha256:")
    assert casting.id == fixture("rss20_content.xml").entries[1].id
    retitled = (
        (DATA / "rss20_content.xml")
        .read_bytes()
        .replace(b"Harbour Lights star joins", b"Harbour Lights lead joins")
    )
    assert parse(retitled, XML, "https://feeds.example/feed.xml").entries[1].id != casting.id
    # The link itself stays as the feed gave it; canonicalising it is the caller's job.
    assert casting.link == (
        "https://screenledger.example/news/glass-orchard-casting"
        "?utm_source=rss&utm_medium=feed&ref=home#comments"
    )


def test_entry_without_guid_or_link_gets_a_stable_hash_id() -> None:
    first = fixture("rss20_content.xml").entries[2]
    again = fixture("rss20_content.xml").entries[2]
    assert first.id.startswith("sha256:")
    assert first.id == again.id
    retitled = (
        (DATA / "rss20_content.xml")
        .read_bytes()
        .replace(b"Weekend ratings round-up", b"Weekend ratings, revised")
    )
    assert parse(retitled, XML, "https://feeds.example/feed.xml").entries[2].id != first.id


def test_longest_content_block_is_chosen() -> None:
    ratings = fixture("rss20_content.xml").entries[2]
    assert "behind the quiz revival" in ratings.content_html
    assert "Short version" not in ratings.content_html
    assert ratings.summary_html == "Midnight Diner Club held its lead on Sunday night."


def test_atom_relative_links_resolve_against_the_feed_url() -> None:
    feed = fixture("atom10.xml", url="https://boxset.example/feeds/atom.xml")
    assert feed.title == "Box Set Bulletin"
    assert feed.link == "https://boxset.example/"
    first, second = feed.entries
    assert first.id == "tag:boxset.example,2024:copper-valley-first-look"
    assert first.title == "First look at <b>Copper Valley</b>"
    assert first.link == "https://boxset.example/stories/copper-valley-first-look"
    assert first.summary_html == "The western arrives in June."
    assert second.link == "https://boxset.example/stories/night-ferry-cancelled"


def test_content_location_header_overrides_the_base() -> None:
    feed = fixture(
        "atom10.xml",
        url="https://boxset.example/feeds/atom.xml",
        **{"Content-Location": "https://mirror.example/boxset/atom.xml"},
    )
    assert feed.entries[0].link == "https://mirror.example/stories/copper-valley-first-look"


def xml_base_feed(base: str) -> bytes:
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}"><title>Bases</title>'
        '<entry xml:base="reviews/"><id>1</id><title>One</title><link href="one.html"/></entry>'
        '<entry><id>2</id><title>Two</title><link href="/two.html"/></entry></feed>'
    ).encode()


def test_each_document_resolves_links_against_its_own_xml_base() -> None:
    # The same relative links, one document after another, under different bases.
    for base in ("https://a.example/tv/", "https://b.example/film/", "https://a.example/tv/"):
        one, two = parse(xml_base_feed(base), XML, "https://feeds.example/atom.xml").entries
        assert one.link == base + "reviews/one.html"
        assert two.link == base.rsplit("/", 2)[0] + "/two.html"


def test_an_xml_base_of_an_unsafe_scheme_is_not_taken() -> None:
    feed = parse(xml_base_feed("javascript:alert(1)//"), XML, "https://feeds.example/atom.xml")
    assert [entry.link for entry in feed.entries] == [
        "https://feeds.example/reviews/one.html",
        "https://feeds.example/two.html",
    ]


def test_atom_dates_prefer_published_then_updated() -> None:
    first, second = fixture("atom10.xml").entries
    assert first.published == datetime(2024, 4, 1, 16, 45, tzinfo=UTC)  # not the later <updated>
    assert second.published == datetime(2024, 3, 31, 1, 10, tzinfo=UTC)  # only <updated>


def test_atom_content_only_entry_is_not_duplicated_into_summary() -> None:
    second = fixture("atom10.xml").entries[1]
    assert second.content_html == (
        "<p>The streamer will not order a third run of the ferry thriller.</p>"
    )
    assert second.summary_html == ""


def test_rss1_rdf() -> None:
    feed = fixture("rss10.rdf")
    assert feed.title == "Teletext Revival"
    quiz, wedding = feed.entries
    assert quiz.id == "https://teletext-revival.example/p/quiz-night"
    assert quiz.title == "Quiz Night moves to Thursdays"
    assert quiz.published == datetime(2024, 2, 14, 20, 0, tzinfo=UTC)  # from dc:date
    assert quiz.summary_html == "The panel show swaps slots with the cookery contest."
    assert wedding.published is None


@pytest.mark.parametrize("name", ["rss20_content.xml", "atom10.xml", "rss10.rdf"])
def test_dates_are_aware_utc(name: str) -> None:
    dates = [entry.published for entry in fixture(name).entries if entry.published]
    assert dates
    assert all(date.utcoffset() == timedelta(0) for date in dates)


def test_malformed_but_recoverable_feed_gives_entries_and_a_warning() -> None:
    feed = fixture("rss_malformed.xml")
    assert [entry.title for entry in feed.entries] == [
        "Gossip & rumours from the soap set",
        "Reality show reunion announced",
    ]
    assert feed.entries[1].id == "https://tabloid-telly.example/a/reunion"
    assert feed.warning is not None
    assert feed.warning.startswith("malformed XML")
    assert "\n" not in feed.warning


def test_header_charset_is_honoured() -> None:
    feed = fixture("latin1.xml", **{"Content-Type": "application/rss+xml; charset=ISO-8859-1"})
    assert feed.title == "Café Télé Hebdo"
    entry = feed.entries[0]
    assert entry.title == "Les Séries de l'été : « Château Mistral » revient"
    assert "six épisodes d'une ½ heure" in entry.summary_html
    assert feed.warning is None


def test_without_a_charset_the_guess_is_reported() -> None:
    feed = fixture("latin1.xml")
    assert feed.entries
    assert feed.warning is not None
    assert "CharacterEncodingOverride" in feed.warning


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="HTML page"):
        fixture("html_page.html", **{"Content-Type": "text/html; charset=utf-8"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (b"  \r\n\t", "empty document"),
        (bytes(range(256)) * 8, "not an RSS/Atom feed"),
        (b"Just some plain words about television.", "not an RSS/Atom feed"),
        (b"<?xml version='1.0'?><catalogue><show>Harbour Lights</show></catalogue>", "not an RSS"),
        (json.dumps({"title": "TV", "items": []}).encode(), "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not valid JSON"),
    ],
    ids=["empty", "whitespace", "binary", "plain-text", "other-xml", "json-no-version", "bad-json"],
)
def test_not_a_feed_raises_a_one_line_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        parse(body, XML, "https://feeds.example/feed.xml")
    assert "\n" not in str(caught.value)


def test_broken_feed_with_nothing_recoverable_is_an_error() -> None:
    truncated = b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Cut off'
    with pytest.raises(ParseError, match="no readable entries"):
        parse(truncated, XML, "https://feeds.example/feed.xml")


def test_well_formed_empty_feed_is_not_an_error() -> None:
    empty = b'<rss version="2.0"><channel><title>Quiet week</title></channel></rss>'
    feed = parse(empty, XML, "https://feeds.example/feed.xml")
    assert feed.title == "Quiet week"
    assert feed.entries == ()
    assert feed.warning is None


def test_body_that_looks_like_a_file_name_is_never_opened(tmp_path: Path) -> None:
    feed_file = tmp_path / "feed.xml"
    feed_file.write_bytes((DATA / "rss20_content.xml").read_bytes())
    with pytest.raises(ParseError):
        parse(str(feed_file).encode(), XML, "https://feeds.example/feed.xml")


def test_small_declared_entities_still_expand() -> None:
    document = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY show "Harbour Lights">
]>
<rss version="2.0"><channel><title>&show; fans</title>
<item><title>&show; returns</title><description>More &show; in May.</description></item>
</channel></rss>"""
    entry = parse(document, XML, "https://feeds.example/feed.xml").entries[0]
    assert entry.title == "Harbour Lights returns"
    assert entry.summary_html == "More Harbour Lights in May."


@pytest.mark.parametrize("name", ["entity_bomb.xml", "quadratic_blowup.xml"])
def test_entity_bombs_are_refused_quickly_and_cheaply(name: str) -> None:
    body = (DATA / name).read_bytes()
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ParseError, match="entity bomb"):
            parse(body, XML, "https://feeds.example/feed.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 10 * 1024 * 1024


def _with_entities(declarations: list[str], title: str) -> bytes:
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        + "\n".join(declarations)
        + f'\n]>\n<rss version="2.0"><channel><title>Deep Cuts</title><item><title>{title}</title>'
        '<guid isPermaLink="false">deep-1</guid></item></channel></rss>'
    ).encode()


def test_entity_declarations_chained_thousands_deep_still_parse() -> None:
    # Each entity names the one before: a short expansion, however long the chain.
    chain = ['<!ENTITY e0 "Harbour Lights">'] + [
        f'<!ENTITY e{i} "&e{i - 1};">' for i in range(1, 5000)
    ]
    feed = parse(_with_entities(chain, "&e4999; returns"), XML, "https://feeds.example/feed.xml")
    assert [entry.id for entry in feed.entries] == ["deep-1"]


def test_entity_bomb_chained_thousands_deep_is_refused() -> None:
    chain = ['<!ENTITY e0 "ha">'] + [
        f'<!ENTITY e{i} "&e{i - 1};&e{i - 1};">' for i in range(1, 5000)
    ]
    started = time.monotonic()
    with pytest.raises(ParseError, match="entity bomb"):
        parse(_with_entities(chain, "&e4999;"), XML, "https://feeds.example/feed.xml")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "declarations",
    [
        ['<!ENTITY loop "again &loop;">'],
        ['<!ENTITY loop "&echo;">', '<!ENTITY echo "&reply;">', '<!ENTITY reply "&loop;">'],
    ],
)
def test_entity_that_contains_itself_is_refused(declarations: list[str]) -> None:
    with pytest.raises(ParseError, match=r"entity &\w+; is declared to contain itself"):
        parse(_with_entities(declarations, "&loop;"), XML, "https://feeds.example/feed.xml")


def test_entity_loop_nothing_refers_to_is_harmless() -> None:
    declarations = ['<!ENTITY loop "&echo;">', '<!ENTITY echo "&loop;">']
    feed = parse(_with_entities(declarations, "Plain title"), XML, "https://feeds.example/f")
    assert [entry.title for entry in feed.entries] == ["Plain title"]


def test_characters_xml_forbids_never_reach_ids_or_links() -> None:
    # feedparser's fallback parser hands "&#0;" and raw control bytes through as they are.
    document = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Night&#0;Shift</title>'
        b"<link>https://night.example/\x00</link>"
        b"<item><title>a</title><guid>tag:night.example,2024:&#0;42\x01</guid>"
        b"<link>https://night.example/a/4&#0;2\x00</link></item>"
        b"<item><title>b</title><link>https://night.example/b/\x00\x0b7</link></item>"
        b"</channel></rss>"
    )
    feed = parse(document, XML, "https://feeds.example/feed.xml")
    first, second = feed.entries
    assert (first.id, first.link) == ("tag:night.example,2024:42", "https://night.example/a/42")
    assert second.link == "https://night.example/b/ 7"
    assert (feed.title, feed.link) == ("NightShift", "https://night.example/")


def _titled(reference: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Odd " + reference + b"</title><guid>odd-1</guid></item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("reference", "text"),
    [
        (b"&#55357;&#56832;", "\U0001f600"),  # an emoji written as a UTF-16 surrogate pair
        (b"&#xD83D;&#xDE00;", "\U0001f600"),
        (b"&#xD800;", "\ufffd"),  # a lone surrogate is no character
        (b"&#55296;", "\ufffd"),
        (b"&#x110000;", "\ufffd"),  # past the last code point
    ],
)
def test_character_references_to_no_character_are_repaired(reference: bytes, text: str) -> None:
    entry = parse(_titled(reference), XML, "https://feeds.example/feed.xml").entries[0]
    assert entry.title == f"Odd {text}"


def test_character_reference_too_large_to_repair_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unreadable feed"):
        parse(_titled(b"&#1" + b"0" * 30 + b";"), XML, "https://feeds.example/feed.xml")


@pytest.mark.parametrize("name", _listing(SHARED / "real-feeds"))
def test_real_feeds_parse_or_fail_cleanly(name: str, shared_corpus: Path) -> None:
    body = (shared_corpus / "real-feeds" / name).read_bytes()
    headers = {"Content-Type": "application/feed+json"} if name.endswith(".json") else XML
    try:
        feed = parse(body, headers, f"https://feeds.example/{name}")
    except ParseError as error:
        print(f"{name}: ParseError: {error}")
        assert "\n" not in str(error)
        return
    print(f"{name}: {len(feed.entries)} entries, warning={feed.warning}")
    assert feed.entries
    assert all(entry.id for entry in feed.entries)
    assert all(
        entry.published is None or entry.published.utcoffset() == timedelta(0)
        for entry in feed.entries
    )


@pytest.mark.parametrize("name", _listing(SHARED / "feedparser-tests" / "illformed"))
def test_illformed_documents_raise_nothing_but_parse_error(name: str, shared_corpus: Path) -> None:
    body = (shared_corpus / "feedparser-tests" / "illformed" / name).read_bytes()
    try:
        feed = parse(body, {}, "https://feeds.example/feed.xml")
    except ParseError as error:
        print(f"{name}: ParseError: {error}")
        assert "\n" not in str(error)
    else:
        print(f"{name}: {len(feed.entries)} entries, warning={feed.warning}")
        assert feed.warning is None or "\n" not in feed.warning
