"""The polling rule in policy.py, as pure functions: no server, no database, no clock."""

from datetime import UTC, datetime, timedelta

import pytest

from feedwatch import config, policy
from feedwatch.config import FeedSettings
from feedwatch.models import FeedState

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
URL = "https://tvwire.example/rss"
BOUNDS = policy.Bounds(timedelta(minutes=1), timedelta(days=1))
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def state(**fields: object) -> FeedState:
    return FeedState(URL, URL, **fields)  # type: ignore[arg-type]


def every(minutes: float, count: int = 10) -> list[datetime]:
    """`count` publish times, newest first, `minutes` apart."""
    return [NOW - timedelta(minutes=minutes * n) for n in range(count)]


# --- what is due -------------------------------------------------------------------------------


def test_a_feed_never_polled_is_due_at_once():
    assert policy.is_due(state(), NOW)
    assert policy.due_at(state()) is None
    assert not policy.is_held(state(), NOW)


def test_a_feed_is_due_once_its_next_poll_time_comes():
    later = state(next_poll=NOW + timedelta(minutes=5))
    assert not policy.is_due(later, NOW)
    assert policy.is_due(later, NOW + timedelta(minutes=5))
    assert policy.due_at(later) == NOW + timedelta(minutes=5)


def test_a_gone_feed_is_never_due_and_is_held():
    gone = state(gone_since=NOW - DAY, next_poll=None)
    assert not policy.is_due(gone, NOW + 365 * DAY)
    assert policy.is_held(gone, NOW + 365 * DAY)


def test_retry_after_holds_the_feed_until_it_passes():
    waiting = state(next_poll=NOW - HOUR, retry_after=NOW + HOUR)
    assert policy.is_held(waiting, NOW)
    assert not policy.is_due(waiting, NOW)
    assert policy.due_at(waiting) == NOW + HOUR
    assert not policy.is_held(waiting, NOW + HOUR)
    assert policy.is_due(waiting, NOW + HOUR)


# --- the interval ------------------------------------------------------------------------------


def test_without_hints_the_configured_interval_is_used():
    assert policy.interval(15 * MINUTE, policy.Hints(), BOUNDS) == 15 * MINUTE


@pytest.mark.parametrize(
    ("configured", "expected"), [(10 * timedelta(seconds=1), MINUTE), (3 * DAY, DAY)]
)
def test_the_interval_stays_within_min_and_max(configured, expected):
    assert policy.interval(configured, policy.Hints(), BOUNDS) == expected


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        (policy.Hints(ttl=HOUR), HOUR),
        (policy.Hints(update_period=30 * MINUTE), 30 * MINUTE),
        (policy.Hints(max_age=20 * MINUTE), 20 * MINUTE),
        (policy.Hints(ttl=HOUR, update_period=2 * HOUR, max_age=20 * MINUTE), 2 * HOUR),
        # A feed may slow us down, never speed us up.
        (policy.Hints(ttl=5 * MINUTE, max_age=MINUTE), 15 * MINUTE),
        # ... and never past poll.max_interval.
        (policy.Hints(ttl=30 * DAY), DAY),
    ],
)
def test_a_feed_asking_to_be_polled_less_often_is(hints, expected):
    assert policy.interval(15 * MINUTE, hints, BOUNDS) == expected


def test_a_feed_publishing_daily_is_polled_less_often_than_configured():
    gap = policy.publish_gap(every(24 * 60), NOW)
    assert gap == DAY
    got = policy.interval(15 * MINUTE, policy.Hints(publish_gap=gap), BOUNDS)
    assert got == timedelta(seconds=(15 * 60 * 86400) ** 0.5)  # about 2h27m


def test_a_busy_feed_is_polled_more_often_but_not_below_the_minimum():
    busy = policy.Hints(publish_gap=policy.publish_gap(every(2), NOW))
    assert policy.interval(15 * MINUTE, busy, BOUNDS) == timedelta(seconds=(15 * 60 * 120) ** 0.5)
    frantic = policy.Hints(publish_gap=policy.publish_gap(every(0.05), NOW))
    assert policy.interval(15 * MINUTE, frantic, BOUNDS) == MINUTE


def test_publisher_hints_still_win_over_activity():
    hints = policy.Hints(ttl=HOUR, publish_gap=policy.publish_gap(every(2), NOW))
    assert policy.interval(15 * MINUTE, hints, BOUNDS) == HOUR


def test_publish_gap_is_the_median_of_the_newest_distinct_times():
    times = [NOW, NOW - HOUR, NOW - HOUR, NOW - 2 * HOUR, NOW - 10 * HOUR]  # gaps 1h, 1h, 8h
    assert policy.publish_gap(times, NOW) == HOUR
    # In the future (a feed with a wrong clock): ignored.
    assert policy.publish_gap([*times, NOW + 5 * DAY], NOW) == HOUR
    # Only the newest 20 count: a feed that used to be slow and is now busy is busy.
    history = every(5, count=15) + [NOW - 30 * DAY - DAY * n for n in range(30)]
    assert policy.publish_gap(history, NOW) == 5 * MINUTE


