"""Whatever the config file holds, loading it gives a Config or one ConfigError naming the file."""

from __future__ import annotations

import os
import re
import socket
import threading
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
BASE = yaml.safe_load(MINIMAL)
# Every key a user can write, with a list index where the key sits in a list.
KEYS = [
    ("database",),
    *(("poll", key) for key in ("interval", "timeout", "min_interval", "max_interval")),
    *(("poll", key) for key in ("max_bytes", "concurrency", "per_host", "max_entries")),
    ("poll", "processes"),
    *(("fetch", key) for key in ("full_text", "allow_private", "min_text", "max_pages")),
    *(("feeds", 0, key) for key in ("url", "title", "interval", "full_text")),
    *(("shows", 0, key) for key in ("name", "keywords", "exclude", "require_any")),
    ("summary", "sentences"),
    ("summary", "algorithm"),
    *(("digest", key) for key in ("path", "title", "link", "description", "max_items")),
    ("server", "host"),
    ("server", "port"),
    ("retention", "unmatched"),
    ("retention", "matched"),
    ("feeds",),
    ("shows",),
    ("poll",),
]
HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**15),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(["yes", "1e21", "forever", "-1s", "0", "\x1b]0;pwned\x07", "a\x00b", "15m"]),
)
# Tried at every key, each of them: wrong types, huge numbers, control characters.
HOSTILE_VALUES = [
    None,
    True,
    "yes",
    0,
    -1,
    10**21,
    10**400,
    1e21,
    float("inf"),
    float("nan"),
    "1e21",
    "\x1b]0;pwned\x07",
    "a\x00b",
    b"\x00\x1b",  # !!binary
    {"\x1b"},  # !!set
    "\x85",
    "x" * 10_000,
    [],
    {},
    [None],
    {"a": 1},
]
VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
# Hypothesis writes each example to the same tmp_path; the file is rewritten every time.
RELAXED = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def loads_or_config_error(path: Path) -> str | None:
    """None when `path` loads; else the ConfigError's message, checked to name the file."""
    # No name is resolved outside this machine, whatever server.host the example holds.
    unresolvable = socket.gaierror(socket.EAI_NONAME, "no such name")
    with mock.patch.object(socket, "getaddrinfo", side_effect=unresolvable):
        try:
            config.load(path)
        except ConfigError as exc:
            message = str(exc)
        else:
            return None
    assert all(line.startswith(f"{path}:") for line in message.splitlines()), message
    return message


@RELAXED
@given(data=st.binary(max_size=3000))
def test_any_bytes_load_or_are_one_config_error(tmp_path, data):
    path = tmp_path / "feeds.yaml"
    path.write_bytes(data)
    loads_or_config_error(path)


@RELAXED
@given(data=st.binary(max_size=200), at=st.integers(min_value=0, max_value=len(MINIMAL)))
def test_bytes_spliced_into_a_good_config_load_or_are_one_config_error(tmp_path, data, at):
    path = tmp_path / "feeds.yaml"
    path.write_bytes(MINIMAL.encode()[:at] + data + MINIMAL.encode()[at:])
    loads_or_config_error(path)


CONTROLS = [
    chr(code) for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(code) not in "\t\n\r"
]


@RELAXED
@given(char=st.sampled_from(CONTROLS), at=st.integers(min_value=0, max_value=len(MINIMAL)))
def test_a_control_character_anywhere_is_refused_at_its_line(tmp_path, char, at):
    path = tmp_path / "feeds.yaml"
    path.write_text(MINIMAL[:at] + char + MINIMAL[at:], encoding="utf-8")
    message = loads_or_config_error(path)
    line = MINIMAL[:at].count("\n") + 1
    name = "NUL" if char == "\0" else f"control character U+{ord(char):04X}"
    assert message == f"{path}:{line}: {name} is not allowed"


def _with(key: tuple[str | int, ...], value: object) -> dict:
    data = yaml.safe_load(MINIMAL)
    node = data
    for part in key[:-1]:
        if isinstance(part, str):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return data
        else:
            node = node[part]
    node[key[-1]] = value
    return data


@RELAXED
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_any_value_at_any_key_loads_or_is_one_config_error(tmp_path, key, value):
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(_with(key, value), allow_unicode=True), encoding="utf-8")
    loads_or_config_error(path)


@pytest.mark.parametrize("key", KEYS, ids=lambda key: ".".join(map(str, key)))
def test_each_hostile_value_at_each_key_loads_or_is_one_config_error(tmp_path, key):
    path = tmp_path / "feeds.yaml"
    for value in HOSTILE_VALUES:
        path.write_text(yaml.safe_dump(_with(key, value), allow_unicode=True), encoding="utf-8")
        loads_or_config_error(path)


