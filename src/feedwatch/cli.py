"""The `feedwatch` command: check, once, prune, feeds, summarize, articles, match, stories,
run, serve, import, export, add.

Exit status: 0 done, 1 could not run (database unreachable, unreadable input, or an internal
error), 2 bad config or usage, 130 interrupted (Ctrl-C; `run` and `serve` stop gracefully instead).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from feedwatch import __version__, collector, config, logs
from feedwatch.errors import ConfigError, FeedwatchError
from feedwatch.text import printable
from feedwatch.urls import mask_password

if TYPE_CHECKING:
    from feedwatch.models import FeedReport
    from feedwatch.poll.http import Fetcher
    from feedwatch.store import Store

log = logging.getLogger("feedwatch")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_INTERRUPTED = 128 + 2  # the shell's status for a process ended by SIGINT
MAX_LIMIT = 1_000_000  # articles listed at most
# Seconds `once` waits for another `once` on the same SQLite database; a daemon holds it for
# good, so `once` beside `run` fails after this, saying so.
ONCE_WAIT = 3.0
# Seconds `serve` answers from the files, without trying again, after the database failed.
STORE_RETRY_SECONDS = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    try:
        return int(args.command(args))
    except ConfigError as exc:
        print(f"feedwatch: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except FeedwatchError as exc:
        print(f"feedwatch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # Output piped into `head` or a pager that quit: nothing is wrong, nothing to say.
        # stdout is pointed at /dev/null so the interpreter's own flush at exit is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        # `run` and `serve` catch SIGINT themselves (a graceful stop, status 0); this is any
        # other command cut short, which must not look like it finished.
        print("feedwatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # A bug: one line for the user, the traceback for whoever asks for it.
        log.debug("internal error", exc_info=True)
        print(
            f"feedwatch: internal error: {logs.described(exc)} "
            "(run with --log-level debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _arguments() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="feedwatch", description="Follow the TV shows you track across entertainment feeds."
    )
    _common_options(top, defaults=True)
    # The same options after the command name; SUPPRESS keeps a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, defaults=False)
    top.add_argument("--version", action="version", version=f"feedwatch {__version__}")
    commands = top.add_subparsers(title="commands", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check", parents=[common], help="validate the config and summarise it"
    )
    check.set_defaults(command=_check)

    once = commands.add_parser(
        "once",
        parents=[common],
        help="run one full cycle over every feed (but gone or told to wait) and exit",
    )
    once.add_argument(
        "--due", action="store_true", help="poll only the feeds whose next poll time has come"
    )
    once.add_argument(
        "--roundup",
        action="store_true",
        help="also write today's roundup now: one item per show listing the last day's stories",
    )
    once.set_defaults(command=_once)

    prune = commands.add_parser(
        "prune",
        parents=[common],
        help="delete the stored articles older than the retention settings allow, now",
    )
    prune.set_defaults(command=_prune)

    feeds = commands.add_parser(
        "feeds", parents=[common], help="show the state of every configured feed"
    )
    feeds.add_argument(
        "--reset",
        metavar="URL",
        help="poll this feed afresh at its configured URL: forget gone, back-off and redirect",
    )
    feeds.set_defaults(command=_feeds)

    summarize = commands.add_parser(
        "summarize", parents=[common], help="summarise text or HTML files (stdin when none)"
    )
    summarize.add_argument("files", nargs="*", metavar="FILE")
    summarize.add_argument(
        "--sentences",
        type=_positive,
        metavar="N",
        help="sentences per summary (default: the config's summary.sentences, else 3)",
    )
    summarize.add_argument(
        "--language",
        metavar="CODE",
        help="ISO 639-1 code of the texts' language, e.g. de (default, or when the summariser "
        "does not handle it: detected per file, else English)",
    )
    summarize.add_argument("--json", action="store_true", help="print one JSON object per line")
    summarize.set_defaults(command=_summarize)

    articles = commands.add_parser(
        "articles",
        parents=[common],
        help="list the stored matched articles, newest first, with the phrase each show matched",
    )
    articles.add_argument("--show", metavar="NAME", help="only the articles this show matched")
    articles.add_argument(
        "--since",
        type=_duration_argument,
        metavar="DURATION",
        help="only the articles dated within this long, e.g. 12h or 7d",
    )
    articles.add_argument(
        "--limit",
        type=_limit,
        default=20,
        metavar="N",
        help=f"at most N articles (default: 20; at most {MAX_LIMIT:,})",
    )
    articles.add_argument("--json", action="store_true", help="print one JSON object per line")
    articles.set_defaults(command=_articles)

    match = commands.add_parser(
        "match",
        parents=[common],
        help="say which shows a text, HTML file or web page matches, and why; stores nothing",
        description="Run the configured shows on a text, an HTML file or a web page (its "
        "article text, extracted as when polling) and say for each show whether it matches "
        "and why. Nothing is stored.",
        epilog="Exit status: 0 when at least one show matched, 1 when none did, 2 for bad "
        "usage or input that cannot be read or fetched.",
    )
    match.add_argument(
        "source",
        nargs="?",
        default="-",
        metavar="FILE|URL|-",
        help="a text or HTML file, an http(s) URL, or - for stdin (the default)",
    )
    match.set_defaults(command=_match)

    stories = commands.add_parser(
        "stories",
        parents=[common],
        help="group articles given as JSON lines (stdin when no file) into stories",
    )
    stories.add_argument("files", nargs="*", metavar="FILE")
    stories.set_defaults(command=_stories)

    run = commands.add_parser(
        "run", parents=[common], help="run the daemon: poll feeds and serve the digest over HTTP"
    )
    run.add_argument(
        "--no-serve",
        dest="serve",
        action="store_false",
        help="poll and store without the HTTP server (one of several workers on PostgreSQL)",
    )
    run.set_defaults(command=_run)

    serve = commands.add_parser(
        "serve", parents=[common], help="serve the digest over HTTP without polling"
    )
    serve.set_defaults(command=_serve)

    import_ = commands.add_parser(
        "import", parents=[common], help="add the feeds of an OPML file to the config file"
    )
    import_.add_argument("opml_file", metavar="FILE.opml")
    import_.set_defaults(command=_import)

    export = commands.add_parser(
        "export", parents=[common], help="write the configured feeds as OPML (stdout without FILE)"
    )
    export.add_argument("opml_file", nargs="?", metavar="FILE")
    export.set_defaults(command=_export)

    add = commands.add_parser(
        "add",
        parents=[common],
        help="add a feed to the config file, or the feed a web page advertises",
    )
    add.add_argument("url", metavar="URL")
    add.add_argument("--title", help="the feed's name in feedwatch (default: the feed's own)")
    add.set_defaults(command=_add)
    return top


def _common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        default=None if defaults else argparse.SUPPRESS,
        help=f"config file (default: ${config.ENV_VAR}, else {config.DEFAULT_PATH})",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info" if defaults else argparse.SUPPRESS,
        help="how much to log on stderr (default: info)",
    )
    parser.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default="text" if defaults else argparse.SUPPRESS,
        help="log lines as plain text or one JSON object each (default: text)",
    )


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _limit(value: str) -> int:
    # A database's integers end somewhere; a listing longer than this is no listing.
    number = _positive(value)
    if number > MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_LIMIT:,}, got {value!r}")
    return number


def _duration_argument(value: str) -> timedelta:
    try:
        return config.parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    _check_surroundings(cfg)
    print(f"{cfg.source}: ok")
    print(f"database: {mask_password(cfg.database)}")
    print(f"digest: {cfg.digest.path} (at most {cfg.digest.max_items} items)")
    print(f"{len(cfg.feeds)} feeds:")
    for feed in cfg.feeds:
        every = _duration(cfg.interval_for(feed).total_seconds())
        print(
            f"  {feed.title or feed.url}  every {every}" + (f"  {feed.url}" if feed.title else "")
        )
    print(f"{len(cfg.shows)} shows:")
    for show in cfg.shows:
        rules = ", ".join(show.keywords)
        if show.require_any:
            rules += f"; needs one of: {', '.join(show.require_any)}"
        if show.exclude:
            rules += f"; not with: {', '.join(show.exclude)}"
        print(f"  {show.name}: {rules}")
    return EXIT_OK


def _check_surroundings(cfg: config.Config) -> None:
    """What `once` and `run` would stumble on that the file alone does not show: a database
    driver that is not installed, a digest that cannot be written. Connects to nothing."""
    from feedwatch.errors import StoreError
    from feedwatch.store import check_url

    problems = []
    try:
        check_url(cfg.database)
    except StoreError as exc:
        problems.append(f"{cfg.source}: database: {exc}")
    unwritable = _unwritable(cfg.digest.path)
    if unwritable:
        problems.append(f"{cfg.source}: digest.path: {unwritable}")
    if problems:
        raise ConfigError("\n".join(problems))


def _unwritable(path: Path) -> str | None:
    """Why the digest could not be written to `path` (folders made as needed); None if it could."""
    try:
        if path.is_dir():
            return f"{path} is a folder"
        # The nearest folder that exists is where the first missing one would be made.
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            return f"cannot create folder {path.parent}: {folder} is not a folder"
    except OSError as exc:
        return f"cannot reach {path}: {exc.strerror or exc}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in folder {folder}"
    return None


def _once(args: argparse.Namespace) -> int:
    from feedwatch.pipeline import Pipeline
    from feedwatch.poll.processes import Readers

    collector.tune()
    cfg = config.load(args.config)
    with (
        _open_store(cfg, "once") as store,
        _fetcher(cfg) as fetcher,
        closing(Readers(cfg.poll.processes)) as readers,
    ):
        pipeline = Pipeline(cfg, store, fetcher, readers=readers)
        if args.roundup:
            pipeline.note_roundup(pipeline.clock())
        report = pipeline.run_cycle(pipeline.due(pipeline.clock()) if args.due else None)
        _new_database_line(store)
    skipped = len(cfg.feeds) - len(report.polls)
    why = "not due, gone or told to wait" if args.due else "gone or told to wait"
    print(
        f"{len(report.polls)} feeds polled ({len(report.failed)} failed"
        + (f"; {skipped} skipped: {why}" if skipped else "")
        + "), "
        f"{sum(poll.new for poll in report.polls)} new and "
        f"{sum(poll.updated for poll in report.polls)} updated articles, "
        f"{report.summarised} summarised; "
        f"digest: {report.digest_items} items in {report.digest_path}"
    )
    return EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    from feedwatch.pipeline import Pipeline

    cfg = config.load(args.config)
    with _open_store(cfg) as store, _fetcher(cfg) as fetcher:
        pipeline = Pipeline(cfg, store, fetcher)
        report = pipeline.prune(pipeline.clock())
        # Matched articles past retention leave the digest at once.
        items = pipeline.publish()[1] if report.matched else None
    print(
        f"deleted {report.unmatched} unmatched and {report.matched} matched articles; "
        f"let go of {report.forgotten} entries no feed lists any more"
        + (f"; digest: {items} items in {cfg.digest.path}" if items is not None else "")
    )
    return EXIT_OK


def _feeds(args: argparse.Namespace) -> int:
    from feedwatch import policy

    cfg = config.load(args.config)
    if args.reset and args.reset not in {feed.url for feed in cfg.feeds}:
        print(f"feedwatch: {args.reset} is not a feed in {cfg.source}", file=sys.stderr)
        return EXIT_CONFIG
    with _open_store(cfg) as store:
        store.sync_feeds(
            [(feed.url, feed.title) for feed in cfg.feeds], policy.fingerprints(cfg.feeds)
        )
        if args.reset:
            store.reset_feed(args.reset)
            print(f"{args.reset}: reset; it is polled afresh at the next cycle")
        reports = {report.url: report for report in store.feed_reports()}
        _new_database_line(store)
    now = datetime.now(UTC)
    rows = [
        (
            "FEED",
            "LAST FETCH (UTC)",
            "STATUS",
            "ARTICLES",
            "NEXT POLL (UTC)",
            "BACK-OFF",
            "MOVED TO",
            "LAST ERROR",
        )
    ]
    for feed in cfg.feeds:
        report = reports[feed.url]
        rows.append(
            (
                feed.title or report.title or feed.url,
                _when(report.last_fetched) if report.last_fetched else "never",
                str(report.last_status) if report.last_status is not None else "-",
                str(report.articles),
                report.next_poll_label(now, _when),
                _back_off(report, now),
                report.moved_to or "-",
                report.last_error or "",
            )
        )
    # Titles, redirect targets and errors came from the network: no escape reaches the terminal.
    rows = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    return EXIT_OK


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _back_off(report: FeedReport, now: datetime) -> str:
    if not report.errors or report.gone_since:
        return "-"
    failures = f"{report.errors} failure" + ("s" if report.errors > 1 else "")
    if report.retry_after and report.retry_after > now:
        return f"{failures}, told to wait"
    return failures


def _summarize(args: argparse.Namespace) -> int:
    from feedwatch import language
    from feedwatch.summariser import Summariser
    from feedwatch.text import html_to_text

    cfg = _optional_config(args.config)
    count = args.sentences or (cfg.summary.sentences if cfg else 3)
    summariser = Summariser(cfg.summary.algorithm) if cfg else Summariser()
    status = EXIT_OK
    sources = args.files or ["-"]
    for index, path in enumerate(sources):
        try:
            raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as exc:
            print(f"feedwatch: {path}: {exc.strerror or exc}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        text = raw.decode("utf-8", errors="replace")
        if _looks_like_html(path, text):
            text = html_to_text(text)
        sentences = summariser.summarise(text, count, language.choose(args.language, text))
        if args.json:
            print(json.dumps({"path": path, "sentences": list(sentences)}, ensure_ascii=False))
            continue
        if len(sources) > 1:
            print(("\n" if index else "") + f"==> {path} <==")
        for sentence in sentences:
            print(sentence)
    return status


def _articles(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    show = None
    if args.show is not None:
        names = {entry.name.casefold(): entry.name for entry in cfg.shows}
        show = names.get(args.show.strip().casefold())
        if show is None:
            configured = ", ".join(entry.name for entry in cfg.shows) or "none"
            print(
                f"feedwatch: no show named {args.show!r} in {cfg.source}; "
                f"the configured shows are: {configured}",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    since = datetime.now(UTC) - args.since if args.since else None
    with _open_store(cfg) as store:
        found = store.matched_articles(limit=args.limit, show=show, since=since)
    if args.json:
        for article in found:
            record = {
                "date": article.published.isoformat(),
                "feed": {"url": article.feed_url, "title": article.feed_title},
                "title": article.title,
                "link": article.link,
                "shows": [{"show": m.show, "phrase": m.phrase} for m in article.matches],
            }
            print(json.dumps(record, ensure_ascii=False))
        return EXIT_OK
    if not found:
        which = f" for {show}" if show else ""
        within = f" in the last {_duration(args.since.total_seconds())}" if args.since else ""
        print(f"no matched articles stored{which}{within} (`feedwatch once` polls the feeds)")
        return EXIT_OK
    width = max(shutil.get_terminal_size().columns, 40)
    for article in found:
        # Titles and feed names came from the network: no escape reaches the terminal.
        print(_fit(f"{_when(article.published)[:16]}  {printable(article.title)}", width))
        # No-break spaces keep each show and its phrase on one line (textwrap splits only
        # at ASCII whitespace).
        shows = ", ".join(
            (f'{m.show} ("{m.phrase}")' if m.phrase else m.show).replace(" ", "\u00a0")
            for m in article.matches
        )
        wrapped = textwrap.fill(
            f"{printable(article.feed_title)}: {shows}",
            width=width,
            initial_indent=" " * 18,
            subsequent_indent=" " * 20,
        )
        print(wrapped.replace("\u00a0", " "))
    return EXIT_OK


def _fit(line: str, width: int) -> str:
    """`line` cut to `width` characters, the cut marked."""
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _match(args: argparse.Namespace) -> int:
    from feedwatch.matcher import Matcher, Verdict
    from feedwatch.models import Article

    cfg = config.load(args.config)
    try:
        text = _text_to_match(cfg, args.source)
    except FeedwatchError as exc:
        print(f"feedwatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    article = Article(entry_id="", url=None, title="", summary="", body=text, published=None)
    explained = Matcher(cfg.shows).explain(article)
    for each in explained:
        quoted = ", ".join(f'"{phrase}"' for phrase in each.phrases)
        if each.verdict is Verdict.MATCHED:
            why = f'matches: keyword "{each.keyword}"' + (f", context {quoted}" if quoted else "")
        elif each.verdict is Verdict.EXCLUDED:
            why = f'no match: keyword "{each.keyword}" found, but so is exclude phrase {quoted}'
        elif each.verdict is Verdict.NO_CONTEXT:
            why = (
                f'no match: keyword "{each.keyword}" found, but none of its require_any '
                f"phrases: {quoted}"
            )
        else:
            why = "no match: no keyword found"
        print(f"{each.show}: {why}")
    return EXIT_OK if any(each.matched for each in explained) else EXIT_FAILED


def _text_to_match(cfg: config.Config, source: str) -> str:
    """The text `feedwatch match` runs the shows on: a page's article text as polling
    extracts it, an HTML file's the same way, a text file as it is. Raises FeedwatchError."""
    from feedwatch.errors import FetchError
    from feedwatch.poll import extractor, pages
    from feedwatch.poll.netguard import AddressGuard
    from feedwatch.urls import http_host

    if http_host(source) is not None:
        guard = None if cfg.fetch.allow_private else AddressGuard()
        with _fetcher(cfg) as fetcher:
            page = pages.fetch_page(fetcher, source, guard)
        if page.text is None:
            raise FetchError(f"{source}: {page.error}", source)
        return page.text
    name = "<stdin>" if source == "-" else source
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise FeedwatchError(f"{name}: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace")
    if not _looks_like_html(source, text):
        return text
    where = Path(source).resolve().as_uri() if source != "-" else "file:///dev/stdin"
    extracted = extractor.extract(raw, where)
    if extracted is None:
        raise FeedwatchError(f"{name}: no article text found on the page")
    return extracted


