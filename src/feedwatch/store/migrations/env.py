"""Alembic's entry point, for both callers.

At run time `feedwatch.store.database.migrate` passes an open connection in
`config.attributes["connection"]`; from the alembic command line the database is
`-x url=...`, else `sqlalchemy.url` in alembic.ini.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, create_engine

from feedwatch.store.schema import Base, UTCDateTime, include_name


def _render_item(kind: str, obj: Any, _context: AutogenContext) -> str | bool:
    # Migrations must not import feedwatch: they outlive the code they were written for.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite can alter a table only by copying it; batch mode does that for later migrations.
        render_as_batch=True,
        render_item=_render_item,
        # The full-text search objects (0007) are made by hand; see schema.include_name.
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


_run()
