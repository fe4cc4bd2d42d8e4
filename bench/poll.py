"""Polling throughput: feedwatch's cold and warm cycles against lemon24's `reader`.

    .venv/bin/python bench/poll.py [--profile simple|entertainment] [--feeds 1000]
        [--latency 50] [--workers 16] [--hosts 8]

Serves N synthetic feeds from a local threaded HTTP server (spread over --hosts loopback
addresses 127.0.0.1, 127.0.0.2, ...; each response delayed by --latency ms; conditional
requests answered with 304), then measures four runs, each in a fresh subprocess so its CPU
time and peak memory are its own:

Profiles: `simple`, 10 entries per feed of a few plain sentences; `entertainment`, what real
entertainment feeds look like: 25 entries of 2-5 KB of HTML each (paragraphs, links, some
relative, and images), in <content:encoded> beside a plain <description> teaser, in a feed that
declares its <language> (so no language is detected). In both, one entry in 20 mentions a
tracked show.

- feedwatch cold: `feedwatch once` on an empty database (fetch, parse, match, store every
  feed, summarise the matches, write the digest); warm: `feedwatch once` again (all 304).
- reader cold: make_reader(), add_feed() for every feed, update_feeds(workers=W);
  warm: update_feeds(workers=W) again.

feedwatch polls with poll.concurrency = W and poll.per_host = ceil(W / hosts), so both sides
have W requests in flight. Reported per run: feeds/s (wall clock), CPU seconds and the
process's peak RSS (VmHWM, read from /proc, so Linux only; imports included, they are done
before the clock starts), with the
worker processes feedwatch reads long feeds in (poll/processes.py: their CPU is in the
CPU column, each one's peak under "workers MB", and their sum in the memory ratio), then
feedwatch/reader ratios. Needs the `bench` extra (reader).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROFILES = {"simple": 10, "entertainment": 25}  # entries per feed
MATCH_EVERY = 20  # one entry in this many mentions a tracked show
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)

# Vocabulary of the synthetic stories.
WORDS = [
    "studio",
    "network",
    "season",
    "episode",
    "finale",
    "premiere",
    "casting",
    "writer",
    "director",
    "streamer",
    "trailer",
    "ratings",
    "audience",
    "critics",
    "renewal",
    "showrunner",
    "pilot",
    "script",
    "production",
    "drama",
]


def _words(serial: int, count: int, salt: int = 0) -> list[str]:
    return [WORDS[(serial * 7 + salt * 13 + k * 3) % len(WORDS)] for k in range(count)]


def simple_item(number: int, entry: int, serial: int) -> str:
    """A few plain sentences."""
    words = _words(serial, 40)
    sentences = [" ".join(words[k : k + 8]).capitalize() + "." for k in range(0, 40, 8)]
    if serial % MATCH_EVERY == 0:
        sentences[1] = "Fans of Daredevil will see the new season in March."
    return (
        f"<item><title>Story {serial}: {words[0]} {words[1]}</title>"
        f"<link>http://feeds.example/{number}/{entry}</link>"
        f'<guid isPermaLink="false">bench-{serial}</guid>'
        f"<pubDate>{formatdate(1_700_000_000 - serial * 600, usegmt=True)}</pubDate>"
        f"<description>{' '.join(sentences)}</description></item>"
    )


def entertainment_item(number: int, entry: int, serial: int) -> str:
    """An article as entertainment sites publish it: a teaser, and 2-5 KB of HTML with
    paragraphs, links (some relative), an image and a caption."""
    paragraphs = []
    target = 2000 + (serial * 397) % 3000
    size = 0
    k = 0
    while size < target:
        words = _words(serial, 30, salt=k)
        text = " ".join(words[:12]).capitalize() + ", " + " ".join(words[12:30]) + "."
        if k % 3 == 0:
            text += f' <a href="/news/{serial}-{k}">Read the {words[2]} story</a>.'
        if k % 4 == 1:
            text += f' <a href="https://other.example/{words[5]}/{serial}">{words[5]}</a>'
        if k == 2:
            text = (
                f'<figure><img src="/images/{serial}.jpg" alt="{words[1]}" width="640" '
                f'height="360"><figcaption>Photo: {words[3]} / Getty Images</figcaption>'
                f"</figure><p>{text}</p>"
            )
        else:
            text = f"<p>{text}</p>"
        if k == 1 and serial % MATCH_EVERY == 0:
            text += "<p>Fans of <em>Daredevil</em> will see the new season in March.</p>"
        paragraphs.append(text)
        size += len(text)
        k += 1
    words = _words(serial, 12)
    html = "".join(paragraphs).replace("]]>", "]]&gt;")
    return (
        f"<item><title>Story {serial}: {words[0]} {words[1]} &amp; {words[2]}</title>"
        f"<link>http://feeds.example/{number}/{entry}</link>"
        f'<guid isPermaLink="false">bench-{serial}</guid>'
        f"<pubDate>{formatdate(1_700_000_000 - serial * 600, usegmt=True)}</pubDate>"
        f"<dc:creator>{words[4].capitalize()} {words[5].capitalize()}</dc:creator>"
        f"<category>{words[6]}</category><category>{words[7]}</category>"
        f"<description>{' '.join(words).capitalize()}.</description>"
        f"<content:encoded><![CDATA[{html}]]></content:encoded></item>"
    )


ITEMS = {"simple": simple_item, "entertainment": entertainment_item}


def feed_body(number: int, profile: str = "simple") -> bytes:
    """Feed `number` of `profile`, deterministic."""
    entries = PROFILES[profile]
    item = ITEMS[profile]
    items = [item(number, entry, number * entries + entry) for entry in range(entries)]
    # As WordPress and most publishing software write it; the simple profile says nothing.
    language = "<language>en-US</language>" if profile == "entertainment" else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Feed {number}</title><link>http://feeds.example/{number}/</link>"
        f"<description>Synthetic feed {number}</description>{language}{''.join(items)}"
        "</channel></rss>"
    ).encode()


class FeedHost:
    """Threaded HTTP servers on loopback addresses serving /feed/<n>.xml, with counts."""

    def __init__(self, hosts: int, latency: float, profile: str = "simple") -> None:
        self.latency = latency
        self.profile = profile
        self._bodies: dict[int, tuple[bytes, str]] = {}
        self.counts: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._servers = []
        for index in range(hosts):
            httpd = ThreadingHTTPServer((f"127.0.0.{index + 1}", 0), self._handler())
            httpd.daemon_threads = True
            self._servers.append(httpd)
        for httpd in self._servers:
            threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def urls(self, feeds: int) -> list[str]:
        urls = []
        for number in range(feeds):
            host, port = self._servers[number % len(self._servers)].server_address[:2]
            urls.append(f"http://{host}:{port}/feed/{number}.xml")
        return urls

    def take_counts(self) -> Counter[int]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def close(self) -> None:
        for httpd in self._servers:
            httpd.shutdown()
            httpd.server_close()

    def body(self, number: int) -> tuple[bytes, str]:
        """Feed `number` and its ETag, built once: the server's cost stays out of the runs."""
        with self._lock:
            found = self._bodies.get(number)
        if found is None:
            body = feed_body(number, self.profile)
            found = body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            with self._lock:
                self._bodies[number] = found
        return found

    def _count(self, status: int) -> None:
        with self._lock:
            self.counts[status] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real feed hosts do
            # As real servers (nginx's tcp_nodelay) do: else the body, written after the
            # headers, waits for the client's delayed ACK, 40 ms more for every 200.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                time.sleep(host.latency)
                try:
                    number = int(self.path.removeprefix("/feed/").removesuffix(".xml"))
                except ValueError:
                    self._send(404, b"", {})
                    return
                body, etag = host.body(number)
                validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                if self.headers.get("If-None-Match") == etag:
                    self._send(304, b"", validators)
                    return
                self._send(200, body, {"Content-Type": "application/rss+xml", **validators})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                host._count(status)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        return Handler


