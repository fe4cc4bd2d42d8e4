"""The store on SQLite and, when it answers on 127.0.0.1:5432, PostgreSQL."""

from __future__ import annotations

import itertools
import logging
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, column, create_engine, insert, table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from feedwatch.decide import changed_entries
from feedwatch.errors import StoreError
from feedwatch.models import (
    Article,
    DigestItem,
    Page,
    ParsedFeed,
    PollIntent,
    RenderedFeed,
    Schedule,
    ShowMatch,
    StoredPoll,
    Validators,
)
from feedwatch.store import SaveResult, Store, database
from feedwatch.store.schema import Base, UTCDateTime, include_name
from feedwatch.stories import digest_item, ranked

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "feedwatch" / "store" / "migrations"

TVWIRE = "https://tvwire.example/rss"
SCREENBEAT = "https://screenbeat.example/atom"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def article(
    entry_id: str,
    url: str | None = None,
    *,
    title: str = "Severance renewed for a third season",
    summary: str = "Apple confirmed the renewal.",
    body: str = "Apple confirmed on Friday that Severance returns. Filming starts in spring.",
    published: datetime | None = None,
) -> Article:
    return Article(entry_id, url, title, summary, body, published, key=url)


def matched(*shows: str) -> tuple[ShowMatch, ...]:
    return tuple(ShowMatch(show, show) for show in shows)


def intent(store: Store, url: str, pairs=(), *, at: datetime = NOW, **fields) -> PollIntent:
    """A poll of `url` at `at` delivering `pairs` (article, shows), as decide.py makes one."""
    polled = store.stored_polls({url: [a.entry_id for a, _ in pairs]}, until=at)[url]
    entries, unchanged = changed_entries(pairs, polled.versions)
    fields.setdefault("status", 200)
    return PollIntent(url, at, entries=entries, unchanged=unchanged, **fields)


def save_poll(
    store: Store,
    url: str,
    pairs: Sequence[tuple[Article, Sequence[ShowMatch]]],
    *,
    at: datetime = NOW,
    pages: Mapping[str, Page] | None = None,
) -> SaveResult:
    """Store a successful poll of `url` at `at` delivering `pairs` (article, shows), with the
    pages fetched for it (by article URL), the way the pipeline does (Store.record_poll);
    what it saved, the entries stored at their version already counted as unchanged."""
    return store.record_poll(intent(store, url, pairs, at=at, pages=pages or {})).saved


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[Engine]:
    engine = create_engine(POSTGRES, connect_args={"connect_timeout": 2}, poolclass=NullPool)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES}: {reason}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes URLs of fresh, empty databases of one kind (one schema each on PostgreSQL)."""
    if request.param == "sqlite":
        counter = itertools.count()
        yield lambda: f"sqlite:///{tmp_path / f'db{next(counter)}' / 'feedwatch.db'}"
        return
    admin: Engine = request.getfixturevalue("postgres")
    schemas: list[str] = []

    def make() -> str:
        schema = f"feedwatch_test_{uuid.uuid4().hex}"
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return f"{POSTGRES}?options=-csearch_path%3D{schema}"

    yield make
    with admin.begin() as connection:
        for schema in schemas:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def open_store(new_database: Callable[[], str]) -> Iterator[Callable[[str], Store]]:
    """Store.open that closes what it opened when the test ends (before schemas are dropped)."""
    opened: list[Store] = []

    def open_(url: str) -> Store:
        opened.append(Store.open(url))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[str], Store], database_url: str) -> Store:
    store = open_store(database_url)
    store.sync_feeds([(TVWIRE, "TV Wire"), (SCREENBEAT, None)])
    return store


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Job:
    """A story the digest shows that needs a summary."""

    article_id: int
    version: str
    text: str


def pending(store: Store, limit: int | None = None, settings: str | None = None) -> list[Job]:
    """The stories among the newest `limit` without a current summary, oldest first."""
    jobs = [
        Job(story.key, story.version, ranked(story.members)[0].text)
        for story in store.digest_stories(limit, settings)
        if story.summary is None
    ]
    return sorted(jobs, key=lambda job: job.article_id)


def digest(store: Store, limit: int, settings: str | None = None) -> list[DigestItem]:
    """The digest's items, as the pipeline builds them from the stored stories."""
    stories = store.digest_stories(limit, settings)
    return [digest_item(story) for story in stories if story.summary is not None]


def summarise_all(store: Store) -> None:
    for job in pending(store):
        store.save_summaries([(job.article_id, job.version, [f"Summary of: {job.text[:20]}"])])


def reports(store: Store) -> dict[str, int]:
    return {report.url: report.articles for report in store.feed_reports()}


# --- deduplication ---------------------------------------------------------------------------


def test_saving_the_same_entries_again_stores_nothing_twice(store: Store) -> None:
    batch = [
        (article("e1", "https://tvwire.example/a"), matched("Severance")),
        (article("e2", "https://tvwire.example/b", title="Andor ends"), ()),
        (article("e3", None, title="No link at all"), matched("Severance")),
    ]
    assert save_poll(store, TVWIRE, batch, at=NOW) == SaveResult(new=3)
    for hour in (1, 2):
        later = NOW + timedelta(hours=hour)
        assert save_poll(store, TVWIRE, batch, at=later) == SaveResult(unchanged=3)
    assert reports(store)[TVWIRE] == 3
    assert len(pending(store)) == 2


def test_an_article_from_a_second_feed_is_stored_once_with_both_shows(store: Store) -> None:
    url = "https://news.example/severance"
    save_poll(store, TVWIRE, [(article("tw-1", url), matched("Severance"))], at=NOW)
    # Another feed carries the same story under its own entry id and headline.
    other = article("sb-77", url, title="Severance is back", body="Short.")
    saved = save_poll(store, SCREENBEAT, [(other, matched("Apple TV", "Severance"))], at=NOW)

    assert saved == SaveResult(updated=1)  # a show was added, no new article
    assert reports(store) == {TVWIRE: 1, SCREENBEAT: 1}
    summarise_all(store)
    [item] = digest(store, 10)
    assert item.title == "Severance renewed for a third season"  # text untouched
    assert item.shows == ("Severance", "Apple TV")
    assert (item.feed_title, item.feed_url) == ("TV Wire", TVWIRE)  # the first feed
    # Seeing it again from the second feed changes nothing.
    again = save_poll(store, SCREENBEAT, [(other, matched("Apple TV", "Severance"))], at=NOW)
    assert again == SaveResult(unchanged=1)


def test_an_entry_twice_in_a_batch_is_saved_once_but_entries_sharing_a_link_are_two(
    store: Store,
) -> None:
    first = article("e1", "https://tvwire.example/a")
    batch = [
        (first, matched("Severance")),
        (first, matched("Severance")),  # the same entry twice
        (article("e2", "https://tvwire.example/a", title="Same link"), matched("Severance")),
        (article("e3", None, title="Unlinked"), ()),
        (article("e3", None, title="Unlinked"), ()),
    ]
    assert save_poll(store, TVWIRE, batch, at=NOW) == SaveResult(new=3, unchanged=2)
    assert reports(store)[TVWIRE] == 3


