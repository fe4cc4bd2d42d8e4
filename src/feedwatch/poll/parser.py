"""Feed documents (RSS 0.9x/1.0/2.0, Atom via feedparser; JSON Feed via jsonfeed.py) to ParsedFeed.

The body arrives as bytes with the response headers; nothing here touches the network.
Whatever the bytes are, the outcome is a ParsedFeed or a ParseError.
"""

from __future__ import annotations

import calendar
import codecs
import copy
import functools
import io
import re
import time
import xml.sax
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.api
import feedparser.mixin
import feedparser.namespaces._base
import feedparser.urls
import feedparser.util

from feedwatch.errors import ParseError
from feedwatch.models import Entry, ParsedFeed
from feedwatch.poll import dates, jsonfeed
from feedwatch.poll.dates import aware_utc
from feedwatch.poll.entries import bound, enclosures, entry_id, is_empty, unique
from feedwatch.text import xml_safe

# Entities a document may declare are expanded by feedparser's fallback (non-XML) parser
# without any limit, so a small body with one big entity used many times can take gigabytes.
# Legitimate feeds declare a few short entities; this many characters of expansion is refused.
MAX_ENTITY_EXPANSION = 1_000_000

_ENTITY_DECLARATION = re.compile(r"<!ENTITY\s+([\w.:-]+)\s+(?:\"([^\"]*)\"|'([^']*)')")
_ENTITY_REFERENCE = re.compile(r"&([\w.:-]+);")
_ROOT_ELEMENT = re.compile(r"<[A-Za-z_]")
_HTML_START = re.compile(rb"^(?:\s|<!--.*?-->|<\?.*?\?>)*<(?:!doctype\s+html|html)\b", re.I | re.S)
# sy:updatePeriod values (RSS 1.0 Syndication module); sy:updateFrequency divides them.
_UPDATE_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}
# Hints are cut to poll.max_interval later; this only keeps the arithmetic in range.
_LONGEST_HINT = timedelta(days=3650)


def _speed_up_feedparser() -> None:
    """Take out of feedparser's hot path work whose answer never changes within a process.

    At every element start it joins the base URI with itself, and with every link-like value,
    to keep them absolute and of a safe scheme: a quarter of its time on a feed of long entries.
    Both joins are pure functions of their two strings, and one document has a handful of
    distinct pairs, so they are answered from a cache.
    Before each document it also tries to import libxml2's SAX driver, which is not installed
    (nor wanted: expat is what it falls back to), under the import lock every thread shares.
    Its dictionaries answer every key through a chain of tests for the few old names it maps
    to new ones (a dozen lookups per element), and are deep-copied, once per element with
    content, through pickling's generic path: both keep their answers, at a tenth of a feed's
    parsing time.
    """
    safe = functools.lru_cache(maxsize=4096)(feedparser.urls.make_safe_absolute_uri)
    feedparser.mixin.make_safe_absolute_uri = safe
    feedparser.namespaces._base.make_safe_absolute_uri = safe
    feedparser.mixin._urljoin = functools.lru_cache(maxsize=4096)(feedparser.urls._urljoin)
    feedparser.api.PREFERRED_XML_PARSERS.clear()
    parsed = feedparser.util.FeedParserDict
    mapped = parsed.__getitem__  # the keys below, and those keymap renames
    special = frozenset({"category", "enclosures", "license", "updated", "updated_parsed"})
    special |= frozenset(parsed.keymap)

    def getitem(self: dict[str, Any], key: str) -> Any:
        return mapped(self, key) if key in special else dict.__getitem__(self, key)

    def deepcopy(self: dict[str, Any], memo: dict[int, Any]) -> Any:
        copied = memo[id(self)] = parsed()
        for key, value in dict.items(self):
            copied[key] = copy.deepcopy(value, memo)  # through its renames, as pickling does
        return copied

    parsed.__getitem__ = getitem
    parsed.__deepcopy__ = deepcopy


_speed_up_feedparser()


