"""Saving polls' articles: deduplication by entry id within a feed and by URL across feeds."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, Select, bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session, selectinload

from feedwatch.models import Article, ChangedEntry, Page, ShowMatch
from feedwatch.store.schema import ArticleRow, EntryRow, FeedRow, ForgottenEntryRow, MatchRow

# Keeps IN (...) lists well under every database's limit on bound parameters.
CHUNK = 500
K = TypeVar("K", str, int)
T = TypeVar("T")
# The batch's own statements run on its connection as Core, past the ORM's execution (which
# costs more than most of them), built once: building one costs more than running it.
_ARTICLES = ArticleRow.__table__
_ENTRIES = EntryRow.__table__
_FORGOTTEN = ForgottenEntryRow.__table__
_VERSIONS = select(_ENTRIES.c.feed_id, _ENTRIES.c.entry_id, _ENTRIES.c.version).where(
    _ENTRIES.c.feed_id.in_(bindparam("feed_ids", expanding=True)),
    _ENTRIES.c.entry_id.in_(bindparam("entry_ids", expanding=True)),
)
_FORGOTTEN_VERSIONS = select(
    _FORGOTTEN.c.feed_id, _FORGOTTEN.c.entry_id, _FORGOTTEN.c.version
).where(
    _FORGOTTEN.c.feed_id.in_(bindparam("feed_ids", expanding=True)),
    _FORGOTTEN.c.entry_id.in_(bindparam("entry_ids", expanding=True)),
)
_FORGETTING_FEEDS = (
    select(_FORGOTTEN.c.feed_id)
    .where(_FORGOTTEN.c.feed_id.in_(bindparam("feed_ids", expanding=True)))
    .distinct()
)
_KEEP_FORGOTTEN = (
    update(_FORGOTTEN)
    .where(
        _FORGOTTEN.c.feed_id == bindparam("forgotten_feed"),
        _FORGOTTEN.c.entry_id == bindparam("forgotten_entry"),
    )
    .values(version=bindparam("version"), seen=bindparam("seen"))
)
_FEEDS_OWN_ARTICLES = select(_ENTRIES.c.feed_id, _ENTRIES.c.article_id).where(
    _ENTRIES.c.feed_id.in_(bindparam("feed_ids", expanding=True)),
    _ENTRIES.c.article_id.in_(bindparam("ids", expanding=True)),
)
_TAKEN_GUIDS = select(_ARTICLES.c.guid).where(
    _ARTICLES.c.guid.in_(bindparam("guids", expanding=True))
)
_NEW_IDS = select(_ARTICLES.c.guid, _ARTICLES.c.id).where(
    _ARTICLES.c.guid.in_(bindparam("guids", expanding=True))
)
_SHARING_FEEDS = (
    select(_ENTRIES.c.feed_id)
    .where(_ENTRIES.c.article_id == bindparam("id"), _ENTRIES.c.feed_id != bindparam("feed_id"))
    .distinct()
)
_FORGET_PUBLISH_TIMES = (
    update(FeedRow.__table__)
    .where(FeedRow.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .values(recent_published=None)
)
# Without RETURNING: SQLite can only give inserted ids back in order one row at a time, so
# they are read back by guid instead.
_INSERT_ARTICLES = insert(_ARTICLES)
_INSERT_ENTRIES = insert(_ENTRIES)
_INSERT_MATCHES = insert(MatchRow.__table__)
# The ORM rows that changed entries and entries joining a stored article need (articles by
# URL), each kind read in one query a chunk rather than one row at a time.
_ARTICLE_ROWS = (
    select(ArticleRow)
    .where(ArticleRow.url.in_(bindparam("urls", expanding=True)))
    .options(selectinload(ArticleRow.matches))
)
_ENTRY_ROWS = (
    select(EntryRow)
    .where(tuple_(EntryRow.feed_id, EntryRow.entry_id).in_(bindparam("keys", expanding=True)))
    .options(selectinload(EntryRow.article).selectinload(ArticleRow.matches))
)


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


@dataclass(slots=True)
class _New:
    """An article first seen in this batch: inserted with the others in one statement."""

    values: dict[str, Any]  # its ArticleRow columns
    article: Article
    feed_url: str  # of the feed that delivered it first
    shows: list[ShowMatch]
    # The feeds delivering it through an entry: the first one, and those that joined it.
    feeds: set[int] = field(default_factory=set)
    id: int | None = None  # once inserted


class Saver:
    """Saves the new and changed entries (decide.changed_entries) of a batch of polls, poll
    after poll and entry after entry, as if each were written before the next is read; see
    Store.record_polls.

    What the batch's entries need of the database is read up front, in a few queries for
    the whole batch. Most entries are new articles, or join an article new in this batch:
    they are inserted together when the batch ends (finish), without ORM objects. The ORM
    handles the others: changed entries, and entries that join an article stored already.
    """

    def __init__(
        self, session: Session, polls: Sequence[tuple[int, Sequence[ChangedEntry]]]
    ) -> None:
        """`polls`: each poll's feed id and entries, in the order they will be saved."""
        self.session = session
        self.connection = session.connection()
        # Feeds whose recent publish times (FeedRow.recent_published) no longer hold: their
        # articles changed, or the date of an article they share did.
        self.cleared: set[int] = set()
        feed_ids = {feed_id for feed_id, _ in polls}
        # Entries whose articles retention deleted: known, so never stored again as new.
        # Looked up only for feeds that have some (most entries are of feeds that have none).
        forgetting: set[int] = set()
        for chunk in chunks(feed_ids):
            forgetting.update(self.connection.scalars(_FORGETTING_FEEDS, {"feed_ids": chunk}))
        unknown = {
            (feed_id, e.article.entry_id)
            for feed_id, entries in polls
            for e in entries
            if e.stored is None and feed_id in forgetting
        }
        self.forgotten = {
            (feed_id, entry_id): version
            for feed_id, entry_id, version in _pairs(self.connection, _FORGOTTEN_VERSIONS, unknown)
        }
        self._kept_forgotten: dict[tuple[int, str], dict[str, Any]] = {}
        self._new: list[_New] = []
        # Entries of new articles, by (feed id, entry id): their version and article.
        self._new_entries: dict[tuple[int, str], tuple[str, _New]] = {}
        # What each URL the batch may give an article belongs to: a stored article (its ORM
        # row, or its id once inserted here), or one new in this batch. Only the articles of
        # new and changed entries can take a URL, so only theirs are looked up.
        self.by_url: dict[str, int | ArticleRow | _New] = {}
        urls = {e.article.key for _, entries in polls for e in entries if e.article.key}
        for chunk in chunks(urls):
            self.by_url.update(
                (row.url, row) for row in session.scalars(_ARTICLE_ROWS, {"urls": chunk}) if row.url
            )
        # Articles each feed delivers through an entry, as (feed id, article id), as stored
        # and as saved so far: a URL one of them holds is shared by two entries of the feed,
        # so it makes no other entry of that feed that article.
        self.own: set[tuple[int, int]] = set()
        found = [row.id for row in self.by_url.values() if isinstance(row, ArticleRow)]
        for feed_chunk in chunks(feed_ids):
            for chunk in chunks(found):
                rows = self.connection.execute(
                    _FEEDS_OWN_ARTICLES, {"feed_ids": feed_chunk, "ids": chunk}
                )
                self.own.update((feed_id, row_id) for feed_id, row_id in rows)
        # The ORM rows of stored entries, loaded with their articles and matches for those
        # whose entries changed, and then when needed (kept here, as the session's are not).
        self.entries: dict[tuple[int, str], EntryRow] = {}
        changed = [
            (feed_id, e.article.entry_id)
            for feed_id, entries in polls
            for e in entries
            if e.stored is not None
        ]
        for keys in _slices(sorted(set(changed))):
            for row in session.scalars(_ENTRY_ROWS, {"keys": keys}):
                self.entries[row.feed_id, row.entry_id] = row
        # URLs that unflushed changes took off an article. A flush orders its statements by
        # table, not as we made the changes: before a freed URL is given to another article,
        # the change that freed it must reach the database, or the unique key fails.
        self._freed: set[str] = set()
        # The poll being saved (save).
        self.feed_id = 0
        self.feed_url = ""
        self.at = datetime.min
        self.pages: Mapping[str, Page] = {}

    def save(
        self,
        feed_id: int,
        feed_url: str,
        entries: Sequence[ChangedEntry],
        at: datetime,
        pages: Mapping[str, Page] | None = None,
    ) -> SaveResult:
        """Store `entries`, the new and changed ones a poll of the feed delivered at `at`.
        Each counts as new, updated or unchanged (a forgotten entry, or one that joins an
        article without adding a show)."""
        self.feed_id, self.feed_url, self.at, self.pages = feed_id, feed_url, at, pages or {}
        counts: Counter[str] = Counter()
        # Flushes happen where the saver says, not whenever a lazy load would trigger one.
        with self.session.no_autoflush:
            for entry in entries:
                counts[self._save(entry)] += 1
        return SaveResult(**counts)

    def finish(self) -> None:
        """Write what the batch holds back: its new articles, and forgotten entries seen."""
        with self.session.no_autoflush:
            self.insert_new()
        if self._kept_forgotten:
            self.connection.execute(_KEEP_FORGOTTEN, list(self._kept_forgotten.values()))
            self._kept_forgotten.clear()

    def _save(self, entry: ChangedEntry) -> str:
        article, shows, version = entry.article, entry.shows, entry.version
        key = (self.feed_id, article.entry_id)
        if key in self.forgotten:
            # Past retention: still listed, so kept forgotten; a new version of it is not news.
            self.forgotten[key] = version
            self._kept_forgotten[key] = {
                "forgotten_feed": self.feed_id,
                "forgotten_entry": article.entry_id,
                "version": version,
                "seen": self.at,
            }
            return "unchanged"
        self.cleared.add(self.feed_id)
        if entry.stored is not None:
            row = self._entry(article.entry_id)
            row.version = version
            return self._changed_entry(row, article, version, shows)
        joined = self._joinable(article.key)
        if isinstance(joined, _New):
            self._new_entries[key] = (version, joined)
            joined.feeds.add(self.feed_id)
            return "updated" if _add_new_shows(joined, shows) else "unchanged"
        if joined is not None:
            self._add_entry(article.entry_id, version, joined)
            return "updated" if _add_shows(joined, shows) else "unchanged"
        self._create(article, version, shows)
        return "new"

    def _joinable(self, key: str | None) -> ArticleRow | _New | None:
        """The article another feed delivered at `key` (stored, or new in this batch), which
        this entry joins.

        None when there is none, or when this feed delivered it already through another
        entry (or earlier in this batch): then `key` is a link the feed's entries share, and
        this entry is an article of its own.
        """
        found = self.by_url.get(key) if key is not None else None
        if found is None:
            return None
        if isinstance(found, _New):
            return None if self.feed_id in found.feeds else found
        if (self.feed_id, found if isinstance(found, int) else found.id) in self.own:
            return None
        return self._article(key)

    def insert_new(self) -> None:
        """Write the batch's new articles, with their entries and matches."""
        if not self._new:
            return
        self._unique_guids()
        self.connection.execute(_INSERT_ARTICLES, [new.values for new in self._new])
        ids: dict[str, int] = {}
        for chunk in chunks(new.values["guid"] for new in self._new):
            ids.update(
                (guid, row_id)
                for guid, row_id in self.connection.execute(_NEW_IDS, {"guids": chunk})
            )
        for new in self._new:
            new.id = ids[new.values["guid"]]
        entries = [
            {"feed_id": feed_id, "entry_id": entry_id, "article_id": new.id, "version": version}
            for (feed_id, entry_id), (version, new) in self._new_entries.items()
        ]
        self.connection.execute(_INSERT_ENTRIES, entries)
        matches = [
            {
                "article_id": new.id,
                "show_name": match.show,
                "position": position,
                "phrase": match.phrase,
            }
            for new in self._new
            for position, match in enumerate(new.shows)
        ]
        if matches:
            self.connection.execute(_INSERT_MATCHES, matches)
        for new in self._new:
            assert new.id is not None
            url = new.values["url"]
            if url and self.by_url.get(url) is new:
                self.by_url[url] = new.id
            self.own.update((feed_id, new.id) for feed_id in new.feeds)
        self._new.clear()
        self._new_entries.clear()

    def _unique_guids(self) -> None:
        """Give each new article the first of its guid candidates no other article has."""
        taken: set[str] = set()
        for chunk in chunks(new.values["guid"] for new in self._new):
            taken.update(self.connection.scalars(_TAKEN_GUIDS, {"guids": chunk}))
        for new in self._new:
            attempt = 0
            while new.values["guid"] in taken:
                attempt += 1
                guid = guid_for(new.feed_url, new.article, attempt)
                new.values["guid"] = guid
                if self.connection.scalar(_TAKEN_GUIDS, {"guids": [guid]}) is not None:
                    taken.add(guid)
            taken.add(new.values["guid"])

    def _entry(self, entry_id: str) -> EntryRow:
        """The ORM row of an entry of the feed stored already or saved earlier in the batch."""
        key = (self.feed_id, entry_id)
        entry = self.entries.get(key)
        if entry is None:
            if key in self._new_entries:
                self.insert_new()
            entry = self.entries[key] = self.session.get_one(EntryRow, key)
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
        self.own.add((self.feed_id, row.id))
        other = self._article(article.key)
        if other is not None and other is not row and (self.feed_id, other.id) not in self.own:
            # The entry now links to an article another entry delivered: follow the link.
            self.own.add((self.feed_id, other.id))
            entry.article = other
            _add_shows(other, shows)
            self._flush()  # so that row.entries is read back without this entry
            if not row.entries:
                self._forget(row)
            return "updated"
        key = article.key
        # Held by another of this feed's entries (stored, or new in this batch): the link
        # is shared within the feed, and each entry keeps its own article.
        taken = other is not None and other is not row
        if key is not None and key != row.url and (taken or isinstance(self.by_url.get(key), _New)):
            key = None
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
            "feed_id": self.feed_id,
            "guid": guid_for(self.feed_url, article),
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
        new = _New(values, article, self.feed_url, list(shows), {self.feed_id})
        self._new.append(new)
        self._new_entries[self.feed_id, article.entry_id] = (version, new)
        if article.key:
            self.by_url[article.key] = new

    def _add_entry(self, entry_id: str, version: str, row: ArticleRow) -> None:
        entry = EntryRow(feed_id=self.feed_id, entry_id=entry_id, version=version, article=row)
        self.own.add((self.feed_id, row.id))
        self.session.add(entry)
        self.entries[self.feed_id, entry_id] = entry

    def _forget(self, row: ArticleRow) -> None:
        self._release(row)
        self.session.delete(row)
        # Deletes are flushed after inserts; this one must go first in case its URL comes back.
        self._flush()

    def _forget_publish_times(self, row: ArticleRow) -> None:
        """`row`'s date is about to change: so may the recent publish times of every feed
        that delivered it (this one's are cleared anyway), in this batch or not."""
        self._flush()  # entries that joined it in this batch count
        sharing = list(
            self.connection.scalars(_SHARING_FEEDS, {"id": row.id, "feed_id": self.feed_id})
        )
        if sharing:
            self.connection.execute(_FORGET_PUBLISH_TIMES, {"ids": sharing})
            self.cleared.update(sharing)

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
    pairs = {(feed_id, entry_id) for feed_id, ids in wanted.items() for entry_id in ids}
    for feed_id, entry_id, version in _pairs(session.connection(), _VERSIONS, pairs):
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