# --- the measured side, run in a child process ------------------------------------------


def measure_feedwatch(workdir: Path, urls: list[str], workers: int, hosts: int) -> None:
    from feedwatch import pipeline  # noqa: F401 - imported before the clock starts
    from feedwatch.cli import main

    config = workdir / "feeds.yaml"
    if not config.exists():
        per_host = math.ceil(workers / hosts)
        feeds = "".join(f"  - url: {url}\n" for url in urls)
        config.write_text(
            "database: sqlite:///feedwatch.db\n"
            f"poll:\n  timeout: 60s\n  concurrency: {workers}\n  per_host: {per_host}\n"
            # reader does not fetch articles' pages; neither does feedwatch here.
            "fetch:\n  full_text: false\n"
            "digest:\n  path: digest.xml\n"
            f"feeds:\n{feeds}"
            "shows:\n  - name: Daredevil\n    keywords: [Daredevil]\n"
            "  - name: Luke Cage\n    keywords: [Luke Cage]\n"
        )
    with contextlib.redirect_stdout(io.StringIO()):
        code = measured(lambda: main(["-c", str(config), "--log-level", "error", "once"]))
    if code:
        raise SystemExit(f"feedwatch once exited {code}")


def measure_reader(workdir: Path, urls: list[str], workers: int, hosts: int) -> None:
    from reader import make_reader

    database = workdir / "reader.sqlite"
    cold = not database.exists()

    def run() -> None:
        with contextlib.closing(make_reader(str(database), search_enabled=False)) as reader:
            if cold:
                for url in urls:
                    reader.add_feed(url)
            # scheduled=False: every feed, as `feedwatch once` does, not only those due.
            reader.update_feeds(workers=workers, scheduled=False)

    measured(run)


def peak_mb(pid: int | str = "self") -> float | None:
    """A process's peak RSS in MB (VmHWM), or None once it is exiting.

    Not ru_maxrss: Linux carries a process's count over exec from the process it was forked
    from, so every run here would report at least the size of this script's feed server (as
    big as its bodies: 125 MB on `entertainment`) and each worker the size of its parent.
    """
    status = Path(f"/proc/{pid}/status").read_text()
    if "VmHWM:" not in status:
        return None
    return int(status.split("VmHWM:", 1)[1].split()[0]) / 1024


