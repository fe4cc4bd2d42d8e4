"""`feedwatch match`: which shows a text, HTML file or page matches and why; nothing stored."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from feedwatch.cli import main

DATA = Path(__file__).parent / "data"
PAGE = DATA / "pages" / "lantern-keepers-finale.html"
TEXT = DATA / "commands" / "grey-point.txt"

SHOWS = """\
shows:
  - name: The Lantern Keepers
    keywords: [The Lantern Keepers]
    require_any: [Ines Calloway]
  - name: Grey Point
    keywords: [Grey Point]
    exclude: [Tobias Wren]
  - name: Mara Voss
    keywords: [Mara Voss]
    require_any: [Netflix, Ferry Films]
  - name: Dublin Courts
    keywords: [courtroom thriller]
"""
EXPLAINED = [
    'The Lantern Keepers: matches: keyword "The Lantern Keepers", context "Ines Calloway"',
    'Grey Point: no match: keyword "Grey Point" found, but so is exclude phrase "Tobias Wren"',
    'Mara Voss: no match: keyword "Mara Voss" found, but none of its require_any phrases: '
    '"Netflix", "Ferry Films"',
    # Only the page's "Related" sidebar mentions it: polling would not match it either.
    "Dublin Courts: no match: no keyword found",
]


def write_config(folder: Path, shows: str = SHOWS, allow_private: bool = False) -> Path:
    config = folder / "feeds.yaml"
    config.write_text(
        "database: sqlite:///state/feedwatch.db\n"
        "poll:\n  timeout: 5s\n"
        f"fetch:\n  allow_private: {str(allow_private).lower()}\n"
        # Never fetched: match reads only the shows (and the fetch settings).
        f"feeds:\n  - url: https://tvdesk.example/feed\n{shows}",
        encoding="utf-8",
    )
    return config


def run(capsys, config: Path, *args: str) -> tuple[int, list[str], str]:
    status = main(["-c", str(config), "match", *args])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def test_a_plain_text_file_is_matched_as_it_is(tmp_path, capsys) -> None:
    status, out, err = run(capsys, write_config(tmp_path), str(TEXT))
    assert (status, err) == (0, "")
    assert out == EXPLAINED
    # Nothing is stored: no database was even created.
    assert not (tmp_path / "state").exists()


def test_an_html_file_is_matched_on_its_article_text(tmp_path, capsys) -> None:
    status, out, _ = run(capsys, write_config(tmp_path), str(PAGE))
    assert (status, out) == (0, EXPLAINED)


def test_a_page_is_fetched_and_its_article_text_matched(server, tmp_path, capsys) -> None:
    url = server.serve("/finale", PAGE.read_bytes(), content_type="text/html; charset=utf-8")
    status, out, _ = run(capsys, write_config(tmp_path, allow_private=True), url)
    assert (status, out) == (0, EXPLAINED)
    assert not (tmp_path / "state").exists()


def test_a_page_on_a_private_address_is_refused_unless_allowed(server, tmp_path, capsys) -> None:
    url = server.serve("/finale", PAGE.read_bytes(), content_type="text/html; charset=utf-8")
    status, out, err = run(capsys, write_config(tmp_path), url)
    assert (status, out) == (2, [])
    assert err == (
        f"feedwatch: {url}: refused: 127.0.0.1 is a non-public address "
        "(set fetch.allow_private: true to allow)\n"
    )
    assert server.hits("/finale") == []


def test_a_page_that_fails_is_one_line_and_status_2(server, tmp_path, capsys) -> None:
    url = server.serve("/gone", b"", status=404)
    status, out, err = run(capsys, write_config(tmp_path, allow_private=True), url)
    assert (status, out) == (2, [])
    assert err.startswith(f"feedwatch: {url}: ") and err.count("\n") == 1
    assert "404" in err


def test_stdin_is_read_by_default(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TEXT.read_bytes())))
    status, out, _ = run(capsys, write_config(tmp_path))
    assert (status, out) == (0, EXPLAINED)


def test_status_1_when_no_show_matched(tmp_path, capsys) -> None:
    text = tmp_path / "other.txt"
    text.write_text("A gardening show wins its time slot again.", encoding="utf-8")
    status, out, _ = run(capsys, write_config(tmp_path), str(text))
    assert status == 1
    assert out == [
        "The Lantern Keepers: no match: no keyword found",
        "Grey Point: no match: no keyword found",
        "Mara Voss: no match: no keyword found",
        "Dublin Courts: no match: no keyword found",
    ]


def test_a_missing_file_is_one_line_and_status_2(tmp_path, capsys) -> None:
    status, out, err = run(capsys, write_config(tmp_path), str(tmp_path / "missing.txt"))
    assert (status, out) == (2, [])
    assert err == f"feedwatch: {tmp_path / 'missing.txt'}: No such file or directory\n"


def test_an_html_file_without_article_text_says_so(tmp_path, capsys) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><body><script>var show = 1;</script></body></html>", encoding="utf-8")
    status, out, err = run(capsys, write_config(tmp_path), str(page))
    assert (status, out) == (2, [])
    assert err == f"feedwatch: {page}: no article text found on the page\n"


def test_help_tells_the_exit_statuses(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["match", "--help"])
    assert "0 when at least one show matched, 1 when none did" in capsys.readouterr().out
