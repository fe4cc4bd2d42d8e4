"""Publish the matched articles as digest feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1), for the
whole digest and for each show: rendered once (`render_all`), then saved to the store, from
which every process serves them, and written to files, each atomically, for readers pointed
at them.

A digest whose content is unchanged is not rewritten, its build date included: the file and
the stored feed, and so the ETag and Last-Modified they are served with, change only when
readers have something new (RenderedFeed.version).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path

from feedwatch import __version__, files
from feedwatch.config import DigestSettings
from feedwatch.errors import DigestError
from feedwatch.models import DigestItem, RenderedFeed
from feedwatch.publish import atom, jsonfeed
from feedwatch.publish.entries import (
    Channel,
    authors,
    description,
    http_url,
    plain,
    rfc822,
    slug,
    sources,
    utc,
)
from feedwatch.publish.entries import shows as item_shows
from feedwatch.text import xml_safe

RSS_TYPE = "application/rss+xml"
ATOM_TYPE = atom.MEDIA_TYPE
JSON_TYPE = jsonfeed.MEDIA_TYPE
XSL_TYPE = "text/xsl"
FORMATS = ("rss", "atom", "json")
MEDIA_TYPES = {"rss": RSS_TYPE, "atom": ATOM_TYPE, "json": JSON_TYPE}
# File and URL endings of each format: digest.xml / feed.xml, digest.atom / feed.atom...
EXTENSIONS = {"rss": ".xml", "atom": ".atom", "json": ".json"}
# Where the server serves the browser stylesheet the RSS feeds name, relative to digest.link.
STYLESHEET_PATH = "feed.xsl"
ROUNDUP = "roundup"  # the daily roundups' feeds: roundup.xml, roundup.atom, roundup.json

ATOM = atom.NAMESPACE
DC = "http://purl.org/dc/elements/1.1/"
ET.register_namespace("atom", ATOM)
ET.register_namespace("dc", DC)

# The one part of each rendered format that changes without its content changing (JSON Feed
# carries no build date), by media type.
_BUILD_DATES = {
    RSS_TYPE: re.compile(rb"<lastBuildDate>[^<]*</lastBuildDate>"),
    ATOM_TYPE: atom.BUILD_DATE,
    JSON_TYPE: None,
}
_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"
_UNKNOWN_TYPE = "application/octet-stream"


def feed_path(fmt: str, show: str | None = None, *, roundup: bool = False) -> str:
    """Where the server serves a feed, relative to digest.link: "feed.atom",
    "shows/daredevil/feed.json", "roundup.xml"..."""
    if roundup:
        return ROUNDUP + EXTENSIONS[fmt]
    name = "feed" + EXTENSIONS[fmt]
    return name if show is None else f"shows/{slug(show)}/{name}"


def file_path(
    digest_path: Path, fmt: str, show: str | None = None, *, roundup: bool = False
) -> Path:
    """Where a feed is written, next to digest.path: digest.atom, shows/daredevil.json,
    roundup.xml..."""
    if roundup:
        return digest_path.parent / (ROUNDUP + EXTENSIONS[fmt])
    if show is None:
        path = digest_path.with_suffix(EXTENSIONS[fmt])
        # digest.path may itself end in ".json" or ".atom": never write over it.
        return path if path != digest_path else path.with_name(path.name + EXTENSIONS[fmt])
    return digest_path.parent / "shows" / (slug(show) + EXTENSIONS[fmt])


def served_files(
    digest_path: Path,
    formats: Sequence[str] = FORMATS,
    per_show: bool = True,
    shows: Sequence[str] = (),
    *,
    roundup: bool = False,
) -> dict[str, tuple[Path, str]]:
    """What the server answers, relative to digest.link: path -> (file, media type).

    The combined RSS feed (digest.path) always; the other files as `render_all` renders them
    with the same arguments.
    """
    served = {feed_path("rss"): (digest_path, RSS_TYPE)}
    for fmt, show in _targets(formats, per_show, shows):
        served[feed_path(fmt, show)] = (file_path(digest_path, fmt, show), MEDIA_TYPES[fmt])
    if roundup:
        for fmt in _roundup_formats(formats):
            path = file_path(digest_path, fmt, roundup=True)
            served[feed_path(fmt, roundup=True)] = (path, MEDIA_TYPES[fmt])
    return served


def stylesheet() -> bytes:
    """The XSLT that turns the RSS feeds into a readable page in a browser (/feed.xsl)."""
    return resources.files("feedwatch.publish").joinpath("digest.xsl").read_bytes()


def render(
    items: Sequence[DigestItem],
    settings: DigestSettings,
    *,
    built: datetime,
    show: str | None = None,
    roundup: bool = False,
) -> bytes:
    """The RSS 2.0 digest (of one show's items, when given) as UTF-8 bytes."""
    channel_of = Channel.of(settings, show, roundup=roundup)
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    _text(channel, "title", channel_of.name)
    _text(channel, "link", channel_of.page or xml_safe(settings.link).strip())
    # The feed's own address, which the W3C validator asks for.
    self_url = channel_of.address(feed_path("rss", show, roundup=roundup))
    if self_url:
        ET.SubElement(channel, f"{{{ATOM}}}link", href=self_url, rel="self", type=RSS_TYPE)
    _text(channel, "description", xml_safe(settings.description))
    _text(channel, "lastBuildDate", rfc822(built))
    _text(channel, "generator", f"feedwatch {__version__}")
    for item in channel_of.select(items):
        _item(channel, item)
    ET.indent(rss)
    body = ET.tostring(rss, encoding="utf-8", xml_declaration=True).removeprefix(_DECLARATION)
    xsl = channel_of.address(STYLESHEET_PATH)
    # A browser opening the feed shows the page the stylesheet makes instead of raw XML.
    instruction = f'<?xml-stylesheet type="{XSL_TYPE}" href="{xsl}"?>\n'.encode() if xsl else b""
    return _DECLARATION + instruction + body + b"\n"


def render_atom(
    items: Sequence[DigestItem],
    settings: DigestSettings,
    *,
    built: datetime,
    show: str | None = None,
    roundup: bool = False,
) -> bytes:
    """The Atom 1.0 digest (of one show's items, when given) as UTF-8 bytes."""
    channel = Channel.of(settings, show, roundup=roundup)
    self_url = channel.address(feed_path("atom", show, roundup=roundup))
    return atom.render(channel, items, built=built, self_url=self_url)


def render_json(
    items: Sequence[DigestItem],
    settings: DigestSettings,
    *,
    built: datetime,
    show: str | None = None,
    roundup: bool = False,
) -> bytes:
    """The JSON Feed 1.1 digest (of one show's items, when given) as UTF-8 bytes."""
    channel = Channel.of(settings, show, roundup=roundup)
    self_url = channel.address(feed_path("json", show, roundup=roundup))
    return jsonfeed.render(channel, items, self_url=self_url)


RENDERERS: dict[str, Callable[..., bytes]] = {
    "rss": render,
    "atom": render_atom,
    "json": render_json,
}


def render_all(
    items: Sequence[DigestItem],
    settings: DigestSettings,
    *,
    built: datetime,
    formats: Sequence[str] = FORMATS,
    per_show: bool = True,
    shows: Sequence[str] = (),
    roundups: Sequence[DigestItem] | None = None,
) -> dict[Path, RenderedFeed]:
    """Every feed of one publish, by the file it is written to: the RSS digest at
    settings.path; beside it digest.atom and digest.json for the formats asked for, and with
    `per_show` shows/<slug>.xml, .atom, .json for each of `shows` (the configured show
    names). With `roundups` (digest.roundup is set), each show's feeds carry its roundup
    items too, and roundup.xml (.atom, .json) carries them all."""
    rendered = {settings.path: _rendered("rss", render(items, settings, built=built))}
    for fmt, show in _targets(formats, per_show, shows):
        chosen = items if show is None or not roundups else _newest_first([*items, *roundups])
        document = RENDERERS[fmt](chosen, settings, built=built, show=show)
        rendered[file_path(settings.path, fmt, show)] = _rendered(fmt, document, show)
    if roundups is not None:
        for fmt in _roundup_formats(formats):
            document = RENDERERS[fmt](roundups, settings, built=built, roundup=True)
            path = file_path(settings.path, fmt, roundup=True)
            rendered[path] = _rendered(fmt, document, roundup=True)
    return rendered


def inputs_version(
    items: Sequence[DigestItem],
    settings: DigestSettings,
    *,
    formats: Sequence[str] = FORMATS,
    per_show: bool = True,
    shows: Sequence[str] = (),
    roundups: Sequence[DigestItem] | None = None,
) -> str:
    """What render_all renders from, as one hash: the same version, the same feeds but for
    their build dates, so a publish that finds it unchanged has nothing to render."""
    inputs = (__version__, settings, tuple(formats), per_show, tuple(shows), tuple(items))
    return hashlib.sha256(repr((*inputs, roundups and tuple(roundups))).encode()).hexdigest()


def files_present(
    settings: DigestSettings,
    formats: Sequence[str] = FORMATS,
    per_show: bool = True,
    shows: Sequence[str] = (),
    *,
    roundup: bool = False,
) -> bool:
    """Whether every file render_all writes with these arguments is there."""
    served = served_files(settings.path, formats, per_show, shows, roundup=roundup)
    return all(path.is_file() for path, _ in served.values())


def write(rendered: Mapping[Path, RenderedFeed]) -> None:
    """Write each feed `render_all` rendered to its file, replaced in one step, and only when
    its content changed: a file that differs in its build date alone is left as it is."""
    for path, feed in rendered.items():
        if _version(feed.media_type, path) == feed.version:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DigestError(
                f"cannot create the folder for digest {path}: {_reason(exc)}"
            ) from None
        _replace(path, feed.body)


def _rendered(
    fmt: str, document: bytes, show: str | None = None, *, roundup: bool = False
) -> RenderedFeed:
    media_type = MEDIA_TYPES[fmt]
    name = feed_path(fmt, show, roundup=roundup)
    return RenderedFeed(name, media_type, document, _content_version(media_type, document))


def _content_version(media_type: str, document: bytes) -> str:
    build_date = _BUILD_DATES[media_type]
    content = document if build_date is None else build_date.sub(b"", document, count=1)
    return hashlib.sha256(content).hexdigest()


def _version(media_type: str, path: Path) -> str | None:
    """The content version of the file at `path`; None when there is none to read."""
    try:
        return _content_version(media_type, path.read_bytes())
    except OSError:  # none yet, or unreadable: write it
        return None


def _newest_first(items: Sequence[DigestItem]) -> list[DigestItem]:
    return sorted(items, key=lambda item: utc(item.published), reverse=True)


def _roundup_formats(formats: Sequence[str]) -> list[str]:
    """The roundup feed is RSS, like the digest, and in every other format asked for."""
    return ["rss", *(fmt for fmt in formats if fmt != "rss")]


def _targets(
    formats: Sequence[str], per_show: bool, shows: Sequence[str]
) -> list[tuple[str, str | None]]:
    """(format, show) of every feed besides the combined RSS one; show None: the whole digest."""
    unknown = [fmt for fmt in formats if fmt not in RENDERERS]
    if unknown:
        raise DigestError(f"unknown digest format {unknown[0]!r}; use one of {', '.join(FORMATS)}")
    targets: list[tuple[str, str | None]] = [(fmt, None) for fmt in formats if fmt != "rss"]
    if per_show:
        targets += [(fmt, show) for show in dict.fromkeys(shows) for fmt in formats]
    return targets


def _item(channel: ET.Element, item: DigestItem) -> None:
    element = ET.SubElement(channel, "item")
    title = plain(item.title)
    if title:
        _text(element, "title", title)
    link = http_url(item.url)
    if link:
        _text(element, "link", link)
    _text(element, "description", description(item))
    for author in authors(item):
        # RSS <author> must be an e-mail address; feeds give names.
        _text(element, f"{{{DC}}}creator", author)
    for show in item_shows(item):
        _text(element, "category", show)
    enclosure = next((e for e in item.enclosures if http_url(e.url)), None)
    if enclosure is not None:
        # RSS allows one enclosure per item, and requires its length and type.
        ET.SubElement(
            element,
            "enclosure",
            url=http_url(enclosure.url) or "",
            length=str(max(enclosure.length or 0, 0)),
            type=xml_safe(enclosure.type or "").strip() or _UNKNOWN_TYPE,
        )
    ET.SubElement(element, "guid", isPermaLink="false").text = xml_safe(item.guid)
    _text(element, "pubDate", rfc822(item.published))
    first = sources(item)[0]
    feed_url = http_url(first.feed_url)
    if feed_url:
        ET.SubElement(element, "source", url=feed_url).text = first.title


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _replace(path: Path, document: bytes) -> None:
    try:
        files.replace(path, document)
    except OSError as exc:
        raise DigestError(f"cannot write digest {path}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