def write(folder: Path, text: str) -> Path:
    path = folder / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# The attacks from the issue, each refused by `check` with status 2 at its file and line.
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("digest:\n  title: bell\x07\n", ":7: control character U+0007 is not allowed"),
        ("digest:\n  title: nul\x00\n", ":7: NUL is not allowed"),
        ('digest:\n  path: "out\\0put.xml"\n', ":7: digest.path: NUL is not allowed"),
        ('digest:\n  title: "\\e]0;pwned\\a"\n', ":7: digest.title: control character U+001B"),
        ("digest:\n  title: !!binary AAc=\n", ":7: digest.title: NUL is not allowed"),
        ("fetch:\n  allow_private: 'yes'\n", ":7: fetch.allow_private: expected true or false"),
        ("fetch:\n  allow_private: 1\n", ":7: fetch.allow_private: expected true or false"),
        ("digest:\n  max_items: 1000000000000000000000\n", ":7: digest.max_items: Input should"),
        ("digest:\n  max_items: 10001\n", ":7: digest.max_items: Input should be less than"),
        ("digest:\n  max_items: true\n", ":7: digest.max_items: expected a whole number"),
        ("poll:\n  concurrency: '16'\n", ":7: poll.concurrency: expected a whole number"),
        ("poll:\n  timeout: 2h\n", ":7: poll.timeout: at most 1h"),
        ("poll:\n  max_bytes: 5GB\n", ":7: poll.max_bytes: 5368709120 bytes is too large"),
        ("poll:\n  max_entries: 0\n", ":7: poll.max_entries: Input should be greater than"),
        ("poll:\n  max_entries: 100001\n", ":7: poll.max_entries: Input should be less than"),
        ("poll:\n  processes: -1\n", ":7: poll.processes: Input should be greater than"),
        ("poll:\n  processes: 65\n", ":7: poll.processes: Input should be less than"),
        ("poll:\n  processes: all\n", ":7: poll.processes: expected a whole number"),
        ("fetch:\n  max_pages: 1001\n", ":7: fetch.max_pages: Input should be less than"),
        ("fetch:\n  min_text: 1000001\n", ":7: fetch.min_text: Input should be less than"),
        ("retention:\n  unmatched: never\n", ":7: retention.unmatched: 'never' is not a duration"),
        ("retention:\n  matched: 0s\n", ":7: retention.matched: a duration must be longer"),
        ("digest:\n  title: 2026-13-01\n", ":7: not valid YAML: cannot read timestamp value"),
        ("digest:\n  max_items: " + "9" * 5000 + "\n", ":7: not valid YAML: cannot read int"),
        ("server:\n  host: 'not a host'\n", ":7: server.host: 'not a host' is neither"),
    ],
)
def test_check_refuses_each_attack_with_status_2_and_its_line(tmp_path, capsys, extra, expected):
    path = write(tmp_path, MINIMAL + extra)
    assert main(["check", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"feedwatch: config error: {path}{expected}"), err
    assert len(err.splitlines()) == 1


def test_booleans_are_yaml_booleans(tmp_path):
    assert config.load(
        write(tmp_path, MINIMAL + "fetch:\n  allow_private: true\n")
    ).fetch.allow_private


def _load_in_time(path: Path) -> str:
    """The ConfigError of loading `path`, which must come within seconds, never a hang."""
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            config.load(path)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5)
    assert outcome, f"loading {path} did not return within 5s"
    assert isinstance(outcome[0], ConfigError), outcome[0]
    return str(outcome[0])


@pytest.mark.parametrize(
    ("special", "expected"),
    [
        ("/dev/zero", "not a regular file (a device, FIFO or socket)"),
        ("fifo", "not a regular file (a device, FIFO or socket)"),
        ("folder", "is a folder, not a config file"),
        ("big", "larger than 1 MB; this is no feedwatch config"),
        ("link", "not a regular file (a device, FIFO or socket)"),
    ],
)
def test_only_a_regular_file_under_1_mb_is_read(tmp_path, special, expected):
    path = tmp_path / special
    if special == "fifo":
        os.mkfifo(path)
    elif special == "folder":
        path.mkdir()
    elif special == "big":
        path.write_text(MINIMAL + "#" * config.MAX_FILE_BYTES + "\n", encoding="utf-8")
    elif special == "link":
        path.symlink_to("/dev/zero")
    else:
        path = Path(special)
    assert _load_in_time(path) == f"{path}: {expected}"


def test_a_file_not_in_utf8_names_the_line(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_bytes(MINIMAL.encode() + b"digest:\n  title: caf\xe9\n")
    assert _load_in_time(path) == f"{path}:7: not UTF-8 text"


def test_retention_and_max_entries_defaults(tmp_path):
    cfg = config.load(write(tmp_path, MINIMAL))
    assert cfg.retention.unmatched == timedelta(days=30)
    assert cfg.retention.matched is None  # forever
    assert cfg.poll.max_entries == 1000


def test_retention_durations_and_forever(tmp_path):
    text = MINIMAL + "retention:\n  unmatched: forever\n  matched: 365d\npoll:\n  max_entries: 5\n"
    cfg = config.load(write(tmp_path, text))
    assert cfg.retention.unmatched is None
    assert cfg.retention.matched == timedelta(days=365)
    assert cfg.poll.max_entries == 5


def test_server_host_may_be_an_address_or_a_name_that_resolves(tmp_path):
    for host in ("0.0.0.0", "::1", "localhost"):
        cfg = config.load(write(tmp_path, MINIMAL + f"server:\n  host: '{host}'\n"))
        assert cfg.server.host == host


def test_server_host_that_does_not_resolve_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL + "server:\n  host: feeds.internal\n")
    unresolvable = socket.gaierror(socket.EAI_NONAME, "no such name")
    with mock.patch.object(socket, "getaddrinfo", side_effect=unresolvable):
        message = _load_in_time(path)
    assert message == f"{path}:7: server.host: 'feeds.internal' does not resolve to an address"


def test_a_resolver_that_hangs_holds_loading_up_only_briefly(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RESOLVE_SECONDS", 0.1)
    release = threading.Event()
    path = write(tmp_path, MINIMAL + "server:\n  host: feeds.internal\n")
    with mock.patch.object(socket, "getaddrinfo", side_effect=lambda *a, **k: release.wait(5)):
        try:
            message = _load_in_time(path)
        finally:
            release.set()
    assert re.fullmatch(
        rf"{re.escape(str(path))}:7: server.host: 'feeds.internal' did not resolve within 0.1s",
        message,
    )


def test_a_key_with_a_line_break_is_named_on_the_errors_one_line(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump({"database": {"\r": "\x1f"}}), encoding="utf-8")
    message = loads_or_config_error(path)
    assert message == f'{path}:2: database."\\r": control character U+001F is not allowed'
