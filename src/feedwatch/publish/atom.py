"""The digest as an Atom 1.0 feed (RFC 4287)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from feedwatch import __version__
from feedwatch.models import DigestItem
from feedwatch.publish.entries import (
    Channel,
    authors,
    description,
    http_url,
    plain,
    rfc3339,
    shows,
)
from feedwatch.text import xml_safe

NAMESPACE = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
# The feed's own <updated>, written before any entry's: when the digest was built.
BUILD_DATE = re.compile(rb"<updated>[^<]*</updated>")
# An id must be an absolute IRI; feedwatch's guids are "urn:feedwatch:<sha1>".
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def render(
    channel: Channel, items: Sequence[DigestItem], *, built: datetime, self_url: str | None
) -> bytes:
    """The Atom document as UTF-8 bytes with an XML declaration."""
    feed = ET.Element("feed", xmlns=NAMESPACE)
    page = channel.page
    _text(feed, "id", self_url or page or "urn:feedwatch:digest")
    _text(feed, "title", channel.name)
    _text(feed, "updated", rfc3339(built))
    if self_url:
        ET.SubElement(feed, "link", rel="self", type=MEDIA_TYPE, href=self_url)
    if page:
        ET.SubElement(feed, "link", rel="alternate", type="text/html", href=page)
    subtitle = xml_safe(channel.description).strip()
    if subtitle:
        _text(feed, "subtitle", subtitle)
    # Atom requires an author for every entry; the feed's stands in for entries without one.
    _text(ET.SubElement(feed, "author"), "name", channel.name)
    ET.SubElement(feed, "generator", version=__version__).text = "feedwatch"
    for item in channel.select(items):
        _entry(feed, item)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def entry_id(guid: str) -> str:
    """The guid when it is an absolute IRI, else a URN made of it."""
    guid = xml_safe(guid).strip()
    return guid if _SCHEME.match(guid) else "urn:feedwatch:guid:" + quote(guid, safe="-._~")


def _entry(feed: ET.Element, item: DigestItem) -> None:
    entry = ET.SubElement(feed, "entry")
    _text(entry, "id", entry_id(item.guid))
    # Atom requires a title; an untitled article is shown by its link.
    _text(entry, "title", plain(item.title) or http_url(item.url) or "untitled")
    _text(entry, "updated", rfc3339(item.published))
    _text(entry, "published", rfc3339(item.published))
    link = http_url(item.url)
    if link:
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=link)
    for enclosure in item.enclosures:
        href = http_url(enclosure.url)
        if href is None:
            continue
        attributes = {"rel": "enclosure", "href": href}
        if enclosure.type and xml_safe(enclosure.type).strip():
            attributes["type"] = xml_safe(enclosure.type).strip()
        if enclosure.length is not None and enclosure.length >= 0:
            attributes["length"] = str(enclosure.length)
        ET.SubElement(entry, "link", attributes)
    for name in authors(item):
        _text(ET.SubElement(entry, "author"), "name", name)
    for show in shows(item):
        ET.SubElement(entry, "category", term=show)
    ET.SubElement(entry, "content", type="html").text = description(item)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text
