"""Store: everything the pipeline keeps between cycles, behind plain method calls.

Each method runs in its own short transaction, so poll threads can share one Store.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, load_only, selectinload, sessionmaker

from feedwatch.errors import StoreError
from feedwatch.models import (
    Article,
    Enclosure,
    FeedReport,
    FeedState,
    PollIntent,
    PublishedFeed,
    RenderedFeed,
    Schedule,
    ShowMatch,
    Source,
    StoredPoll,
    StoredStory,
    StoryArticle,
    StoryMember,
    Validators,
    entity_tag,
)
from feedwatch.store import claims, database, saving
from feedwatch.store.saving import SaveResult
from feedwatch.store.schema import (
    POSTGRES_SEARCH_DOCUMENT,
    SEARCH_TABLE,
    ArticleRow,
    EntryRow,
    FeedRow,
    ForgottenEntryRow,
    MatchRow,
    PublishedFeedRow,
    RoundupRow,
    SettingRow,
    SummaryRow,
)

T = TypeVar("T")
# A feed's newest publish times read for its polls, and kept on its row (policy.RECENT_ENTRIES).
PUBLISH_TIMES_KEPT = 20
# A write that lost a race runs again; each retry sees what the winner committed.
WRITE_ATTEMPTS = 10

# IN, not EXISTS: SQLite then reads the few matched articles by their keys, where EXISTS had it
# scan every stored article (the digest's query, 25,000 articles: 2 ms, not 19).
_is_matched = ArticleRow.id.in_(select(MatchRow.article_id))
# What the digest is ordered by: the article's date, else when it was first seen.
_DATE = func.coalesce(ArticleRow.published, ArticleRow.first_seen)
# What clustering is given of an article's text: it reads only the opening words.
TEXT_CHARS = 2000
# Articles read at once while every stored one is matched again.
REJUDGE_BATCH = 2000


def _summary_is_current(settings: str | None) -> ColumnElement[bool]:
    """The summary is of the article's current version, made with `settings`."""
    return and_(
        SummaryRow.article_id == ArticleRow.id,
        SummaryRow.version == ArticleRow.version,
        SummaryRow.settings.is_not_distinct_from(settings),
    )


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What Store.prune deleted."""

    unmatched: int = 0  # articles no show matched
    matched: int = 0
    forgotten: int = 0  # entries of deleted articles no feed listed for a retention period


# Statements that every poll runs, built once: building one costs more than running it.
_FEED_TABLE = FeedRow.__table__
# What writing a poll reads of its feed's row (see _Feed), and the writes: by Core, for one
# ORM object a feed costs more than the statements.
_FEED_ROWS = select(
    _FEED_TABLE.c.id,
    _FEED_TABLE.c.url,
    _FEED_TABLE.c.recent_published,
    _FEED_TABLE.c.next_poll,
    _FEED_TABLE.c.error_count,
    _FEED_TABLE.c.retry_after,
    _FEED_TABLE.c.gone_since,
).where(_FEED_TABLE.c.url.in_(bindparam("urls", expanding=True)))
_ADD_FEEDS = insert(_FEED_TABLE)
_UPDATE_FEED = update(_FEED_TABLE).where(_FEED_TABLE.c.id == bindparam("feed"))
_FEED_CACHES = select(FeedRow.id, FeedRow.url, FeedRow.recent_published).where(
    FeedRow.url.in_(bindparam("urls", expanding=True))
)
# Each feed's newest distinct publish times: numbered per feed, newest first, then cut.
_DATES = (
    select(EntryRow.feed_id, ArticleRow.published)
    .join(ArticleRow, ArticleRow.id == EntryRow.article_id)
    .where(
        EntryRow.feed_id.in_(bindparam("ids", expanding=True)),
        ArticleRow.published <= bindparam("until"),
    )
    .distinct()
    .subquery()
)
_RANKED = select(
    _DATES.c.feed_id,
    _DATES.c.published,
    func.row_number()
    .over(partition_by=_DATES.c.feed_id, order_by=_DATES.c.published.desc())
    .label("rank"),
).subquery()
_NEWEST_PUBLISHED = (
    select(_RANKED.c.feed_id, _RANKED.c.published)
    .where(_RANKED.c.rank <= PUBLISH_TIMES_KEPT)
    .order_by(_RANKED.c.feed_id, _RANKED.c.published.desc())
)


@dataclass(frozen=True, slots=True)
class MatchedArticle:
    """A stored article some show matched, as `feedwatch articles` lists it."""

    title: str
    link: str | None
    published: datetime  # the article's date, else when feedwatch first saw it
    feed_title: str  # the feed that first delivered it
    feed_url: str
    matches: tuple[ShowMatch, ...]  # in the order the matcher gave them


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A matched article Store.search found, with the opening of its text."""

    article: MatchedArticle
    text: str  # the first TEXT_CHARS of what is summarised (Article.text)