class WorkerPeaks(threading.Thread):
    """Samples the peak RSS of this process's worker processes while they live."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, float] = {}
        self._done = threading.Event()

    def run(self) -> None:
        import multiprocessing

        while not self._done.wait(0.1):
            for worker in multiprocessing.active_children():
                with contextlib.suppress(OSError):
                    peak = peak_mb(worker.pid)
                    if peak is not None:
                        self.peaks[worker.pid] = max(self.peaks.get(worker.pid, 0), peak)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measured(work):  # type: ignore[no-untyped-def]
    """Run work(); print wall, CPU seconds and peak RSS as JSON on stdout; return its result.

    CPU counts the worker processes that read feeds too; their peaks (`worker_mb`, each) are
    resident beside the process's own.
    """
    before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peaks = WorkerPeaks()
    peaks.start()
    started = time.perf_counter()
    result = work()
    wall = time.perf_counter() - started
    peaks.stop()
    after = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu += (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    report = {
        "wall": wall,
        "cpu": cpu,
        "peak_mb": peak_mb(),
        "worker_mb": sorted(peaks.peaks.values()),
    }
    print(json.dumps(report), file=sys.__stdout__, flush=True)
    return result


SIDES = {"feedwatch": measure_feedwatch, "reader": measure_reader}


# --- the parent: server, runs, table ------------------------------------------------------


def run_child(side: str, workdir: Path, urls_file: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        side,
        "--workdir",
        str(workdir),
        "--urls",
        str(urls_file),
        "--workers",
        str(args.workers),
        "--hosts",
        str(args.hosts),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{side} run failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument(
        "--profile", choices=sorted(PROFILES), default="simple", help="feed contents (simple)"
    )
    options.add_argument("--feeds", type=int, default=1000, help="synthetic feeds (1000)")
    options.add_argument("--latency", type=float, default=50, help="ms added per response (50)")
    options.add_argument("--workers", type=int, default=16, help="requests in flight (16)")
    options.add_argument("--hosts", type=int, default=8, help="loopback hosts serving (8)")
    options.add_argument("--child", choices=sorted(SIDES), help=argparse.SUPPRESS)
    options.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    options.add_argument("--urls", type=Path, help=argparse.SUPPRESS)
    args = options.parse_args()

    if args.child:
        urls = args.urls.read_text().split()
        SIDES[args.child](args.workdir, urls, args.workers, args.hosts)
        return

    host = FeedHost(args.hosts, args.latency / 1000, args.profile)
    results: dict[tuple[str, str], dict] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="feedwatch-bench-") as folder:
            urls_file = Path(folder) / "urls.txt"
            urls_file.write_text("\n".join(host.urls(args.feeds)))
            for side in SIDES:
                workdir = Path(folder) / side
                workdir.mkdir()
                for phase in ("cold", "warm"):
                    host.take_counts()
                    result = run_child(side, workdir, urls_file, args)
                    result["counts"] = host.take_counts()
                    results[side, phase] = result
    finally:
        host.close()
    print_table(results, args)


def resident_mb(result: dict) -> float:
    """The run's peak memory: the process's own, plus that of each feed-reading worker."""
    return result["peak_mb"] + sum(result["worker_mb"])


def print_table(results: dict[tuple[str, str], dict], args: argparse.Namespace) -> None:
    print(
        f"{args.profile}: {args.feeds} feeds x {PROFILES[args.profile]} entries, "
        f"{args.latency:g} ms latency, "
        f"{args.workers} in flight, {args.hosts} hosts"
    )
    header = (
        f"{'':<16}{'feeds/s':>9}{'CPU s':>8}{'peak MB':>9}{'workers MB':>12}{'200s':>7}{'304s':>7}"
    )
    print(header)
    for phase in ("cold", "warm"):
        for side in SIDES:
            result = results[side, phase]
            counts = result["counts"]
            workers = " + ".join(f"{mb:.0f}" for mb in result["worker_mb"]) or "-"
            print(
                f"{side + ' ' + phase:<16}{args.feeds / result['wall']:>9.1f}"
                f"{result['cpu']:>8.2f}{result['peak_mb']:>9.1f}{workers:>12}"
                f"{counts[200]:>7}{counts[304]:>7}"
            )
    print(
        "feedwatch / reader (feeds/s: higher is better; CPU, memory: lower is better; "
        "both count feed-reading worker processes)"
    )
    for phase in ("cold", "warm"):
        ours, theirs = results["feedwatch", phase], results["reader", phase]
        print(
            f"{phase:<16}{theirs['wall'] / ours['wall']:>9.2f}"
            f"{ours['cpu'] / theirs['cpu']:>8.2f}{resident_mb(ours) / resident_mb(theirs):>9.2f}"
        )


if __name__ == "__main__":
    main()
