"""Publish the matched articles as an RSS 2.0 digest feed, written atomically.

Every piece of article text is untrusted: it is stripped of characters XML 1.0 forbids, escaped,
and the one HTML field (item description) is run through nh3 as a second line of defence.

A digest whose content is unchanged is not rewritten, lastBuildDate included: the file, and so
the ETag and Last-Modified it is served with, change only when readers have something new.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, urljoin

import nh3

from feedwatch import __version__, urls
from feedwatch.config import DigestSettings
from feedwatch.errors import DigestError
from feedwatch.models import DigestItem
from feedwatch.text import xml_safe

# The one part of a rendered digest that changes without its content changing.
_BUILD_DATE = re.compile(rb"<lastBuildDate>[^<]*</lastBuildDate>")

ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("atom", ATOM)
# Where `run` and `serve` serve the digest, relative to digest.link.
SELF_PATH = "feed.xml"

# RFC 3986 reserved + unreserved characters and '%': quote() leaves a valid URL as it is and
# percent-encodes only what may not appear in one (spaces, quotes, angle brackets, non-ASCII).
_URL_SAFE = "%:/?#[]@!$&'()*+,;=-._~"

_ALLOWED_TAGS = {"p", "a", "br", "em", "strong"}
_ALLOWED_ATTRIBUTES = {"a": {"href"}}
_ALLOWED_SCHEMES = {"http", "https"}
_FALLBACK_TITLE = "feedwatch digest"
_UNKNOWN_FEED = "unknown feed"


def render(items: Sequence[DigestItem], settings: DigestSettings, *, built: datetime) -> bytes:
    """The digest document as UTF-8 bytes with an XML declaration."""
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    # The W3C validator rejects a blank channel title; config allows one, so fall back.
    _text(channel, "title", xml_safe(settings.title).strip() or _FALLBACK_TITLE)
    _text(channel, "link", _http_url(settings.link) or xml_safe(settings.link).strip())
    # The feed's own address, which the W3C validator asks for.
    self_url = _http_url(urljoin(xml_safe(settings.link).strip(), SELF_PATH))
    if self_url:
        ET.SubElement(
            channel, f"{{{ATOM}}}link", href=self_url, rel="self", type="application/rss+xml"
        )
    _text(channel, "description", xml_safe(settings.description))
    _text(channel, "lastBuildDate", _rfc822(built))
    _text(channel, "generator", f"feedwatch {__version__}")
    for item in _unique(items, settings.max_items):
        _item(channel, item)
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"


def write(items: Sequence[DigestItem], settings: DigestSettings, *, built: datetime) -> Path:
    """Render and replace the digest at settings.path in one step; returns that path.

    When the file there differs from the new digest in lastBuildDate alone, it is left as it is.
    """
    document = render(items, settings, built=built)
    path = settings.path
    if _unchanged(path, document):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigestError(f"cannot create the folder for digest {path}: {_reason(exc)}") from None
    _replace(path, document)
    return path


def _unchanged(path: Path, document: bytes) -> bool:
    try:
        current = path.read_bytes()
    except OSError:  # none yet, or unreadable: write it
        return False
    return _BUILD_DATE.sub(b"", current) == _BUILD_DATE.sub(b"", document)


def _unique(items: Sequence[DigestItem], limit: int) -> list[DigestItem]:
    """At most `limit` items, first occurrence of each guid; duplicate guids confuse readers."""
    kept: list[DigestItem] = []
    seen: set[str] = set()
    for item in items:
        if len(kept) == limit:
            break
        guid = xml_safe(item.guid)
        if guid not in seen:
            seen.add(guid)
            kept.append(item)
    return kept


def _item(channel: ET.Element, item: DigestItem) -> None:
    element = ET.SubElement(channel, "item")
    title = xml_safe(item.title).strip()
    if title:
        _text(element, "title", title)
    link = _http_url(item.url)
    if link:
        _text(element, "link", link)
    _text(element, "description", _description(item))
    for show in _shows(item):
        _text(element, "category", show)
    ET.SubElement(element, "guid", isPermaLink="false").text = xml_safe(item.guid)
    _text(element, "pubDate", _rfc822(item.published))
    feed_url = _http_url(item.feed_url)
    if feed_url:
        ET.SubElement(element, "source", url=feed_url).text = _feed_label(item)


def _description(item: DigestItem) -> str:
    """Summary first, then the matched shows, then the source feed; nothing else."""
    parts = []
    summary = " ".join(xml_safe(sentence).strip() for sentence in item.summary).strip()
    if summary:
        parts.append(f"<p>{html.escape(summary)}</p>")
    shows = _shows(item)
    if shows:
        parts.append(f"<p>Shows: {html.escape(', '.join(shows))}</p>")
    label = html.escape(_feed_label(item))
    feed_url = _http_url(item.feed_url)
    source = f'<a href="{html.escape(feed_url)}">{label}</a>' if feed_url else label
    parts.append(f"<p>Source: {source}</p>")
    return nh3.clean(
        "".join(parts),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_ALLOWED_SCHEMES,
    )


def _shows(item: DigestItem) -> list[str]:
    return [name for name in (xml_safe(show) for show in item.shows) if name.strip()]


def _feed_label(item: DigestItem) -> str:
    return xml_safe(item.feed_title).strip() or _http_url(item.feed_url) or _UNKNOWN_FEED


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _http_url(url: str | None) -> str | None:
    """An absolute http(s) URL safe to put in the feed, else None (javascript:, relative...)."""
    if url is None:
        return None
    url = xml_safe(url).strip()
    if urls.http_host(url) is None:
        return None
    return quote(url, safe=_URL_SAFE)


def _rfc822(moment: datetime) -> str:
    # Records carry aware UTC datetimes; a naive one is taken to be UTC, never local time.
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return format_datetime(aware.astimezone(UTC), usegmt=True)


def _replace(path: Path, document: bytes) -> None:
    """Write to a temp file beside `path`, fsync, then rename over it: readers never see half."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise DigestError(f"cannot write digest {path}: {_reason(exc)}") from None
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(document)
            handle.flush()
            # mkstemp makes the file private; the digest is meant to be served and read.
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        temp.replace(path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise DigestError(f"cannot write digest {path}: {_reason(exc)}") from None
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        # Some filesystems cannot fsync a directory; the new digest is in place regardless.
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
