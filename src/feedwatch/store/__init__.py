"""Storage: feeds, articles, matches and summaries in SQLite or PostgreSQL.

The only package that imports SQLAlchemy and Alembic. The schema is made and changed only by
the Alembic migrations in `migrations/` (how to write one is in its docstring); `Store.open`
applies any that are missing.
"""

from feedwatch.store.database import check_url
from feedwatch.store.repository import Store
from feedwatch.store.saving import SaveResult

__all__ = ["SaveResult", "Store", "check_url"]
