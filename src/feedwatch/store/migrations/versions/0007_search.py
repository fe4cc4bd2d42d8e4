"""Full-text search over articles: an FTS5 index on SQLite, a GIN expression index on PostgreSQL.

SQLite: `articles_search` is an external-content FTS5 table over the articles' title, summary,
body and page text (the text is not stored twice), kept in step by triggers, so every write to
`articles` (the ORM's and Core inserts alike) updates it. A later migration that recreates
`articles` in batch mode drops these triggers with the old table and must create them again.
PostgreSQL: an index on to_tsvector('simple', ...) of the same text, which `Store.search`
queries with the very same expression.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = "title, summary, body, page_text"
_NEW = "new.id, new.title, new.summary, new.body, new.page_text"
_OLD = "'delete', old.id, old.title, old.summary, old.body, old.page_text"
_INSERT_NEW = f"INSERT INTO articles_search(rowid, {_COLUMNS}) VALUES ({_NEW});"
_DELETE_OLD = f"INSERT INTO articles_search(articles_search, rowid, {_COLUMNS}) VALUES ({_OLD});"
# Capped: a tsvector holds at most 1 MB, and an article over it must still be stored.
_POSTGRES_DOCUMENT = (
    "to_tsvector('simple', left(title || ' ' || summary || ' ' || body || ' ' "
    "|| coalesce(page_text, ''), 100000))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_search ON articles USING gin ({_POSTGRES_DOCUMENT})")
        return
    # Accents are ignored, as the matcher ignores them.
    op.execute(
        f"CREATE VIRTUAL TABLE articles_search USING fts5({_COLUMNS}, content='articles', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"CREATE TRIGGER articles_search_insert AFTER INSERT ON articles BEGIN {_INSERT_NEW} END"
    )
    op.execute(
        f"CREATE TRIGGER articles_search_delete AFTER DELETE ON articles BEGIN {_DELETE_OLD} END"
    )
    op.execute(
        f"CREATE TRIGGER articles_search_update AFTER UPDATE OF {_COLUMNS} ON articles "
        f"BEGIN {_DELETE_OLD} {_INSERT_NEW} END"
    )
    # Rows stored before this migration become searchable.
    op.execute("INSERT INTO articles_search(articles_search) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_articles_search")
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER articles_search_{trigger}")
    op.execute("DROP TABLE articles_search")
