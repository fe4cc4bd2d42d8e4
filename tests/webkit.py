"""A feedwatch with something to show, for the web view's tests: feeds served locally, one
`feedwatch once` into a SQLite database, and the App serving it on a free local port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from daemonkit import rss, write_config
from feedwatch import config
from feedwatch.cli import main
from feedwatch.config import Config
from feedwatch.metrics import Metrics
from feedwatch.publish.web import App, DigestServer
from feedwatch.store import Store
from httpserver import FeedServer

SHOWS = """\
shows:
  - name: Daredevil
    keywords: [Daredevil]
  - name: Luke Cage
    keywords: [Luke Cage, Power Man]
  - name: Marvel's Jessica Jones
    keywords: [Jessica Jones]
"""


def text(*sentences: str) -> str:
    return " ".join(sentences)


# (title, text) of each story; the feed dates them an hour apart, the last one newest.
TVWIRE = [
    (
        "Daredevil: Born Again films its second season",
        text(
            "Filming of the second season of Daredevil began in New York this week.",
            "Charlie Cox returns as the lawyer who fights crime at night.",
            "The studio said the season would arrive next spring.",
        ),
    ),
    (
        "Harlem's hero is back",
        text(
            "Mike Colter spoke about playing Power Man again at a fan event.",
            "He said the role had changed his life in many ways.",
            "Fans cheered when he mentioned a possible return to Harlem.",
        ),
    ),
    (
        "Cooking show renewed",
        text(
            "A cooking show nobody here follows was renewed for a tenth season.",
            "Its hosts thanked the viewers for their loyalty.",
        ),
    ),
    (
        "<script>alert('x')</script> Jessica Jones & friends",
        text(
            "Krysten Ritter talked about Jessica Jones and her detective agency.",
            "She hinted at <b>big news</b> for the series before the end of the year.",
        ),
    ),
]
SCREENBEAT = [
    (
        "Ranking every Daredevil fight scene",
        text(
            "The hallway fight in Daredevil is still the best scene of its kind.",
            "Critics agree that the choreography set a new standard.",
            "The new season promises more of the same.",
        ),
    ),
]


@dataclass
class Site:
    """A filled feedwatch: its config file, the loaded config, and the App's address."""

    config_path: Path
    config: Config
    url: str
    broken_feed: str


def fill_site(tmp_path: Path, server: FeedServer) -> tuple[Path, str]:
    """Serve two feeds and a failing one and run `feedwatch once` on them: the config file
    written, and the failing feed's URL."""
    tvwire = server.serve("/tvwire.rss", rss("TV Wire", TVWIRE, site="tvwire"))
    screenbeat = server.serve("/screenbeat.rss", rss("Screen Beat", SCREENBEAT, site="screenbeat"))
    broken = server.serve("/broken.rss", b"gone", status=500)
    path = write_config(tmp_path, [tvwire, screenbeat, broken], shows=SHOWS)
    with path.open("a", encoding="utf-8") as handle:
        # Page fetches would only be refused for the example sites; the feeds' text is enough.
        handle.write("fetch:\n  full_text: false\n")
    assert main(["-c", str(path), "once"]) == 0
    return path, broken


@contextmanager
def serve_site(tmp_path: Path, server: FeedServer, *, store_fails: bool = False) -> Iterator[Site]:
    """fill_site, then serve it with an App reading that store (or, with `store_fails`, a
    store that always fails)."""
    path, broken = fill_site(tmp_path, server)
    loaded = config.load(path)
    store = Store.open(loaded.database)

    def opened() -> Store:
        if store_fails:
            from feedwatch.errors import StoreError

            raise StoreError("database sqlite:///nowhere: unable to open database file")
        return store

    app = App(
        lambda: loaded.digest.path,
        Metrics(),
        lambda: {"feeds": 3},
        config=lambda: loaded,
        store=opened,
    )
    web = DigestServer(app, "127.0.0.1", 0)
    web.start()
    try:
        yield Site(path, loaded, web.url, broken)
    finally:
        web.close()
        store.close()
