"""End to end: `feedwatch once` over local copies of several feeds."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import feedparser
import pytest

from feedwatch.cli import main
from feedwatch.config import load
from feedwatch.pipeline import PUBLISHED_SETTING
from feedwatch.poll import parser
from feedwatch.poll.reading import to_articles
from feedwatch.publish import feeds as digest
from feedwatch.store import Store
from feedwatch.summariser import Summariser
from feedwatch.text import html_to_text

FEEDS = Path(__file__).parent / "data" / "feeds"

SHOWS = """
shows:
  - name: Jessica Jones
    keywords: [Jessica Jones, "Marvel's Jessica Jones"]
  - name: Daredevil
    keywords: [Daredevil]
  - name: Luke Cage
    keywords: [Luke Cage]
  - name: Iron Fist
    keywords: [Iron Fist]
    require_any: [Marvel, Netflix, Danny Rand]
  - name: The Defenders
    keywords: [The Defenders]
    require_any: [Marvel, Netflix]
"""

# (title, categories) of every article whose text mentions a tracked show.
EXPECTED = {
    "Daredevil: Born Again sets its second-season premiere": ["Daredevil"],
    "Krysten Ritter teases a return to Hell's Kitchen": ["Jessica Jones"],
    "Harlem's hero: Luke Cage actor joins a legal drama": ["Luke Cage"],
    "Finn Jones on whether Iron Fist could return": ["Iron Fist"],
    "Rewatch: The Defenders, eight years on": ["The Defenders"],
    "Marvel’s Jessica Jones leaves the service in December": ["Jessica Jones"],
}


def write_config(folder: Path, urls: list[str]) -> Path:
    feeds = "\n".join(f"  - url: {url}" for url in urls)
    config = folder / "feeds.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            database: sqlite:///state/feedwatch.db
            poll:
              timeout: 5s
            digest:
              path: out/digest.xml
              title: Test digest
              link: http://localhost:8080/
            """
        )
        + "feeds:\n"
        + feeds
        + "\n"
        + SHOWS,
        encoding="utf-8",
    )
    return config


@pytest.fixture
def three_feeds(server, tmp_path) -> tuple[Path, list[str]]:
    urls = [
        server.serve("/tvwire.rss", (FEEDS / "tvwire.rss").read_bytes()),
        server.serve(
            "/screenbeat.atom",
            (FEEDS / "screenbeat.atom").read_bytes(),
            content_type="application/atom+xml",
        ),
        server.serve("/streamnotes.rdf", (FEEDS / "streamnotes.rdf").read_bytes()),
    ]
    return write_config(tmp_path, urls), urls


def test_once_publishes_exactly_the_matching_articles(three_feeds, tmp_path, capsys):
    config, _ = three_feeds
    assert main(["-c", str(config), "once"]) == 0

    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    assert not digest.bozo, digest.get("bozo_exception")
    got = {entry.title: [tag.term for tag in entry.tags] for entry in digest.entries}
    assert got == EXPECTED
    # newest first
    published = [entry.published_parsed for entry in digest.entries]
    assert published == sorted(published, reverse=True)


def source_articles() -> dict[str, str]:
    """Title -> the article text feedwatch summarises, read straight from the fixtures."""
    texts = {}
    for name in ("tvwire.rss", "screenbeat.atom", "streamnotes.rdf"):
        parsed = parser.parse((FEEDS / name).read_bytes(), {}, f"https://{name}.example/")
        for article in to_articles(parsed.entries, f"https://{name}.example/"):
            texts.setdefault(article.title, article.text)
    return texts


def test_summaries_are_three_verbatim_sentences_in_order(three_feeds, tmp_path):
    config, _ = three_feeds
    assert main(["-c", str(config), "once"]) == 0
    texts = source_articles()
    summariser = Summariser()
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    for entry in digest.entries:
        text = texts[entry.title]
        sentences = summariser.summarise(text, 3)
        assert len(sentences) == 3, entry.title
        positions = [text.index(sentence) for sentence in sentences]
        assert positions == sorted(positions), entry.title
        # The description opens with exactly those sentences.
        assert html_to_text(entry.summary).startswith(" ".join(sentences)), entry.title


