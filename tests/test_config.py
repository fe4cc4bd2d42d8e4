"""The config file: what users write, and what they are told when it is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from feedwatch import config
from feedwatch.cli import main
from feedwatch.errors import ConfigError

MINIMAL = """\
feeds:
  - url: https://tv.example/feed/
shows:
  - name: Daredevil
    keywords: [Daredevil]
"""


def write(folder: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(text: str, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    return str(caught.value)


def test_defaults_and_durations(tmp_path):
    cfg = config.load(write(tmp_path, MINIMAL + "poll:\n  interval: 2h\n  timeout: 30s\n"))
    assert cfg.poll.interval == timedelta(hours=2)
    assert cfg.poll.timeout == timedelta(seconds=30)
    assert cfg.summary.sentences == 3
    assert cfg.digest.max_items == 100


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (45, 45)]
)
def test_duration_forms(text, seconds):
    assert config.parse_duration(text) == timedelta(seconds=seconds)


def test_per_feed_interval_overrides_poll_interval(tmp_path):
    text = (
        MINIMAL.replace("/feed/\n", "/feed/\n    interval: 10m\n")
        + "  - name: X\n    keywords: [X]\n"
    )
    text += "poll:\n  interval: 1h\n"
    cfg = config.load(write(tmp_path, text))
    assert cfg.interval_for(cfg.feeds[0]) == timedelta(minutes=10)


def test_unknown_key_names_line_and_key(tmp_path):
    message = error_of(
        MINIMAL.replace("    keywords:", "    keywrods: [x]\n    keywords:"), tmp_path
    )
    assert message == f"{tmp_path / 'feeds.yaml'}:5: shows.0.keywrods: unknown key"


def test_bad_value_names_line_and_key(tmp_path):
    message = error_of(MINIMAL + "poll:\n  interval: soon\n", tmp_path)
    assert ":7: poll.interval: 'soon' is not a duration" in message


def test_missing_required_key(tmp_path):
    message = error_of(
        "feeds:\n  - title: no url\nshows:\n  - name: A\n    keywords: [A]\n", tmp_path
    )
    assert ":2: feeds.0.url: required key is missing" in message


def test_yaml_syntax_error_has_line(tmp_path):
    message = error_of(MINIMAL + "digest: [unclosed\n", tmp_path)
    assert "not valid YAML" in message and ":7" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL.replace("https://tv.example/feed/", "ftp://tv.example/"),
            "not an http:// or https:// URL",
        ),
        (MINIMAL + "summary:\n  sentences: 0\n", "summary.sentences"),
        (MINIMAL + "summary:\n  algorithm: magic\n", "summary.algorithm"),
        (MINIMAL + "  - name: Daredevil\n    keywords: [DD]\n", "'Daredevil' is listed twice"),
        (MINIMAL.replace("[Daredevil]", "[]"), "list at least one keyword"),
        ("shows: []\nfeeds: []\n", "list at least one"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_configs_are_explained(tmp_path, text, expected):
    assert expected in error_of(text, tmp_path)


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    cfg = config.load(
        write(folder, MINIMAL + "database: sqlite:///data/fw.db\ndigest:\n  path: out/d.xml\n")
    )
    monkeypatch.chdir(tmp_path)
    assert cfg.database == f"sqlite:///{folder / 'data' / 'fw.db'}"
    assert cfg.digest.path == folder / "out" / "d.xml"


def test_other_database_urls_are_kept(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    cfg = config.load(write(tmp_path, MINIMAL + f"database: {url}\n"))
    assert cfg.database == url


def test_config_path_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.resolve_path(None) == Path("config/feeds.yaml")
    monkeypatch.setenv("FEEDWATCH_CONFIG", "/from/env.yaml")
    assert config.resolve_path(None) == Path("/from/env.yaml")
    assert config.resolve_path("given.yaml") == Path("given.yaml")


def test_check_exits_2_with_one_clear_line(tmp_path, capsys):
    path = write(tmp_path, MINIMAL + "pol:\n  interval: 1m\n")
    assert main(["check", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"feedwatch: config error: {path}:6: pol: unknown key"


def test_check_prints_feeds_and_shows(tmp_path, capsys):
    path = write(tmp_path, MINIMAL)
    assert main(["-c", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert "1 feeds:" in out and "https://tv.example/feed/" in out
    assert "1 shows:" in out and "Daredevil" in out


def test_missing_config_file(tmp_path, capsys):
    assert main(["once", "-c", str(tmp_path / "nope.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_shipped_config_is_valid():
    cfg = config.load(Path(__file__).parents[1] / "config" / "feeds.yaml")
    assert {show.name for show in cfg.shows} == {
        "Jessica Jones",
        "Daredevil",
        "Luke Cage",
        "Iron Fist",
        "The Defenders",
    }
    iron_fist = next(show for show in cfg.shows if show.name == "Iron Fist")
    assert iron_fist.require_any
    assert len(cfg.feeds) >= 5
