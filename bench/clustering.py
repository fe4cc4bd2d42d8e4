"""How fast is story clustering? stories.assign on what a cold `feedwatch once` gives it.

    .venv/bin/python bench/clustering.py [--feeds 1000] [--corpus PATH] [--repeat 3]
        [--save FILE | --check FILE]

Workloads, each clustered in one stories.assign call as Pipeline._assign_stories makes it (no
article has a story yet, in the order stored):
  - entertainment: the articles of `bench/poll.py --profile entertainment` that mention
    Daredevil (one in 20: 1,250 of 1,000 feeds x 25 entries), parsed by the poller's parser
    and reading.to_articles and cut as Store.story_context cuts them, feed after feed;
  - headlines, headlines shuffled: the news-stories corpus of bench/stories.py (4,178 bare
    headlines) in publish order and in a random order (seed 1), when it is there.
Prints each one's articles, stories and the least CPU seconds of --repeat runs (the machine
may be busy). --save writes every article's story to FILE; --check compares with FILE and
fails on any difference: a faster clusterer must give each article the same story.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from feedwatch.models import StoryArticle
from feedwatch.poll import parser
from feedwatch.poll.reading import to_articles
from feedwatch.store.repository import TEXT_CHARS
from feedwatch.stories import assign

sys.path.insert(0, str(Path(__file__).parent))
from poll import feed_body
from stories import DEFAULT_CORPUS, load

Context = list[tuple[int, int | None, StoryArticle]]


def entertainment(feeds: int) -> Context:
    """The matched articles of the entertainment profile's feeds, as Store.story_context
    gives them: ids in the order stored, the opening of the text, the feed's title."""
    context: Context = []
    row_id = 0
    for number in range(feeds):
        url = f"http://127.0.0.1/feed/{number}.xml"
        parsed = parser.parse(feed_body(number, "entertainment"), {}, url)
        for article in to_articles(parsed.entries, url, parsed.language):
            row_id += 1
            if "Daredevil" not in article.text:
                continue
            story_article = StoryArticle(
                id=str(row_id),
                title=article.title,
                text=article.text[:TEXT_CHARS],
                url=article.url,
                source=parsed.title,
                published=article.published,
            )
            context.append((row_id, None, story_article))
    return context


def headlines(corpus: Path, seed: int | None) -> Context:
    found = load(corpus)
    if seed is not None:
        random.Random(seed).shuffle(found)
    return [
        (
            number,
            None,
            StoryArticle(
                id=str(number),
                title=headline.title,
                url=headline.url,
                source=headline.source,
                published=headline.published,
            ),
        )
        for number, headline in enumerate(found, 1)
    ]


def timed(context: Context, repeat: int) -> tuple[dict[int, int], float]:
    """The stories assign() gives, and the least CPU seconds it took of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        given = assign(context)
        best = min(best, time.process_time() - started)
    return given, best


def main(argv: Sequence[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--feeds", type=int, default=1000, help="entertainment feeds (1000)")
    options.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    options.add_argument("--repeat", type=int, default=3, help="runs of each, the best kept (3)")
    record = options.add_mutually_exclusive_group()
    record.add_argument("--save", type=Path, metavar="FILE", help="write the stories given")
    record.add_argument("--check", type=Path, metavar="FILE", help="compare with --save's FILE")
    args = options.parse_args(argv)

    workloads = {"entertainment": entertainment(args.feeds)}
    if (args.corpus / "headlines.csv").is_file():
        workloads["headlines"] = headlines(args.corpus, None)
        workloads["headlines shuffled"] = headlines(args.corpus, 1)
    else:
        print(f"no corpus at {args.corpus}: headlines left out", file=sys.stderr)
    expected = json.loads(args.check.read_text()) if args.check else {}
    results: dict[str, dict[str, int]] = {}
    differ = False
    print(f"{'workload':<20}{'articles':>9}{'stories':>9}{'CPU s':>8}  same as --check")
    for name, context in workloads.items():
        given, seconds = timed(context, args.repeat)
        results[name] = {str(article_id): story for article_id, story in given.items()}
        verdict = ""
        if args.check:
            wrong = _differences(expected.get(name), results[name])
            verdict = "yes" if not wrong else f"NO: {wrong}"
            differ = differ or bool(wrong)
        stories = len(set(given.values()))
        print(f"{name:<20}{len(context):>9}{stories:>9}{seconds:>8.2f}  {verdict}")
    if args.save:
        args.save.write_text(json.dumps(results, indent=0, sort_keys=True))
    return 1 if differ else 0


def _differences(expected: dict[str, int] | None, given: dict[str, int]) -> str:
    """'' when `given` is `expected`, else how many articles differ."""
    if expected is None:
        return "not in the file"
    articles = expected.keys() | given.keys()
    wrong = sum(1 for article in articles if expected.get(article) != given.get(article))
    return f"{wrong} of {len(articles)} articles in another story" if wrong else ""


if __name__ == "__main__":
    sys.exit(main())
