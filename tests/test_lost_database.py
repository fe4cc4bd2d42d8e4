"""A database file that is new, or was lost, is said plainly; driver chatter is logged."""

from __future__ import annotations

import json
import logging
import warnings

from daemonkit import rss, story, write_config
from feedwatch import logs
from feedwatch.cli import main


def test_once_and_feeds_say_when_they_created_the_database(server, tmp_path, capsys):
    url = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    config = write_config(tmp_path, [url])
    database = tmp_path / "state" / "feedwatch.db"
    said = f"created a new database at {database}"

    assert main(["-c", str(config), "once"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[0] == said
    assert first[1].startswith("1 feeds polled")

    assert main(["-c", str(config), "once"]) == 0
    assert said not in capsys.readouterr().out
    assert main(["-c", str(config), "feeds"]) == 0
    assert said not in capsys.readouterr().out

    database.unlink()  # lost: the next command starts afresh, and says so
    assert main(["-c", str(config), "feeds"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == said
    assert table[1].startswith("FEED")


def test_psycopg_messages_and_warnings_go_through_feedwatchs_log_format(capsys):
    # pytest restores warnings.showwarning after each test; logging would think it still
    # captures them from an earlier test's setup().
    logging.captureWarnings(False)
    logs.setup("info", "json")
    try:
        # What psycopg logs when a connection dies under a pipeline it was closing.
        logging.getLogger("psycopg").warning("error ignored terminating %r: %s", "<Pipeline>", "x")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a driver's deprecation", DeprecationWarning, stacklevel=1)
    finally:
        logs.setup()
        logging.captureWarnings(False)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("psycopg", "warning"),
        ("py.warnings", "warning"),
    ]
    assert lines[0]["message"] == "error ignored terminating '<Pipeline>': x"
    assert "a driver's deprecation" in lines[1]["message"]
