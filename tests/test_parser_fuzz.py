"""Mutated real feeds: whatever the bytes, parse gives a ParsedFeed or a ParseError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedwatch.errors import ParseError
from feedwatch.models import ParsedFeed
from feedwatch.poll.parser import parse

# Bodies that once broke the parser, and mutations of them.
KNOWN = [b"<channel<item<link</item</link>", b"<entry<links//<link>"]
# Small ones keep each example fast; large feeds add little the small ones do not exercise.
LARGEST = 64 * 1024


def _seeds(corpus: Path) -> list[bytes]:
    folders = [corpus / "real-feeds", corpus / "feedparser-tests"]
    paths = sorted(
        path
        for folder in folders
        if folder.is_dir()
        for path in folder.rglob("*")
        if path.is_file() and path.suffix != ".md" and path.stat().st_size <= LARGEST
    )
    return [path.read_bytes() for path in paths]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    body = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "delete"]))
        at = draw(st.integers(0, len(body)))
        if kind == "flip" and body:
            body[min(at, len(body) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del body[at:]
        elif kind == "insert":
            body[at:at] = draw(
                st.sampled_from([b"<", b">", b"&", b"]]>", b"<item>", b"</entry>", b"\x00", b"{"])
                | st.binary(max_size=16)
            )
        elif kind == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            body[at:at] = other[start : start + draw(st.integers(0, 512))]
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 64))]
    return bytes(body)


def _check(body: bytes, content_type: str) -> None:
    try:
        outcome = parse(body, {"Content-Type": content_type}, "https://feeds.example/feed")
    except ParseError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(outcome, ParsedFeed)


CONTENT_TYPES = st.sampled_from(["application/xml", "application/feed+json", "text/html", ""])
FUZZ = settings(
    max_examples=60,
    deadline=2000,  # ms per example; the machine is shared
    database=None,  # nothing written to the worktree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_mutated_real_feeds_give_a_feed_or_a_parse_error(shared_corpus: Path) -> None:
    seeds = _seeds(shared_corpus)
    if not seeds:
        pytest.skip(f"no feeds under {shared_corpus}")

    @FUZZ
    @given(mutated(seeds), CONTENT_TYPES)
    def run(body: bytes, content_type: str) -> None:
        _check(body, content_type)

    run()


@FUZZ
@given(mutated(KNOWN), CONTENT_TYPES)
def test_mutated_known_breakers_give_a_feed_or_a_parse_error(
    body: bytes, content_type: str
) -> None:
    _check(body, content_type)
