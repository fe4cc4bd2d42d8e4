"""decide.py: what a poll writes, decided exactly from its inputs (no store, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from feedwatch import decide, policy
from feedwatch.errors import FetchError, HTTPStatusError, ParseError, StoreError
from feedwatch.models import (
    Article,
    ChangedEntry,
    FeedState,
    FetchResult,
    ParsedFeed,
    Schedule,
    ShowMatch,
    StoredPoll,
    Validators,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://tvwire.example/rss"
BOUNDS = policy.Bounds(timedelta(minutes=5), timedelta(days=1))
RULES = {"interval": timedelta(minutes=15), "bounds": BOUNDS}
STATE = FeedState(URL, URL)


def story(entry_id: str, published: datetime | None = None, body: str = "Text.") -> Article:
    return Article(entry_id, f"https://tvwire.example/{entry_id}", entry_id, "", body, published)


def ok(status: int = 200, **fields) -> FetchResult:
    return FetchResult(URL, status, {}, b"", Validators('"v2"'), **fields)


def test_only_new_and_changed_entries_are_written_each_with_one_match_per_show() -> None:
    kept, edited, fresh = story("a"), story("b", body="Corrected."), story("c")
    stored = {"a": kept.version, "b": story("b").version}
    twice = (ShowMatch("Andor", "Andor"), ShowMatch("Andor", "Cassian"), ShowMatch("Loki", "Loki"))
    entries, unchanged = decide.changed_entries([(kept, ()), (edited, twice), (fresh, ())], stored)
    assert unchanged == 1
    assert entries == (
        ChangedEntry(
            edited,
            (ShowMatch("Andor", "Andor"), ShowMatch("Loki", "Loki")),
            edited.version,
            story("b").version,
        ),
        ChangedEntry(fresh, (), fresh.version, None),
    )


def test_an_entry_listed_twice_counts_once_per_version() -> None:
    first, again, changed = story("a"), story("a"), story("a", body="Later.")
    entries, unchanged = decide.changed_entries([(first, ()), (again, ()), (changed, ())], {})
    assert unchanged == 1
    # The third listing changes what the first stored.
    assert [(e.version, e.stored) for e in entries] == [
        (first.version, None),
        (changed.version, first.version),
    ]


def test_recent_publish_times_add_this_polls_dates_never_after_the_poll() -> None:
    stored = (NOW - timedelta(hours=1), NOW - timedelta(hours=3))
    entries, _ = decide.changed_entries(
        [
            (story("a", NOW - timedelta(hours=2)), ()),
            (story("b", NOW + timedelta(days=1)), ()),  # embargoed: counts as now
            (story("c"), ()),  # undated: does not count
            (story("d", NOW - timedelta(hours=1)), ()),  # a date already known
        ],
        {},
    )
    assert decide.recent_publish_times(stored, entries, NOW) == [
        NOW,
        NOW - timedelta(hours=1),
        NOW - timedelta(hours=2),
        NOW - timedelta(hours=3),
    ]
    many = tuple(NOW - timedelta(minutes=m) for m in range(30))
    assert len(decide.recent_publish_times(many, (), NOW)) == policy.RECENT_ENTRIES


def test_a_200_writes_its_document_validators_entries_and_schedule() -> None:
    parsed = ParsedFeed("TV Wire", None, (), ttl=timedelta(hours=2))
    new = story("a", NOW - timedelta(hours=1))
    intent = decide.fetched(
        STATE,
        StoredPoll({}),
        ok(permanent_url="https://tvwire.example/new-rss"),
        parsed,
        [(new, ())],
        at=NOW,
        **RULES,
    )
    assert (intent.url, intent.at, intent.status, intent.error) == (URL, NOW, 200, None)
    assert (intent.validators, intent.feed) == (Validators('"v2"'), parsed)
    assert intent.moved_to == "https://tvwire.example/new-rss"
    assert intent.entries == (ChangedEntry(new, (), new.version),)
    # The feed's <ttl> of 2 hours is honoured, within the jitter.
    assert intent.schedule is not None and intent.schedule.errors == 0
    assert intent.schedule.next_poll == policy.next_poll(URL, NOW, timedelta(hours=2), BOUNDS)
    # Articles change: the publish times kept on the feed's row are read again next time.
    assert intent.published is None


def test_a_304_keeps_the_stored_hints_and_passes_on_the_publish_times_read() -> None:
    state = replace(STATE, ttl=timedelta(hours=1), errors=3)
    times = tuple(NOW - timedelta(hours=h) for h in (1, 2, 3))
    intent = decide.fetched(state, StoredPoll({}, times), ok(304), None, [], at=NOW, **RULES)
    assert intent.entries == () and intent.feed is None
    assert intent.published == times
    # A success starts the back-off again; the gaps of an hour meet the ttl of an hour.
    assert intent.schedule == Schedule(
        policy.next_poll(URL, NOW, timedelta(hours=1), BOUNDS), errors=0
    )


def test_the_schedule_follows_the_feeds_activity() -> None:
    # Publishing every 4 hours, polled every 15 minutes: sqrt(15m x 4h) = 1h.
    times = [NOW - timedelta(hours=4 * n) for n in range(5)]
    hints = policy.Hints()
    assert decide.schedule(URL, NOW, hints, times, **RULES) == Schedule(
        policy.next_poll(URL, NOW, timedelta(hours=1), BOUNDS)
    )


def test_a_failure_backs_off_and_a_retry_after_is_honoured_within_bounds() -> None:
    state = replace(STATE, errors=1)
    intent = decide.failed(state, StoredPoll({}), FetchError("timed out", URL), at=NOW, **RULES)
    assert (intent.status, intent.error, intent.entries) == (None, "timed out", ())
    assert intent.validators is None  # the stored ones stay
    assert intent.schedule == Schedule(
        policy.next_poll(URL, NOW, timedelta(minutes=15), BOUNDS, errors=2), errors=2
    )

    asked = NOW + timedelta(days=3)
    busy = HTTPStatusError("HTTP 503 Service Unavailable", URL, 503, retry_after=asked)
    intent = decide.failed(STATE, StoredPoll({}), busy, at=NOW, **RULES)
    assert intent.status == 503
    assert intent.schedule == Schedule(NOW + BOUNDS.longest, 1, NOW + BOUNDS.longest)


def test_a_410_marks_the_feed_gone() -> None:
    gone = HTTPStatusError("HTTP 410 Gone", URL, 410)
    intent = decide.failed(STATE, StoredPoll({}), gone, at=NOW, **RULES)
    assert intent.schedule == Schedule(errors=1, gone_since=NOW)


def test_unreadable_documents_and_refused_writes_are_failures_too() -> None:
    for error in (ParseError("not a feed"), StoreError("database x: value refused")):
        intent = decide.failed(STATE, StoredPoll({}), error, at=NOW, **RULES)
        assert (intent.status, intent.error) == (None, str(error))
        assert intent.schedule is not None and intent.schedule.errors == 1
