"""Re-judging: how long matching every stored article again takes after the shows change.

    .venv/bin/python bench/rejudge.py [--articles 100000]

Stores N synthetic articles (bodies of 1.5-3 KB, one in 20 about a tracked show) in a fresh
SQLite database through the store's own write path, then changes the shows (one added, one
edited) and runs Pipeline.rejudge as `feedwatch once` does: read every article, match it,
write the changed matches. Reports wall and CPU seconds of that step alone (one core: the
step runs in one thread) against the goal of 10 s for 100,000 articles.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedwatch import config as config_module
from feedwatch.decide import changed_entries
from feedwatch.matcher import Matcher
from feedwatch.models import Article, PollIntent
from feedwatch.pipeline import rejudge
from feedwatch.store import Store

# The synthetic stories' vocabulary is bench/poll.py's.
sys.path.insert(0, str(Path(__file__).parent))
from poll import WORDS

SHOWS = ("Daredevil", "Luke Cage", "Jessica Jones", "Severance", "The Bear", "Andor")


def article(number: int, rng: random.Random) -> Article:
    sentences = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 18))).capitalize() + "."
        for _ in range(rng.randint(12, 22))
    ]
    if number % 20 == 0:
        sentences[2] = f"Fans of {SHOWS[number // 20 % len(SHOWS)]} will see the new season soon."
    published = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
    return Article(
        entry_id=f"entry-{number}",
        url=f"https://news{number % 50}.example/{number}",
        title=f"Story {number}: {sentences[0][:40]}",
        summary=sentences[0],
        body=" ".join(sentences),
        published=published,
        key=f"https://news{number % 50}.example/{number}",
    )


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--articles", type=int, default=100_000)
    args = options.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="feedwatch-rejudge-") as folder:
        feeds = "".join(f"  - url: https://news{n}.example/feed\n" for n in range(50))
        shows = "".join(f"  - name: {show}\n    keywords: [{show}]\n" for show in SHOWS[:3])
        path = Path(folder) / "feeds.yaml"
        path.write_text(f"database: sqlite:///{folder}/bench.db\nfeeds:\n{feeds}shows:\n{shows}")
        cfg = config_module.load(path)
        store = Store.open(cfg.database)
        matcher = Matcher(cfg.shows)
        started = time.perf_counter()
        at = datetime(2026, 6, 1, tzinfo=UTC)
        for start in range(0, args.articles, 1000):
            batch = [article(n, rng) for n in range(start, min(start + 1000, args.articles))]
            url = f"https://news{start // 1000 % 50}.example/feed"
            stored = store.stored_polls({url: [a.entry_id for a in batch]}, until=at)[url]
            entries, unchanged = changed_entries(
                [(a, matcher.match(a)) for a in batch], stored.versions
            )
            store.record_poll(PollIntent(url, at, 200, entries=entries, unchanged=unchanged))
        print(f"stored {args.articles:,} articles in {time.perf_counter() - started:.1f}s")
        rejudge(store, cfg.shows)  # records the fingerprint of the first shows
        more = shows + "  - name: Severance\n    keywords: [Severance]\n"
        more = more.replace("keywords: [Daredevil]", "keywords: [Daredevil]\n    exclude: [x]")
        path.write_text(f"database: sqlite:///{folder}/bench.db\nfeeds:\n{feeds}shows:\n{more}")
        changed_shows = config_module.load(path).shows
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        changed = rejudge(store, changed_shows)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        store.close()
    print(f"re-judged {args.articles:,} articles: {changed:,} changed")
    print(f"{'':<12}{'wall s':>8}{'CPU s':>8}{'goal s':>8}")
    print(f"{'re-judging':<12}{wall:>8.2f}{cpu:>8.2f}{10 * args.articles / 100_000:>8.1f}")


if __name__ == "__main__":
    main()