def test_an_entry_whose_link_moves_to_a_stored_article_joins_it(store: Store) -> None:
    save_poll(
        store, TVWIRE, [(article("e1", "https://tvwire.example/tmp"), matched("Andor"))], at=NOW
    )
    save_poll(
        store,
        SCREENBEAT,
        [(article("s1", "https://news.example/final"), matched("Severance"))],
        at=NOW,
    )
    moved = article("e1", "https://news.example/final", body="Rewritten.")
    assert save_poll(store, TVWIRE, [(moved, matched("Andor"))], at=NOW) == SaveResult(updated=1)
    # The article left behind had no other entry and is gone; its URL can be used again.
    assert reports(store) == {TVWIRE: 1, SCREENBEAT: 1}
    fresh = article("e2", "https://tvwire.example/tmp", title="New story")
    assert save_poll(store, TVWIRE, [(fresh, ())], at=NOW) == SaveResult(new=1)
    summarise_all(store)
    [item] = digest(store, 10)
    assert item.url == "https://news.example/final"
    assert item.shows == ("Severance", "Andor")


def test_a_link_given_up_by_one_entry_can_go_to_another_in_the_same_batch(
    store: Store,
) -> None:
    first = article("e1", "https://tvwire.example/x", title="First")
    second = article("e2", "https://tvwire.example/w", title="Second")
    save_poll(store, TVWIRE, [(first, ()), (second, ())], at=NOW)
    # e2 moves off /w, then e1 (the older row) moves onto it: written in the other order,
    # the unique URL would be taken twice.
    batch = [
        (article("e2", "https://tvwire.example/z", title="Second, moved"), ()),
        (article("e1", "https://tvwire.example/w", title="First, moved"), matched("Severance")),
    ]
    assert save_poll(store, TVWIRE, batch, at=NOW) == SaveResult(updated=2)
    summarise_all(store)
    [item] = digest(store, 10)
    assert (item.title, item.url) == ("First, moved", "https://tvwire.example/w")
    assert reports(store)[TVWIRE] == 2


def test_an_entry_whose_link_moves_to_another_entry_of_its_feed_keeps_its_own_article(
    store: Store,
) -> None:
    first = article("e1", "https://tvwire.example/a", title="First")
    second = article("e2", "https://tvwire.example/b", title="Second")
    save_poll(store, TVWIRE, [(first, ()), (second, ())], at=NOW)
    # A CMS re-pointing one teaser at the other's page: two entries, two articles, as when
    # two entries of one feed share a link from the start.
    moved = article("e2", "https://tvwire.example/a", title="Second, now linking to a")
    assert save_poll(store, TVWIRE, [(first, ()), (moved, matched("Severance"))], at=NOW) == (
        SaveResult(updated=1, unchanged=1)
    )
    assert reports(store)[TVWIRE] == 2
    summarise_all(store)
    [item] = digest(store, 10)
    assert (item.title, item.url) == ("Second, now linking to a", "https://tvwire.example/a")


# --- updates and summaries ------------------------------------------------------------------


def test_an_updated_entry_replaces_text_and_shows_and_needs_a_new_summary(store: Store) -> None:
    url = "https://tvwire.example/a"
    save_poll(store, TVWIRE, [(article("e1", url), matched("Severance", "Apple TV"))], at=NOW)
    summarise_all(store)
    [before] = digest(store, 10)

    edited = article("e1", url, title="Andor, not Severance", body="A corrected story.")
    saved = save_poll(store, TVWIRE, [(edited, matched("Andor"))], at=NOW + timedelta(hours=1))

    assert saved == SaveResult(updated=1)
    assert digest(store, 10) == []  # the old summary was of the old text
    [job] = pending(store)
    assert (job.version, job.text) == (edited.version, edited.text)
    store.save_summaries([(job.article_id, job.version, ["A corrected story."])])
    [after] = digest(store, 10)
    assert after.title == "Andor, not Severance"
    assert after.shows == ("Andor",)
    assert after.summary == ("A corrected story.",)
    assert after.guid == before.guid
    assert reports(store)[TVWIRE] == 1


def test_summary_lifecycle_ignores_a_stale_version(store: Store) -> None:
    url = "https://tvwire.example/a"
    save_poll(store, TVWIRE, [(article("e1", url), matched("Severance"))], at=NOW)
    [job] = pending(store)
    # The entry changes while its summary is being written.
    edited = article("e1", url, body="Updated body text, longer than before.")
    save_poll(store, TVWIRE, [(edited, matched("Severance"))], at=NOW)
    store.save_summaries([(job.article_id, job.version, ["Stale."])])

    [again] = pending(store)
    assert again.version == edited.version != job.version
    assert digest(store, 10) == []
    store.save_summaries([(again.article_id, again.version, ["First try."])])
    store.save_summaries([(again.article_id, again.version, ["Second try."])])
    assert pending(store) == []
    assert digest(store, 10)[0].summary == ("Second try.",)


def test_summaries_saved_together_skip_only_those_of_an_old_version(store: Store) -> None:
    batch = [(article(f"e{n}", None, title=f"Story {n}"), matched("Severance")) for n in range(3)]
    save_poll(store, TVWIRE, batch, at=NOW)
    first, second, third = pending(store)
    store.save_summaries(
        [
            (first.article_id, first.version, ["First."]),
            (second.article_id, "an older version", ["Stale."]),
            (third.article_id, third.version, ["Third."]),
        ]
    )
    assert pending(store) == [second]
    assert sorted(item.summary for item in digest(store, 10)) == [("First.",), ("Third.",)]


def test_unmatched_articles_are_stored_but_never_summarised(store: Store) -> None:
    save_poll(store, TVWIRE, [(article("e1", "https://tvwire.example/a"), ())], at=NOW)
    assert reports(store)[TVWIRE] == 1
    assert pending(store) == []
    assert digest(store, 10) == []


def test_summary_jobs_carry_the_longest_text_oldest_first(store: Store) -> None:
    articles = [
        article("e1", None, summary="A long teaser, longer than the body.", body="Short."),
        article("e2", None, title="Only a title", summary="", body=""),
        article("e3", None),
    ]
    save_poll(store, TVWIRE, [(a, matched("Severance")) for a in articles], at=NOW)
    jobs = pending(store)
    assert [job.text for job in jobs] == [a.text for a in articles]
    # Only the newest, which the digest shows, need a summary: same date, so the last stored.
    assert pending(store, limit=2) == jobs[1:]


# --- article pages (full text) -----------------------------------------------------------------

TEASER_URL = "https://tvwire.example/severance-returns"
PAGE_TEXT = (
    "Apple confirmed on Friday that Severance returns for a third season.\n\n"
    "Filming starts in the spring in New York, with the whole cast back."
)


def teaser(entry_id: str = "e1", *, summary: str = "Severance is back. Read more...") -> Article:
    return article(entry_id, TEASER_URL, summary=summary, body="")


def test_a_new_article_is_summarised_from_its_page(store: Store) -> None:
    story = teaser()
    page = Page(TEASER_URL, NOW, text=PAGE_TEXT)
    saved = save_poll(
        store, TVWIRE, [(story, matched("Severance"))], at=NOW, pages={TEASER_URL: page}
    )
    assert saved == SaveResult(new=1)
    [job] = pending(store)
    # The page's text, under the version of the feed's text.
    assert (job.text, job.version) == (PAGE_TEXT, story.version)
    stored = store.stored_polls({TVWIRE: ["e1", "e2"], SCREENBEAT: ["e1"]}, until=NOW)
    assert stored[TVWIRE].versions == {"e1": story.version}
    assert stored[SCREENBEAT].versions == {}
    assert store.page_texts([TEASER_URL, "https://tvwire.example/unknown"]) == {
        TEASER_URL: PAGE_TEXT
    }


