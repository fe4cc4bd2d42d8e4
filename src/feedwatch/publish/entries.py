"""What every digest format shows of the channel and of each item, format aside.

Every piece of article text is untrusted: it is stripped of characters XML 1.0 forbids, titles
are made plain text no reader can take for markup, and the one HTML field (the description)
is built from plain text and run through nh3 as a second line of defence.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, urljoin

import nh3

from feedwatch import urls
from feedwatch.config import DigestSettings
from feedwatch.models import DigestItem, Source
from feedwatch.text import html_to_text, slug, xml_safe

# RFC 3986 reserved + unreserved characters and '%': quote() leaves a valid URL as it is and
# percent-encodes only what may not appear in one (spaces, quotes, angle brackets, non-ASCII).
_URL_SAFE = "%:/?#[]@!$&'()*+,;=-._~"

_ALLOWED_TAGS = {"p", "a", "br", "em", "strong"}
_ALLOWED_ATTRIBUTES = {"a": {"href"}}
_ALLOWED_SCHEMES = {"http", "https"}
_FALLBACK_TITLE = "feedwatch digest"
_UNKNOWN_FEED = "unknown feed"
# A "<" an HTML parser would take as the start of a tag, comment, doctype or processing
# instruction; a space after it makes it a plain less-than sign in every reader.
_TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")


@dataclass(frozen=True, slots=True)
class Channel:
    """One digest feed: the whole digest, the items of one show, or the daily roundups."""

    title: str
    link: str  # digest.link: where the digest is published
    description: str
    max_items: int
    show: str | None = None
    roundup: bool = False  # the daily roundups of every show (digest.roundup)

    @classmethod
    def of(
        cls, settings: DigestSettings, show: str | None = None, *, roundup: bool = False
    ) -> Channel:
        return cls(
            settings.title, settings.link, settings.description, settings.max_items, show, roundup
        )

    @property
    def name(self) -> str:
        # The W3C validator rejects a blank channel title; config allows one, so fall back.
        title = plain(self.title) or _FALLBACK_TITLE
        if self.roundup:
            return f"{title}: daily roundups"
        return f"{title}: {plain(self.show)}" if self.show is not None else title

    @property
    def page(self) -> str | None:
        """The web page this feed stands for: digest.link, or the show's page under it."""
        if self.show is None:
            return http_url(self.link)
        return self.address(f"shows/{slug(self.show)}/")

    def address(self, path: str) -> str | None:
        """`path` (relative to digest.link) as an absolute URL, else None."""
        return http_url(urljoin(xml_safe(self.link).strip(), path))

    def select(self, items: Sequence[DigestItem]) -> list[DigestItem]:
        """The items this feed carries: the show's (all when none), at most max_items,
        the first occurrence of each guid (duplicate guids confuse readers)."""
        kept: list[DigestItem] = []
        seen: set[str] = set()
        for item in items:
            if len(kept) == self.max_items:
                break
            if self.show is not None and self.show not in item.shows:
                continue
            guid = xml_safe(item.guid)
            if guid not in seen:
                seen.add(guid)
                kept.append(item)
        return kept


def plain(text: str | None) -> str:
    """Plain text that no reader can run as markup, whether it shows titles as text or as HTML.

    `text` is already plain (the pipeline decoded the feed's entities once and removed its
    markup); decoding again would lose one more level of escaping, so only "<" before a letter,
    "/", "!" or "?" is changed, to "< ".
    """
    return _TAG_OPENER.sub("< ", xml_safe(text or "").strip())


def shows(item: DigestItem) -> list[str]:
    return [name for name in (plain(show) for show in item.shows) if name]


def sources(item: DigestItem) -> list[Source]:
    """Every feed that carried the item, first delivery first, each once, with a safe name."""
    given = item.sources or (Source(item.feed_title, item.feed_url, item.url),)
    kept: dict[str, Source] = {}
    for source in given:
        key = source.feed_url or source.title
        if key not in kept:
            kept[key] = Source(_feed_label(source), source.feed_url, source.link)
    return list(kept.values())


def _feed_label(source: Source) -> str:
    # Feeds give their own titles as HTML; config titles are plain, and decode to themselves.
    label = plain(html_to_text(source.title))
    return label or http_url(source.feed_url) or _UNKNOWN_FEED


def summary(item: DigestItem) -> str:
    return " ".join(xml_safe(sentence).strip() for sentence in item.summary).strip()


def description(item: DigestItem) -> str:
    """Summary first, then the matched shows, then the source feeds; nothing else."""
    parts = []
    text = summary(item)
    if text:
        parts.append(f"<p>{html.escape(text)}</p>")
    names = shows(item)
    if names:
        parts.append(f"<p>Shows: {html.escape(', '.join(names))}</p>")
    first, *others = sources(item)
    parts.append(f"<p>Source: {_source_link(first.title, first.feed_url)}</p>")
    if others:
        links = ", ".join(
            _source_link(source.title, source.link or source.feed_url) for source in others
        )
        parts.append(f"<p>Also reported by: {links}</p>")
    return nh3.clean(
        "".join(parts),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_ALLOWED_SCHEMES,
    )


def _source_link(label: str, url: str | None) -> str:
    safe = http_url(url)
    if safe is None:
        return html.escape(label)
    return f'<a href="{html.escape(safe)}">{html.escape(label)}</a>'


def authors(item: DigestItem) -> list[str]:
    return [name for name in (plain(author) for author in item.authors) if name]


def http_url(url: str | None) -> str | None:
    """An absolute http(s) URL safe to put in the feed, else None (javascript:, relative...)."""
    if url is None:
        return None
    url = xml_safe(url).strip()
    if urls.http_host(url) is None:
        return None
    return quote(url, safe=_URL_SAFE)


def utc(moment: datetime) -> datetime:
    # Records carry aware UTC datetimes; a naive one is taken to be UTC, never local time.
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(UTC)


def rfc822(moment: datetime) -> str:
    return format_datetime(utc(moment), usegmt=True)


def rfc3339(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
