"""Plain frozen records passed from one pipeline stage to the next."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server gave us to make the next request conditional."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One HTTP response, body already decompressed and capped."""

    url: str  # the URL that finally answered, after redirects
    status: int
    headers: Mapping[str, str]  # names in lower case
    content: bytes  # empty for 304
    validators: Validators = Validators()
    # Where 301/308 redirects led, followed from the requested URL for as long as every hop
    # was permanent; None when the first answer was not a 301/308. E.g. A -301-> B -302-> C
    # gives B; A -302-> B -301-> C gives None (only the temporary address moved).
    permanent_url: str | None = None
    max_age: timedelta | None = None  # Cache-Control: max-age, when positive

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file an entry carries: podcast audio, video, an image."""

    url: str  # absolute http(s)
    type: str | None = None  # MIME type, e.g. audio/mpeg, image/jpeg
    length: int | None = None  # bytes, when the feed says


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry as the feed gave it: text fields are still HTML."""

    id: str  # the entry's own id (guid, atom:id, JSON Feed id), else its link plus title
    title: str
    link: str | None
    published: datetime | None  # timezone-aware UTC
    summary_html: str
    content_html: str  # the longest content block, "" when the feed has none
    authors: tuple[str, ...] = ()  # names as the feed gives them (else e-mail addresses)
    enclosures: tuple[Enclosure, ...] = ()
    language: str | None = None  # the entry's own declared language (xml:lang), if any
    tags: tuple[str, ...] = ()  # RSS/Atom categories, JSON Feed tags: matched like the text


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document reduced to what feedwatch uses."""

    title: str | None
    link: str | None
    entries: tuple[Entry, ...]
    # Set when feedparser had to recover from malformed XML; entries are still usable.
    warning: str | None = None
    ttl: timedelta | None = None  # RSS <ttl>: how long the feed may be cached
    update_period: timedelta | None = None  # sy:updatePeriod divided by sy:updateFrequency
    # The feed's declared language, lower case, as written ("de", "pt-br"); None when unsaid.
    language: str | None = None
    # Entries left out as unreadable or empty (no title, no link and no text); the rest are usable.
    skipped: int = 0
    # Entries left out past the poll's max_entries (the newest are kept).
    truncated: int = 0


@dataclass(frozen=True, slots=True)
class Article:
    """An entry turned into plain text: what is matched, stored and summarised."""

    entry_id: str
    url: str | None  # canonical: no utm_* parameters, no fragment
    title: str
    summary: str
    body: str
    published: datetime | None
    authors: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    language: str | None = None  # ISO 639-1 code chosen for the text (declared or detected)
    tags: tuple[str, ...] = ()
    # The canonical URL that makes it one article with other feeds' entries (see
    # urls.identity_keys); None when its link identifies no single entry of its feed.
    key: str | None = None
    # `version`, once worked out: poll/reading.py does so where it reads the feed, as hashing
    # several KB lets go of the GIL and, in the thread that stores a batch, then waited behind
    # every other thread for it back (84 us an article, where the hash takes 4).
    _version: str | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The longest text the article has: what the summary is drawn from."""
        return max((self.body, self.summary), key=len) or self.title

    def with_page(self, page_text: str | None) -> Article:
        """The article as matched and summarised: its body is its web page's text (see
        poll/pages.py) when that is longer.

        Longer, not always: with full_text true, a feed that carries the whole article may
        say more than what the extractor found on the page.
        """
        if not page_text or len(page_text) <= len(self.body):
            return self
        return dataclasses.replace(self, body=page_text)

    @property
    def version(self) -> str:
        """Changes exactly when the text a reader would see changes."""
        if self._version is None:
            digest = hashlib.sha256()
            for part in (self.title, self.url or "", self.summary, self.body):
                digest.update(part.encode("utf-8"))
                digest.update(b"\0")
            object.__setattr__(self, "_version", digest.hexdigest())
        return self._version  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ShowMatch:
    """A tracked show an article is about, and the configured phrase found for it."""

    show: str
    phrase: str | None = None  # None for matches stored before phrases were kept


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One matched article as the digest shows it."""

    guid: str  # stable across cycles and databases
    title: str
    url: str | None
    published: datetime  # the entry's date, else when feedwatch first saw it
    summary: tuple[str, ...]  # verbatim sentences, in article order
    shows: tuple[str, ...]  # show names, as configured
    feed_title: str  # the feed that first delivered it
    feed_url: str
    authors: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    # Every feed that carried the article, the first delivery first (feed_title, feed_url).
    sources: tuple[Source, ...] = ()
    # For each of `shows`, in that order, the configured phrase that matched it.
    phrases: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A feed that carried an article, and the article's own link in that feed."""

    title: str
    feed_url: str
    link: str | None = None


@dataclass(frozen=True, slots=True)
class StoryArticle:
    """What story clustering (stories.py) looks at."""

    id: str
    title: str
    text: str = ""
    url: str | None = None
    source: str | None = None
    published: datetime | None = None  # aware UTC; None: joins by text alone


