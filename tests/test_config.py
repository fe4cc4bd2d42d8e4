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
        (
            MINIMAL + "  - name: DAREDEVIL!\n    keywords: [DD]\n",
            "'Daredevil' and 'DAREDEVIL!' would share the page and feeds /shows/daredevil/",
        ),
        (MINIMAL + 'digest:\n  roundup: "25:00"\n', "'25:00' is not a time of day"),
        (MINIMAL + "digest:\n  roundup: 8:00\n", 'write the time of day in quotes, e.g. "08:00"'),
        (MINIMAL + "digest:\n  timezone: Mars/Base\n", "unknown time zone 'Mars/Base'"),
        (MINIMAL + "digest:\n  formats: [rss, pdf]\n", "digest.formats.1"),
        (MINIMAL + "stories:\n  window: 0s\n", "stories.window"),
        (MINIMAL.replace("[Daredevil]", "[]"), "list at least one keyword"),
        ("shows: []\nfeeds: []\n", "list at least one"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_configs_are_explained(tmp_path, text, expected):
    assert expected in error_of(text, tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("999999999999d", "'999999999999d' is too long; a duration is at most 3650d (10 years)"),
        ("3651d", "is too long"),
        (".inf", "inf is too long"),
        ("1" + "0" * 400, "is too long"),
        (".nan", "nan is not a duration"),
    ],
)
def test_absurd_durations_are_explained(tmp_path, value, expected):
    message = error_of(MINIMAL + f"poll:\n  max_interval: {value}\n", tmp_path)
    assert message.startswith(f"{tmp_path / 'feeds.yaml'}:7: poll.max_interval: ")
    assert expected in message


def test_the_longest_duration_is_ten_years():
    assert config.parse_duration("3650d") == timedelta(days=3650)


@pytest.mark.parametrize("value", [".inf", ".nan"])
def test_sizes_must_be_finite(tmp_path, value):
    message = error_of(MINIMAL + f"poll:\n  max_bytes: {value}\n", tmp_path)
    assert f":7: poll.max_bytes: {value.lstrip('.')} is not a size" in message


@pytest.mark.parametrize(
    "extra",
    [
        "digest: &d {title: x}\n",  # harmless on its own, but there is no need for it
        "a: &a [*a]\n",  # an alias inside itself
        # "Billion laughs": each level doubles the one before.
        "l0: &l0 [x, x]\n"
        + "".join(f"l{n}: &l{n} [*l{n - 1}, *l{n - 1}]\n" for n in range(1, 40)),
    ],
)
def test_yaml_anchors_and_aliases_are_refused(tmp_path, extra):
    message = error_of(MINIMAL + extra, tmp_path)
    assert message == (
        f"{tmp_path / 'feeds.yaml'}:6: YAML anchors and aliases (&name, *name) are not "
        "supported; write the value out"
    )


@pytest.mark.parametrize("depth", [40, 5000])
def test_deep_nesting_is_refused(tmp_path, depth):
    message = error_of(MINIMAL + "x: " + "[" * depth + "]" * depth + "\n", tmp_path)
    # Past libyaml's own limit (1,000 levels), its parser refuses first, in its words.
    assert message in (
        f"{tmp_path / 'feeds.yaml'}:6: nested more than 32 levels deep",
        f"{tmp_path / 'feeds.yaml'}:6: not valid YAML: exceeded maximum nesting depth",
    )


@pytest.fixture(params=["libyaml", "python"])
def yaml_parser(request, monkeypatch):
    """Both of the YAML parsers config.py may read with."""
    if request.param == "python":
        monkeypatch.setattr(config, "_Loader", config._PythonLoader)
    elif config._Loader is config._PythonLoader:
        pytest.skip("this PyYAML was built without libyaml")
    return request.param


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ("a: [1, 2\nb: 3\n", 7),  # an unclosed flow sequence, seen where the next key starts
        ("digest: {title: x\n", 7),
        ("x: " + "[" * 40 + "]" * 40 + "\n", 6),
        ("a: &a [*a]\n", 6),
    ],
)
def test_either_yaml_parser_names_the_line(tmp_path, yaml_parser, extra, line):
    message = error_of(MINIMAL + extra, tmp_path)
    assert message.startswith(f"{tmp_path / 'feeds.yaml'}:{line}: ")


