"""Load and validate config/feeds.yaml into frozen settings.

Errors name the file, the line and the key, so a typo is fixed without reading code.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import socket
import stat
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from feedwatch import urls
from feedwatch.errors import ConfigError
from feedwatch.text import normalize, slug

DEFAULT_PATH = Path("config/feeds.yaml")
ENV_VAR = "FEEDWATCH_CONFIG"

_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmg])i?)?b?\s*$", re.IGNORECASE)
_UNIT_BYTES = {None: 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# "feedwatch": the summariser's own ranking; the others are sumy's.
SUMMARY_ALGORITHMS = ("feedwatch", "textrank", "lexrank", "lsa", "luhn", "kl", "sumbasic")
# Longer is surely a typo, and would push poll times past what a datetime can hold.
_LONGEST_DURATION = timedelta(days=3650)
# Deeper nesting is no config's; PyYAML would recurse until Python gives up.
_DEEPEST_NESTING = 32
# A config is a few kilobytes; past this it is surely the wrong file (or /dev/zero).
MAX_FILE_BYTES = 1024**2
# Characters a config may hold, in the file and (written as escapes) in a value: YAML's own
# printable set without NEL and the other C1 controls. Tab, LF and CR are line structure.
_UNPRINTABLE = re.compile(r"[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Upper bounds of what the program can honour. One request is given up long before an hour;
# a body is held in memory whole; a digest, a poll and a page are built in one go.
_LONGEST_TIMEOUT = timedelta(hours=1)
_LARGEST_BODY = 4 * 1024**3
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# server.host is resolved while loading; a name the resolver cannot answer for in this long
# would hold up every start and reload.
RESOLVE_SECONDS = 2.0


def parse_duration(value: object) -> timedelta:
    """'30s', '15m', '2h', '1d' (or a bare number of seconds) -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m, 2h or 1d")
    seconds: float
    if isinstance(value, int | float):
        seconds = value  # not float(): a huge int would overflow it
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; use e.g. 30s, 15m, 2h or 1d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if isinstance(seconds, float) and math.isnan(seconds):
        raise ValueError(f"{value!r} is not a duration; use e.g. 30s, 15m, 2h or 1d")
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    if seconds > _LONGEST_DURATION.total_seconds():
        longest = _LONGEST_DURATION.days
        raise ValueError(f"{value!r} is too long; a duration is at most {longest}d (10 years)")
    return timedelta(seconds=seconds)


def parse_size(value: object) -> int:
    """'20MB', '512KB', '1.5 GB' (binary units: 1 KB = 1024 bytes) or a bare number of bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512KB or 20MB")
    size: float
    if isinstance(value, int | float):
        size = value  # not float(): a huge int would overflow it
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; use e.g. 512KB, 20MB or 1GB")
        unit = match.group(2).lower() if match.group(2) else None
        size = float(match.group(1)) * _UNIT_BYTES[unit]
    if isinstance(size, float) and not math.isfinite(size):
        raise ValueError(f"{value!r} is not a size; use e.g. 512KB, 20MB or 1GB")
    if size < 1:
        raise ValueError("a size must be at least 1 byte")
    return int(size)


def http_url(url: str) -> str:
    url = url.strip()
    if urls.http_host(url) is None:
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url


def matchable(phrase: str) -> str:
    """A show's phrase, refused when it normalises to nothing (blank, or only symbols like ™)."""
    if not normalize(phrase):
        raise ValueError(f"{phrase!r} has nothing that can be matched")
    return phrase


def parse_full_text(value: object) -> bool | str:
    """feeds[].full_text: true, false or auto."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    raise ValueError(f"{value!r} is not one of true, false or auto")


def parse_retention(value: object) -> timedelta | None:
    """retention.*: a duration, or `forever` (None: never deleted)."""
    if isinstance(value, str) and value.strip().lower() == "forever":
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; or forever") from None


def listen_host(host: str) -> str:
    """server.host: an IP address, or a host name that resolves (within RESOLVE_SECONDS)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is neither an IP address nor a host name")
    answer: list[bool] = []

    def resolve() -> None:
        try:
            socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            answer.append(True)
        except (OSError, UnicodeError):
            answer.append(False)

    # A thread, as getaddrinfo takes no timeout; left to finish alone when the resolver hangs.
    lookup = threading.Thread(target=resolve, name="resolve server.host", daemon=True)
    lookup.start()
    lookup.join(RESOLVE_SECONDS)
    if not answer:
        raise ValueError(f"{host!r} did not resolve within {RESOLVE_SECONDS:g}s")
    if not answer[0]:
        raise ValueError(f"{host!r} does not resolve to an address")
    return host


