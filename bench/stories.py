"""How well does feedwatch group headlines into stories? B-cubed scores against a news aggregator.

    .venv/bin/python bench/stories.py [--corpus PATH] [--shuffle SEED]

Reads ../shared/corpus/news-stories/headlines.csv (beside the repository; see its PROVENANCE.md):
4,178 headlines that a news aggregator grouped into 65 stories, in three categories (b business,
t science and technology, m health). Every headline is clustered in one run, all categories
together, in publish order (or shuffled with --shuffle SEED), and scored per category and
overall with B-cubed precision, recall and F1 of
  - feedwatch: `feedwatch stories` run in this process on the headlines as JSON lines (title,
    url, source, published; the headlines have no text), the command's own defaults;
  - newsblur: exact normalised titles, else the Jaccard similarity of significant title words
    against every earlier headline within the same window; its threshold is the best of
    0.05 ... 0.95 for each row of the table, i.e. chosen on the very data it is scored on;
and how many articles a second of CPU time each handles, on one core (the machine may be busy:
the ratio of the two, measured side by side, is the figure to trust).

feedwatch's settings (stories.JOIN_SIMILARITY and the term weights) were chosen on b and t, in
publish order and shuffled with seeds 1 and 2; m is held out (84 headlines, 2 stories: a small
test). The corpus's timestamps are crawl times, each story's within a minute or two and stories
one after the other, so publish order flatters any online method; feedwatch uses publish time
for the window only, and --shuffle shows what the order is worth. The headlines have no text,
so what an article with text must also share with a story (stories._Evidence: names, its
opening, a near-identical title) is not measured here; tests/test_stories.py has its cases.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feedwatch.cli import main as feedwatch
from feedwatch.stories import DEFAULT_WINDOW
from feedwatch.text import normalize

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "news-stories"
CATEGORIES = {"b": "business", "t": "technology", "m": "health (held out)"}
THRESHOLDS = [round(0.05 * step, 2) for step in range(1, 20)]
# NewsBlur's "significant words": what is left of a title without these.
# fmt: off
_STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by",
    "from", "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that",
    "these", "those", "has", "have", "had", "will", "would", "can", "could", "should", "may",
    "might", "not", "no", "new", "says", "said", "after", "over", "up", "out", "into", "about",
    "than", "more", "most",
})
# fmt: on
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Headline:
    id: str
    title: str
    url: str
    source: str
    category: str
    story: str  # the aggregator's story: the gold grouping
    published: datetime


def load(corpus: Path) -> list[Headline]:
    """The corpus's headlines in publish order (ties: file order); [] when there is none."""
    path = corpus / "headlines.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as file:
        rows = [
            Headline(
                id=row["ID"],
                title=row["TITLE"],
                url=row["URL"],
                source=row["PUBLISHER"],
                category=row["CATEGORY"],
                story=row["STORY"],
                published=datetime.fromtimestamp(int(row["TIMESTAMP"]) / 1000, UTC),
            )
            for row in csv.DictReader(file)
        ]
    return sorted(rows, key=lambda headline: headline.published)


def json_lines(headlines: Sequence[Headline]) -> str:
    """The headlines as `feedwatch stories` reads them."""
    return "".join(
        json.dumps(
            {
                "id": headline.id,
                "title": headline.title,
                "url": headline.url,
                "source": headline.source,
                "published": headline.published.isoformat(),
            }
        )
        + "\n"
        for headline in headlines
    )