def parse(
    content: bytes,
    headers: Mapping[str, str],
    url: str,
    *,
    max_entries: int = 1000,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse one response body; `url` is the base for relative links and is never fetched.

    RSS, Atom and JSON Feed. Keeps the newest `max_entries` entries (the rest are counted in
    `truncated`); with `now`, the fetch time, no entry is dated after it. Entries that cannot
    be read or show nothing are left out and counted in `skipped`.

    Raises ParseError, and nothing else, when the body is not a feed at all. A feed feedparser
    had to recover from (malformed XML, a wrong charset declaration) has `warning` set.
    """
    response_headers = {name.lower(): value for name, value in headers.items()}
    media_type = response_headers.get("content-type", "").partition(";")[0].strip().lower()
    if jsonfeed.looks_like_json(content) or (
        media_type in jsonfeed.JSON_TYPES and not _looks_like_markup(content)
    ):
        feed = jsonfeed.parse_json_feed(content, url, max_entries)
    else:
        feed = _parse_xml(content, response_headers, url, max_entries)
    kept, truncated = bound(feed.entries, max_entries, aware_utc(now) if now else None)
    return replace(feed, entries=kept, truncated=feed.truncated + truncated)


def _parse_xml(
    content: bytes, response_headers: dict[str, str], url: str, max_entries: int
) -> ParsedFeed:
    content, dropped = _cut_entries(content, max_entries)
    _refuse_entity_bombs(content)
    _refuse_deep_nesting(content)
    content = _repair_character_references(content)
    # The language is what the document declares, not the server's default.
    response_headers.pop("content-language", None)
    # feedparser resolves relative links against Content-Location; without one, the feed URL.
    location = response_headers.get("content-location")
    base = urljoin(url, location) if location else url
    response_headers["content-location"] = base
    try:
        # A bytes argument would be tried as a file name first: always hand over a stream.
        # Neither sanitised nor resolved: entry HTML is only ever read as plain text
        # (text.html_to_text, which drops scripts and styles) and the digest is built from
        # that text, so feedparser's two passes over every entry's markup bought nothing.
        # Entry links are still resolved (by feedparser, and again in reading.to_articles).
        result = feedparser.parse(
            io.BytesIO(content),
            response_headers=response_headers,
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as exc:
        # E.g. a character reference past U+10FFFF (ValueError), or a KeyError on tags
        # nested the wrong way in its fallback parser.
        raise ParseError(f"unreadable feed ({_describe(exc)})") from None
    problem = result.get("bozo_exception") if result.get("bozo") else None
    if not result.entries and not result.get("version"):
        raise ParseError(_not_a_feed(content, problem))
    feed = result.feed
    language = _language(feed.get("language"))
    own_languages = _entry_languages(content, len(result.entries))
    entries: list[Entry] = []
    skipped = 0
    for index, raw in enumerate(result.entries):
        try:
            entry = _entry(raw, base, own_languages[index], language)
        except Exception:  # one entry left in a shape nobody expected: the rest still count
            entry = None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    if not entries and isinstance(problem, xml.sax.SAXException):
        # Broken badly enough that nothing was recovered: an error says more than "0 entries".
        raise ParseError(f"feed with no readable entries ({_describe(problem)})")
    return ParsedFeed(
        title=xml_safe(_text(feed.get("title"))) or None,
        link=xml_safe(_text(feed.get("link"))) or None,
        entries=tuple(entries),
        # A feed served as text/html or without a Content-Type parses just the same:
        # nothing was recovered, so there is nothing to warn about.
        warning=None if isinstance(problem, feedparser.NonXMLContentType) else _describe(problem),
        ttl=_ttl(_text(feed.get("ttl"))),
        update_period=_update_period(
            _text(feed.get("sy_updateperiod"), None), _text(feed.get("sy_updatefrequency"), None)
        ),
        language=language,
        skipped=skipped,
        truncated=dropped,
    )


def _looks_like_markup(content: bytes) -> bool:
    return content.lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:1] == b"<"


# Where an entry starts: <item>, <entry>, also with a namespace prefix (<rss:item>).
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s>/])")


def _cut_entries(content: bytes, max_entries: int) -> tuple[bytes, int]:
    """`content` with all but its first and last `max_entries` entries cut out, and how many
    were cut.

    feedparser costs about 0.2 ms per entry, so a feed of 100,000 is cut before parsing. The
    newest are kept whether the feed lists newest first (the usual case) or oldest first;
    a feed in any other order keeps only its first and last entries, whatever their dates.
    The cut is made between two entry start tags, so the document around them stays whole
    (unless "<item" also occurs inside an entry, as CDATA text: feedparser then recovers).
    """
    if max_entries <= 0 or content.count(b"item") + content.count(b"entry") <= 2 * max_entries:
        return content, 0
    starts = [match.start() for match in _ENTRY_START.finditer(content)]
    if len(starts) <= 2 * max_entries:
        return content, 0
    keep_until, resume_at = starts[max_entries], starts[len(starts) - max_entries]
    return content[:keep_until] + content[resume_at:], len(starts) - 2 * max_entries


# Nesting depth is bounded because feedparser's cost per element grows with it; a normal feed
# is 5-10 levels deep, with XHTML content perhaps 20.
MAX_DEPTH = 500
# Elements opened and never closed also nest: HTML pasted into a feed unescaped leaves some
# (<p>, <li>), so these get more room before the document counts as too deep.
MAX_UNCLOSED = 5000
# Markup that opens no level (CDATA sections go first, see _without_cdata): comments,
# processing instructions, declarations, empty-element tags and HTML's void elements.
_FLAT_MARKUP = re.compile(
    rb"<!--.*?(?:-->|\Z)|<[?!][^>]*>|<[^>]*/>"
    rb"|<(?:area|base|br|col|embed|hr|img|input|meta|param|source|track|wbr)\b[^>]*>",
    re.DOTALL | re.IGNORECASE,
)
_NOT_A_TAG_MARK = bytes(set(range(256)) - {1, 2})


def _without_cdata(content: bytes) -> bytes:
    """`content` without its CDATA sections, whose text is no markup however it looks.

    split and find instead of a regular expression: feeds carry megabytes of HTML in CDATA,
    which a lazy ".*?" walks a byte at a time.
    """
    if b"<![CDATA[" not in content:
        return content
    first, *sections = content.split(b"<![CDATA[")
    # A section runs to the first "]]>"; text up to it that looks like another section's
    # start was inside this one.
    rest = [section[end + 3 :] for section in sections if (end := section.find(b"]]>")) >= 0]
    return first + b"".join(rest)


def _refuse_deep_nesting(content: bytes) -> None:
    """ParseError for a document nested deeper than MAX_DEPTH (or MAX_UNCLOSED) levels.

    Every tag becomes one byte, \x01 for a start and \x02 for an end, all in C; removing
    each innermost "\x01\x02" pair then takes one pass per level of nesting.
    """
    if b"<" not in content:
        return
    marks = _FLAT_MARKUP.sub(b"", _without_cdata(content.translate(None, b"\x01\x02")))
    # What is left of the markup are start and end tags, and "<" is nowhere else in XML.
    marks = marks.replace(b"</", b"\x02").replace(b"<", b"\x01").translate(None, _NOT_A_TAG_MARK)
    too_deep = f"refused: elements nested more than {MAX_DEPTH} levels deep"
    opened, closed = b"\x01" * (MAX_DEPTH + 1), b"\x02" * (MAX_DEPTH + 1)
    for _ in range(MAX_DEPTH):
        # The usual shape of a deep document, found in two scans (before and after each pass
        # of removing what closes inside). Many opens alone may be unclosed HTML: counted below.
        if opened in marks and closed in marks:
            raise ParseError(too_deep)
        reduced = marks.replace(b"\x01\x02", b"")
        if len(reduced) == len(marks):
            break
        marks = reduced
    else:
        if b"\x01\x02" in marks:
            raise ParseError(too_deep)
    # What is left is unmatched: ends, then starts never closed.
    if marks.count(b"\x01") > MAX_UNCLOSED:
        raise ParseError(f"refused: more than {MAX_UNCLOSED:,} elements left open")


# Numeric character references; some CMSes write an emoji as a UTF-16 surrogate pair
# ("&#55357;&#56832;"), which XML forbids and feedparser's fallback parser chokes on.
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_PAIRED_REFERENCES = re.compile(_CHARACTER_REFERENCE.pattern * 2)
_REPLACEMENT = b"&#xFFFD;"


def _code_point(match: re.Match[bytes], group: int) -> int:
    hex_digits, decimal = match.group(group), match.group(group + 1)
    return int(hex_digits, 16) if hex_digits else int(decimal)


def _repair_character_references(content: bytes) -> bytes:
    """Join surrogate-pair references into one character; lone or impossible ones become U+FFFD."""
    if b"&#" not in content:
        return content

    def pair(match: re.Match[bytes]) -> bytes:
        high, low = _code_point(match, 1), _code_point(match, 3)
        if 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF:
            return b"&#x%X;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        return match.group(0)

    def single(match: re.Match[bytes]) -> bytes:
        point = _code_point(match, 1)
        return _REPLACEMENT if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF else match.group(0)

    return _CHARACTER_REFERENCE.sub(single, _PAIRED_REFERENCES.sub(pair, content))


def _ttl(value: str | None) -> timedelta | None:
    """RSS <ttl>: whole minutes; anything else, or 0, says nothing."""
    minutes = (value or "").strip()
    if not minutes.isdecimal() or len(minutes) > 9 or int(minutes) == 0:
        return None
    return timedelta(minutes=min(int(minutes), _LONGEST_HINT // timedelta(minutes=1)))


def _update_period(period: str | None, frequency: str | None) -> timedelta | None:
    """sy:updatePeriod (default daily when only a frequency is given) / sy:updateFrequency."""
    if period is None and frequency is None:
        return None
    length = _UPDATE_PERIODS.get((period or "daily").strip().lower())
    times = (frequency or "1").strip()
    if length is None or not times.isdecimal() or len(times) > 9 or int(times) == 0:
        return None
    return length / int(times)


# xml:lang on an entry's own start tag.
_ENTRY_LANGUAGE = re.compile(
    rb"""<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s[^>]*?\bxml:lang\s*=\s*["']([^"']*)["']"""
    rb"""|<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s>/])"""
)


def _entry_languages(content: bytes, count: int) -> list[str | None]:
    """Each entry's own xml:lang, in document order.

    feedparser gives an entry only the language it inherits, so the start tags are read here.
    When they do not line up with feedparser's entries (a broken document), none is claimed.
    """
    if b"xml:lang" not in content:
        return [None] * count
    found = [
        _language(match[1].decode("latin-1")) if match[1] else None
        for match in _ENTRY_LANGUAGE.finditer(content)
    ]
    return found if len(found) == count else [None] * count


def _entry(
    entry: Any, base: str, own_language: str | None, feed_language: str | None
) -> Entry | None:
    """One feedparser entry; None when it shows nothing (no title, link or text)."""
    title = _text(entry.get("title"))
    # Ids and links are stored and published as given, so characters XML forbids (a NUL from
    # "&#0;", which PostgreSQL refuses too) are dropped here; the HTML fields lose theirs later.
    link = xml_safe(_text(entry.get("link"))) or None
    summary = _text(entry.get("summary"))
    contents = [_text(dict.get(part, "value")) for part in _dicts(_own(entry, "content"))]
    content = max(contents, key=len, default="")
    if is_empty(title, link, summary, content):
        return None
    language = own_language or feed_language
    return Entry(
        id=entry_id(_text(entry.get("id")), link, title, summary or content),
        title=title,
        link=link,
        published=_published(entry, language),
        # feedparser copies an entry's only content into its summary: don't report it twice.
        summary_html="" if summary == content else summary,
        content_html=content,
        authors=_authors(entry),
        enclosures=enclosures(_enclosures(entry), base),
        language=own_language,
        tags=unique(
            dict.get(tag, "term") or dict.get(tag, "label") for tag in _dicts(_own(entry, "tags"))
        ),
    )


def _published(entry: Any, language: str | None) -> datetime | None:
    """The publication date, else the last update; a date feedparser could not read is given
    to dateparser in the entry's language."""
    for key in ("published", "updated"):
        parsed = _utc(_own(entry, f"{key}_parsed"))
        if parsed:
            return parsed
        raw = _text(_own(entry, key))
        if raw and (parsed := dates.parse_localized(raw, language)):
            return parsed
    return None


