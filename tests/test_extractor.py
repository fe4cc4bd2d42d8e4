"""Main-text extraction on article pages written for this project."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from feedwatch.poll.extractor import extract

PAGES = Path(__file__).parent / "data" / "pages"
URL = "https://screenledger.example/tv/story.html"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


FINALE_BODY = [
    "The third season of The Lantern Keepers ended on Sunday night with the episode fans had "
    "been waiting two years to see: Mara Voss, played by Ines Calloway, finally climbed the "
    "north tower of the lighthouse at Grey Point.",
    "“We knew where Mara had to stand when the lamp went dark,” he said.",
    "Director Hana Okafor shot the tower sequence over nine nights on a sound stage in Belfast, "
    "using real water pumped across the set.",
    "A fourth season has not been confirmed, although Wren said the writers’ room already has "
    "an outline.",
    "All three seasons of The Lantern Keepers are streaming now.",
]
FINALE_AROUND = [
    "Awards season",  # navigation
    "Sign in",
    "Trending",  # sidebar
    "Pop star cancels arena tour",
    "Animated sequel tops the weekend box office",
    "Related",  # related list
    "Ines Calloway joins the cast of a courtroom thriller",
    "Ten coastal dramas",
    "Never miss a premiere",  # newsletter prompt
    "weekly TV newsletter",
    "Subscribe",
    "14 comments",  # comments
    "lighthouse_fan_77",
    "I was in tears",
    "moved the filming away",
    "Join the discussion",
    "Share on Facebook",  # share bar
    "Copy link",
    "All rights reserved",  # footer
    "Privacy policy",
    "Advertise with us",
    "Advertisement",
    "Photo: Screen Ledger archive",  # image credit
    "dataLayer",  # scripts
]

CASTING_BODY = [
    "Delphine Achterberg has joined the cast of Night Ferry, the crime drama set aboard an "
    "overnight boat between Rotterdam and Harwich, the production company confirmed on Friday.",
    "Filming on the second season of Night Ferry begins in February on a decommissioned ferry "
    "moored in Zeebrugge.",
    "The second season is expected to premiere next autumn with eight episodes.",
]
CASTING_AROUND = [
    "Search",
    "Get the TV briefing",
    "Subscribe now",
    "Our review of the first season",
    "Hospital series cast reunite",
    "nightowl_tv",
    "Finally some good casting",
    "Trending now",
    "Festival line-up leaks",
    "Quiz show contestant",
    "Copyright 2026",
    "Cookie settings",
]


@pytest.mark.parametrize(
    ("name", "body", "around"),
    [
        ("lantern-keepers-finale.html", FINALE_BODY, FINALE_AROUND),
        ("night-ferry-casting.html", CASTING_BODY, CASTING_AROUND),
    ],
)
def test_the_article_is_kept_and_the_page_around_it_left_out(
    name: str, body: list[str], around: list[str]
) -> None:
    text = extract(page(name), URL)
    assert text is not None
    for sentence in body:
        assert sentence in text
    for boilerplate in around:
        assert boilerplate not in text, boilerplate


def test_paragraphs_are_separated_by_one_blank_line() -> None:
    text = extract(page("lantern-keepers-finale.html"), URL)
    assert text is not None
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 7
    # The text starts with the story, not with the headline or the byline.
    assert paragraphs[0] == FINALE_BODY[0]
    assert paragraphs[-1] == FINALE_BODY[-1]
    assert all(paragraph == " ".join(paragraph.split()) for paragraph in paragraphs)


def test_text_and_bytes_give_the_same_result() -> None:
    raw = page("night-ferry-casting.html")
    assert extract(raw, URL) == extract(raw.decode("utf-8"), URL)


def test_the_page_declared_encoding_is_honoured() -> None:
    paragraph = (
        "<p>The café scene in the third episode was filmed in one take, said the naïve "
        "young director, who had rehearsed it for a week with the whole cast and crew.</p>"
    )
    html = (
        '<html><head><meta charset="windows-1252"><title>Café</title></head><body>'
        f"<article>{paragraph * 4}</article></body></html>"
    )
    text = extract(html.encode("cp1252"), URL)
    assert text is not None
    assert "The café scene" in text and "the naïve young director" in text


def test_the_same_page_twice_gives_the_same_text() -> None:
    # No cross-page deduplication: a page seen before is not cut down the second time.
    first = extract(page("lantern-keepers-finale.html"), URL)
    assert extract(page("lantern-keepers-finale.html"), URL) == first


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
        b"\x00\xff" * 500,
        "<html><body></body></html>",
        "<html><head><title>Only a title</title></head><body><script>x()</script></body></html>",
    ],
)
def test_a_page_without_an_article_gives_none_quietly(
    content: bytes | str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    assert extract(content, URL) is None
    assert not [record for record in caplog.records if record.name.startswith("trafilatura")]
    assert capfd.readouterr().err == ""
