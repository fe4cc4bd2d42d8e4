"""Where feedwatch's log lines go: stderr, one line per event, text or JSON."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_handler: logging.Handler | None = None


class JSONFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(getattr(record, "fields", {}))
        return json.dumps(event, ensure_ascii=False)


def setup(level: str = "info", fmt: str = "text") -> None:
    """Send the `feedwatch` loggers to stderr; calling again replaces the previous set-up."""
    global _handler  # noqa: PLW0603 - one handler per process, replaced on reconfiguration
    logger = logging.getLogger("feedwatch")
    if _handler is not None:
        logger.removeHandler(_handler)
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(
        JSONFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(message)s")
    )
    logger.addHandler(_handler)
    logger.setLevel(level.upper())
    logger.propagate = False
