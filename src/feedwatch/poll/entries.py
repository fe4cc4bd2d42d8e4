"""What RSS/Atom and JSON Feed entries share once read: identity, enclosures, authors, and the
bounds every parsed feed is held to (the newest `max_entries`, no date after the fetch)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from urllib.parse import urljoin

from feedwatch.models import Enclosure, Entry
from feedwatch.text import xml_safe
from feedwatch.urls import http_host


def entry_id(own: str | None, link: str | None, title: str, text: str) -> str:
    """The entry's own id, else a stable one from its link and title, else title and text.

    The title goes in with the link because entries may share a link: podcast episodes that
    all point to the show's home page are still different entries.
    """
    own_id = xml_safe(own or "").strip()
    if own_id:
        return own_id
    source = f"link\0{link}\0{title}" if link else f"{title}\0{text}"
    return "sha256:" + hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def is_empty(title: str, link: str | None, *texts: str) -> bool:
    """Nothing a reader could see: no title, no link and no text."""
    return not (title.strip() or link or any(text.strip() for text in texts))


def enclosures(
    candidates: Iterable[tuple[object, object, object]], base: str
) -> tuple[Enclosure, ...]:
    """Enclosures from (url, type, length) as the feed gives them, URLs resolved against
    `base`; only http(s) URLs, each once (its first mention wins)."""
    found: dict[str, Enclosure] = {}
    seen: set[str] = set()
    for url, kind, length in candidates:
        # Checked once per spelling: feeds often give the same file as <enclosure> and
        # media:content, and checking a URL is the costly part.
        if not isinstance(url, str) or not (url := url.strip()) or url in seen:
            continue
        seen.add(url)
        try:
            absolute = safe(url if url.startswith(("https://", "http://")) else urljoin(base, url))
        except ValueError:  # e.g. an unclosed IPv6 bracket
            continue
        if absolute in found or http_host(absolute) is None:
            continue
        mime = safe(kind).strip().lower() if isinstance(kind, str) else ""
        found[absolute] = Enclosure(url=absolute, type=mime or None, length=_length(length))
    return tuple(found.values())


def _length(value: object) -> int | None:
    """A byte count as feeds write it ("12345", 12345); None for anything else or zero."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 19:
        value = int(value.strip())
    return value if isinstance(value, int) and value > 0 else None


def unique(values: Iterable[object]) -> tuple[str, ...]:
    """The strings among `values`, stripped and XML-safe, blanks and repeats left out."""
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and (text := " ".join(safe(value).split())):
            seen.setdefault(text, None)
    return tuple(seen)


def safe(text: str) -> str:
    """text.xml_safe(text), without its cost for the text that needs nothing (nearly all):
    every character XML forbids is one str.isprintable refuses."""
    return text if text.isprintable() else xml_safe(text)


def bound(
    entries: Sequence[Entry], max_entries: int, now: datetime | None
) -> tuple[tuple[Entry, ...], int]:
    """The newest `max_entries` entries, in document order, and how many were left out.

    Dated entries rank by date, undated ones after them in document order. With `now` (the
    fetch time), a date after it becomes `now`: a feed cannot have published in the future.
    """
    if now is not None:
        entries = [
            replace(entry, published=now) if entry.published and entry.published > now else entry
            for entry in entries
        ]
    if len(entries) <= max_entries:
        return tuple(entries), 0

    def newest_first(index: int) -> tuple[bool, float, int]:
        published = entries[index].published
        return (published is None, -published.timestamp() if published else 0.0, index)

    ranked = sorted(range(len(entries)), key=newest_first)
    kept = sorted(ranked[: max(max_entries, 0)])
    return tuple(entries[index] for index in kept), len(entries) - len(kept)