def _authors(entry: Any) -> tuple[str, ...]:
    """Author names, else their e-mail addresses; each once, in the feed's order."""
    people = [*_dicts(_own(entry, "authors")), *_dicts([_own(entry, "author_detail")])]
    names = unique(dict.get(person, "name") for person in people)
    return names or unique(dict.get(person, "email") for person in people)


def _enclosures(entry: Any) -> Iterator[tuple[object, object, object]]:
    """(url, type, length) of each file: RSS <enclosure> and Atom link rel="enclosure" (both
    among feedparser's `links`), Media RSS content and thumbnails."""
    # Not feedparser's own `enclosures`: it fails on a link without a rel.
    for link in _dicts(_own(entry, "links")):
        if dict.get(link, "rel") == "enclosure":
            yield dict.get(link, "href"), dict.get(link, "type"), dict.get(link, "length")
    for part in _dicts(_own(entry, "media_content")):
        yield dict.get(part, "url"), dict.get(part, "type"), dict.get(part, "filesize")
    for part in _dicts(_own(entry, "media_thumbnail")):
        yield dict.get(part, "url"), None, None


def _text(value: object, default: str = "") -> str:
    """A string feedparser gave; anything else (a dict where malformed markup put one) is
    `default`."""
    return value if isinstance(value, str) else default


