"""Find the feed behind a URL: the URL itself, or the feeds its web page advertises.

A page advertises its feeds in its head, as `<link rel="alternate" type="application/rss+xml"
href="...">` (or atom+xml, feed+json); hrefs are resolved against the page's URL.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING

from feedwatch import urls
from feedwatch.errors import ParseError, SubscriptionError
from feedwatch.models import FeedLink
from feedwatch.poll import parser
from feedwatch.text import html_to_text

if TYPE_CHECKING:
    from feedwatch.poll.http import Fetcher

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
# Pages put their <link rel="alternate"> in the head: the first part of a page is enough.
_PAGE_HEAD = 256 * 1024


def advertised(page: str, base_url: str) -> list[FeedLink]:
    """The feeds `page` (HTML) advertises, in page order, each URL once; only http(s) ones."""
    finder = _LinkFinder()
    finder.feed(page)
    finder.close()
    found: dict[str, FeedLink] = {}
    for href, media_type, title in finder.links:
        url = urls.canonical_url(href, base=base_url)
        if url is not None and url not in found:
            found[url] = FeedLink(url, html_to_text(title) or None, media_type)
    return list(found.values())


def find_feeds(fetcher: Fetcher, url: str) -> list[FeedLink]:
    """[the URL] when it answers with a feed, else the feeds its page advertises.

    Raises FetchError when it cannot be fetched, SubscriptionError when it is neither a feed
    nor a page advertising one.
    """
    result = fetcher.fetch(url)
    try:
        parser.parse(result.content, result.headers, result.url)
    except ParseError:
        pass  # a web page, perhaps
    else:
        return [FeedLink(url)]
    feeds = advertised(result.content.decode("utf-8", errors="replace"), result.url)
    if not feeds:
        raise SubscriptionError(f"{url}: neither a feed nor a page that advertises one")
    return feeds


def advice(content: bytes, url: str) -> str | None:
    """For a body that is a web page rather than a feed: which feeds the page advertises, as
    the end of the error a configured URL records ("this page advertises …"); else None."""
    feeds = advertised(content[:_PAGE_HEAD].decode("utf-8", errors="replace"), url)
    if not feeds:
        return None
    return "this page advertises " + ", ".join(feed.url for feed in feeds) + "; configure that"


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        attributes = {name.lower(): (value or "") for name, value in attrs}
        rels = attributes.get("rel", "").lower().split()
        media_type = attributes.get("type", "").split(";")[0].strip().lower()
        href = attributes.get("href", "").strip()
        if "alternate" in rels and media_type in FEED_TYPES and href:
            self.links.append((href, media_type, attributes.get("title", "")))

    handle_startendtag = handle_starttag