@dataclass(frozen=True, slots=True)
class StoryMember:
    """A stored matched article, as one of its story's articles."""

    id: int
    guid: str
    title: str
    link: str | None
    published: datetime  # its date, else when first seen
    text: str  # what is summarised (Article.text, with its page)
    version: str
    sources: tuple[Source, ...]  # every feed that delivered it, the first delivery first
    matches: tuple[ShowMatch, ...]
    authors: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class StoredStory:
    """A story of the digest as stored: its matched articles, oldest first, and the summary
    kept for exactly these articles at these versions (None: to be written)."""

    key: int  # its first article's id; its summary is kept under it
    guid: str  # stable as the story grows
    members: tuple[StoryMember, ...]
    summary: tuple[str, ...] | None

    @property
    def version(self) -> str:
        """Changes when an article joins, leaves or changes; a lone article's own version."""
        if len(self.members) == 1:
            return self.members[0].version
        digest = hashlib.sha256()
        for member in sorted(self.members, key=lambda member: member.id):
            digest.update(f"{member.id}:{member.version}\n".encode())
        return "story:" + digest.hexdigest()[:58]


@dataclass(frozen=True, slots=True)
class FeedReport:
    """What `feedwatch feeds` shows about one feed."""

    url: str
    title: str | None
    last_fetched: datetime | None
    last_status: int | None
    articles: int
    last_error: str | None
    next_poll: datetime | None = None  # None: due at once (or never, when gone)
    errors: int = 0  # failed polls in a row
    retry_after: datetime | None = None  # no poll before this, as a 429/503 asked
    gone_since: datetime | None = None  # answered 410 Gone
    moved_to: str | None = None  # polled here since a permanent redirect
    skipped: int = 0  # entries its last document left out: unreadable, empty, past max_entries

    def next_poll_label(self, now: datetime, when: Callable[[datetime], str]) -> str:
        """When it is polled next, as `feeds` and the web view say it: "gone since …",
        "due", or the time (written by `when`)."""
        if self.gone_since:
            return f"gone since {when(self.gone_since)}"
        if self.next_poll is None or self.next_poll <= now:
            return "due"
        return when(self.next_poll)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What feedwatch keeps about polling one feed: enough to resume after a restart."""

    url: str  # as configured: the feed's identity
    fetch_url: str  # where it is polled: `url`, or where a permanent redirect led
    validators: Validators = Validators()
    next_poll: datetime | None = None  # None: due at once
    errors: int = 0  # failed polls in a row; 0 after a success
    retry_after: datetime | None = None  # no poll before this, as a 429/503 asked
    gone_since: datetime | None = None  # answered 410 Gone: not polled again until reset
    ttl: timedelta | None = None  # the hints of the last feed document parsed
    update_period: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """The polling state one poll leaves behind (see FeedState for each field)."""

    next_poll: datetime | None = None
    errors: int = 0
    retry_after: datetime | None = None
    gone_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """What fetching an article's own web page gave: its main text, or why there is none."""

    url: str  # where the text came from: the article's URL, or where its redirects led
    fetched_at: datetime
    text: str | None = None  # main text, paragraphs joined by a blank line
    error: str | None = None  # why there is no text: refused, failed, not HTML, no article


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed to subscribe to: an OPML outline, a page's advertised feed, a configured feed."""

    url: str
    title: str | None = None
    type: str | None = None  # media type, when a page advertised it


@dataclass(frozen=True, slots=True)
class StoredPoll:
    """What deciding a poll needs of the store beyond FeedState, read before the poll is
    written (Store.stored_polls)."""

    versions: Mapping[str, str]  # entry id -> version stored, of the entries asked about
    # The feed's newest distinct publish times as stored, newest first, none after the read.
    published: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangedEntry:
    """An entry a poll delivered that the store does not hold at this version."""

    article: Article
    shows: tuple[ShowMatch, ...]  # one per show, in the matcher's order
    version: str  # article.version, computed once
    stored: str | None = None  # the version stored before; None: new to the feed


@dataclass(frozen=True, slots=True)
class PollIntent:
    """Everything one poll writes about its feed, decided before the write (decide.py): the
    store applies it as it is and decides nothing."""

    url: str  # the feed as configured
    at: datetime  # when it was polled
    status: int | None
    schedule: Schedule | None = None  # None keeps the stored one
    error: str | None = None  # None: it worked (clears the last error)
    validators: Validators | None = None  # None keeps the stored ones
    feed: ParsedFeed | None = None  # the document parsed: its title, ttl and update period
    moved_to: str | None = None  # where a permanent redirect led: polled from there on
    entries: tuple[ChangedEntry, ...] = ()  # the new and changed ones, in feed order
    unchanged: int = 0  # entries delivered that are stored at this version already
    pages: Mapping[str, Page] = dataclasses.field(default_factory=dict)  # by article URL
    # The publish times read with the state; kept on the feed's row when no article changes.
    published: tuple[datetime, ...] | None = None


def entity_tag(body: bytes) -> str:
    """The ETag (unquoted) a feed body is served with: the same bytes get the same tag in
    every process, whether it serves them from the database or from a file."""
    return hashlib.sha256(body).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    """One digest feed as a publish rendered it (publish/feeds.py): saved to the store for
    every process to serve, and written to its file."""

    name: str  # where it is served, relative to digest.link: "feed.xml", "shows/x/feed.json"
    media_type: str  # e.g. "application/rss+xml"; every body is UTF-8
    body: bytes
    # Of the content without its build date: a publish that found nothing new leaves the
    # saved feed, and so its ETag and date, as they were.
    version: str


@dataclass(frozen=True, slots=True)
class PublishedFeed:
    """A digest feed as the publisher last saved it (Store.published_feed)."""

    name: str
    media_type: str
    etag: str  # entity_tag of the body
    updated: datetime  # when this version was published
    body: bytes | None  # None: the caller's ETag is this version's, so the body was not read

    @property
    def not_modified(self) -> bool:
        return self.body is None
