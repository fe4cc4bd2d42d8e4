from __future__ import annotations

import pytest

from feedwatch.urls import canonical_url, http_host


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://News.Example.COM/Shows/Lantern", "https://news.example.com/Shows/Lantern"),
        ("http://tv.example:80/a", "http://tv.example/a"),
        ("https://tv.example:443/a", "https://tv.example/a"),
        ("http://tv.example:8080/a", "http://tv.example:8080/a"),
        ("https://tv.example:80/a", "https://tv.example:80/a"),
        ("https://tv.example/a#comments", "https://tv.example/a"),
        ("https://tv.example", "https://tv.example/"),
        ("https://tv.example?page=2", "https://tv.example/?page=2"),
        ("  https://tv.example/a  ", "https://tv.example/a"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
    ],
    ids=[
        "lowercase-scheme-and-host-not-path",
        "drop-http-80",
        "drop-https-443",
        "keep-other-port",
        "keep-80-on-https",
        "drop-fragment",
        "empty-path",
        "empty-path-with-query",
        "strip-whitespace",
        "ipv6-host",
    ],
)
def test_normalises(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_drops_utm_parameters_and_keeps_the_rest_in_order() -> None:
    url = "https://tv.example/story?z=1&utm_source=rss&UTM_Medium=feed&a=2&utm_campaign=&id=7"
    assert canonical_url(url) == "https://tv.example/story?z=1&a=2&id=7"


def test_keeps_other_parameters_spelled_as_given() -> None:
    url = "https://tv.example/search?q=glass+orchard&path=%2Fshows&utm_term=x"
    assert canonical_url(url) == "https://tv.example/search?q=glass+orchard&path=%2Fshows"


def test_only_utm_parameters_leaves_no_query() -> None:
    assert canonical_url("https://tv.example/a?utm_source=x&utm_medium=y") == "https://tv.example/a"


def test_parameter_merely_containing_utm_is_kept() -> None:
    assert (
        canonical_url("https://tv.example/a?xutm_source=1") == "https://tv.example/a?xutm_source=1"
    )


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/news/a?utm_source=x", "https://tv.example/feed.xml", "https://tv.example/news/a"),
        ("b.html", "https://tv.example/news/a.html", "https://tv.example/news/b.html"),
        ("//cdn.example/x", "https://tv.example/feed", "https://cdn.example/x"),
        ("https://other.example/x", "https://tv.example/feed", "https://other.example/x"),
    ],
    ids=["root-relative", "path-relative", "scheme-relative", "absolute-ignores-base"],
)
def test_resolves_against_base(url: str, base: str, expected: str) -> None:
    assert canonical_url(url, base=base) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://tv.example/file",
        "mailto:desk@tv.example",
        "javascript:alert(1)",
        "/relative/without/base",
        "http:///no-host",
        "http://tv.example:notaport/",
        "http://[::1/",
        "",
    ],
)
def test_rejects_what_is_not_an_http_url(url: str) -> None:
    assert canonical_url(url) is None


def test_relative_link_against_non_http_base_is_rejected() -> None:
    assert canonical_url("/a", base="ftp://tv.example/feed") is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://feedwatch:s3cret@db.example:5432/feedwatch",
            "postgresql+psycopg://feedwatch:***@db.example:5432/feedwatch",
        ),
        # SQLAlchemy reads a password up to the "@", "/" and "?" included: none of it shows.
        ("postgresql://me:a/b?c@db.example/feeds", "postgresql://me:***@db.example/feeds"),
        ("postgresql://me:p@ss@db.example/feeds", "postgresql://me:***@db.example/feeds"),
        ("postgresql://:s3cret@db.example/feeds", "postgresql://:***@db.example/feeds"),
        ("postgresql://me@db.example/feeds", "postgresql://me@db.example/feeds"),
        ("postgresql://db.example:5432/feeds", "postgresql://db.example:5432/feeds"),
        ("sqlite:///state/feedwatch.db", "sqlite:///state/feedwatch.db"),
        ("not a url", "not a url"),
    ],
    ids=[
        "password",
        "password-with-slash-and-question-mark",
        "password-with-at-sign",
        "password-without-user",
        "user-only",
        "port-no-credentials",
        "sqlite",
        "not-a-url",
    ],
)
def test_mask_password_hides_the_whole_password_and_nothing_else(url: str, shown: str) -> None:
    from feedwatch.urls import mask_password

    assert mask_password(url) == shown


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://TV.Example/feed/", "tv.example"),
        ("HTTP://tv.example:8080", "tv.example"),
        ("http://[2001:db8::1]/a", "2001:db8::1"),
        ("http://user:pw@tv.example/", "tv.example"),
    ],
)
def test_http_host_of_an_http_url(url: str, host: str) -> None:
    assert http_host(url) == host


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "ftp://tv.example/file",
        "javascript:alert(1)",
        "/relative",
        "tv.example/feed",
        "http:///no-host",
        "http://tv.example:notaport/",
        "http://[::1/",
        "http:// tv.example/",
    ],
)
def test_http_host_is_none_for_anything_else(url: str | None) -> None:
    assert http_host(url) is None
