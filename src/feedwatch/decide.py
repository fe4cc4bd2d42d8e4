"""What one poll writes, decided without the database or the clock: a PollIntent.

Built from the feed's state and the StoredPoll read before the poll, the fetch's answer and
the time `at` the caller passes, as reader's Decider builds its FeedUpdateIntents. The store
applies an intent as it is (Store.record_polls): the schedule is settled here, from the publish
times read with the state and those of the entries this poll stores, not inside the write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from feedwatch import policy
from feedwatch.errors import FetchError, HTTPStatusError, ParseError, StoreError
from feedwatch.models import (
    Article,
    ChangedEntry,
    FeedState,
    FetchResult,
    Page,
    ParsedFeed,
    PollIntent,
    Schedule,
    ShowMatch,
    StoredPoll,
)


def changed_entries(
    pairs: Iterable[tuple[Article, Sequence[ShowMatch]]], versions: Mapping[str, str]
) -> tuple[tuple[ChangedEntry, ...], int]:
    """The entries of `pairs` (article, shows matched) not stored at the version they carry,
    in order, and how many are; `versions` are the stored ones (StoredPoll.versions).

    An entry listed twice counts as stored at the version its first listing carries. Each
    keeps one match per show: the first phrase found for it.
    """
    known = dict(versions)
    changed = []
    unchanged = 0
    for article, shows in pairs:
        version = article.version
        stored = known.get(article.entry_id)
        if stored == version:
            unchanged += 1
            continue
        known[article.entry_id] = version
        changed.append(ChangedEntry(article, _one_per_show(shows), version, stored))
    return tuple(changed), unchanged


def recent_publish_times(
    stored: Iterable[datetime], entries: Iterable[ChangedEntry], at: datetime
) -> list[datetime]:
    """The feed's newest distinct publish times once `entries` are stored at `at`: `stored`
    with their dates, each no later than `at` (as the store keeps them), newest first.

    An entry that joins another feed's article counts with its own date, and a changed entry's
    old date still counts until the store is read again: activity is an estimate.
    """
    dates = {when for when in stored if when <= at}
    dates.update(min(e.article.published, at) for e in entries if e.article.published)
    return sorted(dates, reverse=True)[: policy.RECENT_ENTRIES]


def schedule(
    url: str,
    at: datetime,
    hints: policy.Hints,
    published: Iterable[datetime],
    *,
    interval: timedelta,
    bounds: policy.Bounds,
    errors: int = 0,
    asked: datetime | None = None,
) -> Schedule:
    """The schedule after a poll at `at` (policy.py's rule), given the feed's newest publish
    times. `interval`: the feed's configured one; `errors`: failures in a row, this one
    included; `asked`: a 429/503's Retry-After."""
    hints = dataclasses.replace(hints, publish_gap=policy.publish_gap(published, at))
    every = policy.interval(interval, hints, bounds)
    next_poll = policy.next_poll(url, at, every, bounds, errors=errors, retry_after=asked)
    # What is honoured, not what was asked: both stay within poll.max_interval.
    return Schedule(next_poll, errors, next_poll if asked is not None else None)


def fetched(
    state: FeedState,
    stored: StoredPoll,
    result: FetchResult,
    parsed: ParsedFeed | None,
    matched: Sequence[tuple[Article, Sequence[ShowMatch]]],
    *,
    at: datetime,
    interval: timedelta,
    bounds: policy.Bounds,
    pages: Mapping[str, Page] | None = None,
) -> PollIntent:
    """The intent of a poll answered at `at` with `result`: a 304 (`parsed` None), or a
    document whose entries, as articles with the shows each matched, are `matched`."""
    entries, unchanged = changed_entries(matched, stored.versions)
    if parsed is None:
        hints = policy.Hints(state.ttl, state.update_period, result.max_age)
    else:
        hints = policy.Hints(parsed.ttl, parsed.update_period, result.max_age)
    published = recent_publish_times(stored.published, entries, at)
    return PollIntent(
        state.url,
        at,
        result.status,
        schedule(state.url, at, hints, published, interval=interval, bounds=bounds),
        # validators are written with the entries they vouch for, never without them.
        validators=result.validators,
        feed=parsed,
        moved_to=result.permanent_url,
        entries=entries,
        unchanged=unchanged,
        pages=pages or {},
        published=None if entries else stored.published,
    )


def failed(
    state: FeedState,
    stored: StoredPoll,
    error: FetchError | ParseError | StoreError,
    *,
    at: datetime,
    interval: timedelta,
    bounds: policy.Bounds,
) -> PollIntent:
    """The intent of a poll at `at` that failed with `error`: only the failure and the
    back-off are written (a 410: gone, not polled again until reset)."""
    status = error.status if isinstance(error, HTTPStatusError) else None
    errors = state.errors + 1
    if status == 410:
        kept = Schedule(errors=errors, gone_since=at)
    else:
        asked = (
            error.retry_after
            if isinstance(error, HTTPStatusError) and status in policy.RETRY_STATUSES
            else None
        )
        hints = policy.Hints(state.ttl, state.update_period)
        published = recent_publish_times(stored.published, (), at)
        kept = schedule(
            state.url,
            at,
            hints,
            published,
            interval=interval,
            bounds=bounds,
            errors=errors,
            asked=asked,
        )
    return PollIntent(state.url, at, status, kept, error=str(error), published=stored.published)


def _one_per_show(shows: Sequence[ShowMatch]) -> tuple[ShowMatch, ...]:
    return tuple({match.show: match for match in reversed(shows)}.values())[::-1]

