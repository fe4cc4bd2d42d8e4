"""Entry identity, dates, authors, enclosures, tags and languages, from RSS and Atom."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from feedwatch.models import Enclosure, ParsedFeed
from feedwatch.poll.parser import parse

DATA = Path(__file__).parent / "data" / "parser"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def fixture(name: str, **options: object) -> ParsedFeed:
    body = (DATA / name).read_bytes()
    return parse(
        body, {"Content-Type": "application/xml"}, "https://feeds.example/sub/feed", **options
    )


def test_entries_sharing_a_link_get_different_stable_ids() -> None:
    finale, making_of, *_ = fixture("rss_extras.xml").entries
    assert finale.link == making_of.link == "https://novelas.example/podcast/"
    assert finale.id != making_of.id
    assert finale.id == fixture("rss_extras.xml").entries[0].id


def test_links_keep_their_fragments_and_ids_tell_them_apart() -> None:
    part_one, part_two = fixture("rss_extras.xml").entries[2:4]
    assert part_one.title == part_two.title
    assert part_one.link == "https://novelas.example/ao-vivo#block-1"
    assert part_two.link == "https://novelas.example/ao-vivo#block-2"
    assert part_one.id != part_two.id


def test_own_ids_are_kept_as_given() -> None:
    first, second = fixture("atom_extras.xml").entries
    assert first.id == "tag:boxset.example,2024:kupfertal"
    assert second.id == "tag:boxset.example,2024:night-ferry"


def test_entry_with_nothing_to_show_is_skipped_and_counted() -> None:
    feed = fixture("rss_extras.xml")
    assert feed.skipped == 1
    assert [entry.title for entry in feed.entries] == [
        "Capítulo final de Farol do Porto",
        "Bastidores de Farol do Porto",
        "Ao vivo: parte 1",
        "Ao vivo: parte 1",
        "Estreia marcada",
    ]


def test_dates_in_the_feeds_language_are_read() -> None:
    finale, making_of = fixture("rss_extras.xml").entries[:2]
    assert finale.published == datetime(2018, 9, 24, 22, 22, tzinfo=UTC)  # "Seg, 24 Set" -0300
    assert making_of.published == datetime(2018, 9, 23, 13, 0, tzinfo=UTC)


def test_german_date_without_time_in_a_german_feed() -> None:
    body = (
        b'<rss version="2.0"><channel><title>Serien</title><language>de</language>'
        b"<item><title>Kupfertal</title><pubDate>Mo, 24 Sep 2018</pubDate></item>"
        b"</channel></rss>"
    )
    entry = parse(body, {}, "https://feeds.example/de").entries[0]
    assert entry.published == datetime(2018, 9, 24, tzinfo=UTC)


def test_unreadable_date_is_none() -> None:
    assert fixture("rss_extras.xml").entries[2].published is None  # "quando der"


def test_future_dates_become_the_fetch_time() -> None:
    premiere = fixture("rss_extras.xml", now=NOW).entries[-1]
    assert premiere.published == NOW
    assert fixture("rss_extras.xml").entries[-1].published == datetime(2035, 1, 1, tzinfo=UTC)


def test_authors_are_names_else_email_addresses() -> None:
    finale, making_of = fixture("rss_extras.xml").entries[:2]
    assert finale.authors == ("Marta Lume",)
    assert making_of.authors == ("redacao@novelas.test",)
    first, second = fixture("atom_extras.xml").entries
    assert first.authors == ("Greta Schnitt",)
    assert second.authors == ("desk@boxset.test",)  # written twice, listed once


def test_enclosures_from_rss_and_media_rss_resolved_and_deduplicated() -> None:
    finale, making_of = fixture("rss_extras.xml").entries[:2]
    assert finale.enclosures == (
        Enclosure("https://feeds.example/audio/episodio-12.mp3", "audio/mpeg", 2400000),
        Enclosure("https://novelas.example/audio/episodio-12.mp3", "audio/mpeg", None),
        Enclosure("https://img.novelas.example/farol.jpg", "image/jpeg", 4114),
        Enclosure("https://feeds.example/sub/thumbs/farol-small.jpg", None, None),
    )
    # A length that is no byte count is dropped, not the enclosure.
    assert making_of.enclosures == (
        Enclosure("https://feeds.example/audio/episodio-11.mp3", "audio/mpeg", None),
    )


def test_atom_enclosure_link() -> None:
    first = fixture("atom_extras.xml").entries[0]
    assert first.enclosures == (
        Enclosure("https://feeds.example/media/kupfertal.mp4", "video/mp4", 1048576),
    )


def test_tags_from_categories() -> None:
    assert fixture("rss_extras.xml").entries[0].tags == ("Farol do Porto", "finais")
    assert fixture("atom_extras.xml").entries[0].tags == ("western", "first-looks")


def test_feed_language_is_lower_case_as_written() -> None:
    assert fixture("rss_extras.xml").language == "pt-br"
    assert fixture("atom_extras.xml").language == "en-gb"  # the root's xml:lang


def test_entry_language_only_when_the_entry_declares_one() -> None:
    first, second = fixture("atom_extras.xml").entries
    assert first.language == "de-at"
    assert second.language is None
    assert all(entry.language is None for entry in fixture("rss_extras.xml").entries)


def test_server_language_is_not_the_documents() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'
    )
    feed = parse(body, {"Content-Language": "fr"}, "https://feeds.example/f")
    assert feed.language is None


def test_rss_item_with_its_own_xml_lang() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><language>en</language>'
        b'<item xml:lang="fr-CA"><title>Premi\xc3\xa8re</title></item>'
        b"<item><title>Premiere</title></item></channel></rss>"
    )
    feed = parse(body, {}, "https://feeds.example/f")
    assert [entry.language for entry in feed.entries] == ["fr-ca", None]
    assert feed.language == "en"


def test_real_feed_with_illegally_nested_items_keeps_its_stories(shared_corpus: Path) -> None:
    # Each story's nested <item> shows up as an entry of its own with nothing in it.
    body = (shared_corpus / "real-feeds" / "pcmag-dvorak-illegally-nested.rss.xml").read_bytes()
    feed = parse(body, {}, "https://feeds.example/dvorak")
    assert (len(feed.entries), feed.skipped) == (10, 10)
    assert all(entry.title and entry.link for entry in feed.entries)


def test_portuguese_dates_in_a_real_feed_without_a_language(shared_corpus: Path) -> None:
    body = (shared_corpus / "real-feeds" / "uol-noticias.rss").read_bytes()
    feed = parse(body, {}, "https://feeds.example/uol")
    assert feed.language is None  # <language></language>
    assert feed.entries[0].published == datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)
    assert all(entry.published for entry in feed.entries)
