"""Polling throughput with 1, 2 and 4 `feedwatch run --no-serve` workers on one PostgreSQL.

    .venv/bin/python bench/workers.py [--feeds 600] [--latency 50] [--concurrency 8]
                                      [--hosts 8] [--workers 1,2,4]

Serves N synthetic feeds with bench/poll.py's FeedHost (spread over --hosts loopback
addresses, each response delayed by --latency ms). Then, for each number of workers in turn,
in this one run:

1. a new PostgreSQL database on 127.0.0.1:5432 (made from the `test` database, user
   postgres; dropped afterwards) with every feed stored and none due;
2. that many `feedwatch run --no-serve` processes on one config, waited for until each says
   it polls (so start-up is not measured);
3. every feed made due at once, in one UPDATE; the clock runs from its commit until the
   server has answered every feed.

Each worker polls with poll.concurrency = --concurrency (and per_host to match), so N workers
have N times as many requests in flight. Reported per run: feeds/s, the requests the server
answered (more than the feeds would be a feed polled twice) and the speed-up over the first
row. The machine is shared: run it when others are not, and read the ratios, not the rates.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from feedwatch import config, policy
from feedwatch.store import Store
from poll import FeedHost  # bench/poll.py: a script's folder is on its path

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
START_TIMEOUT = 120.0  # seconds a worker may take to come up on a loaded machine
POLL_TIMEOUT = 600.0


class TimedHost(FeedHost):
    """FeedHost that also notes when it last answered."""

    def __init__(self, hosts: int, latency: float) -> None:
        super().__init__(hosts, latency)
        self.last_answer = 0.0

    def _count(self, status: int) -> None:
        super()._count(status)
        self.last_answer = time.perf_counter()


def write_config(folder: Path, database: str, urls: list[str], args: argparse.Namespace) -> Path:
    per_host = math.ceil(args.concurrency / args.hosts)
    feeds = "".join(f"  - url: {url}\n" for url in urls)
    path = folder / "feeds.yaml"
    path.write_text(
        f"database: {database}\n"
        # One poll per feed in the measured window: no feed comes due twice.
        f"poll:\n  interval: 1h\n  timeout: 30s\n  concurrency: {args.concurrency}\n"
        f"  per_host: {per_host}\n"
        "fetch:\n  full_text: false\n"
        "server:\n  port: 0\n"
        "digest:\n  path: digest.xml\n"
        f"feeds:\n{feeds}"
        "shows:\n  - name: Daredevil\n    keywords: [Daredevil]\n"
    )
    return path


def prepared(path: Path) -> None:
    """The database at head with every configured feed stored, none due for a day."""
    cfg = config.load(path)
    store = Store.open(cfg.database)
    try:
        feeds = [(feed.url, feed.title) for feed in cfg.feeds]
        # The fingerprints the workers will compute: they then leave the schedule alone.
        store.sync_feeds(feeds, policy.fingerprints(cfg.feeds))
    finally:
        store.close()
    execute(cfg.database, "UPDATE feeds SET next_poll = now() + interval '1 day'")


def execute(database: str, statement: str, *, autocommit: bool = False) -> None:
    engine = create_engine(database, poolclass=NullPool)
    try:
        options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
        with engine.connect().execution_options(**options) as connection:
            connection.execute(text(statement))
            connection.commit()
    finally:
        engine.dispose()


class Worker:
    """`feedwatch run --no-serve` in a subprocess; `up` is set once it says it polls."""

    def __init__(self, path: Path) -> None:
        self.up = threading.Event()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "feedwatch", "-c", str(path), "run", "--no-serve"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if "polling" in line and "feeds; digest at" in line:
                self.up.set()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def measure(host: TimedHost, urls: list[str], workers: int, args: argparse.Namespace) -> dict:
    name = f"feedwatch_bench_{uuid.uuid4().hex[:12]}"
    execute(f"{SERVER}/test", f'CREATE DATABASE "{name}"', autocommit=True)
    database = f"{SERVER}/{name}"
    running: list[Worker] = []
    try:
        with tempfile.TemporaryDirectory(prefix="feedwatch-workers-") as folder:
            path = write_config(Path(folder), database, urls, args)
            prepared(path)
            running = [Worker(path) for _ in range(workers)]
            for worker in running:
                if not worker.up.wait(START_TIMEOUT):
                    raise SystemExit("a worker did not start:\n" + "".join(worker.lines[-20:]))
            host.take_counts()
            started = time.perf_counter()
            execute(database, "UPDATE feeds SET next_poll = NULL")
            deadline = started + POLL_TIMEOUT
            while sum(host.counts.values()) < len(urls):
                if time.perf_counter() > deadline:
                    raise SystemExit(f"only {sum(host.counts.values())} feeds polled")
                time.sleep(0.01)
            seconds = host.last_answer - started
            time.sleep(2)  # a second poll of any feed would show in the count by now
            counts = host.take_counts()
    finally:
        for worker in running:
            worker.stop()
        execute(
            f"{SERVER}/test", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', autocommit=True
        )
    return {"workers": workers, "seconds": seconds, "requests": sum(counts.values())}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--feeds", type=int, default=600, help="synthetic feeds (600)")
    options.add_argument("--latency", type=float, default=50, help="ms added per response (50)")
    options.add_argument("--concurrency", type=int, default=8, help="polls in flight per worker")
    options.add_argument("--hosts", type=int, default=8, help="loopback hosts serving (8)")
    options.add_argument("--workers", default="1,2,4", help="worker counts to measure (1,2,4)")
    args = options.parse_args()
    counts = [int(part) for part in args.workers.split(",")]

    host = TimedHost(args.hosts, args.latency / 1000)
    try:
        urls = host.urls(args.feeds)
        results = [measure(host, urls, workers, args) for workers in counts]
    finally:
        host.close()

    print(
        f"{args.feeds} feeds, {args.latency:g} ms latency, {args.concurrency} polls in flight "
        f"per worker, {args.hosts} hosts, PostgreSQL on 127.0.0.1"
    )
    print(f"{'workers':>8}{'feeds/s':>10}{'seconds':>9}{'requests':>10}{'speed-up':>10}")
    first = results[0]
    for result in results:
        print(
            f"{result['workers']:>8}{args.feeds / result['seconds']:>10.1f}"
            f"{result['seconds']:>9.2f}{result['requests']:>10}"
            f"{first['seconds'] / result['seconds']:>10.2f}"
        )


if __name__ == "__main__":
    main()