def feedwatch_stories(headlines: Sequence[Headline]) -> tuple[dict[str, str], float]:
    """Story of each headline id by `feedwatch stories FILE`, and the CPU seconds it took."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "headlines.jsonl"
        path.write_text(json_lines(headlines), encoding="utf-8")
        out = io.StringIO()
        started = time.process_time()
        with redirect_stdout(out):
            status = feedwatch(["stories", str(path)])
        seconds = time.process_time() - started
    if status:
        sys.exit(f"feedwatch stories failed with status {status}")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    return {record["id"]: record["story"] for record in records}, seconds


def newsblur_stories(headlines: Sequence[Headline], threshold: float) -> dict[str, str]:
    """NewsBlur-style title clustering: exact normalised titles, else significant-word Jaccard
    with the most similar earlier headline within the window (its story is joined)."""
    story_of: dict[str, str] = {}
    exact: dict[str, str] = {}
    index: dict[str, list[int]] = defaultdict(list)  # word -> headlines holding it
    words_of: list[frozenset[str]] = []
    for number, headline in enumerate(headlines):
        key = " ".join(_WORD.findall(normalize(headline.title)))
        words = frozenset(w for w in key.split() if w not in _STOPWORDS)
        words_of.append(words)
        story = exact.get(key)
        if story is None:
            shared: Counter[int] = Counter()
            for word in words:
                shared.update(index[word])
            best, best_score = None, threshold
            for other, common in sorted(shared.items()):
                if headline.published - headlines[other].published > DEFAULT_WINDOW:
                    continue
                score = common / len(words | words_of[other])
                if score > best_score or (score == best_score and best is None):
                    best, best_score = other, score
            story = story_of[headlines[best].id] if best is not None else headline.id
        story_of[headline.id] = story
        exact.setdefault(key, story)
        for word in words:
            index[word].append(number)
    return story_of


def bcubed(
    headlines: Sequence[Headline], predicted: dict[str, str], category: str | None
) -> tuple[float, float, float]:
    """B-cubed precision, recall, F1 over the headlines of `category` (None: all of them);
    clusters are whole, so a health headline grouped with business ones costs precision."""
    clusters: dict[str, list[Headline]] = defaultdict(list)
    gold_sizes = Counter(headline.story for headline in headlines)
    for headline in headlines:
        clusters[predicted[headline.id]].append(headline)
    precision = recall = 0.0
    chosen = [h for h in headlines if category is None or h.category == category]
    for headline in chosen:
        cluster = clusters[predicted[headline.id]]
        same = sum(1 for other in cluster if other.story == headline.story)
        precision += same / len(cluster)
        recall += same / gold_sizes[headline.story]
    precision, recall = precision / len(chosen), recall / len(chosen)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--shuffle", type=int, metavar="SEED", help="cluster in a random order")
    args = parser.parse_args(argv)
    headlines = load(args.corpus)
    if not headlines:
        print(f"no corpus at {args.corpus}: nothing to measure", file=sys.stderr)
        return 0
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(headlines)
    ours, our_seconds = feedwatch_stories(headlines)
    started = time.process_time()
    theirs = {threshold: newsblur_stories(headlines, threshold) for threshold in THRESHOLDS}
    their_seconds = (time.process_time() - started) / len(THRESHOLDS)

    order = f"shuffled, seed {args.shuffle}" if args.shuffle is not None else "publish order"
    print(f"{len(headlines)} headlines, {len(set(h.story for h in headlines))} stories ({order})")
    print(f"{'category':<20} {'n':>5}  {'method':<24} {'P':>6} {'R':>6} {'F1':>6}")
    rows = [(code, f"{code} {name}") for code, name in CATEGORIES.items()] + [(None, "all")]
    for category, label in rows:
        count = sum(1 for h in headlines if category is None or h.category == category)
        ours_p, ours_r, ours_f = bcubed(headlines, ours, category)
        threshold, (p, r, f) = max(
            ((t, bcubed(headlines, theirs[t], category)) for t in THRESHOLDS),
            key=lambda item: (item[1][2], -item[0]),
        )
        baseline = f"newsblur (best {threshold:.2f})"
        print(
            f"{label:<20} {count:>5}  {'feedwatch':<24} {ours_p:6.3f} {ours_r:6.3f} {ours_f:6.3f}"
        )
        print(f"{'':<27} {baseline:<24} {p:6.3f} {r:6.3f} {f:6.3f}")
        print(f"{'':<27} {'F1 gain':<24} {'':>13} {ours_f - f:+6.3f}")
    print(
        f"articles per CPU second, one core: feedwatch {len(headlines) / our_seconds:,.0f} "
        f"(JSON in and out included), newsblur {len(headlines) / their_seconds:,.0f}; "
        "the machine is shared, so these move with its load"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