def test_a_page_lasts_as_long_as_its_entry_version(store: Store) -> None:
    first = teaser()
    page = Page(TEASER_URL, NOW, text=PAGE_TEXT)
    save_poll(store, TVWIRE, [(first, matched("Severance"))], at=NOW, pages={TEASER_URL: page})
    # Seen again unchanged, with no page fetched this time: the stored page stays.
    again = save_poll(store, TVWIRE, [(first, matched("Severance"))], at=NOW + timedelta(hours=1))
    assert again == SaveResult(unchanged=1)
    assert [job.text for job in pending(store)] == [PAGE_TEXT]

    # A changed entry takes the page fetched for it...
    edited = teaser(summary="Severance is back for a third season. Read more...")
    newer = Page(TEASER_URL, NOW, text=PAGE_TEXT + "\n\nThe premiere is set for January.")
    save_poll(store, TVWIRE, [(edited, matched("Severance"))], at=NOW, pages={TEASER_URL: newer})
    assert [job.text for job in pending(store)] == [newer.text]
    # ...and one changed without a page fetched goes back to the feed's text.
    plain = teaser(summary="Severance is back, says Apple.")
    save_poll(store, TVWIRE, [(plain, matched("Severance"))], at=NOW)
    assert [job.text for job in pending(store)] == [plain.text]
    assert store.page_texts([TEASER_URL]) == {TEASER_URL: None}


def test_a_failed_page_is_stored_with_its_error(store: Store, engine: Engine) -> None:
    story = teaser()
    failed = Page(TEASER_URL, NOW, error="HTTP 404 Not Found")
    save_poll(store, TVWIRE, [(story, matched("Severance"))], at=NOW, pages={TEASER_URL: failed})
    assert [job.text for job in pending(store)] == [story.text]
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT page_url, page_text, page_error, page_fetched FROM articles"
        ).one()
    assert row[:3] == (TEASER_URL, None, "HTTP 404 Not Found")
    assert row[3] is not None


def test_a_page_shorter_than_the_feed_text_is_not_summarised(store: Store) -> None:
    full = article("e1", TEASER_URL, body="The feed carries the whole story. " * 10)
    short = Page(TEASER_URL, NOW, text="Only a caption.")
    save_poll(store, TVWIRE, [(full, matched("Severance"))], at=NOW, pages={TEASER_URL: short})
    assert [job.text for job in pending(store)] == [full.text]


# --- digest -----------------------------------------------------------------------------------


def test_digest_items_are_newest_first_and_limited(store: Store) -> None:
    dated = [
        article("old", None, title="Old", published=NOW - timedelta(days=2)),
        article("new", None, title="New", published=NOW - timedelta(hours=1)),
        article("undated", None, title="Undated"),  # sorts by when it was first seen: NOW
        article("tie", None, title="Tie", published=NOW - timedelta(hours=1)),
    ]
    save_poll(store, TVWIRE, [(a, matched("Severance")) for a in dated], at=NOW)
    unsummarised = article("unsummarised", None, title="X")
    save_poll(store, TVWIRE, [(unsummarised, matched("Severance"))], at=NOW)
    for job in pending(store)[:4]:
        store.save_summaries([(job.article_id, job.version, ["Summary."])])

    items = digest(store, 10)
    # Equal dates: the one stored later comes first.
    assert [item.title for item in items] == ["Undated", "Tie", "New", "Old"]
    assert items[0].published == NOW
    # The limit counts the newest stories, summarised or not (publishing summarises them all).
    assert [item.title for item in digest(store, 3)] == ["Undated", "Tie"]
    assert len({item.guid for item in items}) == 4


def test_guids_survive_reopening_and_match_across_databases(
    new_database: Callable[[], str], open_store: Callable[[str], Store]
) -> None:
    batch = [
        (article("e1", "https://news.example/a"), matched("Severance")),
        (article("e2", None, title="No link"), matched("Severance")),
    ]

    def guids(url: str, feed: str) -> dict[str, str]:
        store = open_store(url)
        save_poll(store, feed, batch, at=NOW)
        summarise_all(store)
        return {item.title: item.guid for item in digest(store, 10)}

    first_url = new_database()
    first = guids(first_url, TVWIRE)
    assert all(guid.startswith("urn:feedwatch:") for guid in first.values())
    assert guids(first_url, TVWIRE) == first  # reopened: same rows, same guids
    # Another database: the linked article keeps its guid whichever feed brings it; the
    # unlinked one is known only by its feed and entry id.
    elsewhere = guids(new_database(), SCREENBEAT)
    assert (
        elsewhere["Severance renewed for a third season"]
        == first["Severance renewed for a third season"]
    )
    assert elsewhere["No link"] != first["No link"]
    assert guids(new_database(), TVWIRE) == first


# --- feeds ------------------------------------------------------------------------------------


def test_validators_round_trip(store: Store) -> None:
    assert store.feed_state(TVWIRE).validators == Validators()
    assert store.feed_state("https://unknown.example/feed").validators == Validators()
    sent = Validators(etag='"abc123"', last_modified="Sat, 01 Mar 2025 10:00:00 GMT")
    store.record_poll(PollIntent(TVWIRE, at=NOW, status=200, validators=sent))
    assert store.feed_state(TVWIRE).validators == sent
    store.record_poll(PollIntent(TVWIRE, at=NOW + timedelta(minutes=15), status=304))  # keeps them
    assert store.feed_state(TVWIRE).validators == sent


def test_an_error_is_recorded_then_cleared_by_a_good_poll(store: Store) -> None:
    store.record_poll(PollIntent(TVWIRE, at=NOW, status=503, error="HTTP 503 Service Unavailable"))
    [report] = [r for r in store.feed_reports() if r.url == TVWIRE]
    assert (report.last_status, report.last_error) == (503, "HTTP 503 Service Unavailable")

    later = NOW + timedelta(minutes=15)
    store.record_poll(PollIntent(TVWIRE, at=later, status=200, validators=Validators(etag='"x"')))
    [report] = [r for r in store.feed_reports() if r.url == TVWIRE]
    assert (report.last_fetched, report.last_status, report.last_error) == (later, 200, None)


def test_feed_titles_prefer_the_config_then_the_feed(store: Store) -> None:
    parsed = ParsedFeed(title="Title in the feed", link=None, entries=())
    for url in (TVWIRE, SCREENBEAT):
        store.record_poll(PollIntent(url, at=NOW, status=200, feed=parsed))
    titles = {report.url: report.title for report in store.feed_reports()}
    assert titles == {TVWIRE: "TV Wire", SCREENBEAT: "Title in the feed"}
    store.sync_feeds([(TVWIRE, None), (SCREENBEAT, "Screen Beat")])
    titles = {report.url: report.title for report in store.feed_reports()}
    assert titles == {TVWIRE: "Title in the feed", SCREENBEAT: "Screen Beat"}


def test_feed_reports_count_articles_per_feed(store: Store) -> None:
    shared = article("x", "https://news.example/shared")
    save_poll(store, TVWIRE, [(article(f"e{i}", None), ()) for i in range(3)], at=NOW)
    save_poll(store, TVWIRE, [(shared, ())], at=NOW)
    save_poll(store, SCREENBEAT, [(shared, ())], at=NOW)
    reports_ = store.feed_reports()
    assert [(r.url, r.articles) for r in reports_] == [(TVWIRE, 4), (SCREENBEAT, 1)]
    assert all((r.last_fetched, r.last_status) == (NOW, 200) for r in reports_)


