"""URLs: which are http(s), and one spelling per article, so the same story is stored once."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# scheme://user:PASSWORD@ up to the last "@": SQLAlchemy lets a password hold "/", "?" or "#",
# so masking too much (an "@" further on) is preferred to showing any of it.
_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):.*@", re.DOTALL)


def http_host(url: str | None) -> str | None:
    """The host of an absolute http:// or https:// URL; None for anything else.

    The host is lower-cased, an IPv6 address without its brackets. None also for a URL that
    names no host, has a port that is not a number or does not parse.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # the port raises when it is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host or any(c.isspace() for c in host):
        return None
    return host


def canonical_url(
    url: str, base: str | None = None, *, keep_fragment: bool = False
) -> str | None:
    """`url` resolved against `base` and normalised; None unless it is an http(s) URL.

    Lower-cases scheme and host, drops the default port, the fragment (unless
    `keep_fragment`) and every `utm_*` query parameter (other parameters keep their order and
    spelling); an empty path becomes "/".
    """
    url = url.strip()
    if base:
        url = urljoin(base.strip(), url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. a port that is not a number, an unclosed IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname  # already lower-cased, brackets of an IPv6 address removed
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not unquote_plus(pair.partition("=")[0]).lower().startswith("utm_")
    )
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, parts.path or "/", query, fragment))


def identity_keys(links: Sequence[str | None]) -> list[str | None]:
    """For the canonical links (fragments kept) of one feed document's entries, the URL that
    makes each the same article as another feed's entry at that URL, or None.

    The link without its fragment, when no other entry of the document has it; else the link
    with its fragment, when that tells the entries apart (a live blog's `#block-1`,
    `#block-2`); else None: a link several entries share (a podcast's home page) identifies
    none of them.
    """
    bare = [None if link is None else link.partition("#")[0] for link in links]
    bare_counts = Counter(bare)
    link_counts = Counter(links)
    keys: list[str | None] = []
    for link, without in zip(links, bare, strict=True):
        if link is None or without is None:
            keys.append(None)
        elif bare_counts[without] == 1:
            keys.append(without)
        else:
            keys.append(link if link != without and link_counts[link] == 1 else None)
    return keys


def mask_password(url: str) -> str:
    """`url` fit to show: the password of `scheme://user:password@host...` becomes `***`."""
    return _PASSWORD.sub(r"\1:***@", url, count=1)