def test_an_article_in_two_feeds_is_listed_once(three_feeds, tmp_path):
    config, _ = three_feeds
    assert main(["-c", str(config), "once"]) == 0
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    links = [entry.link for entry in digest.entries]
    assert len(links) == len(set(links))
    assert "https://tvwire.example/2026/11/luke-cage-actor-legal-drama/?ref=home" in links
    assert not any("utm_" in link for link in links)


def test_second_cycle_is_conditional_and_changes_nothing(three_feeds, server, tmp_path, capsys):
    config, _ = three_feeds
    assert main(["-c", str(config), "once"]) == 0
    digest_path = tmp_path / "out" / "digest.xml"
    first = feedparser.parse(digest_path.read_bytes())
    first_requests = len(server.requests)

    assert main(["-c", str(config), "once"]) == 0
    second_round = server.requests[first_requests:]
    assert len(second_round) == 3
    assert all(request.status == 304 for request in second_round)
    assert all("if-none-match" in request.headers for request in second_round)

    second = feedparser.parse(digest_path.read_bytes())
    assert [(e.id, e.title, e.summary) for e in second.entries] == [
        (e.id, e.title, e.summary) for e in first.entries
    ]
    assert "0 new and 0 updated" in capsys.readouterr().out


def test_an_unchanged_digest_is_not_rendered_again_but_a_missing_or_restyled_one_is(
    three_feeds, tmp_path, monkeypatch
):
    config, _ = three_feeds
    assert main(["-c", str(config), "once"]) == 0
    out = tmp_path / "out"
    written = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    renders = []
    real_render_all = digest.render_all
    monkeypatch.setattr(
        digest, "render_all", lambda *a, **k: renders.append(1) or real_render_all(*a, **k)
    )

    assert main(["-c", str(config), "once"]) == 0  # all 304: nothing to render
    assert renders == []
    assert {path: path.read_bytes() for path in written} == written

    show_feed = out / "shows" / "daredevil.json"
    show_feed.unlink()  # a file gone is written again
    assert main(["-c", str(config), "once"]) == 0
    assert renders == [1]
    assert show_feed.read_bytes() == written[show_feed]

    # A publisher on another machine saved other feeds to the store since: this one's are
    # saved again, though its own files are as it left them.
    with closing(Store.open(load(config).database)) as store:
        store.set_setting(PUBLISHED_SETTING, "another machine's")
    assert main(["-c", str(config), "once"]) == 0
    assert renders == [1, 1]

    config.write_text(config.read_text().replace("title: Test digest", "title: Renamed"))
    assert main(["-c", str(config), "once"]) == 0  # a setting changed: rendered again
    assert renders == [1, 1, 1]
    assert feedparser.parse((out / "digest.xml").read_bytes()).feed.title == "Renamed"


def test_changed_entry_is_updated_not_duplicated(three_feeds, server, tmp_path):
    config, _urls = three_feeds
    assert main(["-c", str(config), "once"]) == 0
    body = (
        (FEEDS / "streamnotes.rdf")
        .read_text(encoding="utf-8")
        .replace("leave the service on December 31", "leave the service on January 15")
        .replace("in December</title>", "in January</title>")
    )
    server.serve("/streamnotes.rdf", body)

    assert main(["-c", str(config), "once"]) == 0
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    titles = [entry.title for entry in digest.entries]
    assert "Marvel’s Jessica Jones leaves the service in January" in titles
    assert "Marvel’s Jessica Jones leaves the service in December" not in titles
    assert len(titles) == len(EXPECTED)