def _dicts(value: object) -> list[dict[str, Any]]:
    """The dicts in a list feedparser gave (authors, tags...); nothing when it is no list."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _language(value: object) -> str | None:
    """A language tag as written, lower case, "_" as "-": "pt-br"."""
    tag = xml_safe(_text(value)).strip().lower().replace("_", "-")
    return tag or None


def _own(entry: Any, key: str) -> Any:
    # FeedParserDict answers a missing `updated_parsed` with `published_parsed` (and a
    # DeprecationWarning) and computes some keys on each lookup; read the dict itself to get
    # only what the feed said, and quickly.
    return dict.get(entry, key)


def _utc(value: time.struct_time | None) -> datetime | None:
    """feedparser's parsed dates are UTC struct_times."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):  # a year datetime cannot hold
        return None


def _describe(exc: BaseException | None) -> str | None:
    """One line saying what feedparser had to work around."""
    if exc is None:
        return None
    if isinstance(exc, xml.sax.SAXParseException):
        # No line number: feedparser rewrites the prolog before parsing, so it would mislead.
        return f"malformed XML: {exc.getMessage()}"
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _not_a_feed(content: bytes, problem: BaseException | None) -> str:
    stripped = content.lstrip(codecs.BOM_UTF8 + b" \t\r\n")
    if not stripped:
        return "empty document, not an RSS/Atom feed"
    if _HTML_START.match(stripped[:4096]):
        return "not an RSS/Atom feed (looks like an HTML page)"
    detail = _describe(problem)
    return f"not an RSS/Atom feed ({detail})" if detail else "not an RSS/Atom feed"


