"""Story clustering: which articles are one story, and `feedwatch stories` as a user runs it."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedwatch.cli import main
from feedwatch.config import ShowSettings
from feedwatch.matcher import Matcher
from feedwatch.poll import parser
from feedwatch.poll.reading import to_articles
from feedwatch.stories import (
    DEFAULT_WINDOW,
    Clusterer,
    StoryArticle,
    StoryError,
    cluster,
    read_article,
)

DATA = Path(__file__).parent / "data" / "stories"
FEEDS = Path(__file__).parent / "data" / "feeds"
MARVEL = DATA / "marvel.jsonl"
BENCH = Path(__file__).resolve().parents[1] / "bench" / "stories.py"
CLUSTERING = BENCH.with_name("clustering.py")


def marvel() -> list[StoryArticle]:
    return [read_article(line) for line in MARVEL.read_text(encoding="utf-8").splitlines()]


def stories_of(articles: list[StoryArticle], **kwargs) -> dict[str, str]:
    return dict(zip([a.id for a in articles], cluster(articles, **kwargs), strict=True))


def test_different_headlines_about_one_casting_are_one_story():
    story = stories_of(marvel())
    # "Hart of Dixie Alum Joins Marvel's Daredevil as the Villain Poindexter" shares no more
    # than the show's name with Deadline's headline; the names in the text carry it.
    assert story["tvline-bethel"] == story["ew-bethel"] == story["deadline-bethel"]
    assert story["deadline-bethel"] == "deadline-bethel"


def matched_fixture_articles() -> list[StoryArticle]:
    """The articles `feedwatch once` stores from tests/data/feeds with Marvel's Netflix shows
    tracked (test_cycle.py), in the order it stores them, as the daemon clusters them: one per
    canonical URL, only those matching a show."""
    matcher = Matcher(
        [
            ShowSettings(
                name="Jessica Jones", keywords=["Jessica Jones", "Marvel's Jessica Jones"]
            ),
            ShowSettings(name="Daredevil", keywords=["Daredevil"]),
            ShowSettings(name="Luke Cage", keywords=["Luke Cage"]),
            ShowSettings(
                name="Iron Fist",
                keywords=["Iron Fist"],
                require_any=["Marvel", "Netflix", "Danny Rand"],
            ),
            ShowSettings(
                name="The Defenders", keywords=["The Defenders"], require_any=["Marvel", "Netflix"]
            ),
        ]
    )
    articles: dict[str, StoryArticle] = {}
    for name in ("tvwire.rss", "screenbeat.atom", "streamnotes.rdf"):
        feed_url = f"https://{name.partition('.')[0]}.example/feed"
        parsed = parser.parse((FEEDS / name).read_bytes(), {}, feed_url)
        for article in to_articles(parsed.entries, feed_url):
            if article.url not in articles and matcher.match(article):
                articles[article.url] = StoryArticle(
                    id=article.title,
                    title=article.title,
                    text=article.text,
                    url=article.url,
                    source=parsed.title,
                    published=article.published,
                )
    return list(articles.values())


def test_a_few_articles_on_the_same_shows_are_each_their_own_story():
    articles = matched_fixture_articles()
    # Six matches, the Luke Cage actor's casting carried by two feeds already one article.
    assert len(articles) == 6
    # "Jessica Jones leaves the service" shares "Jones", "Marvel" and "Netflix" with Finn
    # Jones on Iron Fist, and the show's name with Krysten Ritter's convention talk: none is
    # its event. Too few articles for rarity to say so: the names must.
    assert cluster(articles) == [article.id for article in articles]


def test_two_outlets_on_one_casting_join_among_a_few_articles():
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    casting = StoryArticle(
        "screen-lillard",
        "'Daredevil: Born Again' casts Matthew Lillard in a mystery role",
        text="Matthew Lillard has joined the second season of Daredevil: Born Again in an "
        "undisclosed role, Disney+ said. The Scream actor starts shooting next month.",
        url="https://screendaily.example/born-again-lillard",
        source="Screen Daily",
        published=start,
    )
    premiere = StoryArticle(
        "wire-premiere",
        "Daredevil: Born Again sets a March premiere for its second season",
        text="The second season of Daredevil: Born Again arrives on Disney+ in March. The "
        "first teaser shows the vigilante back on the streets.",
        url="https://tvwire.example/born-again-march",
        source="TV Wire",
        published=start + timedelta(hours=1),
    )
    same_casting = StoryArticle(
        "beat-lillard",
        "Scream star boards Marvel's Born Again",
        text="Scream and Scooby-Doo actor Matthew Lillard is the latest addition to the cast of "
        "Daredevil: Born Again, in a role Marvel keeps under wraps.",
        url="https://screenbeat.example/lillard-born-again",
        source="Screenbeat",
        published=start + timedelta(hours=2),
    )
    # The premiere shares the show and "Disney+" with the casting: no second name of its event.
    assert cluster([casting, premiere, same_casting]) == [
        "screen-lillard",
        "wire-premiere",
        "screen-lillard",
    ]


def test_an_entry_whose_text_is_its_title_joins_as_a_headline():
    # A feed entry without text has its title as its text; it says no more than a headline.
    delayed, dated = "Titanfall delayed on Xbox One", "Respawn confirms Titanfall date"
    articles = [
        StoryArticle("a", delayed, text=delayed, source="Kotaku"),
        StoryArticle("b", dated, text=dated, source="Polygon"),
    ]
    assert cluster(articles) == ["a", "a"]
    assert cluster([replace(article, text="") for article in articles]) == ["a", "a"]


def test_a_casting_and_a_renewal_of_the_same_show_are_two_stories():
    story = stories_of(marvel())
    assert story["deadline-renewal"] == story["tvline-renewal"] == "deadline-renewal"
    assert story["deadline-renewal"] != story["deadline-bethel"]
    # A renewal of another show on the same network is another event again.
    assert story["variety-renewal"] == "variety-renewal"


def test_a_story_can_span_shows():
    story = stories_of(marvel())
    # Iron Fist cancelled, then an article on Luke Cage and Iron Fist both being cancelled.
    assert story["collider-defenders"] == story["thr-cancel"] == "thr-cancel"


def test_one_outlets_articles_on_one_subject_are_different_events():
    start = datetime(2026, 2, 10, 9, tzinfo=UTC)
    gas = StoryArticle(
        "dw-gas",
        "Germany's gas storage runs low as cold snap drags on",
        source="DW",
        published=start,
    )
    rail = StoryArticle(
        "dw-rail",
        "Rail strike in Germany strands commuters for a second day",
        source="DW",
        published=start + timedelta(hours=3),
    )
    other = StoryArticle(
        "bbc-gas",
        "Cold snap drains Germany's gas storage to record low",
        source="BBC News",
        published=start + timedelta(hours=4),
    )
    # Only "Germany" in common: one outlet's two reports, not two outlets' on one event.
    assert cluster([gas, rail, other]) == ["dw-gas", "dw-rail", "dw-gas"]


def test_one_outlets_casting_and_recap_of_a_show_are_two_stories():
    start = datetime(2026, 3, 6, 9, tzinfo=UTC)
    casting = StoryArticle(
        "casting",
        "A familiar face heads back to television this spring",
        text="Delphine Achterberg has joined the cast of Night Ferry, the crime drama set aboard "
        "an overnight boat between Rotterdam and Harwich.",
        source="Screen Ledger",
        published=start,
    )
    recap = StoryArticle(
        "recap",
        "Night Ferry, season one: everything that happened",
        text="Night Ferry began with a body in a locked cabin. Each of its eight episodes "
        "covered a single crossing from Rotterdam to Harwich.",
        source="Screen Ledger",
        published=start + timedelta(hours=2),
    )
    # The show and both ports in common: what the outlet writes about every time.
    assert cluster([casting, recap]) == ["casting", "recap"]


def test_the_same_headline_a_month_later_is_a_new_story():
    articles = marvel()
    assert stories_of(articles)["deadline-bethel-again"] == "deadline-bethel-again"
    # Only the window keeps it apart: with a longer one it joins the casting.
    longer = stories_of(articles, window=timedelta(days=60))
    assert longer["deadline-bethel-again"] == "deadline-bethel"


def test_an_article_within_the_window_of_any_article_of_a_story_joins_it():
    first = StoryArticle(
        "a",
        "Wilson Bethel cast as Bullseye in Daredevil",
        published=datetime(2018, 6, 1, tzinfo=UTC),
    )
    later = replace(first, id="b", published=first.published + DEFAULT_WINDOW)
    too_late = replace(first, id="c", published=first.published + 2 * DEFAULT_WINDOW)
    assert cluster([first, later, too_late]) == ["a", "a", "a"]
    assert cluster([first, too_late]) == ["a", "c"]


def test_an_undated_article_joins_by_text_alone():
    articles = marvel()
    undated = replace(articles[0], id="undated", url=None, published=None)
    assert cluster([*articles[:-1], undated])[-1] == "deadline-bethel"
    # A month on, the casting's first story is forgotten; its repeat is the one in the window.
    assert cluster([*articles, undated])[-1] == "deadline-bethel-again"


def test_story_ids_stay_put_as_stories_grow():
    articles = marvel()
    whole = cluster(articles)
    for count in range(1, len(articles)):
        assert cluster(articles[:count]) == whole[:count]
    assert all(story in {a.id for a in articles[: i + 1]} for i, story in enumerate(whole))


def test_a_clusterer_rebuilt_from_the_same_articles_gives_the_same_ids():
    articles = marvel()
    daemon = Clusterer()
    before = [daemon.add(article) for article in articles[:5]]
    rebuilt = Clusterer()
    assert [rebuilt.add(article) for article in articles[:5]] == before
    assert [rebuilt.add(a) for a in articles[5:]] == [daemon.add(a) for a in articles[5:]]


def test_the_same_article_again_stays_in_its_story():
    articles = marvel()
    assert cluster([*articles, articles[1]])[-1] == "variety-renewal"


def test_stories_outside_the_window_are_forgotten():
    clusterer = Clusterer(timedelta(days=3))
    start = datetime(2018, 1, 1, tzinfo=UTC)
    for day in range(60):
        title = f"Unrelated event number {day} with words{day} and more{day}"
        clusterer.add(StoryArticle(str(day), title, published=start + timedelta(days=day)))
    assert len(clusterer) <= 4


def test_a_window_must_be_positive():
    with pytest.raises(StoryError):
        Clusterer(timedelta(0))


def test_dates_are_iso_8601_or_epoch_seconds():
    utc = datetime(2018, 6, 5, 16, 0, tzinfo=UTC)
    for published in ("2018-06-05T16:00:00Z", "2018-06-05T18:00:00+02:00", "2018-06-05 16:00"):
        assert (
            read_article(json.dumps({"id": "x", "title": "T", "published": published})).published
            == utc
        )
    assert read_article('{"id": "x", "title": "T", "published": 1528214400}').published == utc
    assert read_article('{"id": 7, "title": "T"}').id == "7"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"title": "No id"}', "'id' is missing"),
        ('{"id": "x", "title": ""}', "'title' is missing"),
        ('{"id": "x", "title": "T", "published": "last Tuesday"}', "'published' is not"),
        ('{"id": "x", "title": "T", "url": 5}', "'url' must be a string"),
    ],
)
def test_bad_lines_say_what_is_wrong(line, message):
    with pytest.raises(StoryError, match=message):
        read_article(line)


def test_command_prints_each_article_and_its_story_in_input_order(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no config file anywhere: the command needs none
    monkeypatch.delenv("FEEDWATCH_CONFIG", raising=False)
    assert main(["stories", str(MARVEL)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    articles = marvel()
    assert [r["id"] for r in records] == [a.id for a in articles]
    assert [r["story"] for r in records] == cluster(articles)


def test_command_reads_stdin_and_several_files(capsys, monkeypatch, tmp_path):
    lines = MARVEL.read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(lines[:4]) + "\n", encoding="utf-8")  # a blank line is skipped
    second.write_text("".join(lines[4:]), encoding="utf-8")
    assert main(["stories", str(first), str(second)]) == 0
    from_files = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MARVEL.read_bytes())))
    assert main(["stories"]) == 0
    assert capsys.readouterr().out == from_files
    assert len(from_files.splitlines()) == len(lines)


def test_bad_input_is_one_line_naming_file_and_line_and_prints_nothing(capsys, tmp_path):
    path = tmp_path / "articles.jsonl"
    path.write_text(
        MARVEL.read_text(encoding="utf-8").splitlines()[0]
        + '\n{"id": "x", "title": "T", "published": "2018-13-01"}\n',
        encoding="utf-8",
    )
    assert main(["stories", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"feedwatch: {path}, line 2: 'published' is not")
    assert len(captured.err.splitlines()) == 1


def test_a_missing_file_is_one_line_and_status_1(capsys, tmp_path):
    assert main(["stories", str(tmp_path / "nope.jsonl")]) == 1
    assert (
        capsys.readouterr().err
        == f"feedwatch: {tmp_path / 'nope.jsonl'}: No such file or directory\n"
    )


def test_command_output_does_not_depend_on_hash_seeds():
    outputs = set()
    for seed in ("1", "2"):
        completed = subprocess.run(
            [sys.executable, "-m", "feedwatch", "stories", str(MARVEL)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(completed.stdout)
    assert len(outputs) == 1


def _bench(path: Path = BENCH):
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_reads_the_corpus_in_publish_order(shared_corpus):
    bench = _bench()
    headlines = bench.load(shared_corpus / "news-stories")
    assert len(headlines) == 4178
    assert {h.category for h in headlines} == {"b", "t", "m"}
    assert [h.published for h in headlines] == sorted(h.published for h in headlines)
    # What the command is fed is what the benchmark loaded.
    parsed = [read_article(line) for line in bench.json_lines(headlines[:50]).splitlines()]
    assert [(a.id, a.title, a.published) for a in parsed] == [
        (h.id, h.title, h.published) for h in headlines[:50]
    ]


def test_benchmark_without_its_corpus_measures_nothing(tmp_path, capsys):
    bench = _bench()
    assert bench.load(tmp_path) == []
    assert bench.main(["--corpus", str(tmp_path)]) == 0
    assert "nothing to measure" in capsys.readouterr().err


def test_clustering_benchmark_fails_on_any_article_in_another_story(tmp_path, capsys):
    bench = _bench(CLUSTERING)
    context = bench.entertainment(2)
    # As stored: one entry in 20 of the two feeds' 50 matches the show, each feed's newest first.
    assert [row_id for row_id, _, _ in context] == [1, 21, 41]
    assert [a.published for _, _, a in context] == sorted(
        (a.published for _, _, a in context), reverse=True
    )
    saved = tmp_path / "stories.json"
    run = ["--feeds", "2", "--corpus", str(tmp_path), "--repeat", "1"]
    assert bench.main([*run, "--save", str(saved)]) == 0
    assert bench.main([*run, "--check", str(saved)]) == 0
    recorded = json.loads(saved.read_text())
    recorded["entertainment"]["41"] = 0
    saved.write_text(json.dumps(recorded))
    assert bench.main([*run, "--check", str(saved)]) == 1
    assert "NO: 1 of 3 articles in another story" in capsys.readouterr().out


def test_bcubed_scores_a_known_grouping():
    bench = _bench()
    moment = datetime(2014, 3, 10, tzinfo=UTC)
    headlines = [
        bench.Headline(str(i), "t", "u", "s", "b", gold, moment) for i, gold in enumerate("aab")
    ]
    assert bench.bcubed(headlines, {"0": "x", "1": "x", "2": "y"}, None) == (1.0, 1.0, 1.0)
    precision, recall, _ = bench.bcubed(headlines, {"0": "x", "1": "x", "2": "x"}, None)
    assert (round(precision, 4), recall) == (round(5 / 9, 4), 1.0)


def test_a_publish_time_without_a_time_zone_is_refused():
    with pytest.raises(StoryError, match="no time zone"):
        Clusterer().add(StoryArticle("a", "Title", published=datetime(2018, 6, 5)))