def test_datetimes_come_back_timezone_aware_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    polled = datetime(2025, 3, 1, 13, 30, tzinfo=paris)
    published = datetime(2025, 2, 28, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    save_poll(store, TVWIRE, [(article("e1", None, published=published), matched("S"))], at=polled)
    summarise_all(store)

    fetched = next(r.last_fetched for r in store.feed_reports() if r.url == TVWIRE)
    item = digest(store, 1)[0]
    for value, expected in ((fetched, polled), (item.published, published)):
        assert value == expected
        assert value is not None and value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        None,
        datetime(2025, 3, 1, 12, 30, 5, 7),  # naive: UTC already
        datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
        datetime(2025, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_sqlite_datetimes_are_written_as_sqlalchemys_own_datetime_writes_them(
    value: datetime | None,
) -> None:
    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    stored = UTCDateTime()
    written = stored.dialect_impl(dialect).bind_processor(dialect)
    as_sqlalchemy = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert written is not None and as_sqlalchemy is not None
    assert written(value) == as_sqlalchemy(stored.process_bind_param(value, dialect))


# --- polling state --------------------------------------------------------------------------


def state(store: Store, url: str = TVWIRE):
    return store.feed_state(url)


def test_a_new_feed_is_due_at_once_at_its_own_url(store: Store) -> None:
    fresh = state(store)
    assert (fresh.url, fresh.fetch_url) == (TVWIRE, TVWIRE)
    assert (fresh.next_poll, fresh.errors, fresh.retry_after, fresh.gone_since) == (
        None,
        0,
        None,
        None,
    )
    assert store.feed_state("https://unknown.example/feed").fetch_url == (
        "https://unknown.example/feed"
    )


def test_the_schedule_hints_and_redirect_round_trip(store: Store) -> None:
    parsed = ParsedFeed(
        "TV Wire", None, (), ttl=timedelta(hours=1), update_period=timedelta(minutes=30)
    )
    schedule = Schedule(
        next_poll=NOW + timedelta(hours=2), errors=2, retry_after=NOW + timedelta(hours=2)
    )
    store.record_poll(
        PollIntent(
            TVWIRE,
            at=NOW,
            status=200,
            validators=Validators(etag='"v1"'),
            feed=parsed,
            schedule=schedule,
            moved_to="https://tvwire.example/new-rss",
        )
    )
    saved = state(store)
    assert saved.fetch_url == "https://tvwire.example/new-rss"
    assert (saved.next_poll, saved.errors, saved.retry_after) == (
        NOW + timedelta(hours=2),
        2,
        NOW + timedelta(hours=2),
    )
    assert (saved.ttl, saved.update_period) == (timedelta(hours=1), timedelta(minutes=30))
    assert store.feed_states()[TVWIRE] == saved
    [report] = [r for r in store.feed_reports() if r.url == TVWIRE]
    assert (report.last_fetched, report.next_poll, report.errors, report.moved_to) == (
        NOW,
        NOW + timedelta(hours=2),
        2,
        "https://tvwire.example/new-rss",
    )

    # A poll that says nothing about them keeps the schedule, hints and redirect.
    store.record_poll(PollIntent(TVWIRE, at=NOW + timedelta(hours=3), status=304))
    kept = state(store)
    assert (kept.next_poll, kept.errors, kept.ttl, kept.fetch_url) == (
        saved.next_poll,
        2,
        saved.ttl,
        saved.fetch_url,
    )
    # A document without hints clears them; a redirect back home clears the redirect.
    store.record_poll(
        PollIntent(TVWIRE, at=NOW, status=200, feed=ParsedFeed(None, None, ()), moved_to=TVWIRE)
    )
    assert (state(store).ttl, state(store).update_period) == (None, None)
    assert state(store).fetch_url == TVWIRE
    assert [r.title for r in store.feed_reports() if r.url == TVWIRE] == ["TV Wire"]


def test_a_gone_feed_is_reported_gone(store: Store) -> None:
    store.record_poll(
        PollIntent(
            TVWIRE,
            at=NOW,
            status=410,
            error="HTTP 410 Gone",
            schedule=Schedule(errors=1, gone_since=NOW),
        )
    )
    assert state(store).gone_since == NOW
    [report] = [r for r in store.feed_reports() if r.url == TVWIRE]
    assert (report.gone_since, report.next_poll, report.last_status) == (NOW, None, 410)


def test_reset_forgets_gone_back_off_redirect_and_validators(store: Store) -> None:
    save_poll(store, TVWIRE, [(article("e1", None), ())], at=NOW)
    store.record_poll(
        PollIntent(
            TVWIRE,
            at=NOW,
            status=410,
            validators=Validators('"v"', "Sat, 01 Mar 2025 10:00:00 GMT"),
            error="HTTP 410 Gone",
            schedule=Schedule(None, errors=4, retry_after=NOW + timedelta(days=1), gone_since=NOW),
            moved_to="https://elsewhere.example/rss",
        )
    )
    assert store.reset_feed(TVWIRE)
    fresh = state(store)
    assert fresh == type(fresh)(TVWIRE, TVWIRE)
    # When it was last polled is not forgotten.
    assert [r.last_fetched for r in store.feed_reports() if r.url == TVWIRE] == [NOW]
    assert reports(store)[TVWIRE] == 1  # the articles stay
    assert not store.reset_feed("https://unknown.example/feed")


def test_a_changed_config_entry_wakes_a_gone_feed_and_is_due_at_once(store: Store) -> None:
    feeds = [(TVWIRE, "TV Wire")]
    store.sync_feeds(feeds, {TVWIRE: "hash-1"})
    later = Schedule(next_poll=NOW + timedelta(hours=5))
    store.record_poll(PollIntent(TVWIRE, at=NOW, status=200, schedule=later))
    store.sync_feeds(feeds, {TVWIRE: "hash-1"})  # unchanged: nothing happens
    assert state(store).next_poll == later.next_poll

    store.sync_feeds(feeds, {TVWIRE: "hash-2"})  # e.g. a new interval: takes effect now
    assert state(store).next_poll is None

    store.record_poll(
        PollIntent(TVWIRE, at=NOW, status=410, schedule=Schedule(errors=1, gone_since=NOW))
    )
    store.sync_feeds(feeds, {TVWIRE: "hash-2"})
    assert state(store).gone_since == NOW
    store.sync_feeds(feeds, {TVWIRE: "hash-3"})
    assert state(store).gone_since is None


def test_a_gone_feed_removed_from_the_config_and_put_back_is_polled_again(store: Store) -> None:
    fingerprints = {TVWIRE: "same", SCREENBEAT: "other"}
    store.sync_feeds([(TVWIRE, None), (SCREENBEAT, None)], fingerprints)
    store.record_poll(
        PollIntent(TVWIRE, at=NOW, status=410, schedule=Schedule(errors=1, gone_since=NOW))
    )
    store.record_poll(
        PollIntent(SCREENBEAT, at=NOW, status=200, schedule=Schedule(NOW + timedelta(hours=1)))
    )

    store.sync_feeds([(SCREENBEAT, None)], {SCREENBEAT: "other"})
    assert state(store).gone_since == NOW  # out of the config: nothing to poll anyway
    store.sync_feeds([(TVWIRE, None), (SCREENBEAT, None)], fingerprints)
    assert state(store).gone_since is None
    # A feed that stayed keeps its schedule.
    assert state(store, SCREENBEAT).next_poll == NOW + timedelta(hours=1)


def test_the_first_fingerprint_keeps_the_schedule(store: Store) -> None:
    # A feed stored before fingerprints existed (e.g. by feedwatch at schema 0001).
    store.record_poll(
        PollIntent(TVWIRE, at=NOW, status=200, schedule=Schedule(NOW + timedelta(hours=1)))
    )
    store.sync_feeds([(TVWIRE, None)], {TVWIRE: "first"})
    assert state(store).next_poll == NOW + timedelta(hours=1)


def test_publish_times_are_the_feeds_newest_distinct_dates(store: Store) -> None:
    dates = [NOW - timedelta(hours=h) for h in (0, 1, 1, 3, 5)]
    batch = [
        (article(f"e{i}", None, title=f"Story {i}", published=when), ())
        for i, when in enumerate(dates)
    ]
    batch.append((article("undated", None, title="Undated"), ()))
    batch.append((article("future", None, title="Later", published=NOW + timedelta(days=1)), ()))
    save_poll(store, TVWIRE, batch, at=NOW)
    other = article("s1", None, title="Elsewhere", published=NOW - timedelta(minutes=30))
    save_poll(store, SCREENBEAT, [(other, ())], at=NOW)

    expected = [NOW - timedelta(hours=h) for h in (0, 1, 3, 5)]
    assert published(store) == expected
    assert published(store, until=NOW - timedelta(hours=2)) == expected[2:]
    assert published(store, "https://unknown.example/feed") == []


# --- recording a whole poll ------------------------------------------------------------------


def dated(entry_id: str, when: datetime, url: str | None = None) -> Article:
    return article(entry_id, url, title=f"Story {entry_id}", published=when)


def published(store: Store, url: str = TVWIRE, until: datetime = NOW) -> list[datetime]:
    return list(store.stored_polls({url: []}, until=until)[url].published)


def test_a_poll_stores_articles_validators_and_schedule_together(store: Store) -> None:
    batch = [(dated(f"e{h}", NOW - timedelta(hours=h)), matched("Severance")) for h in range(3)]
    schedule = Schedule(next_poll=NOW + timedelta(hours=1))
    record = store.record_poll(
        intent(store, TVWIRE, batch, validators=Validators('"v1"'), schedule=schedule)
    )
    assert record.saved == SaveResult(new=3)
    assert record.schedule == schedule
    assert state(store).validators == Validators('"v1"')
    assert state(store).next_poll == NOW + timedelta(hours=1)
    assert len(pending(store)) == 3
    # Without a schedule, the stored one is kept and reported.
    assert store.record_poll(PollIntent(TVWIRE, NOW, 304)).schedule == record.schedule
    # The same entries again: unchanged, counted as such.
    assert store.record_poll(intent(store, TVWIRE, batch)).saved == SaveResult(unchanged=3)


def test_polls_written_together_store_each_feeds_articles_in_order(store: Store) -> None:
    shared = "https://news.example/shared"
    first = intent(store, TVWIRE, [(dated("t1", NOW, shared), matched("Severance"))])
    second = intent(store, SCREENBEAT, [(dated("s1", NOW, shared), matched("Andor"))])
    records = store.record_polls([first, second])
    # In order: the second feed's entry joins the article the first one stored.
    assert [record.saved for record in records] == [SaveResult(new=1), SaveResult(updated=1)]
    assert reports(store) == {TVWIRE: 1, SCREENBEAT: 1}
    assert store.record_polls([]) == []


STREAMNOTES = "https://streamnotes.example/feed"


def stored_rows(url: str) -> dict[str, list[tuple]]:
    """Every article, entry, match and forgotten entry stored, without the ids the database
    picked (articles named by guid, feeds by URL)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {
                name: sorted(connection.exec_driver_sql(query).all(), key=repr)
                for name, query in {
                    "articles": "SELECT a.guid, f.url, a.url, a.link, a.title, a.body, a.published,"
                    " a.first_seen, a.version, a.updated_at FROM articles a"
                    " JOIN feeds f ON f.id = a.feed_id",
                    "entries": "SELECT f.url, e.entry_id, a.guid, e.version FROM entries e"
                    " JOIN feeds f ON f.id = e.feed_id JOIN articles a ON a.id = e.article_id",
                    "matches": "SELECT a.guid, m.show_name, m.position, m.phrase FROM matches m"
                    " JOIN articles a ON a.id = m.article_id",
                    "forgotten": "SELECT f.url, e.entry_id, e.version, e.seen"
                    " FROM forgotten_entries e JOIN feeds f ON f.id = e.feed_id",
                    "feeds": "SELECT url, last_fetched, last_status, etag, next_poll FROM feeds",
                }.items()
            }
    finally:
        engine.dispose()


def test_a_batch_stores_what_its_polls_written_one_at_a_time_store(
    open_store: Callable[[str], Store], new_database: Callable[[], str]
) -> None:
    """Feeds of one batch sharing articles new in it, links shared within a feed, changed
    entries following links and re-dated, retention: as if each poll were its own batch."""
    x, y, z, w = (f"https://news.example/{name}" for name in "xyzw")
    rounds = [
        {
            TVWIRE: [
                (article("t1", x, title="X", published=NOW), matched("Severance")),
                (article("t2", y, title="Y"), ()),
                (article("t3", x, title="X again"), ()),  # a link the feed's entries share
            ],
            SCREENBEAT: [
                (article("s1", x, title="X", published=NOW), matched("Andor", "Severance")),
                (article("s2", z, title="Z"), ()),
                (article("s3", y, title="Y"), ()),
            ],
            STREAMNOTES: [
                (article("n1", x, title="X"), matched("Severance")),
                (article("n2", w), ()),
            ],
        },
        {
            TVWIRE: [
                (article("t1", x, title="X, edited", published=NOW - timedelta(hours=1)), ()),
                (article("t2", z, title="Y moved to Z"), matched("Andor")),  # follows the link
                (article("t4", w, title="W"), ()),
            ],
            SCREENBEAT: [
                (article("s1", x, title="X", published=NOW), matched("Andor", "Severance")),
                (article("s3", y, title="Y, edited"), ()),
                (article("s4", "https://news.example/v", title="V"), ()),
            ],
            STREAMNOTES: [
                (article("n1", x, title="X"), ()),
                (article("n2", w, title="W, edited"), ()),
            ],
        },
        {
            TVWIRE: [
                (article("t2", z, title="Y moved to Z"), ()),
                (article("t5", y, title="Y back"), ()),
            ],
            SCREENBEAT: [(article("s3", y, title="Y, edited again"), ())],
            STREAMNOTES: [
                (article("n2", w, title="W, edited"), ()),
                (article("n3", y, title="Y"), ()),
            ],
        },
    ]
    urls = {"batched": new_database(), "alone": new_database()}
    stores = {name: open_store(url) for name, url in urls.items()}
    saved: dict[str, list[SaveResult]] = {name: [] for name in stores}
    for number, polls in enumerate(rounds):
        at = NOW + timedelta(hours=number)
        validators = Validators(f'"{number}"')
        for name, store in stores.items():
            if number == 2:
                # Retention in between: the unmatched articles go, their entries are kept.
                store.prune(unmatched_before=at, matched_before=None, at=at)
            made = [
                intent(store, feed, pairs, at=at, validators=validators)
                for feed, pairs in polls.items()
            ]
            if name == "batched":
                records = store.record_polls(made)
            else:
                records = [store.record_poll(poll) for poll in made]
            saved[name].extend(record.saved for record in records)
    assert saved["batched"] == saved["alone"]
    assert saved["batched"][:3] == [
        SaveResult(new=3),
        SaveResult(new=1, updated=1, unchanged=1),
        SaveResult(new=1, unchanged=1),
    ]
    assert stored_rows(urls["batched"]) == stored_rows(urls["alone"])


def test_a_batch_whose_articles_the_database_refuses_stores_nothing(tmp_path: Path) -> None:
    """One intent's articles refused: the batch is refused whole; on its own each other one
    is stored (as Pipeline._record then writes them)."""
    url = f"sqlite:///{tmp_path / 'feedwatch.db'}"
    store = Store.open(url)
    try:
        with sqlite3.connect(tmp_path / "feedwatch.db") as db:
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON articles WHEN new.title = 'Refused'"
                " BEGIN SELECT RAISE(ABORT, 'value refused'); END"
            )
        made = [
            intent(store, feed, [(article(f"{number}", f"{feed}/{number}", title=title), ())])
            for number, (feed, title) in enumerate(
                [(TVWIRE, "Fine"), (SCREENBEAT, "Refused"), (STREAMNOTES, "Fine too")]
            )
        ]
        with pytest.raises(StoreError, match="value refused"):
            store.record_polls(made)
        assert reports(store) == {}
        assert store.record_poll(made[0]).saved == SaveResult(new=1)
        with pytest.raises(StoreError, match="value refused"):
            store.record_poll(made[1])
        assert store.record_poll(made[2]).saved == SaveResult(new=1)
        assert reports(store) == {TVWIRE: 1, STREAMNOTES: 1}
    finally:
        store.close()


# The second poll's articles, or the feeds' rows once every article is written.
@pytest.mark.parametrize("failing", ["saving.Saver.save", "repository._write_feeds"])
def test_a_batch_that_fails_part_way_stores_nothing_of_it(
    store: Store, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    from feedwatch.store import repository, saving

    owner_name, name = failing.rsplit(".", 1)
    owner = {"saving.Saver": saving.Saver, "repository": repository}[owner_name]
    real = getattr(owner, name)
    calls = []

    def failing_last(*args, **kwargs):
        calls.append(args)
        result = real(*args, **kwargs)
        if len(calls) == 2 or name == "_write_feeds":
            raise SQLAlchemyError("disk I/O error")
        return result

    monkeypatch.setattr(owner, name, failing_last)
    first = intent(
        store,
        TVWIRE,
        [(article("e1", "https://tvwire.example/a"), ())],
        validators=Validators('"v1"'),
    )
    second = intent(store, SCREENBEAT, [(article("s1", "https://screenbeat.example/b"), ())])
    with pytest.raises(StoreError, match="disk I/O error"):
        store.record_polls([first, second])
    # The first feed is polled again as if never polled: validators never outlive articles.
    assert state(store).validators == Validators()
    assert [r.last_fetched for r in store.feed_reports() if r.url == TVWIRE] == [None]
    assert reports(store).get(TVWIRE, 0) == 0


def test_publish_times_read_for_polls_follow_every_change(store: Store) -> None:
    old = [dated("e1", NOW - timedelta(days=2)), dated("e2", NOW - timedelta(days=1))]
    store.record_poll(intent(store, TVWIRE, [(a, ()) for a in old]))
    assert published(store) == [NOW - timedelta(days=1), NOW - timedelta(days=2)]
    # A poll that changed nothing keeps them on the feed's row, where the next read finds them.
    store.record_poll(PollIntent(TVWIRE, NOW, 304, published=tuple(published(store))))
    assert published(store) == [NOW - timedelta(days=1), NOW - timedelta(days=2)]
    newer = dated("e3", NOW - timedelta(hours=1))
    store.record_poll(intent(store, TVWIRE, [(newer, ())]))
    assert published(store) == [
        NOW - timedelta(hours=1),
        NOW - timedelta(days=1),
        NOW - timedelta(days=2),
    ]


def test_publish_times_read_for_polls_follow_a_shared_article_and_the_clock(
    store: Store,
) -> None:
    url = "https://news.example/shared"
    save_poll(store, TVWIRE, [(dated("t1", NOW - timedelta(hours=5), url), ())], at=NOW)
    save_poll(store, SCREENBEAT, [(dated("s1", NOW - timedelta(hours=5), url), ())], at=NOW)
    tomorrow = NOW + timedelta(days=1)
    save_poll(store, TVWIRE, [(dated("t2", tomorrow), ())], at=NOW)
    # The entry dated tomorrow is stored as dated when first seen: it counts at once.
    assert published(store) == [NOW, NOW - timedelta(hours=5)]
    store.record_poll(PollIntent(TVWIRE, NOW, 304, published=tuple(published(store))))
    # The other feed's entry for the article both carry changes, with a new date.
    redated = replace(dated("s1", NOW - timedelta(hours=2), url), body="Corrected.")
    save_poll(store, SCREENBEAT, [(redated, ())], at=NOW)
    assert published(store) == [NOW, NOW - timedelta(hours=2)]
    assert published(store, until=tomorrow) == [NOW, NOW - timedelta(hours=2)]
    # Read before any of them was published: none.
    assert published(store, until=NOW - timedelta(days=1)) == []


def test_stored_polls_give_the_versions_of_the_entries_asked_about(store: Store) -> None:
    story = article("e1", "https://tvwire.example/a")
    save_poll(store, TVWIRE, [(story, ())], at=NOW)
    polls = store.stored_polls(
        {TVWIRE: ["e1", "e2"], SCREENBEAT: ["e1"], "https://unknown.example/": ["x"]}, until=NOW
    )
    assert polls[TVWIRE].versions == {"e1": story.version}
    assert polls[SCREENBEAT].versions == {}
    assert polls["https://unknown.example/"] == StoredPoll({})


# --- concurrency -----------------------------------------------------------------------------


def test_poll_threads_saving_the_same_stories_do_not_collide(store: Store) -> None:
    feeds = [f"https://feed{i}.example/rss" for i in range(4)]
    stories = [f"https://news.example/story-{n}" for n in range(15)]
    errors: list[BaseException] = []

    def poll(feed: str) -> None:
        try:
            batch = [(article(f"{feed}#{url}", url), matched("Severance")) for url in stories]
            save_poll(store, feed, batch, at=NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=poll, args=(feed,)) for feed in feeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(pending(store)) == len(stories)
    assert all(reports(store)[feed] == len(stories) for feed in feeds)


# --- opening and migrations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://feedwatch:s3cret@127.0.0.1:1/feedwatch", "127.0.0.1"),
        ("this is not a url", "not a database URL"),
        ("nosuchdb://host/db", "nosuchdb"),
    ],
)
def test_open_failures_are_one_clean_line(url: str, expected: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert message.startswith("cannot open database ")
    assert expected in message
    assert "s3cret" not in message
    assert "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_open_names_the_password_masked() -> None:
    with pytest.raises(StoreError, match=r"feedwatch:\*\*\*@127\.0\.0\.1:1"):
        Store.open("postgresql+psycopg://feedwatch:s3cret@127.0.0.1:1/feedwatch")


def test_open_fails_cleanly_when_the_sqlite_path_cannot_be_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unable to open database file"):
        Store.open(f"sqlite:///{tmp_path}")  # a folder
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=f"cannot create folder {blocker}"):
        Store.open(f"sqlite:///{blocker / 'feedwatch.db'}")


def test_open_creates_missing_sqlite_folders_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nested" / "feedwatch.db"
    Store.open(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_migrations_produce_exactly_the_models(
    open_store: Callable[[str], Store], database_url: str, engine: Engine
) -> None:
    open_store(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_a_database_at_0001_with_data_upgrades_and_keeps_it(
    open_store: Callable[[str], Store], database_url: str, engine: Engine
) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    when = UTCDateTime()
    feeds = table(
        "feeds",
        *(column(name) for name in ("id", "url", "config_title", "last_status", "etag")),
        column("last_fetched", when),
        column("last_modified"),
    )
    articles = table(
        "articles",
        *(column(name) for name in ("id", "feed_id", "guid", "url", "title", "summary", "body")),
        *(column(name, when) for name in ("published", "first_seen", "updated_at")),
        column("version"),
    )
    story = article("e1", "https://tvwire.example/a", published=NOW - timedelta(hours=1))
    if engine.url.database and engine.dialect.name == "sqlite":
        Path(engine.url.database).parent.mkdir(parents=True)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            insert(feeds).values(
                id=1,
                url=TVWIRE,
                config_title="TV Wire",
                last_status=200,
                etag='"abc"',
                last_fetched=NOW,
                last_modified="Sat, 01 Mar 2025 10:00:00 GMT",
            )
        )
        connection.execute(
            insert(articles).values(
                id=1,
                feed_id=1,
                guid="urn:feedwatch:old",
                url=story.url,
                title=story.title,
                summary=story.summary,
                body=story.body,
                published=story.published,
                first_seen=NOW,
                updated_at=NOW,
                version=story.version,
            )
        )
        connection.execute(
            insert(
                table("entries", *map(column, ("feed_id", "entry_id", "article_id", "version")))
            ).values(feed_id=1, entry_id="e1", article_id=1, version=story.version)
        )
        connection.execute(
            insert(table("matches", *map(column, ("article_id", "show_name", "position")))).values(
                article_id=1, show_name="Severance", position=0
            )
        )

    store = open_store(database_url)
    assert store.feed_state(TVWIRE).validators == Validators(
        '"abc"', "Sat, 01 Mar 2025 10:00:00 GMT"
    )
    upgraded = store.feed_state(TVWIRE)
    assert (upgraded.next_poll, upgraded.errors) == (None, 0)
    assert [r.last_fetched for r in store.feed_reports() if r.url == TVWIRE] == [NOW]
    assert (upgraded.fetch_url, upgraded.gone_since, upgraded.ttl) == (TVWIRE, None, None)
    assert reports(store) == {TVWIRE: 1}
    # The stored entry is still known: seeing it again stores nothing twice.
    again = save_poll(store, TVWIRE, [(story, matched("Severance"))], at=NOW + timedelta(hours=1))
    assert again == SaveResult(unchanged=1)
    summarise_all(store)
    [item] = digest(store, 10)
    assert (item.guid, item.shows, item.feed_title) == (
        "urn:feedwatch:old",
        ("Severance",),
        "TV Wire",
    )
    assert published(store) == [story.published]


def test_reopening_keeps_data_and_migrates_nothing(
    open_store: Callable[[str], Store], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feedwatch.store")
    first = open_store(database_url)
    assert "schema upgraded from empty to 0010" in caplog.text
    save_poll(first, TVWIRE, [(article("e1", None), matched("Severance"))], at=NOW)
    first.close()

    caplog.clear()
    again = open_store(database_url)
    assert "upgraded" not in caplog.text
    assert reports(again) == {TVWIRE: 1}
    assert len(pending(again)) == 1


def test_a_database_from_a_newer_feedwatch_is_refused_cleanly(
    open_store: Callable[[str], Store], database_url: str, engine: Engine
) -> None:
    open_store(database_url).close()
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"cannot upgrade its schema: .*'9999'"):
        Store.open(database_url)


def test_the_head_revision_read_from_file_names_is_alembics() -> None:
    config = Config(MIGRATIONS / "alembic.ini")
    config.set_main_option("script_location", str(MIGRATIONS))
    assert database.head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_opening_a_database_at_the_head_revision_leaves_alembic_unloaded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feedwatch.db'}"
    Store.open(url).close()
    opened = (
        "import sys; from feedwatch.store import Store\n"
        f"Store.open({url!r}).close()\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'alembic', 'mako'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", opened], check=False, capture_output=True, text=True
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_developers_can_generate_the_next_migration(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    config = Config(scripts / "alembic.ini")
    config.set_main_option("sqlalchemy.url", f"sqlite:///{tmp_path / 'dev.db'}")
    command.upgrade(config, "head")
    command.revision(config, message="next change", autogenerate=True, rev_id="0099")

    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == "0099"
    new = script.get_revision("0099")
    assert new is not None and new.down_revision == "0010"
    # The models and the migrations agree, so there is nothing to do yet.
    assert "op." not in Path(new.path).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("timeout=abc", "could not convert string to float: 'abc'"),
        ("timeout=5&timeout=9", "float() argument must be a string or a real number, not 'tuple'"),
        ("check_same_thread=maybe", "String is not true/false: 'maybe'"),
    ],
)
def test_open_with_a_bad_query_argument_is_one_clean_line(
    tmp_path: Path, query: str, reason: str
) -> None:
    url = f"sqlite:///{tmp_path / 'feedwatch.db'}?{query}"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert str(caught.value) == f"cannot open database {url}: {reason}"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_open_with_a_nul_in_the_sqlite_path_is_one_clean_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="embedded null byte"):
        Store.open(f"sqlite:///{tmp_path}/feed%00watch.db")


# --- review fixes ----------------------------------------------------------------------------


def test_a_new_article_at_a_url_another_article_left_gets_its_own_guid(store: Store) -> None:
    old_url, new_url = "https://tvwire.example/a", "https://tvwire.example/a-moved"
    save_poll(store, TVWIRE, [(article("e1", old_url), matched("Severance"))], at=NOW)
    moved = article("e1", new_url, body="Moved to a new address.")
    save_poll(store, TVWIRE, [(moved, matched("Severance"))], at=NOW + timedelta(hours=1))
    # A different story now takes the old address (its guid would be the first article's).
    arrival = article("e2", old_url, title="Another story at the old address")
    result = save_poll(
        store, TVWIRE, [(arrival, matched("Severance"))], at=NOW + timedelta(hours=2)
    )
    assert result == SaveResult(new=1)
    summarise_all(store)
    items = digest(store, 10)
    assert {item.url for item in items} == {old_url, new_url}
    assert len({item.guid for item in items}) == 2


def test_an_entry_dated_in_the_future_counts_as_dated_when_first_seen(store: Store) -> None:
    future = article("future", None, title="Future", published=NOW + timedelta(days=30))
    save_poll(store, TVWIRE, [(future, matched("Severance"))], at=NOW)
    later = article("later", None, title="Later", published=NOW + timedelta(hours=1))
    save_poll(store, TVWIRE, [(later, matched("Severance"))], at=NOW + timedelta(hours=2))
    # An update of the future entry keeps its date capped at when it was first seen.
    edited = replace(future, body="Edited, still dated next month.")
    save_poll(store, TVWIRE, [(edited, matched("Severance"))], at=NOW + timedelta(hours=3))
    summarise_all(store)
    items = digest(store, 10)
    assert [(item.title, item.published) for item in items] == [
        ("Later", NOW + timedelta(hours=1)),
        ("Future", NOW),
    ]


def test_a_database_at_0005_with_data_upgrades_and_keeps_every_row(
    open_store: Callable[[str], Store], database_url: str, engine: Engine
) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine.url.database and engine.dialect.name == "sqlite":
        Path(engine.url.database).parent.mkdir(parents=True)
    story = article("e1", "https://tvwire.example/a", published=NOW - timedelta(hours=1))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        rows = {
            "feeds": {"id": 1, "url": TVWIRE, "config_title": "TV Wire", "error_count": 0},
            "articles": {
                "id": 1,
                "feed_id": 1,
                "guid": "urn:feedwatch:old",
                "url": story.url,
                "title": story.title,
                "summary": story.summary,
                "body": story.body,
                "published": story.published,
                "first_seen": NOW,
                "updated_at": NOW,
                "version": story.version,
            },
            "entries": {"feed_id": 1, "entry_id": "e1", "article_id": 1, "version": story.version},
            "matches": {"article_id": 1, "show_name": "Severance", "position": 0},
            "summaries": {
                "article_id": 1,
                "version": story.version,
                "sentences": '["Old summary."]',
                "created": NOW,
            },
        }
        for name, values in rows.items():
            dates = {"published", "first_seen", "updated_at", "created"}
            columns = [
                column(key, UTCDateTime()) if key in dates else column(key) for key in values
            ]
            connection.execute(insert(table(name, *columns)).values(values))

    store = open_store(database_url)
    assert reports(store) == {TVWIRE: 1}
    # Known as before: nothing stored twice.
    again = save_poll(store, TVWIRE, [(story, matched("Severance"))], at=NOW)
    assert again == SaveResult(unchanged=1)
    # A summary made under unknown settings is redone once, for what the digest shows.
    [job] = pending(store, 10, "feedwatch/3")
    store.save_summaries([(job.article_id, job.version, ["New summary."])], "feedwatch/3")
    [item] = digest(store, 10, "feedwatch/3")
    assert (item.guid, item.url, item.shows, item.phrases) == (
        "urn:feedwatch:old",
        "https://tvwire.example/a",
        ("Severance",),
        ("Severance",),
    )
    assert item.summary == ("New summary.",)


def test_retention_deletes_old_articles_but_their_entries_never_come_back(store: Store) -> None:
    old = article("old", "https://tvwire.example/old", published=NOW - timedelta(days=40))
    kept = article("kept", "https://tvwire.example/kept", published=NOW - timedelta(days=40))
    fresh = article("fresh", "https://tvwire.example/fresh", published=NOW - timedelta(days=1))
    batch = [(old, ()), (kept, matched("Severance")), (fresh, ())]
    save_poll(store, TVWIRE, batch, at=NOW)

    pruned = store.prune(unmatched_before=NOW - timedelta(days=30), matched_before=None, at=NOW)
    assert (pruned.unmatched, pruned.matched) == (1, 0)
    assert reports(store)[TVWIRE] == 2
    # The feed still lists it: known, so neither new nor stored again, even when edited.
    edited = replace(old, body="An edited body.")
    again = save_poll(store, TVWIRE, [(old, ()), (edited, ())], at=NOW + timedelta(hours=1))
    assert again == SaveResult(unchanged=2)
    assert reports(store)[TVWIRE] == 2

    pruned = store.prune(
        unmatched_before=NOW, matched_before=NOW - timedelta(days=30), at=NOW + timedelta(days=1)
    )
    assert (pruned.unmatched, pruned.matched) == (1, 1)
    assert reports(store)[TVWIRE] == 0
    # Not listed since it was last seen, for longer than the retention: let go.
    later = NOW + timedelta(days=70)
    pruned = store.prune(unmatched_before=later - timedelta(days=30), matched_before=None, at=later)
    assert pruned.forgotten == 3


# --- published feeds -------------------------------------------------------------------------

RSS = "application/rss+xml"


def rendered(name: str, body: bytes, version: str = "v1", media_type: str = RSS) -> RenderedFeed:
    return RenderedFeed(name, media_type, body, version)


def test_published_feeds_are_read_back_whole_or_as_not_modified(store: Store) -> None:
    rss = rendered("feed.xml", b"<rss>one</rss>")
    json_feed = rendered("shows/daredevil/feed.json", b'{"items": []}', media_type="x/json")
    store.save_published([rss, json_feed], NOW)

    found = store.published_feed("feed.xml")
    assert found is not None
    assert (found.body, found.media_type, found.updated) == (b"<rss>one</rss>", RSS, NOW)
    other = store.published_feed("shows/daredevil/feed.json")
    assert other is not None and (other.body, other.media_type) == (b'{"items": []}', "x/json")
    assert other.etag != found.etag
    # The ETag a reader already has: the answer says so, without the body.
    again = store.published_feed("feed.xml", known_etag=found.etag)
    assert again is not None and again.not_modified and again.body is None
    assert (again.etag, again.media_type, again.updated) == (found.etag, RSS, NOW)
    stale = store.published_feed("feed.xml", known_etag="an older one")
    assert stale is not None and stale.body == b"<rss>one</rss>"
    assert store.published_feed("feed.atom") is None


def test_a_feed_published_again_changes_only_with_its_version(store: Store) -> None:
    store.save_published([rendered("feed.xml", b"<rss>built at 12:00</rss>")], NOW)
    first = store.published_feed("feed.xml")
    # Rendered again with only its build date changed: the same version, left as it was.
    later = NOW + timedelta(minutes=15)
    store.save_published([rendered("feed.xml", b"<rss>built at 12:15</rss>")], later)
    assert store.published_feed("feed.xml") == first

    store.save_published([rendered("feed.xml", b"<rss>news</rss>", version="v2")], later)
    changed = store.published_feed("feed.xml")
    assert changed is not None and first is not None
    assert (changed.body, changed.updated) == (b"<rss>news</rss>", later)
    assert changed.etag != first.etag


def test_a_publish_that_fails_part_way_saves_none_of_its_feeds(store: Store) -> None:
    store.save_published([rendered("feed.xml", b"<rss>old</rss>")], NOW)
    # One the database refuses (it must have a media type), saved after the first.
    broken = rendered("feed.atom", b"<feed/>", media_type=None)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        store.save_published([rendered("feed.xml", b"<rss>new</rss>", "v2"), broken], NOW)
    kept = store.published_feed("feed.xml")
    assert kept is not None and kept.body == b"<rss>old</rss>"
    assert store.published_feed("feed.atom") is None


# --- concurrent starts, new and lost database files ------------------------------------------

OPEN_AND_CLOSE = "import sys; from feedwatch.store import Store; Store.open(sys.argv[1]).close()"


def open_in_processes(url: str, count: int = 4) -> list[tuple[int, str]]:
    """Store.open(url) in `count` processes started together: (exit status, stderr) of each."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_CLOSE, url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    return [(process.wait(60), process.stderr.read()) for process in processes if process.stderr]


@pytest.fixture
def fresh_postgres_database(postgres: Engine) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (not a schema: migrations race on the
    database's own catalogue), dropped afterwards."""
    name = f"feedwatch_race_{uuid.uuid4().hex[:12]}"
    with postgres.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with postgres.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_processes_starting_together_on_an_empty_postgres_database_all_come_up(
    fresh_postgres_database: str,
) -> None:
    # Without the migration lock, 3 of 4 such starts had all but one process exit 1 with
    # 'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'.
    assert open_in_processes(fresh_postgres_database) == [(0, "")] * 4
    store = Store.open(fresh_postgres_database)
    assert not store.created  # the schema is there, at head
    store.close()


def test_processes_starting_together_on_a_new_sqlite_file_all_come_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'feedwatch.db'}"
    assert open_in_processes(url) == [(0, "")] * 4


def test_open_tells_whether_it_created_the_database(
    open_store: Callable[[str], Store], database_url: str
) -> None:
    assert open_store(database_url).created
    assert not open_store(database_url).created


def test_a_deleted_or_replaced_sqlite_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "feedwatch.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        assert store.location == str(path)
        assert store.file_problem() is None
        moved = path.rename(tmp_path / "elsewhere.db")
        assert store.file_problem() == f"the database file {path} was deleted"
        shutil.copy(moved, path)  # same content, another file
        assert store.file_problem() == f"the database file {path} was replaced by another file"
    finally:
        store.close()
