"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) to ParsedFeed.

Plain-text fields (titles, content_text, summary) are escaped into HTML here, so later stages
read every entry the same way whatever format it came in.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from datetime import datetime
from typing import Any

from feedwatch.errors import ParseError
from feedwatch.models import Entry, ParsedFeed
from feedwatch.poll import dates
from feedwatch.poll.entries import enclosures, entry_id, is_empty, unique
from feedwatch.text import xml_safe

JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


def looks_like_json(content: bytes) -> bool:
    """The body opens like a JSON document (after a BOM and whitespace)."""
    return content.lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:1] in (b"{", b"[")


def parse_json_feed(content: bytes, url: str, max_entries: int) -> ParsedFeed:
    """Raises ParseError for a body that is not JSON, or JSON that is not a JSON Feed.

    Of a feed with more than twice `max_entries` items only the first and last `max_entries`
    are converted (the rest count as truncated); the caller keeps the newest of those.
    """
    document = _load(content)
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIXES):
        raise ParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed without an items list")
    # Converting is the costly part: beyond twice the cap only the first and the last items can
    # be the newest (a feed lists newest first or, rarely, oldest first).
    dropped = 0
    if len(items) > 2 * max_entries:
        dropped = len(items) - 2 * max_entries
        items = items[:max_entries] + items[len(items) - max_entries :]
    language = _language(document.get("language"))
    entries: list[Entry] = []
    skipped = 0
    for item in items:
        try:
            entry = _entry(item, url, language) if isinstance(item, dict) else None
        except (TypeError, ValueError, AttributeError, OverflowError):
            entry = None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return ParsedFeed(
        title=_plain(document.get("title")) or None,
        link=_string(document.get("home_page_url")) or None,
        entries=tuple(entries),
        language=language,
        skipped=skipped,
        truncated=dropped,
    )


def _load(content: bytes) -> Any:
    try:
        # json.loads detects UTF-8, -16 and -32 itself; a UTF-8 BOM it refuses, so it goes.
        return json.loads(content.removeprefix(codecs.BOM_UTF8))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        detail = " ".join(str(exc).split()) if not isinstance(exc, RecursionError) else "too deep"
        raise ParseError(f"not valid JSON ({detail})") from None


def _entry(item: dict[str, Any], base: str, language: str | None) -> Entry | None:
    """One item, or None when it has nothing to show (no title, link or text)."""
    link = _string(item.get("url")) or _string(item.get("external_url")) or None
    title = _plain(item.get("title"))
    content = _html(item.get("content_html")) or _plain(item.get("content_text"))
    summary = _summary(item.get("summary"))
    if summary == content:
        summary = ""
    if is_empty(title, link, summary, content):
        return None
    own_id = item.get("id")
    # The spec says a string; numbers are common in the wild and just as unique.
    if isinstance(own_id, int) and not isinstance(own_id, bool):
        own_id = str(own_id)
    own_language = _language(item.get("language"))
    published = _date(item.get("date_published"), own_language or language) or _date(
        item.get("date_modified"), own_language or language
    )
    authors = item.get("authors")
    if not isinstance(authors, list):  # JSON Feed 1.0 has one author object
        authors = [item.get("author")]
    attachments = item.get("attachments")
    tags = item.get("tags")
    return Entry(
        id=entry_id(own_id if isinstance(own_id, str) else None, link, title, summary or content),
        title=title,
        link=link,
        published=published,
        summary_html=summary,
        content_html=content,
        authors=unique(author.get("name") for author in authors if isinstance(author, dict)),
        enclosures=enclosures(
            (
                (part.get("url"), part.get("mime_type"), part.get("size_in_bytes"))
                for part in (attachments if isinstance(attachments, list) else ())
                if isinstance(part, dict)
            ),
            base,
        ),
        language=own_language,
        tags=unique(tags if isinstance(tags, list) else ()),
    )


# Tags a teaser is made of; plain text rarely holds one.
_TAGS = r"(?:p|div|br|span|a|em|strong|b|i|ul|ol|li|img|blockquote)\b"
_HTML_TAG = re.compile(rf"<{_TAGS}[^>]*>", re.I)
_ESCAPED_TAG = re.compile(rf"&lt;{_TAGS}", re.I)


def _string(value: object) -> str:
    return xml_safe(value).strip() if isinstance(value, str) else ""


def _plain(value: object) -> str:
    """A plain-text field as HTML, so "<" and "&" reach the reader as written."""
    return html.escape(_string(value), quote=False)


def _html(value: object) -> str:
    """content_html, unescaped once more when its publisher escaped it twice: no tag in it,
    but escaped ones ("&lt;p&gt;"), which would reach readers as text."""
    text = _string(value)
    if not _HTML_TAG.search(text) and _ESCAPED_TAG.search(text):
        return html.unescape(text)
    return text


def _summary(value: object) -> str:
    """`summary` is plain text by the spec, but many publishers put their HTML teaser there:
    shown as text, its tags would reach readers as "<p>"."""
    text = _string(value)
    return text if _HTML_TAG.search(text) else _plain(text)


def _date(value: object, language: str | None) -> datetime | None:
    if not isinstance(value, str):
        return None
    return dates.parse_iso(value) or dates.parse_localized(value, language)


def _language(value: object) -> str | None:
    return _string(value).lower().replace("_", "-") or None