# Words of a search, each quoted on its own: no user input is read as FTS5 or tsquery syntax.
_SEARCH_WORD = re.compile(r"\w+")
_SEARCH_MATCHED = "EXISTS (SELECT 1 FROM matches WHERE matches.article_id = {id})"
_SEARCH_SQLITE = text(
    f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :query"
    f" AND {_SEARCH_MATCHED.format(id=f'{SEARCH_TABLE}.rowid')}"
    # A word in the title counts most; the columns are title, summary, body, page_text.
    f" ORDER BY bm25({SEARCH_TABLE}, 10.0, 2.0, 1.0, 1.0), rowid DESC LIMIT :limit"
)
_SEARCH_POSTGRES = text(
    "SELECT id FROM articles, plainto_tsquery('simple', :query) AS query"
    f" WHERE {POSTGRES_SEARCH_DOCUMENT} @@ query AND {_SEARCH_MATCHED.format(id='articles.id')}"
    f" ORDER BY ts_rank({POSTGRES_SEARCH_DOCUMENT}, query) DESC, id DESC LIMIT :limit"
)


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What Store.record_poll did: the articles' counts, and the feed's schedule now."""

    saved: SaveResult
    schedule: Schedule


class Store:
    """The database of feeds, articles, matches and summaries."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        created: bool = False,
        file: database.DatabaseFile | None = None,
    ) -> None:
        self._engine = engine
        self._name = name
        self._sessions = sessionmaker(engine)
        self._file = file
        self.created = created  # open() found no schema and made one

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the schema up to date; a StoreError names what went wrong."""
        opened = database.open_engine(url)
        return cls(opened.engine, opened.name, created=opened.created, file=opened.file)

    @property
    def location(self) -> str:
        """Where the data is: the SQLite file's path, else the URL (password masked)."""
        return str(self._file.path) if self._file else self._name

    def file_problem(self) -> str | None:
        """Why the SQLite file opened is gone from its path (deleted or replaced), in words;
        None while it is there, and always for other databases."""
        return None if self._file is None else self._file.problem()

    def close(self) -> None:
        self._engine.dispose()

    def sync_feeds(
        self,
        feeds: Sequence[tuple[str, str | None]],
        fingerprints: Mapping[str, str] | None = None,
    ) -> None:
        """Add the configured feeds (url, title) not stored yet; take titles from the config.

        `fingerprints` maps each URL to policy.fingerprint of its config entry. A feed whose
        entry changed is due at once; a gone feed whose entry changed, or that comes back
        after a sync without it, is polled again.
        """

        configured = dict(feeds)
        if not self._sync_changes(configured, fingerprints):
            return  # as at every start but the first: read, without a write transaction

        def write(session: Session) -> None:
            stored = {row.url: row for row in session.scalars(select(FeedRow))}
            for url, title in configured.items():
                row = stored.get(url)
                if row is None:
                    # All are known to be missing: one flush at commit adds them together.
                    row = FeedRow(url=url)
                    session.add(row)
                row.config_title = title
                if fingerprints is not None and url in fingerprints:
                    _note_config(row, fingerprints[url])
            if fingerprints is not None:
                for url, row in stored.items():
                    if url not in configured:
                        row.config_hash = None

        self._write(write)

    def _sync_changes(
        self, configured: Mapping[str, str | None], fingerprints: Mapping[str, str] | None
    ) -> bool:
        """Whether sync_feeds(configured, fingerprints) has anything to write."""
        query = select(FeedRow.url, FeedRow.config_title, FeedRow.config_hash)
        with self._session() as session:
            stored = {url: (title, hash_) for url, title, hash_ in session.execute(query)}
        wanted = {url: (title, (fingerprints or {}).get(url)) for url, title in configured.items()}
        for url, (title, fingerprint) in wanted.items():
            if url not in stored or stored[url][0] != title:
                return True
            if fingerprint is not None and stored[url][1] != fingerprint:
                return True
        if fingerprints is None:
            return False
        return any(hash_ is not None for url, (_, hash_) in stored.items() if url not in wanted)

    def feed_state(self, feed_url: str) -> FeedState:
        """How the feed is polled; a feed never stored is due at once at its own URL."""
        with self._session() as session:
            feed = session.scalar(select(FeedRow).where(FeedRow.url == feed_url))
            return FeedState(feed_url, feed_url) if feed is None else _state(feed)

    def feed_states(self) -> dict[str, FeedState]:
        """Every stored feed's state, by URL."""
        with self._session() as session:
            # Only the columns a state holds, not ORM objects: read at every cycle and
            # dispatcher tick, where decoding each feed's JSON (its recent publish times) was
            # two thirds of the time, 0.07 s before the first request of a cycle of 1,000.
            rows = session.execute(select(*_STATE_COLUMNS))
            return {row.url: _state(row) for row in rows}

    def stored_polls(
        self, wanted: Mapping[str, Collection[str]], *, until: datetime
    ) -> dict[str, StoredPoll]:
        """What deciding a poll of each feed in `wanted` needs (decide.py), read together:
        the stored version of each entry id `wanted` lists for it, and its newest distinct
        publish times not after `until` (up to PUBLISH_TIMES_KEPT). A feed not stored yet
        gets an empty StoredPoll."""
        with self._session() as session:
            feeds: dict[str, tuple[int, dict[str, Any] | None]] = {}
            for chunk in saving.chunks(wanted):
                found = session.execute(_FEED_CACHES, {"urls": chunk})
                feeds.update((url, (row_id, cached)) for row_id, url, cached in found)
            asked = {feeds[url][0]: set(ids) for url, ids in wanted.items() if url in feeds and ids}
            versions = saving.versions_of(session, asked)
            published: dict[int, tuple[datetime, ...]] = {}
            unknown = []
            for row_id, cached in feeds.values():
                times = _PublishTimes.load(cached).answer(until) if cached else None
                if times is None:
                    unknown.append(row_id)
                else:
                    published[row_id] = times
            published.update(_newest_publish_times(session, unknown, until))
        return {
            url: StoredPoll(versions.get(row_id, {}), published.get(row_id, ()))
            for url, (row_id, _) in feeds.items()
        } | {url: StoredPoll({}) for url in wanted if url not in feeds}

    def record_poll(self, intent: PollIntent) -> PollRecord:
        """record_polls of one poll."""
        return self.record_polls([intent])[0]

    def record_polls(self, intents: Sequence[PollIntent]) -> list[PollRecord]:
        """Write the polls decided (decide.py), in order, in one transaction: each feed's
        articles with its validators, so a crash loses the whole batch and its feeds are
        simply polled again, never one whose validators vouch for articles not stored.

        A feed polled for the first time is added. The publish times an intent carries are
        kept on the feed's row when its poll changed no article, and read again when it did
        (see _PublishTimes).
        """

        def write(session: Session) -> list[PollRecord]:
            connection = session.connection()
            feeds = _feeds(connection, [intent.url for intent in intents])
            saver = saving.Saver(session, [(feeds[i.url].id, i.entries) for i in intents])
            saved = [
                saver.save(feeds[i.url].id, i.url, i.entries, i.at, i.pages)
                if i.entries
                else SaveResult()
                for i in intents
            ]
            saver.finish()
            recent = _recent_publish_times(
                session,
                [feed.id for feed in feeds.values() if feed.id in saver.cleared],
                max(intent.at for intent in intents),
            )
            records = [
                _apply(feeds[intent.url], intent, done, recent.get(feeds[intent.url].id))
                for intent, done in zip(intents, saved, strict=True)
            ]
            _write_feeds(connection, feeds.values())
            return records

        return self._write(write) if intents else []

    def claim_due(
        self, now: datetime, *, owner: str, lease: timedelta, limit: int
    ) -> list[FeedState]:
        """Lease to `owner` for `lease` up to `limit` feeds due at `now`, earliest first, that
        no other worker holds (store/claims.py); their states as they are now."""
        return self._write(
            lambda session: [
                _state(row)
                for row in claims.claim(session, now, owner=owner, until=now + lease, limit=limit)
            ]
        )

    def release_claims(
        self, owner: str, urls: Collection[str] | None = None, *, until: datetime | None = None
    ) -> None:
        """Free `owner`'s leases on `urls` (None: all); with `until`, hold them that long."""
        self._write(lambda session: claims.release(session, owner, urls, until=until))

    def publish_lock(self) -> claims.PublishLock:
        """The lock whose holder alone publishes the digest (see store/claims.py)."""
        return claims.PublishLock(self._engine)

    def reset_feed(self, feed_url: str) -> bool:
        """Poll the feed afresh at its configured URL at once: not gone, no back-off, no
        redirect, no validators. False when no such feed is stored."""

        def write(session: Session) -> bool:
            row = session.scalar(select(FeedRow).where(FeedRow.url == feed_url))
            if row is None:
                return False
            row.fetch_url = row.etag = row.last_modified = None
            row.next_poll = row.retry_after = row.gone_since = None
            row.error_count = 0
            return True

        return self._write(write)

    def page_texts(self, urls: Iterable[str]) -> dict[str, str | None]:
        """For each of `urls` stored as an article (from any feed): its page's text, None
        when it has none. A new entry pointing at one of them joins that stored article."""
        with self._session() as session:
            return saving.stored_pages(session, urls)

    def digest_stories(
        self, limit: int | None = None, settings: str | None = None
    ) -> list[StoredStory]:
        """The newest `limit` stories (all when None), newest first (by their first article's
        date, else when it was first seen; then newest story), each with its matched articles
        (oldest first) and its summary when one made with `settings` is kept for exactly
        these articles at these versions. An article not in a story yet is a story alone."""
        with self._session() as session:
            return _stories(session, limit, settings)

    def save_summaries(
        self, summaries: Iterable[tuple[int, str, Sequence[str]]], settings: str | None = None
    ) -> None:
        """Keep each (story key, version, sentences): the summary of that version of the
        story kept under that key, all in one transaction; `settings` names what made them
        (see digest_stories). A summary of a version that has moved on since is kept but
        never shown: the next publish redoes it."""
        wanted = {article_id: (version, list(text)) for article_id, version, text in summaries}

        def write(session: Session) -> None:
            kept: dict[int, SummaryRow] = {}
            existing: set[int] = set()
            for chunk in saving.chunks(wanted):
                rows = session.scalars(select(SummaryRow).where(SummaryRow.article_id.in_(chunk)))
                kept.update((row.article_id, row) for row in rows)
                existing.update(
                    session.scalars(select(ArticleRow.id).where(ArticleRow.id.in_(chunk)))
                )
            created = datetime.now(UTC)
            for article_id, (version, sentences) in wanted.items():
                if article_id not in existing:
                    continue  # deleted meanwhile (retention)
                summary = kept.get(article_id) or SummaryRow(article_id=article_id)
                summary.version, summary.sentences, summary.created = version, sentences, created
                summary.settings = settings
                session.add(summary)

        self._write(write)

    def unclustered(self) -> list[tuple[int, datetime]]:
        """Matched articles not in a story yet: (id, date or first seen)."""
        query = select(ArticleRow.id, _DATE).where(_is_matched, ArticleRow.story.is_(None))
        with self._session() as session:
            return [(row_id, when) for row_id, when in session.execute(query)]

    def story_context(
        self, since: datetime, until: datetime
    ) -> list[tuple[int, int | None, StoryArticle]]:
        """The matched articles dated within [since, until], in the order stored: (id, its
        story or None, what clustering looks at)."""
        with self._session() as session:
            return _story_context(session, since, until)

    def set_stories(self, stories: Mapping[int, int]) -> None:
        """Put each article (by id) in a story (the id of the story's first article)."""

        def write(session: Session) -> None:
            if stories:
                articles = ArticleRow.__table__
                session.execute(
                    update(articles)
                    .where(articles.c.id == bindparam("row_id"))
                    .values(story=bindparam("new_story")),
                    [{"row_id": row_id, "new_story": story} for row_id, story in stories.items()],
                )

        self._write(write)

    def matched_articles(
        self, *, limit: int, show: str | None = None, since: datetime | None = None
    ) -> list[MatchedArticle]:
        """Up to `limit` matched articles, newest first as in the digest (by date, else first
        seen; then newest row): only those `show` matched (its name exactly as stored), only
        those dated `since` or later."""
        query = (
            select(ArticleRow)
            .where(_is_matched)
            .order_by(_DATE.desc(), ArticleRow.id.desc())
            .limit(limit)
            # Bodies and page texts can be large, and a listing shows none of them.
            .options(
                load_only(
                    ArticleRow.title, ArticleRow.link, ArticleRow.published, ArticleRow.first_seen
                ),
                selectinload(ArticleRow.matches),
                selectinload(ArticleRow.feed),
            )
        )
        if show is not None:
            query = query.where(
                exists().where(MatchRow.article_id == ArticleRow.id, MatchRow.show_name == show)
            )
        if since is not None:
            query = query.where(since <= _DATE)
        with self._session() as session:
            return [_matched_article(row) for row in session.scalars(query)]

    def search(self, query: str, limit: int) -> list[SearchHit]:
        """Up to `limit` matched articles containing every word of `query` (in any case,
        accents ignored on SQLite), best first: ranked by the database's own full-text search
        (bm25 on SQLite, ts_rank on PostgreSQL), the title counting most on SQLite. Any text
        is a valid query: its words are searched for, its punctuation ignored."""
        words = _SEARCH_WORD.findall(query)
        if not words or limit < 1:
            return []
        with self._session() as session:
            if self._engine.dialect.name == "postgresql":
                statement, terms = _SEARCH_POSTGRES, " ".join(words)
            else:
                statement, terms = _SEARCH_SQLITE, " ".join(f'"{word}"' for word in words)
            ids = list(session.scalars(statement, {"query": terms, "limit": limit}))
            query_rows = (
                select(ArticleRow)
                .where(ArticleRow.id.in_(ids))
                .options(selectinload(ArticleRow.matches), selectinload(ArticleRow.feed))
            )
            rows = {row.id: row for row in session.scalars(query_rows)}
            return [
                SearchHit(_matched_article(rows[row_id]), _text(rows[row_id])[:TEXT_CHARS])
                for row_id in ids
            ]

    def add_roundup(self, at: datetime, keep: int) -> None:
        """Note that a roundup was published at `at`; only the newest `keep` are kept."""

        def write(session: Session) -> None:
            session.merge(RoundupRow(at=at))
            session.flush()
            old = select(RoundupRow.at).order_by(RoundupRow.at.desc()).offset(keep)
            session.execute(delete(RoundupRow).where(RoundupRow.at.in_(old.scalar_subquery())))

        self._write(write)

    def roundups(self) -> list[datetime]:
        """When roundups were published, newest first."""
        with self._session() as session:
            return list(session.scalars(select(RoundupRow.at).order_by(RoundupRow.at.desc())))

    def save_published(self, feeds: Iterable[RenderedFeed], at: datetime) -> None:
        """Keep the feeds one publish rendered, all in one transaction, as published at `at`:
        a process serving them never mixes two publishes. A feed whose version is the one
        saved already is left as it is, its date and ETag included."""
        rendered = {feed.name: feed for feed in feeds}

        def write(session: Session) -> None:
            names = select(PublishedFeedRow.name, PublishedFeedRow.version).where(
                PublishedFeedRow.name.in_(list(rendered))
            )
            saved = {name: version for name, version in session.execute(names)}
            for feed in rendered.values():
                values = {
                    "media_type": feed.media_type,
                    "body": feed.body,
                    "etag": entity_tag(feed.body),
                    "version": feed.version,
                    "updated_at": at,
                }
                if feed.name not in saved:
                    session.add(PublishedFeedRow(name=feed.name, **values))
                elif saved[feed.name] != feed.version:
                    session.execute(
                        update(PublishedFeedRow)
                        .where(PublishedFeedRow.name == feed.name)
                        .values(**values)
                    )

        if rendered:
            self._write(write)

    def published_feed(self, name: str, known_etag: str | None = None) -> PublishedFeed | None:
        """The feed `name` as last published; its body left unread (PublishedFeed.not_modified)
        when its ETag is `known_etag`. None when none was published under that name."""
        # One statement, so that the ETag and the body are of the same version even while a
        # publish commits in between.
        body = case((PublishedFeedRow.etag == known_etag, null()), else_=PublishedFeedRow.body)
        query = select(
            PublishedFeedRow.media_type, PublishedFeedRow.etag, PublishedFeedRow.updated_at, body
        ).where(PublishedFeedRow.name == name)
        with self._session() as session:
            row = session.execute(query).one_or_none()
        if row is None:
            return None
        media_type, etag, updated, found = row
        return PublishedFeed(name, media_type, etag, updated, found)

    def setting(self, name: str) -> str | None:
        """A value kept with set_setting (e.g. what stored matches were made with)."""
        with self._session() as session:
            row = session.get(SettingRow, name)
            return None if row is None else row.value

    def set_setting(self, name: str, value: str) -> None:
        self._write(lambda session: session.merge(SettingRow(name=name, value=value)))

    def stored_articles(self) -> Iterator[list[tuple[int, Article, tuple[str, ...]]]]:
        """Every stored article, REJUDGE_BATCH at a time: (id, the article as matched, its
        shows). The article's body is its page's text where that is longer, as when it was
        first matched."""
        query = select(
            ArticleRow.id,
            ArticleRow.title,
            ArticleRow.summary,
            ArticleRow.body,
            ArticleRow.page_text,
            ArticleRow.tags,
        ).order_by(ArticleRow.id)
        last = 0
        while True:
            with self._session() as session:
                rows = session.execute(query.where(ArticleRow.id > last).limit(REJUDGE_BATCH)).all()
                if not rows:
                    return
                shows: dict[int, list[str]] = {}
                ids = [row.id for row in rows]
                matches = select(MatchRow.article_id, MatchRow.show_name).order_by(
                    MatchRow.article_id, MatchRow.position
                )
                for article_id, show in session.execute(
                    matches.where(MatchRow.article_id.between(ids[0], ids[-1]))
                ):
                    shows.setdefault(article_id, []).append(show)
            last = ids[-1]
            yield [
                (
                    row.id,
                    _as_matched(row.title, row.summary, row.body, row.page_text, row.tags),
                    tuple(shows.get(row.id, ())),
                )
                for row in rows
            ]

    def replace_matches(self, changes: Mapping[int, Sequence[ShowMatch]]) -> None:
        """Make each article's matches exactly the ones given, in one transaction."""

        def write(session: Session) -> None:
            for chunk in saving.chunks(changes):
                session.execute(delete(MatchRow).where(MatchRow.article_id.in_(chunk)))
            rows = [
                {
                    "article_id": article_id,
                    "show_name": match.show,
                    "position": position,
                    "phrase": match.phrase,
                }
                for article_id, matches in changes.items()
                for position, match in enumerate(matches)
            ]
            if rows:
                session.execute(insert(MatchRow), rows)

        if changes:
            self._write(write)

    def prune(
        self, *, unmatched_before: datetime | None, matched_before: datetime | None, at: datetime
    ) -> PruneReport:
        """Delete the articles dated before the cutoff of their kind (None: keep them all).

        Their entries are kept as forgotten entries (entry id and version), so a feed still
        listing them does not bring them back as new; a forgotten entry no poll has seen
        for as long as the shorter retention is let go.
        """

        def write(session: Session) -> PruneReport:
            counts = {"unmatched": 0, "matched": 0}
            for kind, cutoff, condition in (
                ("unmatched", unmatched_before, ~_is_matched),
                ("matched", matched_before, _is_matched),
            ):
                if cutoff is None:
                    continue
                ids = list(session.scalars(select(ArticleRow.id).where(condition, cutoff > _DATE)))
                for chunk in saving.chunks(ids):
                    forgotten = select(
                        EntryRow.feed_id, EntryRow.entry_id, EntryRow.version, literal(at)
                    ).where(EntryRow.article_id.in_(chunk))
                    session.execute(
                        insert(ForgottenEntryRow).from_select(
                            ["feed_id", "entry_id", "version", "seen"], forgotten
                        )
                    )
                    # Entries, matches and summaries go with them (ON DELETE CASCADE).
                    session.execute(delete(ArticleRow).where(ArticleRow.id.in_(chunk)))
                    counts[kind] += len(chunk)
            cutoffs = [cutoff for cutoff in (unmatched_before, matched_before) if cutoff]
            gone = 0
            if cutoffs:
                result = session.execute(
                    delete(ForgottenEntryRow).where(ForgottenEntryRow.seen < max(cutoffs))
                )
                gone = result.rowcount or 0
            if (counts["unmatched"] or counts["matched"]) and session.bind.dialect.name == "sqlite":
                # FTS5 keeps what was deleted until its segments merge: merged now, the search
                # index stays as large as what is stored (bench/retention.py), not all history.
                session.execute(
                    text(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('optimize')")
                )
            return PruneReport(counts["unmatched"], counts["matched"], gone)

        return self._write(write)

    def feed_reports(self) -> list[FeedReport]:
        """Every stored feed, in the order first seen, with how many articles it delivered."""
        articles = (
            select(func.count(func.distinct(EntryRow.article_id)))
            .where(EntryRow.feed_id == FeedRow.id)
            .scalar_subquery()
        )
        with self._session() as session:
            return [
                FeedReport(
                    url=feed.url,
                    title=feed.title,
                    last_fetched=feed.last_fetched,
                    last_status=feed.last_status,
                    articles=count,
                    last_error=feed.last_error,
                    next_poll=feed.next_poll,
                    errors=feed.error_count,
                    retry_after=feed.retry_after,
                    gone_since=feed.gone_since,
                    moved_to=feed.fetch_url,
                    skipped=feed.last_skipped,
                )
                for feed, count in session.execute(select(FeedRow, articles).order_by(FeedRow.id))
            ]

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A read transaction; database failures become StoreError."""
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"database {self._name}: {database.reason(exc)}") from None

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction, again if it lost a race with another writer."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._sessions.begin() as session:
                    session.connection(execution_options=database.WRITE)
                    return work(session)
            except SQLAlchemyError as exc:
                if attempt == WRITE_ATTEMPTS or not database.is_retryable(exc):
                    raise StoreError(f"database {self._name}: {database.reason(exc)}") from None


@dataclass(frozen=True, slots=True)
class _PublishTimes:
    """A feed's newest publish times as read at `read`: `times`, up to `limit` of them.

    Kept on the feed's row (FeedRow.recent_published), they stand until its articles change
    (the batch of polls that changes them reads them again; a date changed through an article
    another feed shares clears them) or until `due`, the first publish time after `read`: an
    article dated in the future then counts.
    """

    read: datetime
    due: datetime | None
    limit: int
    times: tuple[datetime, ...]

    def answer(self, until: datetime) -> tuple[datetime, ...] | None:
        """The newest distinct publish times not after `until`, up to PUBLISH_TIMES_KEPT
        (as _newest_publish_times reads them), or None when these times cannot tell."""
        if until < self.read or (self.due is not None and until >= self.due):
            return None
        if self.limit < PUBLISH_TIMES_KEPT and len(self.times) == self.limit:  # maybe more
            return None
        return self.times[:PUBLISH_TIMES_KEPT]

    def dump(self) -> dict[str, Any]:
        return {
            "read": self.read.isoformat(),
            "due": self.due.isoformat() if self.due else None,
            "limit": self.limit,
            "times": [when.isoformat() for when in self.times],
        }

    @classmethod
    def load(cls, stored: dict[str, Any]) -> _PublishTimes:
        due = stored["due"]
        return cls(
            datetime.fromisoformat(stored["read"]),
            datetime.fromisoformat(due) if due else None,
            stored["limit"],
            tuple(datetime.fromisoformat(when) for when in stored["times"]),
        )


def _recent_publish_times(
    session: Session, feed_ids: Sequence[int], at: datetime
) -> dict[int, dict[str, Any]]:
    """The recent publish times (_PublishTimes, dumped) of `feed_ids`, whose articles the
    batch being written, polled until `at`, changed: read again in its transaction rather
    than at each feed's next poll. No stored date is after `at`: each is at most when its
    article was first seen."""
    times = _newest_publish_times(session, feed_ids, at)
    return {
        feed_id: _PublishTimes(at, None, PUBLISH_TIMES_KEPT, newest).dump()
        for feed_id, newest in times.items()
    }


def _newest_publish_times(
    session: Session, feed_ids: Sequence[int], until: datetime
) -> dict[int, tuple[datetime, ...]]:
    """The newest distinct publish times, not after `until`, of each of `feed_ids`' articles,
    up to PUBLISH_TIMES_KEPT each, newest first, in one query a chunk."""
    found: dict[int, list[datetime]] = {feed_id: [] for feed_id in feed_ids}
    for chunk in saving.chunks(feed_ids):
        for feed_id, when in session.execute(_NEWEST_PUBLISHED, {"ids": chunk, "until": until}):
            found[feed_id].append(when)
    return {feed_id: tuple(times) for feed_id, times in found.items()}


@dataclass(slots=True)
class _Feed:
    """A feed's row as a batch of polls writes it: what _apply reads of it, as it stands,
    and the columns changed (written together at the end)."""

    id: int
    url: str
    recent_published: dict[str, Any] | None
    schedule: Schedule
    changes: dict[str, Any] = dataclasses.field(default_factory=dict)


def _apply(
    feed: _Feed, intent: PollIntent, saved: SaveResult, recent: dict[str, Any] | None
) -> PollRecord:
    """Write one poll's intent to its feed's row; `saved`: what saving its entries did;
    `recent`: the feed's recent publish times read again, as the batch changed them."""
    saved = dataclasses.replace(saved, unchanged=saved.unchanged + intent.unchanged)
    changes: dict[str, Any] = {
        "last_fetched": intent.at,
        "last_status": intent.status,
        "last_error": intent.error,
    }
    if intent.validators is not None:
        changes["etag"] = intent.validators.etag
        changes["last_modified"] = intent.validators.last_modified
    parsed = intent.feed
    if parsed is not None:
        if parsed.title:
            changes["feed_title"] = parsed.title
        changes["ttl_seconds"] = _seconds(parsed.ttl)
        changes["update_period_seconds"] = _seconds(parsed.update_period)
        changes["last_skipped"] = parsed.skipped + parsed.truncated
    kept = intent.schedule
    if kept is not None:
        feed.schedule = kept
        changes["next_poll"], changes["error_count"] = kept.next_poll, kept.errors
        changes["retry_after"], changes["gone_since"] = kept.retry_after, kept.gone_since
    if intent.moved_to is not None:
        changes["fetch_url"] = None if intent.moved_to == feed.url else intent.moved_to
    if recent is not None:
        feed.recent_published = changes["recent_published"] = recent
    elif intent.published is not None and feed.recent_published is None and not intent.entries:
        # Stored dates are never after when the article was first seen, so none is due.
        times = _PublishTimes(intent.at, None, PUBLISH_TIMES_KEPT, intent.published)
        feed.recent_published = changes["recent_published"] = times.dump()
    feed.changes.update(changes)
    return PollRecord(saved, feed.schedule)


def _write_feeds(connection: Connection, feeds: Iterable[_Feed]) -> None:
    """Write the feeds' changed columns: one statement for each set of columns changed."""
    alike: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for feed in feeds:
        if feed.changes:
            alike.setdefault(tuple(sorted(feed.changes)), []).append(
                {"feed": feed.id, **feed.changes}
            )
    for rows in alike.values():
        connection.execute(_UPDATE_FEED, rows)


def _stories(session: Session, limit: int | None, settings: str | None) -> list[StoredStory]:
    """The newest `limit` stories (all when None), newest first, each with its matched
    articles and the summary current for them (see pending_summaries)."""
    key = func.coalesce(ArticleRow.story, ArticleRow.id)
    newest = (
        select(key.label("key"), func.min(_DATE).label("date"))
        .where(_is_matched)
        .group_by(key)
        .order_by(func.min(_DATE).desc(), key.desc())
        .limit(limit)
    )
    order = [story_key for story_key, _ in session.execute(newest)]
    members: dict[int, list[StoryMember]] = {story_key: [] for story_key in order}
    for chunk in saving.chunks(order):
        query = (
            select(ArticleRow, key)
            .where(_is_matched, key.in_(chunk))
            .order_by(_DATE, ArticleRow.id)
            .options(selectinload(ArticleRow.matches))
        )
        found = session.execute(query).all()
        feeds = _sources(session, [row.id for row, _ in found])
        for row, story_key in found:
            members[story_key].append(_member(row, feeds.get(row.id, [])))
    # A story's guid is its first article's, read above unless it matches no show any more.
    guids = {member.id: member.guid for group in members.values() for member in group}
    missing = [story_key for story_key in order if story_key not in guids]
    for chunk in saving.chunks(missing):
        query = select(ArticleRow.id, ArticleRow.guid).where(ArticleRow.id.in_(chunk))
        guids.update((row_id, guid) for row_id, guid in session.execute(query))
    summaries = {}
    for chunk in saving.chunks(order):
        query = select(SummaryRow).where(
            SummaryRow.article_id.in_(chunk), SummaryRow.settings.is_not_distinct_from(settings)
        )
        summaries.update((row.article_id, row) for row in session.scalars(query))
    stories = []
    for story_key in order:
        group = tuple(members[story_key])
        story = StoredStory(story_key, guids.get(story_key, group[0].guid), group, None)
        summary = summaries.get(story_key)
        if summary is not None and summary.version == story.version:
            story = dataclasses.replace(story, summary=tuple(summary.sentences))
        stories.append(story)
    return stories


def _member(row: ArticleRow, feeds: Sequence[tuple[str, str]]) -> StoryMember:
    return StoryMember(
        id=row.id,
        guid=row.guid,
        title=row.title,
        link=row.link,
        published=row.published or row.first_seen,
        text=_text(row),
        version=row.version,
        sources=tuple(Source(title, url, row.link) for title, url in feeds),
        matches=tuple(ShowMatch(match.show_name, match.phrase) for match in row.matches),
        authors=tuple(row.authors or ()),
        enclosures=tuple(Enclosure(**enclosure) for enclosure in row.enclosures or ()),
        language=row.language,
    )


def _story_context(
    session: Session, since: datetime, until: datetime
) -> list[tuple[int, int | None, StoryArticle]]:
    # Columns, not ORM objects: a cold cycle's publish reads every match of the window, and
    # the session would hold each whole article (its HTML body among them) until it closed.
    query = (
        select(
            ArticleRow.id,
            ArticleRow.story,
            ArticleRow.title,
            ArticleRow.summary,
            ArticleRow.body,
            ArticleRow.page_text,
            ArticleRow.link,
            ArticleRow.published,
            ArticleRow.first_seen,
            FeedRow.config_title,
            FeedRow.feed_title,
            FeedRow.url,
        )
        .join(FeedRow, FeedRow.id == ArticleRow.feed_id)
        .where(_is_matched, _DATE.between(since, until))
        .order_by(ArticleRow.id)
    )
    return [
        (
            row.id,
            row.story,
            StoryArticle(
                id=str(row.id),
                title=row.title,
                # Clustering reads the opening of a text only.
                text=_text(row)[:TEXT_CHARS],
                url=row.link,
                source=row.config_title or row.feed_title or row.url,  # as FeedRow.title
                published=row.published or row.first_seen,
            ),
        )
        for row in session.execute(query)
    ]


def _sources(session: Session, article_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """(title, url) of each feed that delivered each article, the first delivery first."""
    found: dict[int, list[tuple[str, str]]] = {}
    for chunk in saving.chunks(article_ids):
        query = (
            select(EntryRow.article_id, FeedRow)
            .join(FeedRow, FeedRow.id == EntryRow.feed_id)
            .where(EntryRow.article_id.in_(chunk))
            .order_by(EntryRow.article_id, FeedRow.id)
        )
        for article_id, feed in session.execute(query):
            listed = found.setdefault(article_id, [])
            if all(url != feed.url for _, url in listed):
                listed.append((feed.title or feed.url, feed.url))
    return found


def _matched_article(row: ArticleRow) -> MatchedArticle:
    return MatchedArticle(
        title=row.title,
        link=row.link,
        published=row.published or row.first_seen,
        feed_title=row.feed.title or row.feed.url,
        feed_url=row.feed.url,
        matches=tuple(ShowMatch(m.show_name, m.phrase) for m in row.matches),
    )


def _as_matched(
    title: str, summary: str, body: str, page_text: str | None, tags: list[str] | None = None
) -> Article:
    """A stored article's text as it was matched: with its page (Article.with_page)."""
    article = Article("", None, title, summary, body, None, tags=tuple(tags or ()))
    return article.with_page(page_text)


def _text(row: ArticleRow | Row[Any]) -> str:
    """What is summarised: Article.text of the article as matched."""
    return _as_matched(row.title, row.summary, row.body, row.page_text).text


def _note_config(row: FeedRow, fingerprint: str) -> None:
    if row.config_hash == fingerprint:
        return
    # None is a feed first configured, or back after a sync without it: only a gone one
    # needs waking up. A known entry that changed takes effect at once.
    if row.config_hash is not None or row.gone_since is not None:
        row.gone_since = row.next_poll = None
    row.config_hash = fingerprint


# What _state reads of a feed's row.
_STATE_COLUMNS = (
    FeedRow.url,
    FeedRow.fetch_url,
    FeedRow.etag,
    FeedRow.last_modified,
    FeedRow.next_poll,
    FeedRow.error_count,
    FeedRow.retry_after,
    FeedRow.gone_since,
    FeedRow.ttl_seconds,
    FeedRow.update_period_seconds,
)


def _state(row: FeedRow | Row[Any]) -> FeedState:
    return FeedState(
        url=row.url,
        fetch_url=row.fetch_url or row.url,
        validators=Validators(etag=row.etag, last_modified=row.last_modified),
        next_poll=row.next_poll,
        errors=row.error_count,
        retry_after=row.retry_after,
        gone_since=row.gone_since,
        ttl=_duration(row.ttl_seconds),
        update_period=_duration(row.update_period_seconds),
    )


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def _feeds(connection: Connection, urls: Sequence[str]) -> dict[str, _Feed]:
    """The feeds stored under `urls`, those not there yet added."""

    def read(wanted: Iterable[str]) -> dict[str, _Feed]:
        found = {}
        for chunk in saving.chunks(wanted):
            for row in connection.execute(_FEED_ROWS, {"urls": chunk}):
                schedule = Schedule(row.next_poll, row.error_count, row.retry_after, row.gone_since)
                found[row.url] = _Feed(row.id, row.url, row.recent_published, schedule)
        return found

    feeds = read(urls)
    missing = [url for url in dict.fromkeys(urls) if url not in feeds]
    if missing:
        connection.execute(_ADD_FEEDS, [{"url": url} for url in missing])
        feeds.update(read(missing))
    return feeds
