"""Story clustering's index of publish times only saves work: the stories it leaves unscored
are ones no article could join, so every article gets the story a full scan gives it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedwatch.stories import Clusterer, StoryArticle, _Story, cluster

START = datetime(2018, 6, 1, tzinfo=UTC)
WINDOW = timedelta(days=3)
WORDS = [
    "daredevil", "bethel", "bullseye", "casting", "season", "renewal",
    "cox", "finale", "trailer", "netflix", "punisher", "premiere",
]  # fmt: skip
NAMES = ["Wilson Bethel", "Charlie Cox", "Erik Oleson", "Jon Bernthal", "Deborah Ann Woll"]
OUTLETS = ["Deadline", "Variety", "TVLine"]


class FullScan(Clusterer):
    """Scores every story sharing a term, as before there was an index."""

    def _nearby(self, published: datetime | None, limit: int) -> None:
        return None


class Counting(Clusterer):
    """Counts the articles the index answered for."""

    indexed = 0

    def _nearby(self, published: datetime | None, limit: int) -> list[_Story] | None:
        found = super()._nearby(published, limit)
        self.indexed += found is not None
        return found


def backlog(count: int, newest: datetime) -> list[StoryArticle]:
    """Headlines on one show, newest first as a feed lists them, five days apart: each its own
    story, never in another's window, all holding the show's name."""
    return [
        StoryArticle(
            f"backlog-{k}",
            f"Daredevil casting news, part {k}",
            published=newest - timedelta(days=5 * k),
        )
        for k in range(count)
    ]


@pytest.mark.parametrize("offset", [timedelta(hours=1), WINDOW, -WINDOW])
def test_newest_first_an_article_joins_the_story_in_its_window(offset):
    articles = backlog(20, START)
    part_7 = START - timedelta(days=35)
    late = StoryArticle("late", "Daredevil casting news: part 7, more", published=part_7 + offset)
    clusterer = Counting(WINDOW)
    assert [clusterer.add(a) for a in [*articles, late]][-1] == "backlog-7"
    assert clusterer.indexed  # answered by the index, not by a scan of all 20


def test_a_story_gone_out_of_the_window_is_joined_by_no_article_in_its_window():
    bethel = "Daredevil casting news: Wilson Bethel"
    first = StoryArticle("first", bethel, published=START)
    # Then the clock is 100 days on: the casting is forgotten, though a day after it...
    articles = [first, *backlog(20, START + timedelta(days=100))]
    again = StoryArticle("again", bethel + " joins", published=START + timedelta(days=1))
    clusterer = Counting(WINDOW)
    assert [clusterer.add(a) for a in [*articles, again]][-1] == "again"
    assert clusterer.indexed
    # ...which it joins while it is remembered.
    assert cluster([first, again], WINDOW) == ["first", "first"]


def test_a_story_of_undated_articles_is_in_every_window():
    undated = StoryArticle("undated", "Wilson Bethel cast as Bullseye in Daredevil")
    dated = StoryArticle(
        "dated",
        "Daredevil casting: Wilson Bethel to play Bullseye",
        published=START - timedelta(days=42),
    )
    clusterer = Counting(WINDOW)
    stories = [clusterer.add(a) for a in [*backlog(20, START), undated, dated]]
    assert stories[-2:] == ["undated", "undated"]
    assert clusterer.indexed


def test_an_article_near_the_end_of_time_is_scored_without_the_index():
    last = datetime.max.replace(tzinfo=UTC)  # its window would end after datetime.max
    first = StoryArticle("first", "Wilson Bethel cast as Bullseye in Daredevil", published=last)
    again = StoryArticle("again", "Wilson Bethel to play Bullseye in Daredevil", published=last)
    assert cluster([first, again], WINDOW) == ["first", "first"]


def test_a_story_sharing_no_term_is_not_joined():
    articles = [*backlog(20, START), StoryArticle("other", "Punisher renewal", published=START)]
    assert cluster(articles, WINDOW)[-1] == "other"


def _stream(seed: int, count: int) -> list[StoryArticle]:
    """Articles on a few shows from a few outlets, in any order, some undated, some again."""
    rng = random.Random(seed)
    articles: list[StoryArticle] = []
    for number in range(count):
        if articles and rng.random() < 0.05:
            articles.append(rng.choice(articles))
            continue
        title = " ".join(rng.sample(WORDS, rng.randint(2, 6))).capitalize()
        text = ""
        if rng.random() < 0.5:
            text = f"{title}. {rng.choice(NAMES)} and {rng.choice(NAMES)} {rng.choice(WORDS)}."
        published = (
            None if rng.random() < 0.1 else START + timedelta(hours=rng.randint(-2000, 2000))
        )
        source = rng.choice(OUTLETS)
        articles.append(StoryArticle(str(number), title, text, None, source, published))
    return articles


def test_the_index_gives_every_article_the_story_a_full_scan_gives():
    indexed = 0
    for seed in range(6):
        articles = _stream(seed, 300)
        for window in (timedelta(hours=6), WINDOW, timedelta(days=40)):
            counting, full = Counting(window), FullScan(window)
            assert [counting.add(a) for a in articles] == [full.add(a) for a in articles]
            indexed += counting.indexed
    assert indexed > 100  # the index did answer, and often


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    count=st.integers(min_value=1, max_value=80),
    hours=st.integers(min_value=1, max_value=24 * 30),
)
def test_any_stream_clusters_as_a_full_scan_clusters_it(seed, count, hours):
    articles = _stream(seed, count)
    window = timedelta(hours=hours)
    counting, full = Clusterer(window), FullScan(window)
    assert [counting.add(a) for a in articles] == [full.add(a) for a in articles]
