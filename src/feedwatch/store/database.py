"""Open a database: engine, connection settings, schema migration, readable errors."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from feedwatch.errors import StoreError
from feedwatch.urls import mask_password

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Execution option a transaction sets when it will write (see _begin_sqlite).
WRITE = {"feedwatch_write": True}
SQLITE_BUSY_SECONDS = 30
POSTGRES_CONNECT_SECONDS = 10
# The PostgreSQL advisory lock (one per database) that processes migrating at once queue on.
MIGRATION_LOCK = 0x6665_6564_7761_7463  # "feedwatc"


@dataclass(frozen=True, slots=True)
class DatabaseFile:
    """The SQLite file an engine opened: where it was, and which file it was then."""

    path: Path  # absolute: a later chdir must not make it name another file
    device: int
    inode: int

    def problem(self) -> str | None:
        """Why the file at `path` is no longer the one opened (deleted, replaced); else None."""
        try:
            info = self.path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return f"the database file {self.path} was deleted"
        except OSError:
            # Cannot tell (e.g. a folder made unreadable): the store's own reads and writes
            # say what is wrong, if anything.
            return None
        if (info.st_dev, info.st_ino) != (self.device, self.inode):
            return f"the database file {self.path} was replaced by another file"
        return None


@dataclass(frozen=True, slots=True)
class Opened:
    """What open_engine opened."""

    engine: Engine
    name: str  # the URL fit to show (password masked)
    created: bool  # the schema was empty before: a new database (or a lost one's successor)
    file: DatabaseFile | None  # SQLite on a file only


def open_engine(url: str) -> Opened:
    """An engine on `url` with the schema at the newest migration.

    Every failure is a StoreError naming the database (password masked).
    """
    parsed, name = _parse(url)
    engine = None
    try:
        engine = _create(parsed)
        created = migrate(engine) is None
        file = _database_file(parsed)
    # ValueError and TypeError: the driver's own checks of the URL's query arguments
    # ("?timeout=abc", an argument given twice) and of the path (a NUL in it).
    except (SQLAlchemyError, StoreError, ImportError, OSError, ValueError, TypeError) as exc:
        if engine is not None:
            engine.dispose()
        raise StoreError(f"cannot open database {name}: {reason(exc)}") from None
    return Opened(engine, name, created, file)


def _sqlite_path(url: URL) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory ones."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def _database_file(url: URL) -> DatabaseFile | None:
    path = _sqlite_path(url)
    if path is None:
        return None
    path = path.absolute()
    info = path.stat()
    return DatabaseFile(path, info.st_dev, info.st_ino)


def _parse(url: str) -> tuple[URL, str]:
    """The parsed URL and its name fit to show (password masked)."""
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        raise StoreError(f"cannot open database {mask_password(url)}: not a database URL") from None
    return parsed, parsed.render_as_string(hide_password=True)


def check_url(url: str) -> None:
    """Raise StoreError, worded as open_engine's, unless `url`'s dialect and driver load.

    Connects to nothing: creating an engine only imports the driver.
    """
    parsed, name = _parse(url)
    try:
        create_engine(parsed).dispose()
    except (SQLAlchemyError, ImportError, ValueError, TypeError) as exc:
        raise StoreError(f"cannot open database {name}: {reason(exc)}") from None


def migrate(engine: Engine) -> str | None:
    """Run `alembic upgrade head` in one transaction; nothing happens when already there.
    Returns the revision the database was at before (None: it was empty).

    Processes starting together take turns: the transaction holds SQLite's write lock
    (BEGIN IMMEDIATE) or a PostgreSQL advisory lock from before the revision is read until
    the upgrade commits, so each one after the first finds the schema already there.
    """
    current = _revision(engine)
    if current == head_revision():
        return current  # the usual start: alembic (its import alone is 0.2 s) is not needed
    # Alembic narrates its start-up and every connection at INFO; the one line logged below
    # says what matters. Quieted before alembic is first imported, unless set on purpose.
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        connection.execution_options(**WRITE)
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            before = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                # Typically a database last opened by a newer feedwatch.
                raise StoreError(f"cannot upgrade its schema: {exc}") from None
            after = MigrationContext.configure(connection).get_current_revision()
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "empty", after)
    return before


@functools.cache  # the migrations shipped do not change while the process runs
def head_revision() -> str:
    """The newest migration's revision, which its file name starts with (0010_...)."""
    return max(path.name.partition("_")[0] for path in (MIGRATIONS / "versions").glob("*_*.py"))


def _revision(engine: Engine) -> str | None:
    """The revision alembic recorded in the database; None when it recorded none."""
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except SQLAlchemyError:  # no such table: an empty database, or not feedwatch's
        return None


def reason(exc: BaseException) -> str:
    """The first line of what the driver said, without SQLAlchemy's decorations."""
    if isinstance(exc, ImportError):
        return f"database driver not installed ({exc})"
    if isinstance(exc, OSError):
        return f"cannot create folder {exc.filename}: {exc.strerror}"
    source = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(source).splitlines() if line.strip()]
    return lines[0] if lines else type(source).__name__


def is_retryable(exc: SQLAlchemyError) -> bool:
    """True for a unique-key race or a deadlock/serialisation failure (SQLSTATE class 23/40).

    Both mean another transaction got there first; running the work again sees its rows.
    """
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or ""
    return isinstance(exc, IntegrityError) or state.startswith("40")


def _create(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = SQLITE_BUSY_SECONDS
    elif url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        # Without it a host that drops packets would hang `feedwatch` for minutes.
        connect_args["connect_timeout"] = POSTGRES_CONNECT_SECONDS
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by _begin_sqlite, not by the driver's guesswork.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers go on while a poll thread writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    # A writer takes the write lock up front: a read transaction that later tried to write
    # could fail at once with "database is locked" instead of waiting the busy timeout.
    if connection.get_execution_options().get("feedwatch_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")