def _stories(args: argparse.Namespace) -> int:
    from feedwatch import stories

    # Everything is read before anything is printed: bad input leaves no half an answer.
    articles = []
    for path in args.files or ["-"]:
        name = "<stdin>" if path == "-" else path
        try:
            raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as exc:
            print(f"feedwatch: {name}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILED
        for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                articles.append(stories.read_article(line))
            except stories.StoryError as exc:
                print(f"feedwatch: {name}, line {number}: {exc}", file=sys.stderr)
                return EXIT_CONFIG
    for article, story in zip(articles, stories.cluster(articles), strict=True):
        print(json.dumps({"id": article.id, "story": story}, ensure_ascii=False))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from feedwatch.daemon import Daemon, Signals
    from feedwatch.metrics import Metrics
    from feedwatch.pipeline import Pipeline
    from feedwatch.poll.processes import Readers
    from feedwatch.publish import web as server

    collector.tune()
    cfg = config.load(args.config)
    with (
        _open_store(cfg, "run") as store,
        _fetcher(cfg) as fetcher,
        closing(Readers(cfg.poll.processes)) as readers,
    ):
        metrics = Metrics()
        daemon = Daemon(Pipeline(cfg, store, fetcher, readers=readers), metrics)
        # Bound before polling starts, so a port in use stops the command at once.
        app = server.App(
            lambda: daemon.config.digest.path,
            metrics,
            daemon.health,
            config=lambda: daemon.config,
            store=lambda: store,
        )
        web = server.DigestServer(app, cfg.server.host, cfg.server.port) if args.serve else None
        try:
            with Signals() as signals:
                daemon.start()
                if web is not None:
                    web.start()
                log.info(
                    "feedwatch %s (worker %s): polling %d feeds; digest at %s, %s",
                    __version__,
                    daemon.owner,
                    len(cfg.feeds),
                    cfg.digest.path,
                    "not served" if web is None else f"served at {web.url}/feed.xml",
                )
                stopped_by = signals.wait(on_reload=lambda: daemon.reload("SIGHUP"))
                log.info("%s: stopping", stopped_by)
        finally:
            daemon.stop()
            if web is not None:
                web.close()
    log.info("stopped")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import threading
    import time

    from feedwatch.daemon import Signals, log_reload_failure
    from feedwatch.errors import StoreError
    from feedwatch.metrics import Metrics
    from feedwatch.publish import web as server
    from feedwatch.store import Store

    current = [config.load(args.config)]

    def reload() -> None:
        try:
            current[0] = config.load(current[0].source)
        except Exception as exc:  # a reload never ends the server
            log_reload_failure("SIGHUP", exc)
            return
        log.info("config reloaded (SIGHUP): digest at %s", current[0].digest.path)

    # The pages and feeds read the store; it is opened at the first asked for, and again after
    # a failure, so that the feeds (from their files) and /healthz are served whether or not
    # the database can be. Not at every request while it fails: each would wait out the
    # connect timeout of a server that does not answer, the others queued behind it.
    opened: dict[str, Store] = {}
    failed: dict[str, tuple[float, str]] = {}  # by database: when it last failed, and why
    opening = threading.Lock()

    def store() -> Store:
        database = current[0].database
        with opening:
            if database not in opened:
                when, why = failed.get(database, (-STORE_RETRY_SECONDS, ""))
                if time.monotonic() - when < STORE_RETRY_SECONDS:
                    raise StoreError(why)
                for stale in opened.values():
                    stale.close()
                opened.clear()
                try:
                    opened[database] = Store.open(database)
                except StoreError as exc:
                    failed[database] = (time.monotonic(), str(exc))
                    raise
                failed.pop(database, None)
            return opened[database]

    cfg = current[0]
    app = server.App(
        lambda: current[0].digest.path,
        Metrics(),
        lambda: {"polling": False},
        config=lambda: current[0],
        store=store,
    )
    web = server.DigestServer(app, cfg.server.host, cfg.server.port)
    try:
        with Signals() as signals:
            web.start()
            log.info(
                "feedwatch %s: serving %s at %s/feed.xml", __version__, cfg.digest.path, web.url
            )
            log.info("%s: stopping", signals.wait(on_reload=reload))
    finally:
        web.close()
        for kept in opened.values():
            kept.close()
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from feedwatch import config_file, opml
    from feedwatch.errors import SubscriptionError

    path = config.resolve_path(args.config)
    try:
        document = Path(args.opml_file).read_bytes()
        feeds = opml.parse(document, args.opml_file)
    except OSError as exc:
        print(f"feedwatch: {args.opml_file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG
    except SubscriptionError as exc:
        print(f"feedwatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    added = config_file.add_feeds(path, feeds)
    for feed in added:
        print(f"added: {feed.url}" + (f"  ({feed.title})" if feed.title else ""))
    print(f"{len(added)} feeds added to {path}; {len(feeds) - len(added)} already there")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from feedwatch import files, opml

    document = opml.render_config(config.load(args.config))
    if args.opml_file is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return EXIT_OK
    try:
        files.replace(Path(args.opml_file), document)
    except OSError as exc:
        print(f"feedwatch: {args.opml_file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _add(args: argparse.Namespace) -> int:
    from feedwatch import config_file
    from feedwatch.errors import SubscriptionError
    from feedwatch.models import FeedLink
    from feedwatch.poll import discover
    from feedwatch.urls import http_host

    url = args.url.strip()
    if http_host(url) is None:
        print(f"feedwatch: {url!r} is not an http:// or https:// URL", file=sys.stderr)
        return EXIT_CONFIG
    cfg = config.load(args.config)
    try:
        with _fetcher(cfg) as fetcher:
            feeds = discover.find_feeds(fetcher, url)
    except SubscriptionError as exc:
        print(f"feedwatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if len(feeds) > 1:
        print(
            f"feedwatch: {url} advertises {len(feeds)} feeds; add one of them by its URL",
            file=sys.stderr,
        )
        for feed in feeds:
            label = f"  {feed.title}" if feed.title else ""
            print(f"{feed.url}{label} [{feed.type}]")
        return EXIT_CONFIG
    feed = FeedLink(feeds[0].url, args.title or feeds[0].title)
    if not config_file.add_feeds(cfg.source, [feed]):
        print(f"{feed.url} is already in {cfg.source}")
        return EXIT_OK
    print(f"added: {feed.url}" + (f"  ({feed.title})" if feed.title else ""))
    return EXIT_OK


# The heavy modules (SQLAlchemy, sumy, httpx) load only in the commands that need them,
# so `check` and `--help` answer at once.
@contextmanager
def _open_store(cfg: config.Config, polling: str | None = None) -> Iterator[Store]:
    """The store; with `polling` (the command's name), a SQLite database is first locked for
    it (store/lock.py): `run` refuses at once to share it, `once` waits up to ONCE_WAIT."""
    from feedwatch.store import Store, lock

    wait = ONCE_WAIT if polling == "once" else 0.0
    with (
        lock.hold(cfg.database, polling, wait) if polling else nullcontext(),
        closing(Store.open(cfg.database)) as store,
    ):
        yield store


def _new_database_line(store: Store) -> None:
    # Said plainly: where a database existed before, this means it was lost.
    if store.created:
        print(f"created a new database at {store.location}")


def _fetcher(cfg: config.Config) -> Fetcher:
    from feedwatch.poll.http import Fetcher

    return Fetcher(timeout=cfg.poll.timeout.total_seconds(), max_bytes=cfg.poll.max_bytes)


def _optional_config(path: str | None) -> config.Config | None:
    """The config when one was named or the default exists; `summarize` works without one."""
    if path is None and not config.resolve_path(None).exists():
        return None
    return config.load(path)


_HTML_MARKERS = ("<html", "<!doctype html", "<body", "<p>", "<div", "<article")


def _looks_like_html(path: str, text: str) -> bool:
    if path.lower().endswith((".html", ".htm", ".xhtml")):
        return True
    head = text[:2048].lower()
    return any(tag in head for tag in _HTML_MARKERS)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
