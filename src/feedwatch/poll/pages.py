"""Full text: an article's text from its own web page, for feeds that carry only a teaser.

`feeds[].full_text` says when: `true` always, `false` never, `auto` (the default) when the
entry's own text (models.Article.text) is shorter than `fetch.min_text` characters.

A page is fetched once per article version: only for the entries of a poll that the store
does not already hold at the same version (new or changed ones), each URL once, at most
`fetch.max_pages` per poll. An entry new to this feed whose article is already stored (from
another feed) joins that article and reuses its page. The article's version stays that of
the feed's text, so an unchanged entry is never fetched again; the page is stored beside it.

Pages go through the shared Fetcher (poll.timeout, poll.max_bytes), at most poll.per_host at
once per host, the feeds' own requests counted, past the address guard (netguard.py) unless
fetch.allow_private is set. A page that fails (refused, HTTP error, timeout, not HTML, no
article found) is logged as a warning, stored as the article's page error, and the article
keeps the feed's text. The pages of one
poll end within BUDGET_TIMEOUTS x poll.timeout; any still waiting then are given up.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feedwatch.config import Config, FeedSettings, FetchSettings
from feedwatch.errors import AbandonedError, FetchError
from feedwatch.models import Article, Page
from feedwatch.poll import extractor
from feedwatch.poll.http import CheckURL, Fetcher
from feedwatch.poll.netguard import AddressGuard
from feedwatch.poll.pool import HostPool, host_of
from feedwatch.store import Store
from feedwatch.urls import http_host

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
BUDGET_TIMEOUTS = 3


def wants_page(article: Article, full_text: bool | str, min_text: int) -> bool:
    """Whether `article`'s text should come from its page, by the feed's full_text setting."""
    if full_text is False or http_host(article.url) is None:
        return False
    return full_text is True or len(article.text) < min_text


def pages_to_fetch(
    articles: Iterable[Article],
    *,
    full_text: bool | str,
    min_text: int,
    versions: Mapping[str, str],
    stored_urls: Collection[str],
) -> list[str]:
    """The page URLs one poll needs, in feed order, each once.

    `versions`: the stored version of the feed's known entries (StoredPoll.versions);
    `stored_urls`: URLs stored as articles already (Store.page_texts). Left out: entries
    stored at this very version (their page, if any, is stored), new entries whose URL is
    stored (they join that article), and those wants_page turns down.
    """
    urls: dict[str, None] = {}
    for article in articles:
        stored = versions.get(article.entry_id)
        if stored == article.version:
            continue
        if stored is None and article.url in stored_urls:
            continue
        if article.url and wants_page(article, full_text, min_text):
            urls[article.url] = None
    return list(urls)


@dataclass(frozen=True, slots=True)
class Pages:
    """The pages one poll has to go by, by article URL."""

    fetched: Mapping[str, Page] = field(default_factory=dict)  # fetched now: to be stored
    # Page text of stored articles that new entries join: used, not fetched again.
    stored: Mapping[str, str] = field(default_factory=dict)

    def apply(self, article: Article) -> Article:
        """`article` with its page's text, if it has one (see Article.with_page)."""
        if article.url is None:
            return article
        page = self.fetched.get(article.url)
        return article.with_page(page.text if page else self.stored.get(article.url))


class PageFetcher:
    """Fetches and extracts the pages of each poll's new and changed entries.

    Long-lived (one per Pipeline): the per-host limit holds across polls running at once.
    `guard` is called with every page URL and redirect target before connecting; by default
    netguard.AddressGuard, or none with fetch.allow_private.
    """

    def __init__(
        self,
        config: Config,
        fetcher: Fetcher,
        store: Store,
        guard: CheckURL | None = None,
    ) -> None:
        self._config = config
        self._settings: FetchSettings = config.fetch
        self._fetcher = fetcher
        self._store = store
        self._pool = HostPool(config.poll.concurrency, config.poll.per_host, name="page")
        if guard is None and not config.fetch.allow_private:
            guard = AddressGuard()
        self._guard = guard

    def fetch(
        self, feed: FeedSettings, articles: Sequence[Article], versions: Mapping[str, str]
    ) -> Pages:
        """The pages `feed`'s poll needs; never raises for a page (see Page.error), but
        AbandonedError when the fetcher was closed under it: the poll is abandoned."""
        full_text = self._config.full_text_for(feed)
        if full_text is False:
            return Pages()
        new_urls = [a.url for a in articles if a.url and a.entry_id not in versions]
        stored = self._store.page_texts(new_urls) if new_urls else {}
        wanted = pages_to_fetch(
            articles,
            full_text=full_text,
            min_text=self._settings.min_text,
            versions=versions,
            stored_urls=stored.keys(),
        )
        chosen = wanted[: self._settings.max_pages]
        if len(chosen) < len(wanted):
            log.info(
                "%s: %d pages not fetched (fetch.max_pages is %d); their articles keep the "
                "feed's text",
                feed.url,
                len(wanted) - len(chosen),
                self._settings.max_pages,
            )
        fetched = self._fetch_all(chosen)
        for url, page in fetched.items():
            if page.error is not None:
                log.warning(
                    "%s: page %s: %s; the feed's text is used",
                    feed.url,
                    url,
                    page.error,
                    # Not "feed": in JSON logs that key marks the one line each poll logs.
                    extra={"fields": {"page": url, "error": page.error, "in_feed": feed.url}},
                )
        return Pages(fetched, {url: text for url, text in stored.items() if text})

    def _fetch_all(self, urls: Sequence[str]) -> dict[str, Page]:
        futures: dict[str, Future[Page]] = {
            url: self._pool.submit(host_of(url), fetch_page, self._fetcher, url, self._guard)
            for url in urls
        }
        budget = BUDGET_TIMEOUTS * self._fetcher.timeout
        concurrent.futures.wait(futures.values(), timeout=budget)
        late = f"gave up after {budget:g}s, the time one poll's pages may take"
        pages = {}
        for url, future in futures.items():
            if not future.done():
                # A running fetch ends by its own deadline in its daemon thread; its page is
                # simply not used. A queued one never starts.
                future.cancel()
                pages[url] = Page(url, _now(), error=late)
                continue
            try:
                pages[url] = future.result()
            except AbandonedError:
                raise
            except Exception as exc:  # an optional extra must never cost the poll its articles
                pages[url] = Page(url, _now(), error=f"unexpected error: {exc!r}")
        return pages


def fetch_page(fetcher: Fetcher, url: str, guard: CheckURL | None = None) -> Page:
    """The article text of the page at `url`, or why there is none; never raises for the page.

    `guard` is Fetcher.fetch's `check_url` (see PageFetcher).
    """
    try:
        result = fetcher.fetch(url, check_url=guard)
    except FetchError as exc:
        return Page(url, _now(), error=str(exc))
    content_type = result.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type and media_type not in HTML_TYPES:
        return Page(result.url, _now(), error=f"not an HTML page ({media_type})")
    text = extractor.extract(_decoded(result.content, content_type), result.url)
    if text is None:
        return Page(result.url, _now(), error="no article text found on the page")
    return Page(result.url, _now(), text=text)


def _decoded(content: bytes, content_type: str) -> bytes | str:
    """The page as text when its Content-Type names a charset (which wins over the page's own
    <meta>, as in browsers); else the bytes, for the extractor to decode as the page says."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            try:
                return content.decode(value.strip().strip("\"'"), errors="replace")
            except LookupError:  # a charset Python does not know
                return content
    return content


def _now() -> datetime:
    return datetime.now(UTC)
