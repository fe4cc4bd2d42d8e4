"""The tables, as SQLAlchemy ORM classes.

Alembic migrations create and change the schema; these classes must describe the result
(tests compare the two). Change a column here, then generate a migration for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Named constraints let later migrations drop or alter them on every database,
# SQLite's batch mode included.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite keeps no zone, so values are written as naive UTC and given back their zone on
    the way out. A naive datetime passed in is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite's text for it, exactly as the SQLite DateTime after process_bind_param
        # writes it, in one step instead of two: a poll writes thousands.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(" ", "microseconds")

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class FeedRow(Base):
    """One configured feed and how its last poll went."""

    __tablename__ = "feeds"
    # The due query of claims.py (migration 0008).
    __table_args__ = (Index("ix_feeds_next_poll_lease_until", "next_poll", "lease_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String, unique=True)  # as configured: the feed's identity
    # Kept apart so a title removed from the config falls back to the feed's own.
    config_title: Mapped[str | None] = mapped_column(String)
    feed_title: Mapped[str | None] = mapped_column(String)
    last_fetched: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None]
    etag: Mapped[str | None] = mapped_column(String)
    last_modified: Mapped[str | None] = mapped_column(String)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The polling schedule (migration 0002), so a restart resumes it; see models.FeedState.
    fetch_url: Mapped[str | None] = mapped_column(String)  # None: `url` itself
    next_poll: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_count: Mapped[int] = mapped_column(default=0, server_default="0")
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gone_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ttl_seconds: Mapped[int | None]
    update_period_seconds: Mapped[int | None]
    # policy.fingerprint of the feed's config entry; None while the entry is not configured.
    config_hash: Mapped[str | None] = mapped_column(String(64))
    # The feed's newest publish times as last read from its articles (migration 0004), so a
    # poll that changed no article needs no query for them; None until read again after a
    # change. See repository._PublishTimes.
    recent_published: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Entries the last poll left out: unreadable, empty, or past poll.max_entries (0006).
    last_skipped: Mapped[int] = mapped_column(default=0, server_default="0")
    # The worker polling the feed, and until when it may (0008, claims.py); None: free.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def title(self) -> str | None:
        return self.config_title or self.feed_title


class ArticleRow(Base):
    """One article, however many feeds or entries delivered it."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), index=True)  # first delivery
    # A unique index (migration 0005), not a constraint: SQLite adds one without copying the table.
    guid: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    # The canonical URL that makes entries of several feeds one article (urls.identity_keys);
    # None when the link identifies no single entry of its feed (a home page).
    url: Mapped[str | None] = mapped_column(String, unique=True)
    link: Mapped[str | None] = mapped_column(String)  # what readers follow (0006)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The article's own web page (migration 0003), fetched once per version; all None when
    # it was not fetched. `version` stays that of the feed's text: see models.Page.
    page_url: Mapped[str | None] = mapped_column(String)
    page_text: Mapped[str | None] = mapped_column(Text)
    page_error: Mapped[str | None] = mapped_column(Text)
    page_fetched: Mapped[datetime | None] = mapped_column(UTCDateTime)
    authors: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))  # (0006)
    # [{"url": ..., "type": ..., "length": ...}], as models.Enclosure.
    enclosures: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    tags: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    language: Mapped[str | None] = mapped_column(String(16))
    # The id of the first article of its story (stories.py); None until clustered. Not a
    # foreign key: the story keeps its id when retention deletes that first article.
    story: Mapped[int | None] = mapped_column(index=True)

    feed: Mapped[FeedRow] = relationship()
    entries: Mapped[list[EntryRow]] = relationship(back_populates="article", passive_deletes=True)
    matches: Mapped[list[MatchRow]] = relationship(
        cascade="all, delete-orphan", order_by="MatchRow.position", passive_deletes=True
    )


class EntryRow(Base):
    """A feed's entry id, pointing at the article it delivered.

    `version` is what this entry last delivered: several entries can share one article, and
    each is skipped only while its own text stays the same.
    """

    __tablename__ = "entries"

    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), primary_key=True)
    entry_id: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))

    article: Mapped[ArticleRow] = relationship(back_populates="entries")


class MatchRow(Base):
    """A show an article is about; position keeps the order the matcher gave."""

    __tablename__ = "matches"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    show_name: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[int]
    phrase: Mapped[str | None] = mapped_column(String)  # the keyword that matched (0006)


class SummaryRow(Base):
    """The summary of one version of an article; it stops counting when the version moves on."""

    __tablename__ = "summaries"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(String(64))
    sentences: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    # What the summary was made with (Summaries.settings): another algorithm or length redoes it.
    settings: Mapped[str | None] = mapped_column(String(64))


class ForgottenEntryRow(Base):
    """An entry whose article retention deleted: kept so the feed listing it brings nothing back."""

    __tablename__ = "forgotten_entries"

    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), primary_key=True)
    entry_id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    # Last time a poll found it still in the feed; one unseen past retention is let go.
    seen: Mapped[datetime] = mapped_column(UTCDateTime)


class RoundupRow(Base):
    """A moment a daily roundup was published (digest.roundup): its items cover the day before."""

    __tablename__ = "roundups"

    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)


class SettingRow(Base):
    """What the stored judgements were made with, e.g. the shows' fingerprint (0006)."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PublishedFeedRow(Base):
    """A digest feed as last published (0009): what every process serves, whichever one
    published it."""

    __tablename__ = "published_feeds"

    name: Mapped[str] = mapped_column(String, primary_key=True)  # RenderedFeed.name
    media_type: Mapped[str] = mapped_column(String)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))  # RenderedFeed.version
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Full-text search (migrations 0007 and 0010) is made by hand, as neither database's kind of
# index can be declared here: on SQLite the FTS5 table SEARCH_TABLE (and the shadow tables FTS5
# keeps beside it, named SEARCH_TABLE + "_..."), on PostgreSQL the expression index
# SEARCH_INDEX on POSTGRES_SEARCH_DOCUMENT, which queries must repeat exactly for the index to
# be used.
SEARCH_TABLE = "articles_search"
SEARCH_INDEX = "ix_articles_search"
POSTGRES_SEARCH_DOCUMENT = (
    "to_tsvector('simple', left(title || ' ' || summary || ' ' || body || ' ' "
    "|| coalesce(page_text, ''), 100000))"
)


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Alembic's filter for comparing these classes with a database: leaves out the search
    objects, which they do not describe."""
    if type_ == "table" and name is not None:
        return name != SEARCH_TABLE and not name.startswith(SEARCH_TABLE + "_")
    return not (type_ == "index" and name == SEARCH_INDEX)
