"""Feed documents (RSS 0.9x/1.0/2.0, Atom) to ParsedFeed, via feedparser.

The body arrives as bytes with the response headers; nothing here touches the network.
Whatever the bytes are, the outcome is a ParsedFeed or a ParseError.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import io
import re
import time
import xml.sax
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser

from feedwatch.errors import ParseError
from feedwatch.models import Entry, ParsedFeed
from feedwatch.text import xml_safe
from feedwatch.urls import canonical_url

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


def parse(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse one response body; `url` is the base for relative links and is never fetched.

    Raises ParseError when the body is not a feed at all. A feed feedparser had to recover
    from (malformed XML, a wrong charset declaration) is returned with `warning` set.
    """
    _refuse_entity_bombs(content)
    content = _repair_character_references(content)
    response_headers = {name.lower(): value for name, value in headers.items()}
    # feedparser resolves relative links against Content-Location; without one, the feed URL.
    location = response_headers.get("content-location")
    response_headers["content-location"] = urljoin(url, location) if location else url
    try:
        # A bytes argument would be tried as a file name first: always hand over a stream.
        result = feedparser.parse(
            io.BytesIO(content),
            response_headers=response_headers,
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except (ValueError, OverflowError) as exc:
        # feedparser's fallback parser turns a character reference past U+10FFFF, or to a
        # lone surrogate ("&#xD800;"), into chr() or UTF-8 and lets the error out.
        raise ParseError(f"unreadable feed ({_describe(exc)})") from None
    problem = result.get("bozo_exception") if result.get("bozo") else None
    if not result.entries:
        if not result.get("version"):
            raise ParseError(_not_a_feed(content, problem))
        if isinstance(problem, xml.sax.SAXException):
            # Broken badly enough that nothing was recovered: an error says more than "0 entries".
            raise ParseError(f"feed with no readable entries ({_describe(problem)})")
    feed = result.feed
    return ParsedFeed(
        title=xml_safe(feed.get("title") or "") or None,
        link=xml_safe(feed.get("link") or "") or None,
        entries=tuple(_entry(entry) for entry in result.entries),
        # A feed served as text/html or without a Content-Type parses just the same:
        # nothing was recovered, so there is nothing to warn about.
        warning=None if isinstance(problem, feedparser.NonXMLContentType) else _describe(problem),
        ttl=_ttl(feed.get("ttl")),
        update_period=_update_period(feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")),
    )


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


def _entry(entry: Any) -> Entry:
    title = entry.get("title", "")
    # Ids and links are stored and published as given, so characters XML forbids (a NUL from
    # "&#0;", which PostgreSQL refuses too) are dropped here; the HTML fields lose theirs later.
    link = xml_safe(entry.get("link") or "") or None
    summary = entry.get("summary", "")
    contents = [part.get("value", "") for part in entry.get("content", ())]
    content = max(contents, key=len, default="")
    entry_id = xml_safe(entry.get("id") or "").strip() or (canonical_url(link) if link else None)
    if not entry_id:
        entry_id = "sha256:" + hashlib.sha256(f"{title}\0{summary}".encode()).hexdigest()
    return Entry(
        id=entry_id,
        title=title,
        link=link,
        published=_utc(entry.get("published_parsed")) or _utc(_own(entry, "updated_parsed")),
        # feedparser copies an entry's only content into its summary: don't report it twice.
        summary_html="" if summary == content else summary,
        content_html=content,
    )


def _own(entry: Any, key: str) -> Any:
    # FeedParserDict answers a missing `updated_parsed` with `published_parsed` (and a
    # DeprecationWarning); read the dict itself to get only what the feed said.
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
    if stripped[:1] in (b"{", b"["):
        return "not an RSS/Atom feed (looks like JSON; JSON Feed is not supported)"
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