def _add_new_shows(new: _New, shows: Iterable[ShowMatch]) -> bool:
    """_add_shows of an article not inserted yet."""
    known = {match.show for match in new.shows}
    added = [match for match in shows if match.show not in known]
    new.shows.extend(added)
    return bool(added)


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


def _pairs(
    connection: Connection, query: Select[Any], wanted: Collection[tuple[int, str]]
) -> Iterator[Row[Any]]:
    """The rows `query` (feed_id, entry_id, ...) finds for the (feed id, entry id) pairs
    `wanted`: asked by feed ids and entry ids, in chunks of each."""
    by_feed: dict[int, set[str]] = {}
    for feed_id, entry_id in wanted:
        by_feed.setdefault(feed_id, set()).add(entry_id)
    for feed_chunk in chunks(by_feed):
        ids = set().union(*(by_feed[feed_id] for feed_id in feed_chunk))
        for chunk in chunks(ids):
            for row in connection.execute(query, {"feed_ids": feed_chunk, "entry_ids": chunk}):
                if row[1] in by_feed[row[0]]:
                    yield row


def _slices(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in lists short enough for one IN (...) each."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def chunks(values: Iterable[K]) -> Iterable[list[K]]:
    """The distinct `values`, sorted, in lists short enough for one IN (...) each."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]
