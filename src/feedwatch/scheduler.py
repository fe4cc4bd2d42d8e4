"""The daemon: APScheduler polls each feed on its interval and republishes the digest."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from feedwatch.config import FeedSettings
from feedwatch.cycle import Pipeline
from feedwatch.errors import FeedwatchError

log = logging.getLogger(__name__)


def build(pipeline: Pipeline) -> BlockingScheduler:
    """One interval job per feed, each first run now; a job never overlaps itself."""
    scheduler = BlockingScheduler(timezone=UTC)
    for feed in pipeline.config.feeds:
        scheduler.add_job(
            _poll_and_publish,
            IntervalTrigger(seconds=pipeline.config.interval_for(feed).total_seconds()),
            args=(pipeline, feed),
            id=feed.url,
            name=feed.title or feed.url,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    return scheduler


def _poll_and_publish(pipeline: Pipeline, feed: FeedSettings) -> None:
    # A job that raises would make APScheduler print a traceback and try again on the next
    # tick anyway; one line says the same thing.
    try:
        outcome = pipeline.poll(feed)
        if outcome.error is None:
            log.info(
                "%s: HTTP %s, %d new, %d updated, %.2fs",
                feed.url,
                outcome.status,
                outcome.new,
                outcome.updated,
                outcome.seconds,
            )
        if outcome.new or outcome.updated:
            pipeline.publish()
    except FeedwatchError as exc:
        log.error("%s: %s", feed.url, exc)