def _within_an_hour(timeout: timedelta) -> timedelta:
    if timeout > _LONGEST_TIMEOUT:
        raise ValueError("at most 1h: one request, or one page, is not worth waiting longer for")
    return timeout


def _largest_body(size: int) -> int:
    if size > _LARGEST_BODY:
        raise ValueError(f"{size} bytes is too large; at most 4GB, as a body is held in memory")
    return size


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
ByteSize = Annotated[int, BeforeValidator(parse_size)]
FullText = Annotated[bool | Literal["auto"], BeforeValidator(parse_full_text)]
Phrase = Annotated[str, AfterValidator(matchable)]
Retention = Annotated[timedelta | None, BeforeValidator(parse_retention)]
# YAML's true and false only: "yes" or 1 would be a guess.
Flag = Annotated[bool, Strict()]
# YAML integers only: neither true (1 to lax pydantic) nor "16" nor 16.5.
Count = Annotated[int, Strict()]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PollSettings(_Section):
    interval: Duration = timedelta(minutes=15)
    timeout: Annotated[Duration, AfterValidator(_within_an_hour)] = timedelta(seconds=20)
    # The bounds of each feed's adapted interval; see policy.py for the rule.
    min_interval: Duration = timedelta(minutes=1)
    max_interval: Duration = timedelta(days=1)
    # Of a decoded response body.
    max_bytes: Annotated[ByteSize, AfterValidator(_largest_body)] = 20 * 1024**2
    # Feeds in flight at once, and at most this many to any one host (politeness).
    concurrency: Count = Field(default=16, ge=1, le=256)
    per_host: Count = Field(default=2, ge=1, le=64)
    # The newest entries of one poll that are kept; the rest are counted and logged.
    max_entries: Count = Field(default=1000, ge=1, le=100_000)
    # How long a worker's claim on a due feed stands (store/claims.py); None: lease_time.
    lease: Duration | None = None
    # Processes reading long feeds (poll/processes.py); None: one per usable core.
    processes: Count | None = Field(default=None, ge=0, le=64)

    @model_validator(mode="after")
    def _ordered_bounds(self) -> PollSettings:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval must not be longer than max_interval")
        # Shorter, and a poll that takes its whole timeout would be claimed by a second worker.
        if self.lease is not None and self.lease < self.timeout:
            raise ValueError("lease must not be shorter than timeout")
        return self

    @property
    def lease_time(self) -> timedelta:
        """poll.lease, by default twice poll.timeout."""
        return self.lease if self.lease is not None else 2 * self.timeout


class FeedSettings(_Section):
    url: str
    title: str | None = None
    interval: Duration | None = None
    # Take the article's text from its linked page: always, never, or "auto": when the
    # entry's own text is shorter than fetch.min_text (see poll/pages.py). Unset: fetch.full_text.
    full_text: FullText | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return http_url(url)


class ShowSettings(_Section):
    name: str = Field(min_length=1)
    keywords: tuple[Phrase, ...]
    exclude: tuple[Phrase, ...] = ()
    require_any: tuple[Phrase, ...] = ()

    @field_validator("keywords")
    @classmethod
    def _some_keyword(cls, phrases: tuple[str, ...]) -> tuple[str, ...]:
        if not phrases:
            raise ValueError("list at least one keyword")
        return phrases


class SummarySettings(_Section):
    sentences: Count = Field(default=3, ge=1, le=20)
    algorithm: Literal[SUMMARY_ALGORITHMS] = "feedwatch"

    @property
    def key(self) -> str:
        """What a stored summary was made with, besides its text: another one redoes it."""
        return f"{self.algorithm}/{self.sentences}"


def parse_time_of_day(value: object) -> time | None:
    """digest.roundup: "08:00" (24-hour clock), or null / off for none."""
    if value is None or value is False:
        return None
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted 8:00 as 480 (base 60), so the time is lost.
        raise ValueError('write the time of day in quotes, e.g. "08:00"')
    match = _TIME_OF_DAY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a time of day; use e.g. 08:00, or null for none")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{value!r} is not a time of day; use e.g. 08:00, or null for none")
    return time(hour, minute)


