"""A feed's response body to what the rest of feedwatch works on: the document, and its
entries as plain-text Articles.

Pure, and picklable both ways, so that it runs in a worker process (poll/processes.py) as
well as in the polling thread. Nothing here touches the network.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from feedwatch import logs
from feedwatch.errors import ParseError
from feedwatch.models import Article, Entry, ParsedFeed
from feedwatch.poll import discover, parser
from feedwatch.text import html_to_text
from feedwatch.urls import canonical_url, identity_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reading:
    """One feed document: the feed without its entries (nothing after this needs their
    HTML), and the entries as articles."""

    feed: ParsedFeed
    articles: tuple[Article, ...]


def read(
    content: bytes, headers: Mapping[str, str], url: str, *, max_entries: int, now: datetime
) -> Reading:
    """The body `url` answered with, read as parser.parse and to_articles do.

    Raises ParseError when it is no feed (naming the feeds a web page advertises, if it is
    one) or its entries cannot be read.
    """
    try:
        parsed = parser.parse(content, headers, url, max_entries=max_entries, now=now)
    except ParseError as exc:
        found = discover.advice(content, url)
        if found is None:
            raise
        raise ParseError(f"{exc}; {found}") from None
    try:
        articles = to_articles(parsed.entries, url, parsed.language)
    except Exception as exc:
        # A bug, but one feed's: recorded against it, while the others go on.
        log.debug("%s: cannot read its entries", url, exc_info=True)
        raise ParseError(f"unreadable entries ({logs.described(exc)})") from None
    return Reading(dataclasses.replace(parsed, entries=()), articles)


def to_articles(
    entries: Sequence[Entry], feed_url: str, language: str | None = None
) -> tuple[Article, ...]:
    """Plain-text views of one feed document's entries: what the matcher, store and
    summariser work on, each with the URL that makes it one article with other feeds'
    entries (urls.identity_keys), and the language it declares (its own, else the feed's
    `language`; the summariser detects one when neither says)."""
    links = [
        canonical_url(entry.link, base=feed_url, keep_fragment=True) if entry.link else None
        for entry in entries
    ]
    articles = tuple(
        Article(
            entry_id=entry.id,
            # The fragment only where it tells the feed's entries apart (a live blog's
            # blocks): elsewhere it is a spot on the page ("#comments"), not the article.
            url=key or (link.partition("#")[0] if link else None),
            title=html_to_text(entry.title),
            summary=html_to_text(entry.summary_html),
            body=html_to_text(entry.content_html),
            published=entry.published,
            authors=entry.authors,
            enclosures=entry.enclosures,
            tags=entry.tags,
            language=entry.language or language,
            key=key,
        )
        for entry, link, key in zip(entries, links, identity_keys(links), strict=True)
    )
    for article in articles:
        article.version  # noqa: B018 - worked out here, off the storing thread (models.py)
    return articles
