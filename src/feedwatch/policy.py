"""When each feed is due: pure decisions, no clock and no I/O (the caller passes `now`)."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_poll(last_polled: datetime | None, interval: timedelta) -> datetime | None:
    """The time a feed is next due; None when it has never been polled (due at once)."""
    return None if last_polled is None else last_polled + interval


def is_due(last_polled: datetime | None, interval: timedelta, now: datetime) -> bool:
    due_at = next_poll(last_polled, interval)
    return due_at is None or due_at <= now