@pytest.mark.parametrize("count", [0, 1, 2])
def test_publish_gap_needs_three_distinct_times(count):
    assert policy.publish_gap(every(60)[:count] + every(60)[:count], NOW) is None


# --- the next poll -----------------------------------------------------------------------------


def test_next_poll_is_the_interval_give_or_take_ten_percent():
    polls = [policy.next_poll(f"{URL}?{n}", NOW, HOUR, BOUNDS) for n in range(200)]
    waits = [(when - NOW) / HOUR for when in polls]
    assert all(0.9 <= wait < 1.1 for wait in waits)
    # Spread out, not in lockstep.
    assert len(set(polls)) == 200
    assert min(waits) < 0.92 and max(waits) > 1.08


def test_jitter_is_reproducible_for_the_same_feed_and_time():
    first = policy.next_poll(URL, NOW, HOUR, BOUNDS)
    assert policy.next_poll(URL, NOW, HOUR, BOUNDS) == first
    assert policy.next_poll(URL, NOW + MINUTE, HOUR, BOUNDS) - (NOW + MINUTE) != first - NOW


def test_jitter_never_leaves_the_bounds():
    for n in range(100):
        url = f"{URL}?{n}"
        assert policy.next_poll(url, NOW, MINUTE, BOUNDS) - NOW >= MINUTE
        assert policy.next_poll(url, NOW, DAY, BOUNDS) - NOW <= DAY


@pytest.mark.parametrize(("errors", "factor"), [(1, 2), (2, 4), (3, 8), (5, 32)])
def test_failures_back_off_exponentially(errors, factor):
    wait = policy.next_poll(URL, NOW, 15 * MINUTE, BOUNDS, errors=errors) - NOW
    assert 0.9 * factor * 15 * MINUTE <= wait < 1.1 * factor * 15 * MINUTE


@pytest.mark.parametrize("errors", [7, 100, 10_000])
def test_back_off_stops_at_the_maximum_interval(errors):
    wait = policy.next_poll(URL, NOW, 15 * MINUTE, BOUNDS, errors=errors) - NOW
    assert 0.9 * DAY <= wait <= DAY


def test_retry_after_is_honoured_to_the_second():
    asked = NOW + timedelta(seconds=2 * 3600 + 17)
    assert policy.next_poll(URL, NOW, 15 * MINUTE, BOUNDS, errors=3, retry_after=asked) == asked


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (NOW - HOUR, NOW + MINUTE),  # already past, or "0": not sooner than poll.min_interval
        (NOW + timedelta(seconds=5), NOW + MINUTE),
        (NOW + 30 * DAY, NOW + DAY),  # not later than poll.max_interval
    ],
)
def test_retry_after_is_kept_within_the_bounds(asked, expected):
    assert policy.next_poll(URL, NOW, 15 * MINUTE, BOUNDS, retry_after=asked) == expected


# --- config changes ----------------------------------------------------------------------------


def test_fingerprint_changes_with_any_setting_of_the_entry():
    feed = FeedSettings(url=URL, title="TV Wire")
    assert policy.fingerprint(feed) == policy.fingerprint(FeedSettings(url=URL, title="TV Wire"))
    changed = [
        FeedSettings(url=URL),
        FeedSettings(url=URL, title="TV Wire", interval="30m"),
        FeedSettings(url=URL + "2", title="TV Wire"),
    ]
    assert len({policy.fingerprint(other) for other in [feed, *changed]}) == 4
    assert policy.fingerprints([feed]) == {URL: policy.fingerprint(feed)}


# --- the bounds in the config ------------------------------------------------------------------

CONFIG = """\
poll:
  interval: 15m
{}feeds:
  - url: https://tvwire.example/rss
shows:
  - name: Severance
    keywords: [Severance]
"""


def test_the_bounds_default_to_a_minute_and_a_day(tmp_path):
    poll = config.parse(CONFIG.format(""), tmp_path / "feeds.yaml").poll
    assert (poll.min_interval, poll.max_interval) == (MINUTE, DAY)


def test_the_bounds_are_durations(tmp_path):
    bounds = "  min_interval: 5m\n  max_interval: 6h\n"
    poll = config.parse(CONFIG.format(bounds), tmp_path / "feeds.yaml").poll
    assert (poll.min_interval, poll.max_interval) == (5 * MINUTE, 6 * HOUR)


def test_a_minimum_above_the_maximum_is_refused(tmp_path):
    bounds = "  min_interval: 2h\n  max_interval: 1h\n"
    with pytest.raises(config.ConfigError, match=r"feeds.yaml:1: poll: min_interval must not"):
        config.parse(CONFIG.format(bounds), tmp_path / "feeds.yaml")
