"""Where feedwatch's log lines go: stderr, one line per event, text or JSON."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from feedwatch.text import printable

FORMATS = ("text", "json")
# Libraries whose messages share feedwatch's handler, and the least level shown for each:
# APScheduler's warnings are about ticks skipped on purpose (a job never overlaps itself).
# psycopg's and Python's warnings (py.warnings) would otherwise reach stderr raw, unformatted.
_LIBRARIES = {
    "apscheduler": logging.ERROR,
    "waitress": logging.WARNING,
    "psycopg": logging.WARNING,
    "py.warnings": logging.WARNING,
}

_handler: logging.Handler | None = None


class TextFormatter(logging.Formatter):
    """LEVEL message, without anything a terminal would act on.

    Messages quote the network (a feed's error, a page's URL); whatever the code that logged
    them did, no escape sequence reaches the terminal.
    """

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


class JSONFormatter(logging.Formatter):
    """One JSON object per line, for log collectors; text as TextFormatter's."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": printable(record.getMessage()),
        }
        event.update(
            (name, printable(value) if isinstance(value, str) else value)
            for name, value in getattr(record, "fields", {}).items()
        )
        if record.exc_info:
            event["traceback"] = printable(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False)


def setup(level: str = "info", fmt: str = "text") -> None:
    """Send the `feedwatch` loggers to stderr; calling again replaces the previous set-up."""
    global _handler  # noqa: PLW0603 - one handler per process, replaced on reconfiguration
    logging.captureWarnings(True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    wanted = logging.getLevelName(level.upper())
    for name, floor in {"feedwatch": logging.NOTSET, **_LIBRARIES}.items():
        logger = logging.getLogger(name)
        if _handler is not None:
            logger.removeHandler(_handler)
        logger.addHandler(handler)
        logger.setLevel(max(wanted, floor))
        logger.propagate = False
    _handler = handler


def one_line(text: str) -> str:
    """A message of several lines (e.g. a ConfigError listing each problem) as one log line."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def described(exc: BaseException) -> str:
    """An unexpected exception in one line: its type, then its message."""
    message = one_line(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