def test_a_failing_feed_does_not_stop_the_others(server, tmp_path, capsys):
    urls = [
        server.serve("/broken", b"oops", status=500, content_type="text/plain"),
        server.serve("/tvwire.rss", (FEEDS / "tvwire.rss").read_bytes()),
        server.serve(
            "/page.html",
            b"<!doctype html><html><body><p>Not a feed</p></body></html>",
            content_type="text/html",
        ),
        server.url("/missing"),
    ]
    config = write_config(tmp_path, urls)
    assert main(["-c", str(config), "once"]) == 0

    err = capsys.readouterr().err
    failures = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(failures) == 3, err
    assert "Traceback" not in err
    assert any("/broken" in line and "500" in line for line in failures)
    assert any("/missing" in line and "404" in line for line in failures)

    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    assert {entry.title for entry in digest.entries} == {
        title for title in EXPECTED if title.startswith(("Daredevil", "Krysten", "Harlem"))
    }

    assert main(["-c", str(config), "feeds"]) == 0
    table = capsys.readouterr().out
    assert "HTTP 500" in table and "HTTP 404" in table
    assert "never" not in table


def test_unreachable_database_exits_1_without_traceback(server, tmp_path, capsys):
    config = write_config(
        tmp_path, [server.serve("/tvwire.rss", (FEEDS / "tvwire.rss").read_bytes())]
    )
    text = config.read_text().replace(
        "sqlite:///state/feedwatch.db", "postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    config.write_text(text)
    assert main(["-c", str(config), "once"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("feedwatch: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


HEAVY = ("numpy", "sumy", "nltk", "pysbd", "trafilatura")


def modules_loaded_by(code: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has loaded after running `code`."""
    report = f"import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], capture_output=True, text=True, check=True
    )
    return ast.literal_eval(done.stdout.strip())


def test_the_heavy_libraries_load_only_when_something_needs_them():
    # A cycle with nothing to summarise and no page to fetch needs none of them.
    assert modules_loaded_by("import feedwatch.cli, feedwatch.pipeline") == []
    summarise = "from feedwatch.summariser import Summariser\n"
    text = "Daredevil returns in March. The cast is back. Filming ended. Fans cheered."
    # Summarising loads sumy's document model, pysbd and numpy, but never trafilatura; on
    # English the default ranker stems nothing, so NLTK (sumy's stemmers) stays unloaded too.
    default = f"{summarise}Summariser().summarise({text!r}, 2)"
    assert modules_loaded_by(default) == ["numpy", "pysbd", "sumy"]
    # sumy's own rankers and other languages stem with sumy's stemmers, from NLTK.
    german = f"{summarise}Summariser().summarise({text!r}, 2, 'de')"
    assert modules_loaded_by(german) == ["nltk", "numpy", "pysbd", "sumy"]


def refuse_saves(monkeypatch, refused: Callable[[str, bool], bool]) -> None:
    """Make Store.record_polls raise StoreError for a batch holding a poll for which
    refused(feed_url, has_articles)."""
    from feedwatch.errors import StoreError
    from feedwatch.store import Store

    record_polls = Store.record_polls

    def failing(self, intents):
        if any(refused(intent.url, bool(intent.entries)) for intent in intents):
            raise StoreError("database test: value refused")
        return record_polls(self, intents)

    monkeypatch.setattr(Store, "record_polls", failing)


def test_a_feed_the_database_refuses_does_not_stop_the_others(
    three_feeds, tmp_path, capsys, monkeypatch
):
    config, urls = three_feeds
    tvwire = urls[0]
    # Its articles are refused; recording the failure itself still works.
    refuse_saves(monkeypatch, lambda url, has_articles: url == tvwire and has_articles)
    assert main(["-c", str(config), "once"]) == 0

    err = capsys.readouterr().err
    failures = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(failures) == 1 and tvwire in failures[0] and "value refused" in failures[0], err
    assert "Traceback" not in err
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    titles = {entry.title for entry in digest.entries}
    # The other feeds' matches are there.
    assert "Rewatch: The Defenders, eight years on" in titles  # screenbeat
    assert "Marvel’s Jessica Jones leaves the service in December" in titles  # streamnotes
    assert "Krysten Ritter teases a return to Hell's Kitchen" not in titles  # tvwire only

    assert main(["-c", str(config), "feeds"]) == 0
    assert "value refused" in capsys.readouterr().out  # recorded against the feed


def test_a_feed_whose_articles_the_database_itself_refuses_does_not_stop_the_others(
    three_feeds, tmp_path, capsys
):
    import sqlite3

    from feedwatch.store import Store

    config, urls = three_feeds
    database = tmp_path / "state" / "feedwatch.db"
    Store.open(f"sqlite:///{database}").close()
    with sqlite3.connect(database) as db:
        # One tvwire article: the batch holding it fails, then that poll alone.
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON articles"
            " WHEN new.title = 'Krysten Ritter teases a return to Hell''s Kitchen'"
            " BEGIN SELECT RAISE(ABORT, 'value refused'); END"
        )
    assert main(["-c", str(config), "once"]) == 0

    err = capsys.readouterr().err
    failures = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(failures) == 1 and urls[0] in failures[0] and "value refused" in failures[0], err
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    titles = {entry.title for entry in digest.entries}
    assert "Rewatch: The Defenders, eight years on" in titles  # screenbeat
    assert "Marvel’s Jessica Jones leaves the service in December" in titles  # streamnotes
    assert "Krysten Ritter teases a return to Hell's Kitchen" not in titles
    assert main(["-c", str(config), "feeds"]) == 0
    assert "value refused" in capsys.readouterr().out  # recorded against the feed


def test_a_feed_whose_failure_cannot_be_recorded_does_not_stop_the_others(
    three_feeds, tmp_path, capsys, monkeypatch
):
    config, urls = three_feeds
    refuse_saves(monkeypatch, lambda url, _: url == urls[0])
    assert main(["-c", str(config), "once"]) == 0
    err = capsys.readouterr().err
    failures = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(failures) == 1 and urls[0] in failures[0], err
    digest = feedparser.parse((tmp_path / "out" / "digest.xml").read_bytes())
    assert "Rewatch: The Defenders, eight years on" in {entry.title for entry in digest.entries}


def test_a_database_that_records_no_poll_at_all_exits_1(three_feeds, tmp_path, capsys, monkeypatch):
    config, _ = three_feeds
    refuse_saves(monkeypatch, lambda url, has_articles: True)
    assert main(["-c", str(config), "once"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("feedwatch:")] == [
        "feedwatch: database test: value refused"
    ]
    assert not (tmp_path / "out" / "digest.xml").exists()


def test_entry_markup_reaches_the_store_as_plain_text_and_its_link_resolved() -> None:
    # feedparser neither sanitises nor resolves entry HTML (poll/parser.py): the text is all
    # that is kept, so no script, handler or style survives, and the entry's own link is
    # still made absolute against the feed's URL.
    document = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <item><title>Daredevil &lt;script&gt;alert(1)&lt;/script&gt;returns</title>
    <link>/news/daredevil</link><guid>g1</guid>
    <description><![CDATA[<p onclick="steal()">The season opens.</p><script>alert(2)</script>
    <style>p { color: red }</style><img src="x" onerror="alert(3)">
    <a href="javascript:x()">More</a>]]></description>
    </item></channel></rss>"""
    feed = parser.parse(document, {"content-type": "application/rss+xml"}, "https://tv.example/rss")
    [article] = to_articles(feed.entries, "https://tv.example/rss")
    assert article.url == "https://tv.example/news/daredevil"
    assert article.title == "Daredevil returns"
    assert article.summary == "The season opens.\n\nMore"
    for unsafe in ("alert", "steal", "color", "javascript", "<"):
        assert unsafe not in article.title + article.summary + article.body
