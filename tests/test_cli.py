"""`feedwatch summarize` and `feedwatch feeds` as a user runs them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from feedwatch.cli import main

DATA = Path(__file__).parent / "data"
ARTICLE = DATA / "summariser" / "harbour_lights.txt"
PAGE = DATA / "cli" / "article.html"


def test_summarize_files_as_json(capsys):
    assert main(["summarize", "--json", "--sentences", "2", str(ARTICLE), str(PAGE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["path"] for record in records] == [str(ARTICLE), str(PAGE)]
    text = ARTICLE.read_text(encoding="utf-8")
    assert len(records[0]["sentences"]) == 2
    assert all(sentence in text for sentence in records[0]["sentences"])


def test_summarize_html_strips_markup_and_scripts(capsys):
    assert main(["summarize", "--json", str(PAGE)]) == 0
    sentences = json.loads(capsys.readouterr().out)["sentences"]
    assert len(sentences) == 3
    assert not any("<" in sentence or "tracking" in sentence for sentence in sentences)
    assert any("Luke Cage" in sentence for sentence in sentences)


def test_summarize_reads_stdin(monkeypatch, capsys):
    stdin = io.TextIOWrapper(io.BytesIO(ARTICLE.read_bytes()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["summarize", "--sentences", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0] in ARTICLE.read_text(encoding="utf-8")


def test_summarize_missing_file_is_one_line_and_others_still_run(capsys, tmp_path):
    missing = tmp_path / "nope.txt"
    assert main(["summarize", "--json", str(missing), str(ARTICLE)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == f"feedwatch: {missing}: No such file or directory"
    assert json.loads(captured.out)["path"] == str(ARTICLE)


def test_bad_sentence_count_is_a_usage_error(capsys):
    try:
        main(["summarize", "--sentences", "0", str(ARTICLE)])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_console_script_runs_offline(tmp_path):
    # A real process: nothing it imports may try to fetch NLTK data or anything else.
    result = subprocess.run(
        [sys.executable, "-m", "feedwatch", "summarize", "--json", str(PAGE)],
        check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "NLTK_DATA": str(tmp_path / "no-nltk-data")},
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["sentences"]) == 3


def _once_raising(monkeypatch, tmp_path: Path, error: BaseException) -> list[str]:
    """`feedwatch once` arguments for a config in tmp_path, its cycle raising `error`."""
    from daemonkit import write_config
    from feedwatch.pipeline import Pipeline

    def run_cycle(self: Pipeline, feeds: object = None) -> None:
        raise error

    monkeypatch.setattr(Pipeline, "run_cycle", run_cycle)
    config = write_config(tmp_path, ["http://127.0.0.1:9/feed.rss"])
    return ["-c", str(config), "once", "--log-level", "warning"]


def test_ctrl_c_during_once_says_so_and_exits_130(monkeypatch, tmp_path, capsys):
    argv = _once_raising(monkeypatch, tmp_path, KeyboardInterrupt())
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert captured.err == "feedwatch: interrupted\n"
    assert captured.out == ""


def test_an_unexpected_error_is_one_line_and_the_traceback_only_at_debug(
    monkeypatch, tmp_path, capsys
):
    argv = _once_raising(monkeypatch, tmp_path, RuntimeError("cycle broke\nin two lines"))
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "feedwatch: internal error: RuntimeError: cycle broke; in two lines "
        "(run with --log-level debug for the traceback)\n"
    )

    assert main([*argv, "--log-level", "debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.endswith("(run with --log-level debug for the traceback)\n")


def test_once_with_nothing_new_leaves_the_digest_file_alone(server, tmp_path, capsys):
    import os

    from daemonkit import rss, story, write_config

    feed = server.serve("/news.rss", rss("news", [story("Daredevil", "a trailer")]))
    argv = ["-c", str(write_config(tmp_path, [feed])), "once", "--log-level", "warning"]
    digest = tmp_path / "out" / "digest.xml"
    assert main(argv) == 0
    os.utime(digest, (1_700_000_000, 1_700_000_000))
    before = digest.read_bytes()

    assert main(argv) == 0  # a 304: nothing changed
    assert digest.read_bytes() == before
    assert digest.stat().st_mtime == 1_700_000_000

    server.serve(
        "/news.rss", rss("news", [story("Daredevil", "a trailer"), story("Luke Cage", "a cast")])
    )
    assert main(argv) == 0
    assert digest.stat().st_mtime > 1_700_000_000
    assert b"Luke Cage a cast" in digest.read_bytes()


def test_once_with_a_bad_database_argument_is_one_line_and_exit_1(tmp_path, capsys):
    from daemonkit import write_config

    config = write_config(tmp_path, ["http://127.0.0.1:9/feed.rss"])
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("feedwatch.db", "feedwatch.db?timeout=abc"), encoding="utf-8")
    assert main(["-c", str(config), "once", "--log-level", "warning"]) == 1
    database = tmp_path / "state" / "feedwatch.db"
    assert capsys.readouterr().err == (
        f"feedwatch: cannot open database sqlite:///{database}?timeout=abc: "
        "could not convert string to float: 'abc'\n"
    )
