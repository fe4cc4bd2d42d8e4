"""One writer per SQLite file: a lock file beside the database, held while a command runs.

`feedwatch run` holds it for its whole life; `once` waits a little for it, then says who holds
it. The lock is an flock(2) on "<database>.lock", which also holds the holder's pid and
command for that message; the kernel drops it when the process ends, however it ends, so a
crash leaves nothing stale. PostgreSQL databases are not locked: several workers may share one.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from feedwatch.errors import StoreError

RETRY_EVERY = 0.1  # seconds between tries while waiting for the lock


def lock_path(url: str) -> Path | None:
    """The lock file of the SQLite database at `url`; None for an in-memory database or any
    other kind (their URLs are checked when the store opens them)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return Path(database + ".lock")


@contextmanager
def hold(url: str, command: str, wait: float = 0.0) -> Iterator[None]:
    """The database at `url` locked for `command` (e.g. "run") within the `with` block.

    Tries for up to `wait` seconds; raises StoreError naming the holder when another process
    keeps it that long, or when the lock file cannot be made.
    """
    path = lock_path(url)
    if path is None:
        yield
        return
    database = path.with_suffix("")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot lock database {database}: {exc.strerror or exc}") from None
    try:
        _acquire(fd, database, wait)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{command}\n".encode(), 0)
        try:
            yield
        finally:
            # Emptied first: whoever reads it next finds no holder named.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # drops the lock


def _acquire(fd: int, database: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreError(f"database {database} is in use by {_holder(fd)}") from None
        except OSError as exc:
            raise StoreError(f"cannot lock database {database}: {exc.strerror or exc}") from None
        time.sleep(RETRY_EVERY)


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says: "feedwatch run, pid 1234"."""
    try:
        pid, command = os.pread(fd, 200, 0).decode("ascii").split("\n")[:2]
    except (OSError, UnicodeDecodeError, ValueError):
        pid, command = "", ""
    if not (pid.isdecimal() and command.isidentifier()):
        return "another feedwatch process"
    return f"feedwatch {command}, pid {pid}"
