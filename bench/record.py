"""Recording polls: the CPU time of Store.record_polls, without the network or the parser.

    .venv/bin/python bench/record.py [--profile simple|entertainment] [--feeds 1000]
        [--database URL] [--against SRC]

Writes the intents (decide.fetched) of --feeds synthetic feeds, in batches of the pipeline's
WRITE_BATCH_FEEDS, the way `feedwatch once` does, on a fresh database (a SQLite file, or a new
schema of the PostgreSQL --database given): `cold`, every entry new (as bench/poll.py's first
cycle; one entry in 20 matches a show); `shared`, as many feeds again, each delivering the
articles of one of the first (they join them); `changed`, the first feeds with every entry's
text changed (a new version each); `warm`, every feed answering 304. Prints the thread CPU
seconds each spent in record_polls. With --against, the same runs with the feedwatch whose
`src` folder that names (e.g. an older checkout), and this one's time over that one's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ENTRIES = {"simple": 10, "entertainment": 25}  # per feed, as bench/poll.py's profiles
TEXT_CHARS = {"simple": 300, "entertainment": 3500}  # about what each profile's entries hold
MATCH_EVERY = 20
AT = datetime(2026, 3, 1, tzinfo=UTC)
RUNS = ("cold", "shared", "changed", "warm")


def intents(profile: str, feeds: range, store, *, at: datetime, edit: str = "", source=None):  # type: ignore[no-untyped-def]
    """The intents of a poll of `feeds`, as decide.fetched makes them from what is stored;
    `source`(feed) is the feed whose articles a feed delivers (default: its own)."""
    from feedwatch import decide, policy
    from feedwatch.models import (
        Article,
        FeedState,
        FetchResult,
        ParsedFeed,
        ShowMatch,
        Validators,
    )

    def pairs(number: int):  # type: ignore[no-untyped-def]
        origin = number if source is None else source(number)
        for entry in range(ENTRIES[profile]):
            serial = origin * ENTRIES[profile] + entry
            url = f"https://news.example/{origin}/{entry}"
            words = f"Story {serial} about the studio's new season and its audience {edit}. "
            body = (words * (TEXT_CHARS[profile] // len(words) + 1))[: TEXT_CHARS[profile]]
            article = Article(
                f"bench-{serial}",
                url,
                f"Story {serial}",
                body[:200],
                body,
                AT - timedelta(minutes=10 * serial),
                authors=("A. Writer",),
                tags=("tv",),
                language="en",
                key=url,
            )
            shows = (ShowMatch("Daredevil", "Daredevil"),) if serial % MATCH_EVERY == 0 else ()
            yield article, shows

    urls = {number: f"https://feeds.example/{number}.xml" for number in feeds}
    wanted = {urls[number]: [article.entry_id for article, _ in pairs(number)] for number in feeds}
    stored = store.stored_polls(wanted, until=at)
    bounds = policy.Bounds(timedelta(minutes=5), timedelta(days=1))
    rules = {"interval": timedelta(minutes=30), "bounds": bounds}
    made = []
    for number in feeds:
        url = urls[number]
        matched = list(pairs(number))
        validators = Validators(f'"{number}{edit}"', "Tue, 14 Nov 2023 22:13:20 GMT")
        if edit == "304":
            result = FetchResult(url, 304, {}, b"", validators)
            parsed = None
            matched = []
        else:
            result = FetchResult(url, 200, {}, b"<rss/>", validators)
            parsed = ParsedFeed(f"Feed {number}", url, ())  # the articles are given
        made.append(
            decide.fetched(
                FeedState(url, url), stored[url], result, parsed, matched, at=at, **rules
            )
        )
    return made


def record(store, made) -> float:  # type: ignore[no-untyped-def]
    """Thread CPU seconds of writing `made` as run_cycle batches them."""
    from feedwatch.pipeline import WRITE_BATCH_FEEDS

    spent = 0.0
    for start in range(0, len(made), WRITE_BATCH_FEEDS):
        started = time.thread_time()
        store.record_polls(made[start : start + WRITE_BATCH_FEEDS])
        spent += time.thread_time() - started
    return spent


def measure(profile: str, feeds: int, database: str | None) -> dict[str, float]:
    """The child's side: every run on one fresh database, CPU seconds by run."""
    from feedwatch.store import Store

    with tempfile.TemporaryDirectory(prefix="feedwatch-record-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        schema = None
        if database:
            from sqlalchemy import create_engine

            schema = f"feedwatch_bench_{uuid.uuid4().hex}"
            admin = create_engine(database)
            with admin.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            url = f"{database}?options=-csearch_path%3D{schema}"
        store = Store.open(url)
        try:
            first = range(feeds)
            spent = {"cold": record(store, intents(profile, first, store, at=AT))}
            later = AT + timedelta(hours=1)
            shared = intents(
                profile, range(feeds, 2 * feeds), store, at=later, source=lambda n: n - feeds
            )
            spent["shared"] = record(store, shared)
            later += timedelta(hours=1)
            changed = intents(profile, first, store, at=later, edit="changed")
            spent["changed"] = record(store, changed)
            later += timedelta(hours=1)
            spent["warm"] = record(store, intents(profile, first, store, at=later, edit="304"))
        finally:
            store.close()
            if schema:
                with admin.begin() as connection:
                    connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
    return spent


def run_child(src: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", "--profile", args.profile]
    command += ["--feeds", str(args.feeds)]
    if args.database:
        command += ["--database", args.database]
    environment = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if done.returncode:
        raise SystemExit(f"run with {src} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--profile", choices=sorted(ENTRIES), default="entertainment")
    options.add_argument("--feeds", type=int, default=1000, help="synthetic feeds (1000)")
    options.add_argument("--database", help="a PostgreSQL URL to make a scratch schema in")
    options.add_argument("--against", type=Path, help="another feedwatch's src folder")
    options.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        print(json.dumps(measure(args.profile, args.feeds, args.database)))
        return
    ours = run_child(Path(__file__).resolve().parent.parent / "src", args)
    theirs = run_child(args.against.resolve(), args) if args.against else None
    where = "PostgreSQL" if args.database else "SQLite"
    entries = ENTRIES[args.profile]
    print(f"record_polls CPU s, {args.profile}: {args.feeds} feeds x {entries} entries, {where}")
    if theirs:
        print(f"against: {args.against}")
    print(f"{'':<10}{'this':>8}" + (f"{'against':>9}{'ratio':>7}" if theirs else ""))
    for run in RUNS:
        line = f"{run:<10}{ours[run]:>8.2f}"
        if theirs:
            line += f"{theirs[run]:>9.2f}{ours[run] / theirs[run]:>7.2f}"
        print(line)


if __name__ == "__main__":
    main()
