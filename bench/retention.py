"""Retention keeps the database flat: a feed that publishes 50 new entries every poll.

    .venv/bin/python bench/retention.py [--days 12] [--retention 3] [--polls-per-day 24]

A simulated clock drives the store's own write path (as `feedwatch run` would, without the
network): each poll stores a document of the feed's 100 newest entries, 50 of them new, one in
20 matching a show; once a simulated day the daemon's prune runs with retention.unmatched and
retention.matched set to --retention days. Prints, per day, the articles and forgotten entries
kept and the SQLite file's size and the bytes it actually uses (pages minus free pages): both
stop growing once the retention period has passed.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedwatch.decide import changed_entries
from feedwatch.models import Article, PollIntent, ShowMatch
from feedwatch.store import Store

FEED = "https://busy.example/feed"
START = datetime(2026, 1, 1, tzinfo=UTC)


def entry(number: int, at: datetime) -> tuple[Article, tuple[ShowMatch, ...]]:
    text = " ".join(
        f"Sentence {k} of story {number} about the network's new season." for k in range(8)
    )
    url = f"https://busy.example/{number}"
    article = Article(f"e{number}", url, f"Story {number}", text[:200], text, at, key=url)
    return article, (ShowMatch("Daredevil", "Daredevil"),) if number % 20 == 0 else ()


def used_bytes(path: Path) -> tuple[int, int, int]:
    with sqlite3.connect(path) as db:
        pages, free, size = (
            db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        forgotten = db.execute("SELECT count(*) FROM forgotten_entries").fetchone()[0]
    return (pages - free) * size, articles, forgotten


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--days", type=int, default=12)
    options.add_argument("--retention", type=int, default=3, help="days (3)")
    options.add_argument("--polls-per-day", type=int, default=24)
    options.add_argument("--tables", action="store_true", help="print each table's size at the end")
    args = options.parse_args()
    keep = timedelta(days=args.retention)
    with tempfile.TemporaryDirectory(prefix="feedwatch-retention-") as folder:
        path = Path(folder) / "bench.db"
        store = Store.open(f"sqlite:///{path}")
        store.sync_feeds([(FEED, "Busy")])
        newest = 0
        print(f"{'day':>4}{'articles':>10}{'forgotten':>11}{'file KB':>9}{'used KB':>9}")
        for day in range(args.days):
            for poll in range(args.polls_per_day):
                at = START + timedelta(days=day, hours=24 * poll / args.polls_per_day)
                newest += 50
                document = [entry(n, at) for n in range(newest, max(newest - 100, 0), -1)]
                stored = store.stored_polls({FEED: [a.entry_id for a, _ in document]}, until=at)
                entries, unchanged = changed_entries(document, stored[FEED].versions)
                store.record_poll(PollIntent(FEED, at, 200, entries=entries, unchanged=unchanged))
            now = START + timedelta(days=day + 1)
            store.prune(unmatched_before=now - keep, matched_before=now - keep, at=now)
            used, articles, forgotten = used_bytes(path)
            print(
                f"{day + 1:>4}{articles:>10}{forgotten:>11}"
                f"{path.stat().st_size // 1024:>9}{used // 1024:>9}"
            )
        store.close()
        if args.tables:
            with sqlite3.connect(path) as db:
                rows = db.execute(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
                ).fetchall()
            for name, size in rows[:8]:
                print(f"  {name}: {size // 1024} KB")


if __name__ == "__main__":
    main()
