"""One poll of a 100,000-item feed with the default limits: CPU seconds and peak memory.

    .venv/bin/python bench/huge_feed.py [--items 100000]

Serves one generated RSS feed (about 14.6 MB: 100,000 items, newest first, one in 20 about a
tracked show) from a local HTTP server and runs `feedwatch once` on it in a fresh process,
with the defaults (poll.max_entries 1000), then reports that process's CPU seconds and peak RSS
against the goals (10 s, 200 MB) and what the poll stored.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def feed(items: int) -> bytes:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    for n in range(items - 1, -1, -1):
        about = "Daredevil" if n % 20 == 0 else "the network"
        entries.append(
            f"<item><title>Story {n}</title><link>https://huge.example/{n}</link>"
            f"<guid>huge-{n}</guid><pubDate>{format_datetime(start + timedelta(minutes=n))}"
            f"</pubDate><description>{about}</description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
        "<link>https://huge.example/</link><description>Big</description>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--items", type=int, default=100_000)
    args = options.parse_args()
    body = feed(args.items)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="feedwatch-huge-") as folder:
            config = Path(folder) / "feeds.yaml"
            config.write_text(
                "database: sqlite:///feedwatch.db\nfetch:\n  full_text: false\n"
                f"feeds:\n  - url: http://127.0.0.1:{server.server_address[1]}/huge.rss\n"
                "shows:\n  - name: Daredevil\n    keywords: [Daredevil]\n"
            )
            done = subprocess.run(
                [sys.executable, "-m", "feedwatch", "-c", str(config), "once"],
                capture_output=True,
                text=True,
                check=True,
            )
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        server.shutdown()
    cpu = usage.ru_utime + usage.ru_stime
    print(f"feed: {args.items:,} items, {len(body) / 1e6:.1f} MB")
    print(done.stdout.strip().splitlines()[-1])
    print(f"{'':<10}{'CPU s':>8}{'peak MB':>9}")
    print(f"{'poll':<10}{cpu:>8.2f}{usage.ru_maxrss / 1024:>9.1f}")
    print(f"{'goal':<10}{10.0:>8.2f}{200.0:>9.1f}")


if __name__ == "__main__":
    main()
