"""Leases: which worker polls a due feed, and which one publishes the digest.

Several `feedwatch run` processes may share one PostgreSQL database. A worker claims the due
feeds it will poll: in one transaction it selects them `FOR UPDATE SKIP LOCKED` (a feed
another worker is claiming at that moment is passed over, not waited for) and writes its
name and an expiry on them. Until then no other worker claims them; the poll's own record
moves `next_poll` on, and the worker then frees the lease. A worker that dies (kill -9, a
lost machine) frees nothing: its feeds are claimed by another once their leases expire.

On SQLite the same statements run (SQLite has no row locks and feedwatch lets one process
use a file, store/lock.py), so one code path serves both.

One worker at a time publishes the digest: the holder of a session-level advisory lock
taken on a connection of its own. PostgreSQL frees it when that connection ends, however
the process ends, and another worker takes it over at its next try.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, Engine, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from feedwatch.store import database
from feedwatch.store.schema import FeedRow

log = logging.getLogger(__name__)

# The PostgreSQL advisory lock (one per database) whose holder publishes the digest.
PUBLISH_LOCK = 0x6665_6564_6469_6773  # "feeddigs"; not database.MIGRATION_LOCK


def claim(
    session: Session, now: datetime, *, owner: str, until: datetime, limit: int
) -> list[FeedRow]:
    """Lease to `owner` until `until` up to `limit` feeds due at `now` (earliest first):
    configured, not gone, not asked to wait, their next poll come, no live lease."""
    due = (
        select(FeedRow)
        .where(
            FeedRow.config_hash.is_not(None),
            FeedRow.gone_since.is_(None),
            or_(FeedRow.next_poll.is_(None), FeedRow.next_poll <= now),
            or_(FeedRow.retry_after.is_(None), FeedRow.retry_after <= now),
            or_(FeedRow.lease_until.is_(None), FeedRow.lease_until <= now),
        )
        .order_by(FeedRow.next_poll.asc().nulls_first(), FeedRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(due))
    for row in rows:
        row.lease_owner, row.lease_until = owner, until
    return rows


def release(
    session: Session,
    owner: str,
    urls: Collection[str] | None = None,
    *,
    until: datetime | None = None,
) -> None:
    """Free `owner`'s leases on `urls` (None: all of them); with `until`, keep them that long
    instead, so no worker polls those feeds before then."""
    statement = update(FeedRow).where(FeedRow.lease_owner == owner)
    if urls is not None:
        statement = statement.where(FeedRow.url.in_(list(urls)))
    values = {"lease_until": until} if until else {"lease_owner": None, "lease_until": None}
    session.execute(statement.values(**values))


class PublishLock:
    """Whether this process publishes the digest. Always on SQLite (one process per file);
    on PostgreSQL the advisory lock PUBLISH_LOCK, held on a connection kept for it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self.shared = engine.dialect.name == "postgresql"  # other processes may want it

    def held(self) -> bool:
        """True while this process holds the lock: tries to take it when it does not, and
        checks that the connection holding it is still there when it does."""
        if not self.shared:
            return True
        if self._connection is not None:
            try:
                self._connection.exec_driver_sql("SELECT 1")
            except SQLAlchemyError as exc:
                # The session is gone, and the lock with it: another worker may hold it now.
                log.warning("lost the digest lock: %s", database.reason(exc))
                self._drop()
            else:
                return True
        return self._try()

    def close(self) -> None:
        """Let go of the lock (if held), so another worker publishes from its next try."""
        if self._connection is None:
            return
        try:
            self._connection.exec_driver_sql(f"SELECT pg_advisory_unlock({PUBLISH_LOCK})")
            self._connection.close()
        except SQLAlchemyError:
            self._drop()
        self._connection = None

    def _try(self) -> bool:
        try:
            # Autocommit: the lock outlives transactions, and no transaction is left open.
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError:
            return False  # the store's own reads and writes report the database's trouble
        try:
            got = connection.exec_driver_sql(
                f"SELECT pg_try_advisory_lock({PUBLISH_LOCK})"
            ).scalar()
        except SQLAlchemyError:
            connection.invalidate()
            return False
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def _drop(self) -> None:
        # Invalidated, not returned to the pool: a pooled connection must never hold the lock.
        if self._connection is not None:
            self._connection.invalidate()
        self._connection = None
