"""Parse time per feed: this parser against an earlier revision of it, side by side.

    .venv/bin/python bench/parser.py [--against 5f9e4db] [--repeat 5]

Loads src/feedwatch/poll/parser.py as it was at --against (via `git show`) next to the
current one and parses every feed of ../shared/corpus/real-feeds with both, alternating, best
of --repeat each; prints milliseconds per feed and the ratio current / earlier (feeds only one
of them reads, such as JSON Feed before it was supported, are listed but not in the total).
Then parses a generated 100,000-item RSS feed (about 14.6 MB) with the default max_entries in
a fresh process and prints its CPU seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from feedwatch.errors import ParseError
from feedwatch.poll import parser

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "real-feeds"
HUGE = """
import resource, sys
from datetime import UTC, datetime, timedelta
from feedwatch.poll.parser import parse
start = datetime(2020, 1, 1, tzinfo=UTC)
items = b"".join(
    b"<item><title>Episode %d</title><link>https://feeds.example/e/%d</link>"
    b"<guid>ep-%d</guid><pubDate>%s</pubDate></item>"
    % (n, n, n, (start + timedelta(minutes=n)).strftime("%a, %d %b %Y %H:%M:%S GMT").encode())
    for n in range(99_999, -1, -1)
)
body = b'<rss version="2.0"><channel><title>Big</title>' + items + b"</channel></rss>"
before = resource.getrusage(resource.RUSAGE_SELF)
feed = parse(body, {"Content-Type": "application/rss+xml"}, "https://feeds.example/f")
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
print(f"{len(body) / 1e6:.1f} MB, {len(feed.entries)} kept, {feed.truncated} truncated: "
      f"{cpu:.2f} s CPU, peak RSS {after.ru_maxrss / 1024:.0f} MB (body and interpreter included)")
"""


def _earlier(revision: str) -> Callable[..., object]:
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:src/feedwatch/poll/parser.py"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.NamedTemporaryFile(suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("earlier_parser", handle.name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse


def _timed(parse: Callable[..., object], body: bytes, url: str) -> float | None:
    started = time.process_time()
    try:
        parse(body, {}, url)
    except ParseError:
        return None
    return time.process_time() - started


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--against", default="5f9e4db")
    options.add_argument("--repeat", type=int, default=5)
    arguments = options.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    earlier = _earlier(arguments.against)
    totals = [0.0, 0.0]
    print(f"{'feed':42} {'now ms':>8} {arguments.against + ' ms':>12} {'ratio':>6}")
    for path in sorted(CORPUS.iterdir()):
        if path.suffix == ".md":
            continue
        body, url = path.read_bytes(), f"https://feeds.example/{path.name}"
        now: list[float | None] = []
        then: list[float | None] = []
        for _ in range(arguments.repeat):
            now.append(_timed(parser.parse, body, url))
            then.append(_timed(earlier, body, url))
        current = None if None in now else min(t for t in now if t is not None)
        before = None if None in then else min(t for t in then if t is not None)
        if current is not None and before is not None:
            totals[0] += current
            totals[1] += before
            ratio = f"{current / before:6.2f}"
        else:
            ratio = "     -"
        shown = [f"{t * 1000:8.1f}" if t is not None else "   error" for t in (current, before)]
        print(f"{path.name:42} {shown[0]:>8} {shown[1]:>12} {ratio}")
    print(
        f"{'total (both read)':42} {totals[0] * 1000:8.1f} {totals[1] * 1000:12.1f} "
        f"{totals[0] / totals[1]:6.2f}"
    )
    print(
        subprocess.run(
            [sys.executable, "-c", HUGE], check=True, capture_output=True, text=True
        ).stdout.strip()
    )


if __name__ == "__main__":
    main()