def parse_timezone(value: object) -> str | None:
    """digest.timezone: an IANA name such as Europe/Berlin; null: the machine's own."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a time zone; use e.g. Europe/Berlin or UTC")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use e.g. Europe/Berlin or UTC") from None
    return value.strip()


TimeOfDay = Annotated[time | None, BeforeValidator(parse_time_of_day)]
TimeZone = Annotated[str | None, BeforeValidator(parse_timezone)]
# What digest.formats may list; the combined RSS file at digest.path is always written.
FEED_FORMATS = ("rss", "atom", "json")


class DigestSettings(_Section):
    path: Path = Path("digest.xml")
    title: str = Field(default="feedwatch digest", min_length=1)
    link: str = "http://localhost:8080/"
    description: str = "Articles about the shows you track, summarised by feedwatch."
    max_items: Count = Field(default=100, ge=1, le=10_000)
    # Written next to `path` too: digest.atom, digest.json, and with per_show a feed per show.
    formats: tuple[Literal[FEED_FORMATS], ...] = FEED_FORMATS
    per_show: Flag = True
    # Once a day at this time (digest.timezone), one roundup item per show: off when None.
    roundup: TimeOfDay = None
    timezone: TimeZone = None

    @field_validator("link")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return http_url(url)

    @field_validator("formats")
    @classmethod
    def _distinct(cls, formats: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(formats))

    @property
    def zone(self) -> tzinfo:
        """The roundup's time zone: digest.timezone, else the machine's own."""
        if self.timezone is not None:
            return ZoneInfo(self.timezone)
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC


class StorySettings(_Section):
    """Grouping the articles of one story across feeds (see stories.py)."""

    enabled: Flag = True  # false: one digest item per article
    window: Duration = timedelta(days=3)


class ServerSettings(_Section):
    """Where `run` and `serve` answer HTTP: /feed.xml, /healthz, /metrics."""

    host: Annotated[str, AfterValidator(listen_host)] = "127.0.0.1"
    port: Count = Field(default=8080, ge=0, le=65535)  # 0: any free port (logged)


class FetchSettings(_Section):
    """Fetching each new article's own page (feeds[].full_text); timeout and size as poll's."""

    # The full_text of every feed that does not set its own.
    full_text: FullText = "auto"
    # Let page fetches reach loopback, private, link-local and multicast addresses.
    allow_private: Flag = False
    # full_text auto: fetch the page when the entry's own text has fewer characters.
    min_text: Count = Field(default=1000, ge=0, le=1_000_000)
    # Pages fetched at most per poll of one feed; later new entries keep the feed's text.
    max_pages: Count = Field(default=20, ge=0, le=1000)


class RetentionSettings(_Section):
    """How long stored articles are kept; None: forever."""

    # Articles that match no show are kept only to recognise them when a feed repeats them.
    unmatched: Retention = timedelta(days=30)
    matched: Retention = None


class Config(_Section):
    database: str = "sqlite:///feedwatch.db"
    poll: PollSettings = PollSettings()
    fetch: FetchSettings = FetchSettings()
    feeds: tuple[FeedSettings, ...]
    shows: tuple[ShowSettings, ...]
    summary: SummarySettings = SummarySettings()
    digest: DigestSettings = DigestSettings()
    server: ServerSettings = ServerSettings()
    retention: RetentionSettings = RetentionSettings()
    stories: StorySettings = StorySettings()
    # Where the file was read from; not a key users write.
    source: Path = Field(default=Path(), exclude=True)

    @field_validator("feeds", "shows")
    @classmethod
    def _not_empty(cls, items: tuple[Any, ...]) -> tuple[Any, ...]:
        if not items:
            raise ValueError("list at least one")
        return items

    @model_validator(mode="after")
    def _unique(self) -> Config:
        for label, values in (
            ("feeds", [feed.url for feed in self.feeds]),
            ("shows", [show.name for show in self.shows]),
        ):
            seen: set[str] = set()
            for value in values:
                if value in seen:
                    raise ValueError(f"{label}: {value!r} is listed twice")
                seen.add(value)
        # A show's feeds and page live at its slug: two shows there would share them.
        pages: dict[str, str] = {}
        for show in self.shows:
            other = pages.setdefault(slug(show.name), show.name)
            if other != show.name:
                raise ValueError(
                    f"shows: {other!r} and {show.name!r} would share the page and feeds "
                    f"/shows/{slug(show.name)}/; rename one"
                )
        return self

    def interval_for(self, feed: FeedSettings) -> timedelta:
        return feed.interval or self.poll.interval

    def full_text_for(self, feed: FeedSettings) -> bool | str:
        return self.fetch.full_text if feed.full_text is None else feed.full_text


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    """-c/--config, else $FEEDWATCH_CONFIG, else config/feeds.yaml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return DEFAULT_PATH


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, validate and resolve the config; every failure is a ConfigError."""
    file = resolve_path(path)
    data = read_bytes(file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{file}:{line}: not UTF-8 text") from None
    return parse(text, file)


def read_bytes(file: Path) -> bytes:
    """The bytes of a config file: a regular file of at most MAX_FILE_BYTES, read without
    ever blocking (a FIFO) or filling memory (/dev/zero). Any failure is a ConfigError."""
    try:
        # Opening a FIFO for reading waits for a writer unless non-blocking; a device may act
        # on being opened at all, so only a regular file is opened.
        _regular(file, file.stat())
        descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as stream:
            _regular(file, os.fstat(stream.fileno()))  # the file stat() saw may be replaced
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"{file}: cannot read: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{file}: larger than 1 MB; this is no feedwatch config")
    return data


def _regular(file: Path, status: os.stat_result) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise ConfigError(f"{file}: is a folder, not a config file")
    if not stat.S_ISREG(status.st_mode):
        raise ConfigError(f"{file}: not a regular file (a device, FIFO or socket)")
    if status.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{file}: larger than 1 MB; this is no feedwatch config")


def parse(text: str, file: Path) -> Config:
    """Validate YAML text as read from `file` (used for messages and relative paths)."""
    unprintable = _UNPRINTABLE.search(text)
    if unprintable:
        line = text.count("\n", 0, unprintable.start()) + 1
        raise ConfigError(f"{file}:{line}: {_named(unprintable.group())} is not allowed")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except _Refused as exc:
        raise ConfigError(f"{file}:{exc.problem_mark.line + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{file}{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of settings at the top level")
    lines = _key_lines(root, file)
    _refuse_unprintable(data, (), file, lines)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, file, lines)) from None
    return _resolve_relative(config, file)


def _key_path(loc: tuple[Any, ...]) -> str:
    """A key's dotted path as messages name it: a part that would not print as itself (a line
    break, a control character) is quoted with escapes, so the message stays one line."""
    parts = (str(part) for part in loc)
    return ".".join(part if part.isprintable() else json.dumps(part) for part in parts)


def _named(char: str) -> str:
    return "NUL" if char == "\0" else f"control character U+{ord(char):04X}"


def _refuse_unprintable(
    value: object, loc: tuple[Any, ...], file: Path, lines: Mapping[tuple[Any, ...], int]
) -> None:
    """A ConfigError for the first key or string value holding what the file itself may not,
    written as an escape ("\\e", "\\0"): a NUL in a path, an ESC in a title printed by check."""
    if isinstance(value, bytes):  # !!binary, which pydantic takes for a str
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        unprintable = _UNPRINTABLE.search(value)
        if unprintable:
            key = _key_path(loc) or "(top level)"
            where = lines.get(loc, 1)
            raise ConfigError(
                f"{file}:{where}: {key}: {_named(unprintable.group())} is not allowed"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unprintable(key, loc, file, lines)
            _refuse_unprintable(item, (*loc, key), file, lines)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_unprintable(item, (*loc, index), file, lines)
    elif isinstance(value, set):  # !!set: no order, so no index to name
        for item in value:
            _refuse_unprintable(item, loc, file, lines)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that a feedwatch config does not allow."""


