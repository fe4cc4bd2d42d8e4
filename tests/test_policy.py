from datetime import UTC, datetime, timedelta

from feedwatch import policy

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_a_feed_never_polled_is_due_at_once():
    assert policy.next_poll(None, timedelta(minutes=15)) is None
    assert policy.is_due(None, timedelta(minutes=15), NOW)


def test_a_feed_is_due_one_interval_after_its_last_poll():
    last = NOW - timedelta(minutes=10)
    assert policy.next_poll(last, timedelta(minutes=15)) == NOW + timedelta(minutes=5)
    assert not policy.is_due(last, timedelta(minutes=15), NOW)
    assert policy.is_due(last, timedelta(minutes=10), NOW)
