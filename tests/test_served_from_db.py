"""The digest served from the database: a process that does not publish serves, byte for byte,
what the publisher saved, without any file of its own; files are served only for a database
no publish has reached, or one that cannot be read.

The PostgreSQL tests run against the server on 127.0.0.1:5432, each in a database of its
own, and skip with the reason when it does not answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from daemonkit import rss, story, write_config
from feedwatch import config
from feedwatch.config import Config
from feedwatch.metrics import Metrics
from feedwatch.pipeline import Pipeline
from feedwatch.poll.http import Fetcher
from feedwatch.publish import feeds
from feedwatch.publish.web import App, DigestServer
from feedwatch.store import Store
from test_server import Client
from test_store import fresh_postgres_database, postgres  # noqa: F401 (fixtures)
from test_workers import database  # noqa: F401 (fixture)

PUBLISHED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RSS_TYPE = "application/rss+xml; charset=utf-8"


class Publisher:
    """The process holding the publish lock: polls and publishes at the time it is told."""

    def __init__(self, path: Path) -> None:
        self.config = config.load(path)
        self.now = PUBLISHED
        self._store = Store.open(self.config.database)
        self._fetcher = Fetcher(timeout=5)
        self._pipeline = Pipeline(self.config, self._store, self._fetcher, clock=lambda: self.now)

    def publish(self, at: datetime) -> None:
        self.now = at
        self._pipeline.run_cycle(self.config.feeds)

    def file(self, name: str) -> bytes:
        """What the publisher wrote to the file of the feed served as `name`."""
        shows = [show.name for show in self.config.shows]
        digest = self.config.digest
        served = feeds.served_files(digest.path, digest.formats, digest.per_show, shows)
        return served[name][0].read_bytes()

    def close(self) -> None:
        self._fetcher.close()
        self._store.close()


@contextmanager
def publisher(tmp_path: Path, feed_url: str, database_url: str) -> Iterator[Publisher]:
    path = write_config(tmp_path, [feed_url], database=database_url, full_text=False)
    with closing(Publisher(path)) as made:
        yield made


@contextmanager
def serving(cfg: Config, digest_path: Path, store: Callable[[], Store]) -> Iterator[Client]:
    """An App for `cfg` on a free local port, its digest at `digest_path`."""
    app = App(lambda: digest_path, Metrics(), config=lambda: cfg, store=store)
    web = DigestServer(app, "127.0.0.1", 0)
    web.start()
    try:
        yield Client(web.url)
    finally:
        web.close()


@contextmanager
def other_process(cfg: Config, tmp_path: Path) -> Iterator[Client]:
    """A process that does not publish: its own store on the same database, and no digest
    file of its own."""
    with (
        closing(Store.open(cfg.database)) as store,
        serving(cfg, tmp_path / "worker" / "digest.xml", lambda: store) as web,
    ):
        yield web


@contextmanager
def published_and_served(
    server, tmp_path: Path, database_url: str
) -> Iterator[tuple[Publisher, Client]]:
    """One feed about Daredevil, published at PUBLISHED, and another process serving it."""
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    with publisher(tmp_path, url, database_url) as published:
        published.publish(PUBLISHED)
        with other_process(published.config, tmp_path) as web:
            yield published, web


def http_date(moment: datetime) -> str:
    return formatdate(moment.timestamp(), usegmt=True)


def test_a_process_that_does_not_publish_serves_what_the_publisher_saved(
    server,
    tmp_path,
    database,  # noqa: F811
):
    with published_and_served(server, tmp_path, database) as (published, web):
        status, headers, body = web.get("/feed.xml")
        assert status == 200
        assert body == published.file("feed.xml")
        assert headers["content-type"] == RSS_TYPE
        assert headers["last-modified"] == http_date(PUBLISHED)
        status, again, empty = web.get("/feed.xml", {"If-None-Match": headers["etag"]})
        assert (status, empty, again["etag"]) == (304, b"", headers["etag"])
        for name, media_type in [
            ("feed.atom", "application/atom+xml"),
            ("feed.json", "application/feed+json"),
            ("shows/daredevil/feed.xml", "application/rss+xml"),
        ]:
            status, other, body = web.get(f"/{name}")
            assert (status, body) == (200, published.file(name)), name
            assert other["content-type"] == f"{media_type}; charset=utf-8"
        health = json.loads(web.get("/healthz")[2])
        assert health["digest_updated"] == PUBLISHED.isoformat()

        later = PUBLISHED + timedelta(hours=1)
        news = [story("Daredevil", "a trailer"), story("Daredevil", "a release date")]
        server.serve("/news.rss", rss("news", news))
        published.publish(later)
        status, newer, body = web.get("/feed.xml", {"If-None-Match": headers["etag"]})
        assert status == 200
        assert body == published.file("feed.xml")
        assert b"Daredevil a release date" in body
        assert newer["etag"] != headers["etag"]
        assert newer["last-modified"] == http_date(later)
        assert json.loads(web.get("/healthz")[2])["digest_updated"] == later.isoformat()
    assert not (tmp_path / "worker").exists()


def test_a_publish_that_found_nothing_new_leaves_the_served_feed_as_it_was(
    server,
    tmp_path,
    database,  # noqa: F811
):
    with published_and_served(server, tmp_path, database) as (published, web):
        _, headers, body = web.get("/feed.atom")
        published.publish(PUBLISHED + timedelta(hours=1))
        status, _, _ = web.get("/feed.atom", {"If-None-Match": headers["etag"]})
        assert status == 304
        _, again, same = web.get("/feed.atom")
        assert (again["last-modified"], same) == (headers["last-modified"], body)


def test_a_database_no_publish_reached_is_served_from_the_files(server, tmp_path):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    with publisher(tmp_path, url, f"sqlite:///{tmp_path / 'feedwatch.db'}") as published:
        published.publish(PUBLISHED)
        cfg = published.config
    # As a database an older feedwatch published to: its feeds are in files alone.
    engine = create_engine(cfg.database, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM published_feeds")
    engine.dispose()
    with closing(Store.open(cfg.database)) as store:
        with serving(cfg, cfg.digest.path, lambda: store) as web:
            status, headers, body = web.get("/shows/daredevil/feed.json")
            assert (status, body) == (200, published.file("shows/daredevil/feed.json"))
            assert headers["content-type"] == "application/feed+json; charset=utf-8"
            status, _, _ = web.get("/shows/daredevil/feed.json", {"If-None-Match": headers["etag"]})
            assert status == 304
        # Without the files too: nothing to serve yet.
        with serving(cfg, tmp_path / "worker" / "digest.xml", lambda: store) as web:
            status, headers, body = web.get("/feed.xml")
            assert (status, body) == (503, b"the digest has not been written yet\n")
            assert headers["retry-after"]


def test_a_database_that_cannot_be_read_is_a_clear_503_unless_the_file_is_there(
    server, tmp_path
):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    with publisher(tmp_path, url, f"sqlite:///{tmp_path / 'feedwatch.db'}") as published:
        published.publish(PUBLISHED)
        cfg = published.config

    def unreadable() -> Store:
        return Store.open("sqlite:////proc/feedwatch/feedwatch.db")

    with serving(cfg, tmp_path / "worker" / "digest.xml", unreadable) as web:
        status, headers, body = web.get("/feed.xml")
        assert status == 503
        assert headers["content-type"] == "text/plain"
        assert headers["retry-after"]
        assert body == b"the digest cannot be read from the database just now\n"
    with serving(cfg, cfg.digest.path, unreadable) as web:
        status, headers, body = web.get("/feed.xml")
        assert (status, body) == (200, published.file("feed.xml"))
        assert headers["content-type"] == RSS_TYPE
