"""When each feed is polled next: pure decisions, no clock and no I/O (the caller passes `now`).

The rule, applied after every poll of a feed at time `now`:

1. Base: the feed's `interval`, else `poll.interval`.
2. Activity: when the feed's newest entries (up to 20 distinct publish times, none in the
   future) give at least two gaps, let G be the median gap. The interval becomes
   sqrt(base x G): halfway between the two on a log scale. Polled every 15m, a feed that
   publishes once a day is then polled about every 2.5h, one that publishes every 2m every 5.5m.
3. Politeness: never more often than the feed asks: at least its RSS <ttl>, its
   sy:updatePeriod / sy:updateFrequency and the response's Cache-Control max-age.
4. Bounds: the result is cut to [poll.min_interval, poll.max_interval].
5. The wait until the next poll:
   - after a success (200 or 304): the interval;
   - after the n-th failure in a row: interval x 2^n, at most poll.max_interval (exponential
     back-off; a success starts again from the interval);
   - after a 429 or 503 with Retry-After: until the time it names, but at least
     poll.min_interval and at most poll.max_interval from now (no jitter);
   - after a 410 Gone: none; the feed is not polled until its config entry changes or
     `feedwatch feeds --reset URL`.
6. Jitter: the wait is multiplied by 1 + j, j in [-10%, +10%) taken from a SHA-256 of the feed
   URL and `now`, so feeds configured alike drift apart while each outcome stays reproducible;
   then cut to the bounds again. Next poll = now + wait.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from feedwatch.config import FeedSettings
from feedwatch.models import FeedState

RECENT_ENTRIES = 20  # publish times that count for a feed's activity
JITTER = 0.1
RETRY_STATUSES = frozenset({429, 503})  # the statuses whose Retry-After is honoured


@dataclass(frozen=True, slots=True)
class Bounds:
    """poll.min_interval and poll.max_interval."""

    shortest: timedelta
    longest: timedelta

    def clamp(self, wait: timedelta) -> timedelta:
        return min(max(wait, self.shortest), self.longest)


@dataclass(frozen=True, slots=True)
class Hints:
    """What a feed says and does about how often it changes; None where it says nothing."""

    ttl: timedelta | None = None
    update_period: timedelta | None = None
    max_age: timedelta | None = None
    publish_gap: timedelta | None = None  # see publish_gap()


def publish_gap(published: Iterable[datetime], now: datetime) -> timedelta | None:
    """The median gap between the newest distinct publish times; None with fewer than three."""
    times = sorted({when for when in published if when <= now}, reverse=True)[:RECENT_ENTRIES]
    if len(times) < 3:
        return None
    return statistics.median(newer - older for newer, older in itertools.pairwise(times))


def interval(configured: timedelta, hints: Hints, bounds: Bounds) -> timedelta:
    """Steps 1 to 4 of the rule: how often the feed is polled while all goes well."""
    wanted = configured
    if hints.publish_gap is not None:
        wanted = timedelta(
            seconds=math.sqrt(configured.total_seconds() * hints.publish_gap.total_seconds())
        )
    asked = [hint for hint in (hints.ttl, hints.update_period, hints.max_age) if hint]
    return bounds.clamp(max([wanted, *asked]))


def next_poll(
    url: str,
    now: datetime,
    every: timedelta,
    bounds: Bounds,
    *,
    errors: int = 0,
    retry_after: datetime | None = None,
) -> datetime:
    """Steps 5 and 6: when to poll next, `errors` failures in a row after `now`'s poll.

    `every` is interval()'s answer; `retry_after` is what a 429/503 asked for.
    """
    if retry_after is not None:
        return min(max(retry_after, now + bounds.shortest), now + bounds.longest)
    # In seconds: a long failure streak would overflow timedelta arithmetic.
    seconds = min(every.total_seconds() * 2.0 ** min(errors, 64), bounds.longest.total_seconds())
    wait = timedelta(seconds=seconds * (1 + _jitter(url, now)))
    return now + bounds.clamp(wait)


def is_due(state: FeedState, now: datetime) -> bool:
    """Whether the schedule says to poll the feed at `now`."""
    return not is_held(state, now) and (state.next_poll is None or state.next_poll <= now)


def is_held(state: FeedState, now: datetime) -> bool:
    """Gone, or asked by its server to wait: not polled even by a plain `feedwatch once`."""
    return state.gone_since is not None or (
        state.retry_after is not None and state.retry_after > now
    )


def due_at(state: FeedState) -> datetime | None:
    """When a feed that is not gone is next due; None when it is due at once."""
    times = [when for when in (state.next_poll, state.retry_after) if when is not None]
    return max(times, default=None)


def utc_now() -> datetime:
    """The real clock, where no other is injected: every decision here takes `now` instead."""
    return datetime.now(UTC)


def fingerprint(feed: FeedSettings) -> str:
    """Changes whenever the feed's entry in the config does (see Store.sync_feeds)."""
    # Defaults left out: a setting added in a later version does not count as a change.
    return hashlib.sha256(feed.model_dump_json(exclude_defaults=True).encode()).hexdigest()


def fingerprints(feeds: Sequence[FeedSettings]) -> dict[str, str]:
    return {feed.url: fingerprint(feed) for feed in feeds}


def _jitter(url: str, now: datetime) -> float:
    """A fraction in [-JITTER, +JITTER), the same for the same feed and time."""
    digest = hashlib.sha256(f"{url}\n{now.isoformat()}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") / 2**64 * 2 - 1) * JITTER
