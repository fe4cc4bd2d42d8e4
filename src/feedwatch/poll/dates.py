"""Entry dates the feed parsers could not read: RFC 3339 first, then dateparser in the feed's
language ("Seg, 24 Set 2018 19:22:00 -0300", "Mo, 24 Sep 2018").

dateparser is offline (its locale data ships with it) and is only called for a date string the
feed parsers gave up on. It costs a few milliseconds per string even restricted to two
languages, so results are cached: a feed polled again repeats the same dates.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

# Longer strings are not dates but whole sentences, which dateparser searches slowly.
_LONGEST_DATE = 80
# Tried when the feed declares no language: the languages feeds most often write dates in
# besides English. Each one more costs every unreadable date a little more time.
_UNDECLARED = ("en", "pt", "es", "fr", "de", "it", "nl")
_SETTINGS = {
    # An absolute date only: "2 hours ago" would depend on this machine's clock, and a bare
    # weekday ("Mo") on today's date.
    "PARSERS": ["absolute-time"],
    "REQUIRE_PARTS": ["day", "month", "year"],
    "TIMEZONE": "UTC",  # a date without an offset is read as UTC, as feedparser does
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
}


def parse_iso(value: str) -> datetime | None:
    """An RFC 3339 / ISO 8601 date (JSON Feed's format) as aware UTC; None when it is not one."""
    try:
        return aware_utc(datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError):  # not ISO, or a year that moves out of range in UTC
        return None


def parse_localized(value: str, language: str | None) -> datetime | None:
    """`value` read by dateparser in `language` (a tag such as "pt-br") or English, or without
    a language in a few common ones; None unless one reads a full date (day, month, year)."""
    value = " ".join(value.split())
    if not value or len(value) > _LONGEST_DATE:
        return None
    primary = language.split("-")[0].strip().lower() if language else ""
    languages = _UNDECLARED if not primary else ("en",) if primary == "en" else (primary, "en")
    return _parse(value, languages)


@functools.lru_cache(maxsize=4096)
def _parse(value: str, languages: tuple[str, ...]) -> datetime | None:
    parser = _parser(languages) or _parser(("en",))
    try:
        found = parser.get_date_data(value).date_obj if parser else None
        return aware_utc(found) if found else None
    except (ValueError, OverflowError, TypeError):  # dateparser's ways of saying "not a date"
        return None


@functools.lru_cache(maxsize=64)  # keyed by what feeds declare: bounded
def _parser(languages: tuple[str, ...]) -> Any:
    """A DateDataParser for `languages`, or None when dateparser does not know one of them."""
    # Imported here: loading dateparser takes a fifth of a second most processes never need.
    from dateparser.date import DateDataParser

    try:
        return DateDataParser(languages=list(languages), settings=_SETTINGS)
    except ValueError:  # a language dateparser does not know
        return None


def aware_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