def test_either_yaml_parser_reads_the_bundled_config(yaml_parser):
    bundled = config.load(Path(__file__).parents[1] / "config" / "feeds.yaml")
    assert bundled.feeds and bundled.shows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL.replace("/feed/\n", "/feed/\n    url: https://tv.example/other/\n"),
            ":3: feeds.0.url: repeated key (first on line 2)",
        ),
        (
            MINIMAL + "shows:\n  - name: Luke Cage\n    keywords: [Luke Cage]\n",
            ":6: shows: repeated key (first on line 3)",
        ),
        (MINIMAL + "summary: {sentences: 3, sentences: 5}\n", ":6: summary.sentences: repeated"),
    ],
)
def test_repeated_keys_are_refused(tmp_path, text, expected):
    message = error_of(text, tmp_path)
    assert message.startswith(str(tmp_path / "feeds.yaml") + expected)


@pytest.mark.parametrize(
    ("show", "where"),
    [
        ("    keywords: [Daredevil, \"\u2122\"]\n", "5: shows.0.keywords.1: '\u2122'"),
        ("    keywords: [DD]\n    exclude: [\"\u200b\"]\n", "6: shows.0.exclude.0: '\\u200b'"),
        ("    keywords: [DD]\n    require_any: [' ']\n", "6: shows.0.require_any.0: ' '"),
    ],
)
def test_phrases_that_normalise_to_nothing_are_refused(tmp_path, show, where):
    text = MINIMAL.replace("    keywords: [Daredevil]\n", show)
    message = error_of(text, tmp_path)
    assert message == f"{tmp_path / 'feeds.yaml'}:{where} has nothing that can be matched"


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


def test_check_connects_to_nothing(tmp_path, capsys):
    path = write(tmp_path, MINIMAL)
    assert main(["check", "-c", str(path)]) == 0
    assert not (tmp_path / "feedwatch.db").exists()
    assert not (tmp_path / "digest.xml").exists()


def test_check_refuses_what_once_refuses(tmp_path, capsys):
    path = write(tmp_path, MINIMAL.replace("[Daredevil]", "[Daredevil, \"\u2122\"]"))
    assert main(["check", "-c", str(path)]) == 2
    assert ":5: shows.0.keywords.1: '\u2122' has nothing" in capsys.readouterr().err
    assert main(["once", "-c", str(path)]) == 2


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        (
            "mysql://fw:secret@db.example/fw",
            "cannot open database mysql://fw:***@db.example/fw: database driver not installed",
        ),
        ("nosuch://db.example/fw", "cannot open database nosuch://db.example/fw: Can't load"),
        ("not a url", "cannot open database not a url: not a database URL"),
    ],
)
def test_check_loads_the_database_driver(tmp_path, capsys, database, expected):
    path = write(tmp_path, MINIMAL + f"database: {database}\n")
    assert main(["check", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"feedwatch: config error: {path}: database: {expected}")
    assert "secret" not in err


def test_check_refuses_a_digest_path_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    path = write(tmp_path, MINIMAL + "digest:\n  path: out\n")
    assert main(["check", "-c", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"feedwatch: config error: {path}: digest.path: {tmp_path / 'out'} is a folder"


def test_check_refuses_a_digest_folder_that_cannot_be_made(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    path = write(tmp_path, MINIMAL + "digest:\n  path: notes.txt/feeds/digest.xml\n")
    assert main(["check", "-c", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        f"digest.path: cannot create folder {tmp_path / 'notes.txt' / 'feeds'}: "
        f"{tmp_path / 'notes.txt'} is not a folder"
    )


def test_check_accepts_a_digest_folder_still_to_be_made(tmp_path, capsys):
    path = write(tmp_path, MINIMAL + "digest:\n  path: new/folders/digest.xml\n")
    assert main(["check", "-c", str(path)]) == 0


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