class _Checked(Composer, SafeConstructor, Resolver):
    """PyYAML's safe loading without aliases and anchors, and without deep nesting, on
    whichever parser reads the text (_loader()): the nodes are composed here, in Python, so
    that both checks run.

    A feeds config has no use for either, and both are ways to make loading it cost
    exponential time ("billion laughs") or never end (an alias inside itself).
    """

    def __init__(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        # An alias event names its anchor too.
        if getattr(event, "anchor", None):
            raise _Refused(
                problem="YAML anchors and aliases (&name, *name) are not supported; "
                "write the value out",
                problem_mark=event.start_mark,
            )
        if self._depth >= _DEEPEST_NESTING:
            raise _Refused(
                problem=f"nested more than {_DEEPEST_NESTING} levels deep",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        # PyYAML's constructors let a bad scalar's own error out: ValueError for a date such
        # as 2024-13-01 or an integer of 5000 digits, AttributeError for `!!timestamp x`.
        except Exception as exc:
            raise _Refused(
                problem=f"not valid YAML: cannot read {node.tag.rpartition(':')[2]} value: {exc}",
                problem_mark=node.start_mark,
            ) from None


class _PythonLoader(_Checked, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """With PyYAML's own parser, for a PyYAML built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        super().__init__()


def _loader() -> type[_Checked]:
    """With libyaml's parser where PyYAML has it: it reads a list of 1,000 feeds in a sixth of
    the time, into the same events and marks."""
    try:
        from yaml.cyaml import CParser
    except ImportError:
        return _PythonLoader

    class LibyamlLoader(_Checked, CParser):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            super().__init__()

    return LibyamlLoader


_Loader = _loader()


def _key_lines(root: yaml.Node | None, file: Path) -> dict[tuple[Any, ...], int]:
    """Map each key path, e.g. ('feeds', 0, 'url'), to its 1-based line in the file.

    A key written twice in one mapping is a ConfigError: YAML would quietly keep the last.
    """
    lines: dict[tuple[Any, ...], int] = {}
    pending: list[tuple[yaml.Node | None, tuple[Any, ...]]] = [(root, ())]
    while pending:
        node, loc = pending.pop()
        if node is None:
            continue
        lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            # Keys are scalars here: construct_document has refused any other as unhashable.
            first_lines: dict[str, int] = {}
            for key, value in node.value:
                key_loc = (*loc, key.value)
                line = key.start_mark.line + 1
                if key.value in first_lines:
                    path = _key_path(key_loc)
                    first = f"first on line {first_lines[key.value]}"
                    raise ConfigError(f"{file}:{line}: {path}: repeated key ({first})")
                first_lines[key.value] = line
                lines[key_loc] = line
                pending.append((value, key_loc))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, (*loc, index)) for index, item in enumerate(node.value))
    return lines


# pydantic's words for Flag and Count, in the config's terms.
_STRICT_TYPES = {
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
}


def _describe(exc: ValidationError, file: Path, lines: Mapping[tuple[Any, ...], int]) -> str:
    messages = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        # pydantic appends the validator's name for Annotated/union types; drop what is not a key.
        while loc and loc not in lines:
            loc = loc[:-1]
        line = lines.get(loc, 1)
        key = _key_path(tuple(p for p in error["loc"] if not str(p).startswith("function-")))
        if error["type"] == "extra_forbidden":
            text = "unknown key"
        elif error["type"] == "missing":
            text = "required key is missing"
        elif error["type"] in _STRICT_TYPES:
            text = _STRICT_TYPES[error["type"]]
        else:
            text = error["msg"].removeprefix("Value error, ")
        messages.append(f"{file}:{line}: {key or '(top level)'}: {text}")
    return "\n".join(messages)


def _resolve_relative(config: Config, file: Path) -> Config:
    """Relative paths in the file mean: relative to the file's folder, not the cwd."""
    folder = file.resolve().parent
    digest = config.digest
    if not digest.path.is_absolute():
        digest = digest.model_copy(update={"path": (folder / digest.path).resolve()})
    return config.model_copy(
        update={
            "database": _resolve_sqlite_url(config.database, folder),
            "digest": digest,
            "source": file.resolve(),
        }
    )


def _resolve_sqlite_url(url: str, folder: Path) -> str:
    prefix, sep, rest = url.partition(":///")
    if (
        not sep
        or not prefix.startswith("sqlite")
        or rest.startswith("/")
        or rest in ("", ":memory:")
    ):
        return url
    db_path, query_sep, query = rest.partition("?")
    return f"{prefix}:///{(folder / db_path).resolve()}{query_sep}{query}"
