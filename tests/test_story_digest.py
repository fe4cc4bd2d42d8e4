"""Stories in the digest, end to end: one item per story across feeds, and daily roundups."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import feedparser

from feedwatch import config
from feedwatch.cli import main
from feedwatch.metrics import Metrics
from feedwatch.publish.web import App, DigestServer
from feedwatch.store import Store
from test_server import Client

SHOWS = (
    "  - name: Daredevil\n    keywords: [Daredevil]\n"
    "  - name: Jessica Jones\n    keywords: [Jessica Jones]\n"
)
NOW = datetime.now(UTC).replace(microsecond=0)

CASTING = (
    "Sarah Paulson joins Daredevil: Born Again as Vanessa Cole",
    "Sarah Paulson has joined the cast of Daredevil: Born Again for its third season. "
    "She will play Vanessa Cole, a new rival for Wilson Fisk, showrunner Dario Scardapane said. "
    "Production on season three starts in Brooklyn in March. "
    "Disney+ has not announced a premiere date.",
)
CASTING_AGAIN = (
    "Daredevil: Born Again casts Sarah Paulson as villain Vanessa Cole",
    "Disney+ has cast Sarah Paulson as Vanessa Cole in season three of Daredevil: Born Again. "
    "Showrunner Dario Scardapane called the character a rival for Wilson Fisk. "
    "Cameras roll in Brooklyn in March, and Paulson joins Charlie Cox and Vincent D'Onofrio. "
    "The season has no premiere date yet.",
)
RENEWAL = (
    "Daredevil: Born Again renewed for a fourth season",
    "Marvel Television has renewed Daredevil: Born Again ahead of schedule. "
    "The studio cited record viewing for the second season finale. "
    "Writers begin work on the new episodes this summer. "
    "No casting news came with the order.",
)
CROSSOVER = (
    "Krysten Ritter returns as Jessica Jones in Daredevil's new season",
    "Krysten Ritter will play Jessica Jones again in Daredevil: Born Again. "
    "The private investigator last appeared in The Defenders in 2017. "
    "Ritter filmed her scenes in New York over the winter. "
    "Fans had campaigned for her return for years.",
)


def rss(name: str, stories: list[tuple[str, str]], hours_ago: int = 2) -> bytes:
    items = "".join(
        f"<item><title>{escape(title)}</title>"
        f"<link>https://{name}.example/{index}</link>"
        f'<guid isPermaLink="false">{name}-{index}</guid>'
        f"<pubDate>{format_datetime(NOW - timedelta(hours=hours_ago, minutes=index))}</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for index, (title, text) in enumerate(stories)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name.title()}</title>'
        f"<link>https://{name}.example/</link><description>News</description>{items}"
        "</channel></rss>"
    ).encode()


def write_config(folder: Path, urls: list[str], extra: str = "") -> Path:
    feeds = "".join(f"  - url: {url}\n" for url in urls)
    config = folder / "feeds.yaml"
    config.write_text(
        "database: sqlite:///state/feedwatch.db\n"
        "poll:\n  timeout: 5s\n"
        "fetch:\n  full_text: false\n"
        f"digest:\n  path: out/digest.xml\n  link: http://feeds.example/\n{extra}"
        f"feeds:\n{feeds}shows:\n{SHOWS}",
        encoding="utf-8",
    )
    return config


def read(folder: Path, name: str = "digest.xml") -> list[feedparser.FeedParserDict]:
    return feedparser.parse((folder / "out" / name).read_bytes()).entries


def test_a_story_reported_by_two_feeds_is_one_item_updated_in_place(server, tmp_path) -> None:
    deadline = server.serve("/deadline.rss", rss("deadline", [CASTING, RENEWAL]))
    config = write_config(tmp_path, [deadline])
    assert main(["-c", str(config), "once"]) == 0
    first = {entry.title: entry for entry in read(tmp_path)}
    assert set(first) == {CASTING[0], RENEWAL[0]}  # same show, two events: two items

    variety = server.serve("/variety.rss", rss("variety", [CASTING_AGAIN], hours_ago=1))
    write_config(tmp_path, [deadline, variety])
    assert main(["-c", str(config), "once"]) == 0
    after = {entry.title: entry for entry in read(tmp_path)}
    # Still two items: Variety's report joined Deadline's story, which kept its guid and date.
    assert len(after) == 2
    [story] = [entry for entry in after.values() if entry.id == first[CASTING[0]].id]
    assert story.published == first[CASTING[0]].published
    assert "Also reported by" in story.summary and "Variety" in story.summary
    assert after[RENEWAL[0]].id == first[RENEWAL[0]].id


def test_a_story_spanning_shows_carries_them_all(server, tmp_path) -> None:
    url = server.serve("/tvline.rss", rss("tvline", [CROSSOVER]))
    config = write_config(tmp_path, [url])
    assert main(["-c", str(config), "once"]) == 0
    [entry] = read(tmp_path)
    assert sorted(tag.term for tag in entry.tags) == ["Daredevil", "Jessica Jones"]


def test_with_stories_off_each_article_is_its_own_item(server, tmp_path) -> None:
    deadline = server.serve("/deadline.rss", rss("deadline", [CASTING]))
    variety = server.serve("/variety.rss", rss("variety", [CASTING_AGAIN], hours_ago=1))
    config = write_config(tmp_path, [deadline, variety])
    config.write_text(config.read_text() + "stories:\n  enabled: false\n", encoding="utf-8")
    assert main(["-c", str(config), "once"]) == 0
    assert len(read(tmp_path)) == 2


def test_once_roundup_writes_the_days_roundup_per_show(server, tmp_path, capsys) -> None:
    url = server.serve("/deadline.rss", rss("deadline", [CASTING, RENEWAL, CROSSOVER]))
    config = write_config(tmp_path, [url], '  roundup: "08:00"\n  timezone: UTC\n')
    assert main(["-c", str(config), "once", "--roundup"]) == 0
    roundups = {entry.title.split(":")[0]: entry for entry in read(tmp_path, "roundup.xml")}
    assert set(roundups) == {"Daredevil", "Jessica Jones"}
    daredevil = roundups["Daredevil"].summary
    assert all(title in daredevil for title in (CASTING[0], RENEWAL[0], CROSSOVER[0]))
    assert roundups["Daredevil"].link == "http://feeds.example/shows/daredevil/"
    # In the show's own feed too, not in the whole digest.
    titles = [entry.title for entry in read(tmp_path, "shows/daredevil.xml")]
    assert roundups["Daredevil"].title in titles
    assert roundups["Daredevil"].title not in [entry.title for entry in read(tmp_path)]
    # Written again the same day, it is the same item, not a second one.
    assert main(["-c", str(config), "once", "--roundup"]) == 0
    assert len(read(tmp_path, "roundup.xml")) == 2


def test_the_roundup_feeds_are_served(server, tmp_path) -> None:
    url = server.serve("/deadline.rss", rss("deadline", [CASTING, CROSSOVER]))
    config_path = write_config(tmp_path, [url], '  roundup: "08:00"\n')
    assert main(["-c", str(config_path), "once", "--roundup"]) == 0
    loaded = config.load(config_path)
    with closing(Store.open(loaded.database)) as store:
        app = App(lambda: loaded.digest.path, Metrics(), config=lambda: loaded, store=lambda: store)
        web = DigestServer(app, "127.0.0.1", 0)
        web.start()
        try:
            for path, media_type in (
                ("/roundup.xml", "application/rss+xml"),
                ("/roundup.atom", "application/atom+xml"),
                ("/roundup.json", "application/feed+json"),
            ):
                status, headers, body = Client(web.url).get(path)
                assert (status, headers["content-type"].split(";")[0]) == (200, media_type)
                assert b"the day's stories" in body
        finally:
            web.close()
