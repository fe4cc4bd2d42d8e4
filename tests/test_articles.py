"""`feedwatch articles`: the stored matched articles, newest first, with what matched them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feedwatch.cli import main
from feedwatch.models import ShowMatch
from feedwatch.store import Store

DATA = Path(__file__).parent / "data" / "commands"

SHOWS = """\
shows:
  - name: Daredevil
    keywords: [Daredevil, Matt Murdock]
    exclude: [Daredevil (2003)]
  - name: Jessica Jones
    keywords: [Jessica Jones]
  - name: Luke Cage
    keywords: [Luke Cage, Power Man]
"""
REVIVAL = (
    "Everything we know so far about the Luke Cage revival, the casting rumours, the release "
    "window, the showrunner and what the writers have said about Harlem"
)
MURDOCK = "Matt Murdock returns in March, the streamer confirms"
REUNION = "Krysten Ritter and Mike Colter on the road to a reunion"


def write_config(folder: Path, url: str) -> Path:
    config = folder / "feeds.yaml"
    config.write_text(
        "database: sqlite:///feedwatch.db\n"
        "poll:\n  timeout: 5s\n"
        "fetch:\n  full_text: false\n"
        "digest:\n  path: digest.xml\n"
        f"feeds:\n  - url: {url}\n{SHOWS}",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def feed_url(server) -> str:
    return server.serve("/tvdesk.rss", (DATA / "tvdesk.rss").read_bytes())


@pytest.fixture
def polled(feed_url, tmp_path, capsys) -> Path:
    """A config whose database `feedwatch once` filled from tvdesk.rss."""
    config = write_config(tmp_path, feed_url)
    assert main(["-c", str(config), "once"]) == 0
    capsys.readouterr()
    return config


def listed(capsys, config: Path, *options: str) -> list[dict[str, Any]]:
    assert main(["-c", str(config), "articles", "--json", *options]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def titles(capsys, config: Path, *options: str) -> list[str]:
    return [article["title"] for article in listed(capsys, config, *options)]


def test_matched_articles_come_newest_first_with_the_phrase_of_each_show(
    polled, feed_url, capsys
) -> None:
    found = listed(capsys, polled)
    # The undated explainer counts from when it was first seen (now): the newest. The film
    # anniversary (excluded) and the gardening show (no show) are not listed.
    assert [article["title"] for article in found] == [REVIVAL, MURDOCK, REUNION]
    assert found[1] == {
        "date": "2026-03-05T09:30:00+00:00",
        "feed": {"url": feed_url, "title": "TV Desk"},
        "title": MURDOCK,
        "link": "https://tvdesk.example/murdock-returns",
        "shows": [{"show": "Daredevil", "phrase": "Matt Murdock"}],
    }
    assert found[2]["shows"] == [
        {"show": "Jessica Jones", "phrase": "Jessica Jones"},
        {"show": "Luke Cage", "phrase": "Power Man"},
    ]


@pytest.mark.parametrize("name", ["Luke Cage", "luke cage", "LUKE CAGE"])
def test_show_filters_by_name_whatever_its_case(polled, capsys, name) -> None:
    assert titles(capsys, polled, "--show", name) == [REVIVAL, REUNION]


def test_an_unknown_show_is_one_line_naming_the_configured_ones(polled, capsys) -> None:
    assert main(["-c", str(polled), "articles", "--show", "Iron Fist"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"feedwatch: no show named 'Iron Fist' in {polled}; "
        "the configured shows are: Daredevil, Jessica Jones, Luke Cage\n"
    )


def test_since_keeps_only_recent_articles(polled, capsys) -> None:
    assert titles(capsys, polled, "--since", "7d") == [REVIVAL]
    assert titles(capsys, polled, "--since", "3650d") == [REVIVAL, MURDOCK, REUNION]


def test_a_bad_since_is_a_usage_error(polled, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["-c", str(polled), "articles", "--since", "a week"])
    assert stopped.value.code == 2
    assert "'a week' is not a duration" in capsys.readouterr().err


def test_limit_keeps_the_newest(polled, capsys) -> None:
    assert titles(capsys, polled, "--limit", "2") == [REVIVAL, MURDOCK]


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "99999999999999999999"])
def test_a_bad_limit_is_a_usage_error(polled, capsys, limit) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["-c", str(polled), "articles", "--limit", limit])
    assert stopped.value.code == 2
    assert "argument --limit: expected" in capsys.readouterr().err


def test_the_text_form_fits_the_terminal(polled, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "72")
    assert main(["-c", str(polled), "articles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 72 for line in lines)
    assert lines[0].endswith("Everything we know so far about the Luke Cage revival…")
    assert lines[2:4] == [
        "2026-03-05 09:30  " + MURDOCK,
        '                  TV Desk: Daredevil ("Matt Murdock")',
    ]
    # A show and its phrase are never split across lines.
    assert lines[5:7] == [
        '                  TV Desk: Jessica Jones ("Jessica Jones"),',
        '                    Luke Cage ("Power Man")',
    ]


def test_an_empty_database_says_so(feed_url, tmp_path, capsys) -> None:
    config = write_config(tmp_path, feed_url)
    assert main(["-c", str(config), "articles"]) == 0
    assert capsys.readouterr().out == (
        "no matched articles stored (`feedwatch once` polls the feeds)\n"
    )
    assert listed(capsys, config) == []


def test_nothing_within_the_filters_says_which(polled, capsys) -> None:
    assert main(["-c", str(polled), "articles", "--show", "daredevil", "--since", "1d"]) == 0
    assert capsys.readouterr().out == (
        "no matched articles stored for Daredevil in the last 1d "
        "(`feedwatch once` polls the feeds)\n"
    )


def test_a_match_stored_before_phrases_were_kept_shows_the_show_alone(
    polled, capsys, monkeypatch
) -> None:
    store = Store.open(f"sqlite:///{polled.parent / 'feedwatch.db'}")
    try:
        ids = {article.title: id_ for batch in store.stored_articles() for id_, article, _ in batch}
        store.replace_matches({ids[MURDOCK]: [ShowMatch("Daredevil", None)]})
    finally:
        store.close()
    assert listed(capsys, polled, "--show", "Daredevil")[0]["shows"] == [
        {"show": "Daredevil", "phrase": None}
    ]
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["-c", str(polled), "articles", "--show", "Daredevil"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "                  TV Desk: Daredevil"
