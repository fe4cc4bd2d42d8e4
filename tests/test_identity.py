"""Every article kept, right and current: entry identity and re-judging, end to end."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from feedwatch.cli import main
from feedwatch.poll import parser
from feedwatch.poll.reading import to_articles
from feedwatch.urls import identity_keys

DATA = Path(__file__).parent / "data" / "identity"

DAREDEVIL = "  - name: Daredevil\n    keywords: [Daredevil]\n"
LUKE_CAGE = "  - name: Luke Cage\n    keywords: [Luke Cage]\n"
DEFENDERS = "  - name: The Defenders\n    keywords: [The Defenders]\n"
SEVERANCE = "  - name: Severance\n    keywords: [Severance]\n"


def write_config(folder: Path, urls: list[str], shows: str, sentences: int = 3) -> Path:
    feeds = "".join(f"  - url: {url}\n" for url in urls)
    config = folder / "feeds.yaml"
    config.write_text(
        "database: sqlite:///state/feedwatch.db\n"
        "poll:\n  timeout: 5s\n"
        "fetch:\n  full_text: false\n"
        f"summary:\n  sentences: {sentences}\n"
        "digest:\n  path: out/digest.xml\n"
        f"feeds:\n{feeds}shows:\n{shows}",
        encoding="utf-8",
    )
    return config


def digest(folder: Path) -> feedparser.FeedParserDict:
    return feedparser.parse((folder / "out" / "digest.xml").read_bytes())


def items(folder: Path) -> dict[str, list[str]]:
    """Digest item title -> its categories (the shows)."""
    return {e.title: sorted(tag.term for tag in e.get("tags", ())) for e in digest(folder).entries}


def test_entries_sharing_a_home_page_link_stay_apart(server, tmp_path, capsys) -> None:
    url = server.serve("/podcast.rss", (DATA / "podcast.rss").read_bytes())
    config = write_config(tmp_path, [url], DAREDEVIL + LUKE_CAGE)
    assert main(["-c", str(config), "once"]) == 0
    assert "3 new and 0 updated articles" in capsys.readouterr().out
    # Each episode keeps its own shows; none took another's.
    assert items(tmp_path) == {
        "Episode 3: Daredevil's second season": ["Daredevil"],
        "Episode 2: Luke Cage revisited": ["Luke Cage"],
    }


def test_a_live_blogs_blocks_are_told_apart_by_their_fragments(server, tmp_path) -> None:
    url = server.serve("/live.rss", (DATA / "liveblog.rss").read_bytes())
    config = write_config(tmp_path, [url], DAREDEVIL + DEFENDERS)
    assert main(["-c", str(config), "once"]) == 0
    links = {entry.title: entry.link for entry in digest(tmp_path).entries}
    assert links == {
        "Netflix confirms The Defenders reunion": "https://tvwire.example/live/upfronts#block-2",
        "Daredevil gets an early renewal": "https://tvwire.example/live/upfronts#block-1",
    }


def test_identity_keys_keep_a_fragment_only_where_it_tells_entries_apart() -> None:
    assert identity_keys(
        [
            "https://a.example/story#comments",
            "https://a.example/live#1",
            "https://a.example/live#2",
            "https://a.example/home",
            "https://a.example/home",
            None,
        ]
    ) == [
        "https://a.example/story",
        "https://a.example/live#1",
        "https://a.example/live#2",
        None,
        None,
        None,
    ]


def test_a_link_a_feed_shares_between_entries_is_not_another_feeds_article(
    server, tmp_path
) -> None:
    # Another feed links one story to the podcast's home page: it must not join an episode.
    other = (DATA / "severance.rss").read_text().replace(
        "https://officehours.example/daredevil-star-comedy", "https://streaminghour.example/"
    )
    podcast = server.serve("/podcast.rss", (DATA / "podcast.rss").read_bytes())
    office = server.serve("/office.rss", other.encode())
    config = write_config(tmp_path, [podcast, office], DAREDEVIL)
    assert main(["-c", str(config), "once"]) == 0
    assert sorted(items(tmp_path)) == [
        "Daredevil star joins a workplace comedy",
        "Episode 3: Daredevil's second season",
    ]


def test_to_articles_gives_display_links_without_page_fragments() -> None:
    parsed = parser.parse((DATA / "liveblog.rss").read_bytes(), {}, "https://tvwire.example/")
    articles = to_articles(parsed.entries, "https://tvwire.example/")
    assert [a.key for a in articles] == [
        "https://tvwire.example/live/upfronts#block-2",
        "https://tvwire.example/live/upfronts#block-1",
    ]


# --- re-judging ---------------------------------------------------------------------------


@pytest.fixture
def office(server, tmp_path) -> tuple[str, Path]:
    url = server.serve("/office.rss", (DATA / "severance.rss").read_bytes())
    return url, write_config(tmp_path, [url], DAREDEVIL)


def test_a_show_added_later_finds_the_articles_already_stored(office, server, tmp_path) -> None:
    url, config = office
    assert main(["-c", str(config), "once"]) == 0
    assert items(tmp_path) == {"Daredevil star joins a workplace comedy": ["Daredevil"]}

    write_config(tmp_path, [url], DAREDEVIL + SEVERANCE)
    assert main(["-c", str(config), "once"]) == 0
    # Refetched for nothing: the second cycle was a 304, yet the stored article now matches,
    # in date order (its own date, not "now").
    assert [hit.status for hit in server.hits("/office.rss")] == [200, 304]
    entries = digest(tmp_path).entries
    assert [entry.title for entry in entries] == [
        "Severance sets its third-season premiere",
        "Daredevil star joins a workplace comedy",
    ]
    assert entries[0].published_parsed[:3] == (2026, 3, 2)


def test_a_show_removed_leaves_its_items(office, tmp_path) -> None:
    url, config = office
    write_config(tmp_path, [url], DAREDEVIL + SEVERANCE)
    assert main(["-c", str(config), "once"]) == 0
    assert len(items(tmp_path)) == 2

    write_config(tmp_path, [url], SEVERANCE)
    assert main(["-c", str(config), "once"]) == 0
    assert items(tmp_path) == {"Severance sets its third-season premiere": ["Severance"]}


def test_an_edited_keyword_is_judged_again(office, tmp_path) -> None:
    url, config = office
    assert main(["-c", str(config), "once"]) == 0
    edited = "  - name: Daredevil\n    keywords: [Daredevil]\n    exclude: [workplace comedy]\n"
    write_config(tmp_path, [url], edited)
    assert main(["-c", str(config), "once"]) == 0
    assert items(tmp_path) == {}


def test_a_new_summary_length_redoes_the_summaries(office, tmp_path) -> None:
    url, config = office
    assert main(["-c", str(config), "once"]) == 0
    [before] = digest(tmp_path).entries
    write_config(tmp_path, [url], DAREDEVIL, sentences=1)
    assert main(["-c", str(config), "once"]) == 0
    [after] = digest(tmp_path).entries
    assert before.summary.count(". ") > after.summary.count(". ")
    assert after.summary.startswith("<p>A Daredevil regular has joined a new workplace comedy.</p>")


# --- retention ------------------------------------------------------------------------------


def test_prune_deletes_what_retention_says_and_the_digest_follows(
    office, server, tmp_path, capsys
) -> None:
    url, config = office
    write_config(tmp_path, [url], DAREDEVIL + SEVERANCE)
    assert main(["-c", str(config), "once"]) == 0
    assert len(items(tmp_path)) == 2
    capsys.readouterr()
    # The fixture's articles are from March 2026: older than 30 days, matched or not.
    text = config.read_text() + "retention:\n  unmatched: 30d\n  matched: 60d\n"
    config.write_text(text, encoding="utf-8")
    assert main(["-c", str(config), "prune"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deleted 0 unmatched and 2 matched articles")
    assert "digest: 0 items" in out
    assert items(tmp_path) == {}
    # The feed still lists them (answering in full, not 304): nothing comes back as new.
    server.serve("/office.rss", (DATA / "severance.rss").read_bytes(), conditional=False)
    assert main(["-c", str(config), "once"]) == 0
    assert "0 new and 0 updated articles" in capsys.readouterr().out
    assert [hit.status for hit in server.hits("/office.rss")][-1] == 200


# --- any bytes in, JSON Feed, what an entry carries ----------------------------------------

MALFORMED = [b"<channel<item<link</item</link>", b"<entry<links//<link>"]


@pytest.mark.parametrize("body", MALFORMED, ids=["keyerror", "typeerror"])
def test_a_tiny_malformed_feed_is_its_own_error_and_the_others_go_on(
    body, server, tmp_path, capsys
) -> None:
    bad = server.serve("/bad.rss", body)
    good = server.serve("/office.rss", (DATA / "severance.rss").read_bytes())
    config = write_config(tmp_path, [bad, good], DAREDEVIL)
    assert main(["-c", str(config), "once"]) == 0
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    assert "2 feeds polled (1 failed), 2 new" in captured.out
    assert list(items(tmp_path)) == ["Daredevil star joins a workplace comedy"]
    assert main(["-c", str(config), "feeds"]) == 0
    table = capsys.readouterr().out
    [row] = [line for line in table.splitlines() if line.startswith(bad)]
    # The parse error, recorded against that feed.
    assert "unreadable feed" in row or "feed with no readable entries" in row


def test_a_json_feed_is_polled_matched_and_revalidated(server, tmp_path, capsys) -> None:
    url = server.serve(
        "/trailers.json",
        (DATA / "trailers.json").read_bytes(),
        content_type="application/feed+json",
    )
    config = write_config(tmp_path, [url], DAREDEVIL)
    assert main(["-c", str(config), "once"]) == 0
    assert "2 new" in capsys.readouterr().out
    [entry] = digest(tmp_path).entries
    assert entry.title == "Watch the Daredevil season two trailer"
    assert entry.link == "https://trailerpark.example/daredevil-season-two-trailer"
    assert entry.published_parsed[:3] == (2026, 11, 18)
    # What the entry carries reaches the digest: its author and its video.
    assert entry.author == "Rosa Lindqvist"
    [video] = entry.enclosures
    assert (video.href, video.type, video.length) == (
        "https://cdn.trailerpark.example/daredevil-s2.mp4",
        "video/mp4",
        "52428800",
    )
    assert main(["-c", str(config), "once"]) == 0
    assert [hit.status for hit in server.hits("/trailers.json")] == [200, 304]


def test_feeds_says_which_feeds_a_configured_page_advertises(server, tmp_path, capsys) -> None:
    page = (Path(__file__).parent / "data" / "discover" / "one_feed.html").read_bytes()
    url = server.serve("/", page, content_type="text/html; charset=utf-8")
    config = write_config(tmp_path, [url], DAREDEVIL)
    assert main(["-c", str(config), "once"]) == 0
    capsys.readouterr()
    assert main(["-c", str(config), "feeds"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith(url)]
    assert f"this page advertises {server.url('/feeds/atom.xml')}" in row
