"""The digest as a JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
    summary,
)
from feedwatch.text import xml_safe

MEDIA_TYPE = "application/feed+json"
VERSION = "https://jsonfeed.org/version/1.1"
_UNKNOWN_TYPE = "application/octet-stream"


def render(channel: Channel, items: Sequence[DigestItem], *, self_url: str | None) -> bytes:
    """The JSON Feed document as UTF-8 bytes."""
    feed: dict[str, Any] = {"version": VERSION, "title": channel.name}
    page = channel.page
    if page:
        feed["home_page_url"] = page
    if self_url:
        feed["feed_url"] = self_url
    text = xml_safe(channel.description).strip()
    if text:
        feed["description"] = text
    feed["user_comment"] = f"Written by feedwatch {__version__}."
    feed["items"] = [_item(item) for item in channel.select(items)]
    return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _item(item: DigestItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": xml_safe(item.guid)}
    link = http_url(item.url)
    if link:
        entry["url"] = link
    title = plain(item.title)
    if title:
        entry["title"] = title
    entry["content_html"] = description(item)
    text = summary(item)
    if text:
        entry["summary"] = text
    entry["date_published"] = rfc3339(item.published)
    names = authors(item)
    if names:
        entry["authors"] = [{"name": name} for name in names]
    tags = shows(item)
    if tags:
        entry["tags"] = tags
    if item.language:
        entry["language"] = xml_safe(item.language).strip()
    attachments = [
        _attachment(url, enclosure.type, enclosure.length)
        for enclosure in item.enclosures
        if (url := http_url(enclosure.url))
    ]
    if attachments:
        entry["attachments"] = attachments
    return entry


def _attachment(url: str, media_type: str | None, length: int | None) -> dict[str, Any]:
    attachment: dict[str, Any] = {
        "url": url,
        "mime_type": xml_safe(media_type or "").strip() or _UNKNOWN_TYPE,
    }
    if length is not None and length >= 0:
        attachment["size_in_bytes"] = length
    return attachment
