"""Store: everything the pipeline keeps between cycles, behind plain method calls.

Each method runs in its own short transaction, so poll threads can share one Store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from feedwatch.errors import StoreError
from feedwatch.models import Article, DigestItem, FeedReport, SummaryJob, Validators
from feedwatch.store import database, saving
from feedwatch.store.saving import SaveResult
from feedwatch.store.schema import ArticleRow, EntryRow, FeedRow, MatchRow, SummaryRow

T = TypeVar("T")
# A write that lost a race runs again; each retry sees what the winner committed.
WRITE_ATTEMPTS = 10

_is_matched = exists().where(MatchRow.article_id == ArticleRow.id)
_summary_is_current = and_(
    SummaryRow.article_id == ArticleRow.id, SummaryRow.version == ArticleRow.version
)


class Store:
    """The database of feeds, articles, matches and summaries."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name
        self._sessions = sessionmaker(engine)

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the schema up to date; a StoreError names what went wrong."""
        return cls(*database.open_engine(url))

    def close(self) -> None:
        self._engine.dispose()

    def sync_feeds(self, feeds: Sequence[tuple[str, str | None]]) -> None:
        """Add the configured feeds (url, title) not stored yet; take titles from the config."""

        def write(session: Session) -> None:
            for url, title in dict(feeds).items():
                _feed(session, url).config_title = title

        self._write(write)

    def validators(self, feed_url: str) -> Validators:
        with self._session() as session:
            feed = session.scalar(select(FeedRow).where(FeedRow.url == feed_url))
            if feed is None:
                return Validators()
            return Validators(etag=feed.etag, last_modified=feed.last_modified)

    def record_poll(
        self,
        feed_url: str,
        *,
        at: datetime,
        status: int | None,
        validators: Validators | None = None,
        error: str | None = None,
        title: str | None = None,
    ) -> None:
        """Note how a poll went. `error` None means it worked (and clears the last error);
        `validators` None keeps the stored ones; `title` is the feed's own."""

        def write(session: Session) -> None:
            feed = _feed(session, feed_url)
            feed.last_fetched, feed.last_status, feed.last_error = at, status, error
            if validators is not None:
                feed.etag, feed.last_modified = validators.etag, validators.last_modified
            if title:
                feed.feed_title = title

        self._write(write)

    def save_articles(
        self,
        feed_url: str,
        articles: Sequence[tuple[Article, tuple[str, ...]]],
        *,
        at: datetime,
    ) -> SaveResult:
        """Store one poll's articles, each with the shows it matched, in one transaction.

        A known entry is skipped unless its version changed; then its text and matches are
        replaced. An unknown entry whose URL is stored already (from any feed) points at
        that article and adds its shows to it. Anything else is a new article.
        """
        return self._write(
            lambda session: saving.save(session, _feed(session, feed_url), articles, at)
        )

    def pending_summaries(self, limit: int | None = None) -> list[SummaryJob]:
        """Matched articles whose current version has no summary yet, oldest first."""
        query = (
            select(ArticleRow)
            .where(_is_matched, ~exists().where(_summary_is_current))
            .order_by(ArticleRow.id)
            .limit(limit)
        )
        with self._session() as session:
            return [
                # The same text models.Article.text gives: the longest of body and summary.
                SummaryJob(row.id, row.version, max((row.body, row.summary), key=len) or row.title)
                for row in session.scalars(query)
            ]

    def save_summary(self, article_id: int, version: str, sentences: Sequence[str]) -> None:
        """Keep the summary of `version`; ignored when the article has moved on since."""

        def write(session: Session) -> None:
            row = session.get(ArticleRow, article_id)
            if row is None or row.version != version:
                return
            summary = session.get(SummaryRow, article_id) or SummaryRow(article_id=article_id)
            summary.version, summary.sentences = version, list(sentences)
            summary.created = datetime.now(UTC)
            session.add(summary)

        self._write(write)

    def digest_items(self, limit: int) -> list[DigestItem]:
        """Summarised matched articles, newest first (by date, else first seen; then newest row).

        Shows come in the order the matcher gave them when the article was first stored;
        shows added later by other feeds follow.
        """
        date = func.coalesce(ArticleRow.published, ArticleRow.first_seen)
        query = (
            select(ArticleRow, SummaryRow.sentences)
            .join(SummaryRow, _summary_is_current)
            .where(_is_matched)
            .order_by(date.desc(), ArticleRow.id.desc())
            .limit(limit)
            .options(selectinload(ArticleRow.matches), selectinload(ArticleRow.feed))
        )
        with self._session() as session:
            return [
                DigestItem(
                    guid=row.guid,
                    title=row.title,
                    url=row.url,
                    published=row.published or row.first_seen,
                    summary=tuple(sentences),
                    shows=tuple(match.show_name for match in row.matches),
                    feed_title=row.feed.title or row.feed.url,
                    feed_url=row.feed.url,
                )
                for row, sentences in session.execute(query)
            ]

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


def _feed(session: Session, url: str) -> FeedRow:
    """The feed stored under `url`, added when it is not there yet."""
    feed = session.scalar(select(FeedRow).where(FeedRow.url == url))
    if feed is None:
        feed = FeedRow(url=url)
        session.add(feed)
        session.flush()
    return feed
