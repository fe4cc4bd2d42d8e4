"""Saving one feed's articles: deduplication by entry id within a feed and by URL across feeds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from feedwatch.models import Article, ChangedEntry, Page, ShowMatch
from feedwatch.store.schema import ArticleRow, EntryRow, FeedRow, ForgottenEntryRow, MatchRow

# Keeps IN (...) lists well under every database's limit on bound parameters.
CHUNK = 500
K = TypeVar("K", str, int)
# Statements that every poll runs, built once: building one costs more than running it.
_VERSIONS = select(EntryRow.feed_id, EntryRow.entry_id, EntryRow.version).where(
    EntryRow.feed_id.in_(bindparam("feed_ids", expanding=True)),
    EntryRow.entry_id.in_(bindparam("entry_ids", expanding=True)),
)
_FORGOTTEN_VERSIONS = select(ForgottenEntryRow.entry_id, ForgottenEntryRow.version).where(
    ForgottenEntryRow.feed_id == bindparam("feed_id"),
    ForgottenEntryRow.entry_id.in_(bindparam("entry_ids", expanding=True)),
)
_FEEDS_OWN_ARTICLES = select(EntryRow.article_id).where(
    EntryRow.feed_id == bindparam("feed_id"),
    EntryRow.article_id.in_(bindparam("ids", expanding=True)),
)
_TAKEN_GUIDS = select(ArticleRow.guid).where(
    ArticleRow.guid.in_(bindparam("guids", expanding=True))
)
_ARTICLE_IDS = select(ArticleRow.url, ArticleRow.id).where(
    ArticleRow.url.in_(bindparam("urls", expanding=True))
)
# New rows are inserted into the tables, past the ORM, whose bulk inserts cost twice as much.
_ARTICLES = ArticleRow.__table__
_INSERT_ARTICLES = insert(_ARTICLES).returning(_ARTICLES.c.id, sort_by_parameter_order=True)
_INSERT_ENTRIES = insert(EntryRow.__table__)
_INSERT_MATCHES = insert(MatchRow.__table__)


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What writing one poll's entries did (Store.record_polls), one count per entry the
    poll delivered.

    new: articles stored for the first time. updated: a known entry whose text changed, or
    a known article that gained a matched show from another entry. unchanged: the rest.
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0


def guid_for(feed_url: str, article: Article, attempt: int = 0) -> str:
    """The digest guid, fixed when the article is first stored.

    Derived from the canonical URL, else from the feed URL and entry id: the same article
    gets the same guid in any database, and it never changes afterwards (even if the
    article's URL does) so readers do not see it twice. `attempt` > 0 gives the next
    candidates for when that guid is taken: by an article whose URL has since changed.
    """
    key = f"url:{article.key}" if article.key else f"entry:{feed_url}\n{article.entry_id}"
    if attempt:
        key += f"\n{feed_url}\n{article.entry_id}\n{attempt}"
    return "urn:feedwatch:" + hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()


def save(
    session: Session,
    feed: FeedRow,
    entries: Sequence[ChangedEntry],
    at: datetime,
    pages: Mapping[str, Page] | None = None,
) -> SaveResult:
    """Store `entries`, the new and changed ones a poll of `feed` delivered (decide.py); see
    Store.record_polls. Each counts as new, updated or unchanged (a forgotten entry, or one
    that joins an article without adding a show).

    Clears the feed's recent publish times (FeedRow.recent_published) when its articles
    change, and those of every other feed sharing an article whose date changed.
    """
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    # Flushes happen where _Saver says, not whenever a lazy load would trigger one.
    with session.no_autoflush:
        saver = _Saver(session, feed, at, entries, pages or {})
        for entry in entries:
            counts[saver.save(entry)] += 1
        saver.insert_new()
    if saver.changed:
        feed.recent_published = None
    return SaveResult(**counts)


@dataclass(slots=True)
class _New:
    """An article first seen in this batch: inserted with the others in one statement."""

    values: dict[str, Any]  # its ArticleRow columns
    article: Article
    entry_id: str
    version: str
    shows: tuple[ShowMatch, ...]


class _Saver:
    """Saves one poll's new and changed entries, one by one, as if each were written before
    the next is read.

    Unchanged entries never get here (decide.changed_entries). Most of the rest are new
    articles, inserted together at the end without ORM objects. The ORM (loaded on demand)
    handles the others: changed entries, and entries that join an article stored already or
    new in this batch.
    """

    def __init__(
        self,
        session: Session,
        feed: FeedRow,
        at: datetime,
        entries: Sequence[ChangedEntry],
        pages: Mapping[str, Page],
    ) -> None:
        self.session = session
        self.feed = feed
        self.at = at
        self.pages = pages
        self.changed = False  # an entry was new or changed: the feed's articles may differ
        # Entries whose articles retention deleted: known, so never stored again as new.
        self.forgotten: dict[str, str] = {}
        unknown = {e.article.entry_id for e in entries if e.stored is None}
        for chunk in chunks(unknown):
            found = session.execute(_FORGOTTEN_VERSIONS, {"feed_id": feed.id, "entry_ids": chunk})
            self.forgotten.update((entry_id, version) for entry_id, version in found)
        self.entries: dict[str, EntryRow] = {}  # ORM rows of entries, loaded when needed
        self._new: list[_New] = []
        # What each URL the batch may give an article belongs to: a stored article (its id
        # until its row is needed), or one new in this batch. Only the articles of new and
        # changed entries can take a URL, so only theirs are looked up.
        self.by_url: dict[str, int | ArticleRow | _New] = {}
        urls = {e.article.key for e in entries if e.article.key}
        for chunk in chunks(urls):
            found = session.execute(_ARTICLE_IDS, {"urls": chunk})
            self.by_url.update((url, row_id) for url, row_id in found if url)
        # Articles this feed delivers through an entry, as stored and as saved so far: a URL
        # one of them holds is shared by two entries of the feed, so it makes no other entry
        # that article.
        self.own: set[int] = set()
        ids = [row_id for row_id in self.by_url.values() if isinstance(row_id, int)]
        for chunk in chunks(ids):
            found_ids = session.scalars(_FEEDS_OWN_ARTICLES, {"feed_id": feed.id, "ids": chunk})
            self.own.update(found_ids)
        # URLs that unflushed changes took off an article. A flush orders its statements by
        # table, not as we made the changes: before a freed URL is given to another article,
        # the change that freed it must reach the database, or the unique key fails.
        self._freed: set[str] = set()

    def save(self, entry: ChangedEntry) -> str:
        article, shows, version = entry.article, entry.shows, entry.version
        if article.entry_id in self.forgotten:
            # Past retention: still listed, so kept forgotten; a new version of it is not news.
            self.forgotten[article.entry_id] = version
            self.session.execute(
                update(ForgottenEntryRow)
                .where(
                    ForgottenEntryRow.feed_id == self.feed.id,
                    ForgottenEntryRow.entry_id == article.entry_id,
                )
                .values(version=version, seen=self.at)
            )
            return "unchanged"
        self.changed = True
        if entry.stored is not None:
            row = self._entry(article.entry_id)
            row.version = version
            return self._changed_entry(row, article, version, shows)
        joined = self._joinable(article.key)
        if joined is not None:
            self._add_entry(article.entry_id, version, joined)
            return "updated" if _add_shows(joined, shows) else "unchanged"
        self._create(article, version, shows)
        return "new"

    def _joinable(self, key: str | None) -> ArticleRow | None:
        """The stored article another feed delivered at `key`, which this entry joins.

        None when there is none, or when this feed delivered it already through another
        entry (or earlier in this batch): then `key` is a link the feed's entries share, and
        this entry is an article of its own.
        """
        found = self.by_url.get(key) if key is not None else None
        if found is None or isinstance(found, _New):
            return None
        if (found if isinstance(found, int) else found.id) in self.own:
            return None
        return self._article(key)

    def insert_new(self) -> None:
        """Write the batch's new articles, with their entries and matches."""
        if not self._new:
            return
        self._unique_guids()
        ids = self.session.scalars(_INSERT_ARTICLES, [new.values for new in self._new]).all()
        entries = [
            {
                "feed_id": self.feed.id,
                "entry_id": new.entry_id,
                "article_id": row_id,
                "version": new.version,
            }
            for new, row_id in zip(self._new, ids, strict=True)
        ]
        self.session.execute(_INSERT_ENTRIES, entries)
        matches = [
            {
                "article_id": row_id,
                "show_name": match.show,
                "position": position,
                "phrase": match.phrase,
            }
            for new, row_id in zip(self._new, ids, strict=True)
            for position, match in enumerate(new.shows)
        ]
        if matches:
            self.session.execute(_INSERT_MATCHES, matches)
        for new, row_id in zip(self._new, ids, strict=True):
            url = new.values["url"]
            if url and self.by_url.get(url) is new:
                self.by_url[url] = row_id
            self.own.add(row_id)
        self._new.clear()

    def _unique_guids(self) -> None:
        """Give each new article the first of its guid candidates no other article has."""
        taken: set[str] = set()
        for chunk in chunks(new.values["guid"] for new in self._new):
            taken.update(self.session.scalars(_TAKEN_GUIDS, {"guids": chunk}))
        for new in self._new:
            attempt = 0
            while new.values["guid"] in taken:
                attempt += 1
                guid = guid_for(self.feed.url, new.article, attempt)
                new.values["guid"] = guid
                if self.session.scalar(_TAKEN_GUIDS, {"guids": [guid]}) is not None:
                    taken.add(guid)
            taken.add(new.values["guid"])

    def _entry(self, entry_id: str) -> EntryRow:
        """The ORM row of an entry stored already or saved earlier in the batch."""
        entry = self.entries.get(entry_id)
        if entry is None:
            if any(new.entry_id == entry_id for new in self._new):
                self.insert_new()
            entry = self.session.get_one(EntryRow, (self.feed.id, entry_id))
            self.entries[entry_id] = entry
        return entry

    def _article(self, url: str | None) -> ArticleRow | None:
        """The ORM row of the article that has `url`, if any."""
        if url is None:
            return None
        found = self.by_url.get(url)
        if isinstance(found, _New):
            self.insert_new()
            found = self.by_url[url]
        if isinstance(found, int):
            found = self.by_url[url] = self.session.get_one(ArticleRow, found)
        return found

    def _changed_entry(
        self, entry: EntryRow, article: Article, version: str, shows: tuple[ShowMatch, ...]
    ) -> str:
        row = entry.article
        self.own.add(row.id)
        other = self._article(article.key)
        if other is not None and other is not row and other.id not in self.own:
            # The entry now links to an article another entry delivered: follow the link.
            self.own.add(other.id)
            entry.article = other
            _add_shows(other, shows)
            self._flush()  # so that row.entries is read back without this entry
            if not row.entries:
                self._forget(row)
            return "updated"
        key = article.key
        if key is not None and key != row.url and isinstance(self.by_url.get(key), _New):
            key = None  # taken by an entry new in this batch: shared within the feed
        if row.url != key:
            self._release(row)
            self._claim(key)
        published = _not_after(article.published, row.first_seen)
        if row.published != published:
            self._forget_publish_times(row)
        row.url, row.link = key, article.url
        row.title, row.summary, row.body = article.title, article.summary, article.body
        row.published = published
        row.version = version
        row.updated_at = self.at
        _set_details(row, article)
        # A page belongs to the version it was fetched for: none fetched now, none kept.
        _set_page(row, self.pages.get(article.url) if article.url else None)
        if row.url:
            self.by_url[row.url] = row
        _set_shows(row, shows)
        return "updated"

    def _create(self, article: Article, version: str, shows: tuple[ShowMatch, ...]) -> None:
        if article.key is not None and article.key in self.by_url:
            # Held by an article this feed delivered through another entry: shared.
            article = replace(article, key=None)
        self._claim(article.key)
        page = self.pages.get(article.url) if article.url else None
        values = {
            "feed_id": self.feed.id,
            "guid": guid_for(self.feed.url, article),
            "url": article.key,
            "link": article.url,
            "title": article.title,
            "summary": article.summary,
            "body": article.body,
            "published": _not_after(article.published, self.at),
            "first_seen": self.at,
            "version": version,
            "updated_at": self.at,
            "page_url": page.url if page else None,
            "page_text": page.text if page else None,
            "page_error": page.error if page else None,
            "page_fetched": page.fetched_at if page else None,
            **_details(article),
        }
        new = _New(values, article, article.entry_id, version, shows)
        self._new.append(new)
        if article.key:
            self.by_url[article.key] = new

    def _add_entry(self, entry_id: str, version: str, row: ArticleRow) -> None:
        entry = EntryRow(feed_id=self.feed.id, entry_id=entry_id, version=version, article=row)
        self.own.add(row.id)
        self.session.add(entry)
        self.entries[entry_id] = entry

    def _forget(self, row: ArticleRow) -> None:
        self._release(row)
        self.session.delete(row)
        # Deletes are flushed after inserts; this one must go first in case its URL comes back.
        self._flush()

    def _forget_publish_times(self, row: ArticleRow) -> None:
        """`row`'s date is about to change: so may the recent publish times of every feed
        that delivered it (this one's are cleared anyway)."""
        sharing = select(EntryRow.feed_id).where(
            EntryRow.article_id == row.id, EntryRow.feed_id != self.feed.id
        )
        self.session.execute(
            update(FeedRow).where(FeedRow.id.in_(sharing)).values(recent_published=None),
            execution_options={"synchronize_session": False},
        )

    def _release(self, row: ArticleRow) -> None:
        """`row` is about to lose its URL (changed or deleted)."""
        if row.url:
            self.by_url.pop(row.url, None)
            self._freed.add(row.url)

    def _claim(self, url: str | None) -> None:
        """`url` is about to be given to an article."""
        if url in self._freed:
            self._flush()

    def _flush(self) -> None:
        self.session.flush()
        self._freed.clear()


def versions_of(session: Session, wanted: Mapping[int, set[str]]) -> dict[int, dict[str, str]]:
    """For each feed id, the version each entry id `wanted` names for it last delivered from
    that feed; unknown ids are left out."""
    found: dict[int, dict[str, str]] = {}
    ids = set().union(*wanted.values()) if wanted else set()
    for feed_chunk in chunks(wanted):
        for chunk in chunks(ids):
            rows = session.execute(_VERSIONS, {"feed_ids": feed_chunk, "entry_ids": chunk})
            for feed_id, entry_id, version in rows:
                if entry_id in wanted[feed_id]:
                    found.setdefault(feed_id, {})[entry_id] = version
    return found


def stored_pages(session: Session, urls: Iterable[str]) -> dict[str, str | None]:
    """The page text of each of `urls` stored as an article (None: stored without one)."""
    texts: dict[str, str | None] = {}
    for chunk in chunks(urls):
        query = select(ArticleRow.url, ArticleRow.page_text).where(ArticleRow.url.in_(chunk))
        texts.update((url, text) for url, text in session.execute(query) if url)
    return texts


def _not_after(published: datetime | None, first_seen: datetime) -> datetime | None:
    """An article's date as stored: one in the future (a feed's mistake or an embargo
    date) counts as when it was first seen, or it would top the digest for good."""
    return None if published is None else min(published, first_seen)


def _details(article: Article) -> dict[str, Any]:
    """The ArticleRow columns of what an article has besides its text."""
    return {
        "authors": list(article.authors) or None,
        "enclosures": [asdict(enclosure) for enclosure in article.enclosures] or None,
        "tags": list(article.tags) or None,
        "language": article.language,
    }


def _set_details(row: ArticleRow, article: Article) -> None:
    for name, value in _details(article).items():
        setattr(row, name, value)


def _set_page(row: ArticleRow, page: Page | None) -> None:
    row.page_url = page.url if page else None
    row.page_text = page.text if page else None
    row.page_error = page.error if page else None
    row.page_fetched = page.fetched_at if page else None


def _add_shows(row: ArticleRow, shows: Iterable[ShowMatch]) -> bool:
    """Record shows not yet matched, after the ones already there; True when any was new."""
    known = {match.show_name for match in row.matches}
    added = [match for match in shows if match.show not in known]
    start = max((match.position for match in row.matches), default=-1) + 1
    row.matches.extend(
        MatchRow(show_name=match.show, position=start + i, phrase=match.phrase)
        for i, match in enumerate(added)
    )
    return bool(added)


def _set_shows(row: ArticleRow, shows: Sequence[ShowMatch]) -> None:
    """Make the matches exactly `shows`, in that order."""
    wanted = {match.show: (position, match.phrase) for position, match in enumerate(shows)}
    kept = [match for match in row.matches if match.show_name in wanted]
    for match in kept:
        match.position, match.phrase = wanted.pop(match.show_name)
    row.matches = kept + [
        MatchRow(show_name=show, position=position, phrase=phrase)
        for show, (position, phrase) in wanted.items()
    ]


def chunks(values: Iterable[K]) -> Iterable[list[K]]:
    """The distinct `values`, sorted, in lists short enough for one IN (...) each."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]