def _refuse_entity_bombs(content: bytes) -> None:
    text = _as_text(content)
    if "<!ENTITY" not in text:
        return
    root = _ROOT_ELEMENT.search(text)
    prolog, body = (text[: root.start()], text[root.start() :]) if root else (text, "")
    declared = {
        match[1]: match[2] if match[2] is not None else match[3]
        for match in _ENTITY_DECLARATION.finditer(prolog)
    }
    references = {
        name: [reference for reference in _ENTITY_REFERENCE.findall(value) if reference in declared]
        for name, value in declared.items()
    }
    lengths: dict[str, int] = {}
    total = 0
    for reference in _ENTITY_REFERENCE.findall(body):
        if reference in declared:
            total += _expanded_length(reference, declared, references, lengths)
            if total > MAX_ENTITY_EXPANSION:
                raise ParseError(
                    "refused: entity declarations would expand to more than "
                    f"{MAX_ENTITY_EXPANSION:,} characters (an XML entity bomb?)"
                )


def _expanded_length(
    name: str, declared: dict[str, str], references: dict[str, list[str]], lengths: dict[str, int]
) -> int:
    """Length of entity `name`'s full expansion, capped just past the limit; memoised in `lengths`.

    An explicit stack instead of recursion: declarations may chain thousands deep. The cap keeps
    nested ("billion laughs") declarations cheap to measure; one that contains itself expands
    forever and is refused.
    """
    over = MAX_ENTITY_EXPANSION + 1
    # Each frame: an entity, how many of its references are counted, their total so far.
    stack: list[tuple[str, int, int]] = [(name, 0, len(declared[name]))]
    open_names = {name}
    while stack:
        current, counted, total = stack[-1]
        pending = references[current]
        while counted < len(pending) and total < over:
            reference = pending[counted]
            if reference not in lengths:
                break
            total += lengths[reference]
            counted += 1
        if counted < len(pending) and total < over:
            reference = pending[counted]
            if reference in open_names:
                raise ParseError(
                    f"refused: entity &{reference}; is declared to contain itself "
                    "(an XML entity bomb?)"
                )
            # Come back to this reference once its own length is known.
            stack[-1] = (current, counted, total)
            stack.append((reference, 0, len(declared[reference])))
            open_names.add(reference)
            continue
        stack.pop()
        open_names.discard(current)
        lengths[current] = min(total, over)
    return lengths[name]


def _as_text(content: bytes) -> str:
    """Enough of a decoding to find markup: exact for UTF-16/32, ASCII-safe for the rest."""
    head = content[:4]
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head == b"\0\0\0<":
        encoding = "utf-32-be"
    elif head == b"<\0\0\0":
        encoding = "utf-32-le"
    elif head.startswith(b"\0<"):
        encoding = "utf-16-be"
    elif head.startswith(b"<\0"):
        encoding = "utf-16-le"
    else:
        # Every other charset feedparser reads keeps ASCII markup bytes as they are.
        encoding = "latin-1"
    return content.decode(encoding, errors="replace")
