"""OPML: the feed lists readers import and export. Reading is strict, writing is OPML 2.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from feedwatch import urls
from feedwatch.config import Config
from feedwatch.errors import SubscriptionError
from feedwatch.models import FeedLink
from feedwatch.text import xml_safe

MEDIA_TYPE = "text/x-opml"
_DOCTYPE_MARKERS = (b"<!doctype", b"<!entity")


def parse(document: bytes, name: str = "OPML") -> list[FeedLink]:
    """Every outline with an xmlUrl, nested ones included, in document order, each URL once.

    Raises SubscriptionError, its message naming `name`, unless every such outline has an
    http(s) URL and there is at least one.
    """
    # No document type, so no entities: an OPML file has no use for them, and they are how a
    # small file expands into gigabytes.
    if any(marker in document[:4096].lower() for marker in _DOCTYPE_MARKERS):
        raise SubscriptionError(f"{name}: not OPML: it declares a document type")
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise SubscriptionError(f"{name}: not XML: {exc}") from None
    if root.tag != "opml" or root.find("body") is None:
        raise SubscriptionError(f"{name}: not OPML: expected <opml> with a <body>")
    feeds: dict[str, FeedLink] = {}
    for number, outline in enumerate(root.iter("outline"), start=1):
        attributes = {key.lower(): value for key, value in outline.attrib.items()}
        url = attributes.get("xmlurl")
        if url is None:
            continue  # a folder, or a link that is no feed
        url = url.strip()
        if urls.http_host(url) is None:
            raise SubscriptionError(
                f"{name}: outline {number}: {url!r} is not an http:// or https:// URL"
            )
        # Plain text, as in the config; the digest treats feed titles as HTML when it shows them.
        title = " ".join(xml_safe(attributes.get("title") or attributes.get("text") or "").split())
        feeds.setdefault(url, FeedLink(url, title or None))
    if not feeds:
        raise SubscriptionError(f"{name}: no outline with an xmlUrl: no feeds to import")
    return list(feeds.values())


def render(feeds: Sequence[FeedLink], *, title: str) -> bytes:
    """An OPML 2.0 subscription list of `feeds` as UTF-8 bytes."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = xml_safe(title).strip() or "feedwatch feeds"
    body = ET.SubElement(opml, "body")
    for feed in feeds:
        url = xml_safe(feed.url).strip()
        label = xml_safe(feed.title or "").strip()
        # OPML 2.0 requires text; readers show it as the feed's name.
        attributes = {"type": "rss", "text": label or url}
        if label:
            attributes["title"] = label
        attributes["xmlUrl"] = url
        ET.SubElement(body, "outline", attributes)
    ET.indent(opml)
    return ET.tostring(opml, encoding="utf-8", xml_declaration=True) + b"\n"


def render_config(config: Config) -> bytes:
    """The configured feeds as OPML: `feedwatch export`, and /opml.xml."""
    feeds = [FeedLink(feed.url, feed.title) for feed in config.feeds]
    return render(feeds, title=f"{config.digest.title}: feeds")
