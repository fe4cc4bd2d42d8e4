"""Saving one feed's articles: deduplication by entry id within a feed and by URL across feeds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from feedwatch.models import Article, Page
from feedwatch.store.schema import ArticleRow, EntryRow, FeedRow, MatchRow

# Keeps IN (...) lists well under every database's limit on bound parameters.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What save_articles did, one count per article passed in.

    new: articles stored for the first time. updated: a known entry whose text changed, or
    a known article that gained a matched show from another entry. unchanged: the rest.
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0


def guid_for(feed_url: str, article: Article) -> str:
    """The digest guid, fixed when the article is first stored.

    Derived from the canonical URL, else from the feed URL and entry id: the same article
    gets the same guid in any database, and it never changes afterwards (even if the
    article's URL does) so readers do not see it twice.
    """
    key = f"url:{article.url}" if article.url else f"entry:{feed_url}\n{article.entry_id}"
    return "urn:feedwatch:" + hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()


def save(
    session: Session,
    feed: FeedRow,
    pairs: Sequence[tuple[Article, tuple[str, ...]]],
    at: datetime,
    pages: Mapping[str, Page] | None = None,
) -> SaveResult:
    """Store `pairs` (article, matched shows) delivered by `feed`; see Store.save_articles."""
    saver = _Saver(session, feed, at, pairs, pages or {})
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for article, shows in pairs:
        outcome = saver.save(article, tuple(dict.fromkeys(shows)))
        counts[outcome] += 1
        if outcome != "unchanged":
            # One article at a time keeps the unique keys valid in the order we changed them.
            session.flush()
    return SaveResult(**counts)


class _Saver:
    def __init__(
        self,
        session: Session,
        feed: FeedRow,
        at: datetime,
        pairs: Sequence[tuple[Article, tuple[str, ...]]],
        pages: Mapping[str, Page],
    ) -> None:
        self.session = session
        self.feed = feed
        self.at = at
        self.pages = pages
        # Everything the batch can collide with, loaded up front and kept current as we go.
        entry_ids = {article.entry_id for article, _ in pairs}
        urls = {article.url for article, _ in pairs if article.url}
        self.entries: dict[str, EntryRow] = {}
        for chunk in _chunks(entry_ids):
            query = (
                select(EntryRow)
                .where(EntryRow.feed_id == feed.id, EntryRow.entry_id.in_(chunk))
                .options(joinedload(EntryRow.article))
            )
            self.entries.update((row.entry_id, row) for row in session.scalars(query))
        self.by_url: dict[str, ArticleRow] = {}
        for chunk in _chunks(urls):
            query = select(ArticleRow).where(ArticleRow.url.in_(chunk))
            self.by_url.update((row.url, row) for row in session.scalars(query) if row.url)

    def save(self, article: Article, shows: tuple[str, ...]) -> str:
        version = article.version
        entry = self.entries.get(article.entry_id)
        if entry is not None:
            if entry.version == version:
                return "unchanged"
            entry.version = version
            return self._changed_entry(entry, article, version, shows)
        row = self.by_url.get(article.url) if article.url else None
        if row is not None:
            self._add_entry(article.entry_id, version, row)
            return "updated" if _add_shows(row, shows) else "unchanged"
        self._create(article, version, shows)
        return "new"

    def _changed_entry(
        self, entry: EntryRow, article: Article, version: str, shows: tuple[str, ...]
    ) -> str:
        row = entry.article
        other = self.by_url.get(article.url) if article.url else None
        if other is not None and other is not row:
            # The entry now links to an article another entry delivered: follow the link.
            entry.article = other
            _add_shows(other, shows)
            self.session.flush()
            if not row.entries:
                self._forget(row)
            return "updated"
        if row.url and self.by_url.get(row.url) is row:
            del self.by_url[row.url]
        row.url = article.url
        row.title, row.summary, row.body = article.title, article.summary, article.body
        row.published = article.published
        row.version = version
        row.updated_at = self.at
        # A page belongs to the version it was fetched for: none fetched now, none kept.
        _set_page(row, self.pages.get(article.url) if article.url else None)
        if row.url:
            self.by_url[row.url] = row
        _set_shows(row, shows)
        return "updated"

    def _create(self, article: Article, version: str, shows: tuple[str, ...]) -> None:
        row = ArticleRow(
            feed_id=self.feed.id,
            guid=guid_for(self.feed.url, article),
            url=article.url,
            title=article.title,
            summary=article.summary,
            body=article.body,
            published=article.published,
            first_seen=self.at,
            version=version,
            updated_at=self.at,
            matches=[MatchRow(show_name=show, position=i) for i, show in enumerate(shows)],
        )
        _set_page(row, self.pages.get(article.url) if article.url else None)
        self.session.add(row)
        if row.url:
            self.by_url[row.url] = row
        self._add_entry(article.entry_id, version, row)

    def _add_entry(self, entry_id: str, version: str, row: ArticleRow) -> None:
        entry = EntryRow(feed_id=self.feed.id, entry_id=entry_id, version=version, article=row)
        self.session.add(entry)
        self.entries[entry_id] = entry

    def _forget(self, row: ArticleRow) -> None:
        if row.url and self.by_url.get(row.url) is row:
            del self.by_url[row.url]
        self.session.delete(row)
        # Deletes are flushed after inserts; this one must go first in case its URL comes back.
        self.session.flush()


def stored_versions(session: Session, feed: FeedRow, entry_ids: Iterable[str]) -> dict[str, str]:
    """The version each of `entry_ids` last delivered from `feed`; unknown ids are left out."""
    versions: dict[str, str] = {}
    for chunk in _chunks(set(entry_ids)):
        query = select(EntryRow.entry_id, EntryRow.version).where(
            EntryRow.feed_id == feed.id, EntryRow.entry_id.in_(chunk)
        )
        versions.update((entry_id, version) for entry_id, version in session.execute(query))
    return versions


def stored_pages(session: Session, urls: Iterable[str]) -> dict[str, str | None]:
    """The page text of each of `urls` stored as an article (None: stored without one)."""
    texts: dict[str, str | None] = {}
    for chunk in _chunks(set(urls)):
        query = select(ArticleRow.url, ArticleRow.page_text).where(ArticleRow.url.in_(chunk))
        texts.update((url, text) for url, text in session.execute(query) if url)
    return texts


def _set_page(row: ArticleRow, page: Page | None) -> None:
    row.page_url = page.url if page else None
    row.page_text = page.text if page else None
    row.page_error = page.error if page else None
    row.page_fetched = page.fetched_at if page else None


def _add_shows(row: ArticleRow, shows: Iterable[str]) -> bool:
    """Record shows not yet matched, after the ones already there; True when any was new."""
    known = {match.show_name for match in row.matches}
    added = [show for show in shows if show not in known]
    start = max((match.position for match in row.matches), default=-1) + 1
    row.matches.extend(MatchRow(show_name=show, position=start + i) for i, show in enumerate(added))
    return bool(added)


def _set_shows(row: ArticleRow, shows: tuple[str, ...]) -> None:
    """Make the matches exactly `shows`, in that order."""
    wanted = {show: position for position, show in enumerate(shows)}
    kept = [match for match in row.matches if match.show_name in wanted]
    for match in kept:
        match.position = wanted.pop(match.show_name)
    row.matches = kept + [MatchRow(show_name=show, position=pos) for show, pos in wanted.items()]


def _chunks(values: set[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]
