"""Daily roundups: one item per show per day, listing that day's stories in a line each.

Pure: given the digest's items, the moments roundups were published (digest.roundup, in
digest.timezone) and the shows, it says what each roundup item holds. A roundup published at
T covers the stories whose date falls in the day before T; an item is made only for a show
with a story in it. Its guid names the show and the day, so a roundup written again (a
restart, `feedwatch once --roundup` twice in a day) is the same item, updated in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from feedwatch.models import DigestItem

DAY = timedelta(days=1)
KEPT = 14  # roundup moments kept: two weeks of a daily roundup


def items(
    stories: Sequence[DigestItem],
    moments: Sequence[datetime],
    shows: Sequence[str],
    zone: tzinfo,
    page: Callable[[str], str | None],
) -> list[DigestItem]:
    """The roundup items of each moment (newest first), for each show in config order.

    `stories`: the digest's items; `page(show)`: the show's web page, each item's link.
    """
    made: dict[str, DigestItem] = {}
    for at in sorted(moments, reverse=True):
        day = at.astimezone(zone).date()
        for show in shows:
            chosen = sorted(
                (
                    story
                    for story in stories
                    if show in story.shows and at - DAY <= _utc(story.published) < at
                ),
                key=lambda story: _utc(story.published),
            )
            guid = f"urn:feedwatch:roundup:{_key(show)}:{day.isoformat()}"
            if not chosen or guid in made:
                continue
            made[guid] = DigestItem(
                guid=guid,
                title=f"{show}: the day's stories, {day.day} {day:%B %Y}",
                url=page(show),
                published=at,
                summary=tuple(_line(story) for story in chosen),
                shows=(show,),
                feed_title="feedwatch roundup",
                feed_url="",
            )
    return list(made.values())


def _line(story: DigestItem) -> str:
    """A story in one sentence: its title, then the first sentence of its summary."""
    title = story.title.strip().rstrip(".:") or "Untitled"
    return f"{title}: {story.summary[0]}" if story.summary else f"{title}."


def _key(show: str) -> str:
    return hashlib.sha1(show.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
