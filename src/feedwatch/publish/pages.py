"""The web view's HTML pages, rendered from the Jinja2 templates in templates/.

The only module that imports Jinja2. Autoescaping is on for every template, and everything a
page shows of an article is plain text (titles, summaries, feed names, errors), so no markup
from a feed reaches the page; links are http(s) only (entries.http_url).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import jinja2

from feedwatch.config import Config
from feedwatch.models import DigestItem, FeedReport
from feedwatch.publish import feeds, highlight
from feedwatch.publish.entries import http_url, plain, slug, sources, summary, utc
from feedwatch.store.repository import SearchHit

_FORMAT_NAMES = {feeds.RSS_TYPE: "RSS", feeds.ATOM_TYPE: "Atom", feeds.JSON_TYPE: "JSON Feed"}
SEARCH_LIMIT = 50  # results shown for one search
MAX_QUERY = 200  # characters of a search kept
_WORD = re.compile(r"\w+")  # what Store.search looks for of a query
_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("feedwatch.publish", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed the page links to and advertises with <link rel="alternate">."""

    href: str  # absolute path on this server: /feed.xml, /shows/daredevil/feed.json...
    type: str
    label: str  # "RSS", "Atom", "JSON Feed"


@dataclass(frozen=True, slots=True)
class Show:
    name: str
    slug: str
    feeds: tuple[FeedLink, ...]

    @property
    def href(self) -> str:
        return f"/shows/{self.slug}/"


@dataclass(frozen=True, slots=True)
class Site:
    """What every page shows of the configuration: title, shows, feeds."""

    title: str
    description: str
    shows: tuple[Show, ...]
    feeds: tuple[FeedLink, ...]  # of the whole digest

    @classmethod
    def of(cls, config: Config) -> Site:
        digest = config.digest
        names = [show.name for show in config.shows]
        served = feeds.served_files(digest.path, digest.formats, digest.per_show, names)
        links: dict[str, list[FeedLink]] = {}
        for path, (_file, media_type) in served.items():
            folder = path.rpartition("/")[0]
            link = FeedLink("/" + path, media_type, _FORMAT_NAMES[media_type])
            links.setdefault(folder, []).append(link)
        shows = tuple(
            Show(plain(name), slug(name), tuple(links.get(f"shows/{slug(name)}", ())))
            for name in dict.fromkeys(names)
        )
        return cls(plain(digest.title), plain(digest.description), shows, tuple(links.get("", ())))

    def show(self, show_slug: str) -> Show | None:
        return next((show for show in self.shows if show.slug == show_slug), None)


@dataclass(frozen=True, slots=True)
class Match:
    show: str
    href: str | None  # the show's page, when the show is still configured
    phrase: str


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    href: str | None


@dataclass(frozen=True, slots=True)
class Item:
    """One digest item or search result as a page shows it."""

    title: list[highlight.Piece]
    href: str | None
    published: datetime
    text: list[highlight.Piece]  # the summary (or the search's excerpt), phrases marked
    matches: tuple[Match, ...]
    sources: tuple[Link, ...]

    @property
    def date(self) -> str:
        return f"{self.published.day} {self.published:%b %Y, %H:%M} UTC"

    @property
    def iso_date(self) -> str:
        return self.published.strftime("%Y-%m-%dT%H:%M:%SZ")


def _matches(site: Site, pairs: Sequence[tuple[str, str]]) -> tuple[Match, ...]:
    kept = []
    for show, phrase in pairs:
        page = site.show(slug(show))
        kept.append(Match(plain(show), page.href if page else None, plain(phrase)))
    return tuple(kept)


def digest_item(site: Site, item: DigestItem) -> Item:
    """An item with its matched phrases marked in its title and summary."""
    phrases = item.phrases or item.shows
    return Item(
        title=highlight.pieces(plain(item.title) or "(untitled)", phrases),
        href=http_url(item.url),
        published=utc(item.published),
        text=highlight.pieces(summary(item), phrases),
        matches=_matches(site, list(zip(item.shows, phrases, strict=False))),
        sources=tuple(Link(source.title, http_url(source.feed_url)) for source in sources(item)),
    )


def search_item(site: Site, hit: SearchHit, query: str) -> Item:
    """A search result: the words searched for marked in its title and in an excerpt."""
    words = _WORD.findall(query)
    article = hit.article
    text = " ".join(plain(hit.text).split())
    return Item(
        title=highlight.pieces(plain(article.title) or "(untitled)", words),
        href=http_url(article.link),
        published=utc(article.published),
        text=highlight.pieces(highlight.excerpt(text, words), words),
        matches=_matches(site, [(m.show, m.phrase or m.show) for m in article.matches]),
        sources=(Link(plain(article.feed_title), http_url(article.feed_url)),),
    )


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One row of the /feeds table, as `feedwatch feeds` shows it."""

    title: str
    url: str | None
    last_fetch: str
    status: str
    articles: int
    next_poll: str
    last_error: str

    @property
    def failing(self) -> bool:
        return bool(self.last_error)


def feed_rows(config: Config, reports: Sequence[FeedReport], now: datetime) -> list[FeedRow]:
    """The configured feeds in config order, each with what the store knows of it."""
    by_url = {report.url: report for report in reports}
    rows = []
    for feed in config.feeds:
        report = by_url.get(feed.url)
        if report is None:
            title = plain(feed.title or feed.url)
            rows.append(FeedRow(title, http_url(feed.url), "never", "-", 0, "due", ""))
            continue
        rows.append(
            FeedRow(
                title=plain(feed.title or report.title or feed.url),
                url=http_url(feed.url),
                last_fetch=_when(report.last_fetched) if report.last_fetched else "never",
                status=str(report.last_status) if report.last_status is not None else "-",
                articles=report.articles,
                next_poll=report.next_poll_label(now, _when),
                last_error=plain(report.last_error),
            )
        )
    return rows


def _when(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _render(template: str, site: Site, **values: object) -> bytes:
    page = _environment.get_template(template)
    return page.render(site=site, **values).encode("utf-8")


def digest_page(site: Site, items: Sequence[Item], show: Show | None = None) -> bytes:
    """/ (the whole digest) or /shows/<slug>/ (one show's items)."""
    return _render("digest.html", site, items=items, show=show)


def search_page(site: Site, query: str, items: Sequence[Item] | None) -> bytes:
    """/search: the form, and the results when a query was given (None: none asked)."""
    return _render("search.html", site, query=query, items=items)


def feeds_page(site: Site, rows: Sequence[FeedRow]) -> bytes:
    """/feeds: the health table of `feedwatch feeds`."""
    return _render("feeds.html", site, rows=rows, now=_when(datetime.now(UTC)))


def error_page(site: Site | None, status: int, heading: str, message: str) -> bytes:
    """A small page for 404, 503...; `site` None when the config is not at hand."""
    empty = Site("feedwatch", "", (), ())
    return _render("error.html", site or empty, status=status, heading=heading, message=message)


def static(name: str) -> bytes:
    """A file of static/ (the stylesheet, the favicon)."""
    return resources.files("feedwatch.publish").joinpath("static", name).read_bytes()
