"""URL canonicalisation: one spelling per article, so the same story is stored once."""

from __future__ import annotations

from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str, base: str | None = None) -> str | None:
    """`url` resolved against `base` and normalised; None unless it is an http(s) URL.

    Lower-cases scheme and host, drops the default port, the fragment and every `utm_*`
    query parameter (other parameters keep their order and spelling); an empty path becomes "/".
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
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))
