"""Nothing a hostile server sends reaches a terminal: stored errors, log lines, `feeds`."""

from __future__ import annotations

import json
import logging
import sqlite3
from http.server import BaseHTTPRequestHandler

import pytest

from daemonkit import write_config
from feedwatch import logs
from feedwatch.cli import main
from feedwatch.text import printable

# Sets the terminal's title, then turns its text red.
HOSTILE = "\x1b]0;pwned\x07Oops\x1b[31m"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE, "Oops"),
        ("\x1b]0;pwned\x1b\\title", "title"),  # OSC ended by ST instead of BEL
        ("\x9d0;pwned\x9cC1 OSC", "C1 OSC"),
        ("\x9b2Jcleared", "cleared"),  # C1 CSI: clear the screen
        ("\x1b[2J\x1b[1;1Hhome", "home"),
        ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),  # DCS
        ("\x1b(Bcharset \x1bcreset", "charset reset"),
        ("a\x00b\x07c\x08d\re\x7ff\x85g", "abcdefg"),
        ("tabs\tand\nlines", "tabs\tand\nlines"),
        ("Pokémon — “quoted” ™ 日本", "Pokémon — “quoted” ™ 日本"),
        # An unterminated title string ends at the line: the next line is still shown.
        ("\x1b]0;pwned\nnext line", "\nnext line"),
        ("lone \ud800surrogate", "lone surrogate"),
    ],
)
def test_printable_drops_controls_and_whole_escape_sequences(text, shown):
    assert printable(text) == shown


def _hostile_status(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 500 " + HOSTILE.encode() + b"\r\nContent-Length: 0\r\n\r\n")


def test_a_hostile_reason_phrase_is_stored_logged_and_listed_without_escapes(
    server, tmp_path, capsys
):
    url = server.serve("/feed.rss", b"", handler=_hostile_status)
    path = write_config(tmp_path, [url])

    assert main(["-c", str(path), "once"]) == 0
    logged = capsys.readouterr().err
    assert "HTTP 500 Oops" in logged
    assert "\x1b" not in logged and "\x07" not in logged
    with sqlite3.connect(tmp_path / "state" / "feedwatch.db") as db:
        assert db.execute("SELECT last_error FROM feeds").fetchall() == [("HTTP 500 Oops",)]

    assert main(["-c", str(path), "feeds"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[1].endswith("HTTP 500 Oops")
    assert "\x1b" not in table and "\x07" not in table


def _record(message: str, *args: object, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("feedwatch", logging.ERROR, __file__, 1, message, args, None)
    record.fields = fields
    return record


def test_the_text_log_format_never_prints_an_escape():
    line = logs.TextFormatter().format(_record("feed failed: %s", HOSTILE))
    assert line == "ERROR feed failed: Oops"


def test_the_json_log_format_never_carries_an_escape():
    line = logs.JSONFormatter().format(_record("feed failed: %s", HOSTILE, error=HOSTILE, n=3))
    event = json.loads(line)
    assert (event["message"], event["error"], event["n"]) == ("feed failed: Oops", "Oops", 3)
    # Nor written as a JSON escape, which a log viewer would turn back into the character.
    assert "\\u001b" not in line and "\\u0007" not in line
