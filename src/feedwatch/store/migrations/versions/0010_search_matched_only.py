"""SQLite's search index holds the matched articles only: the ones search can return.

Indexing every stored article was a third of what SQLite spends storing a cold cycle's
articles, 19 in 20 of which match no show. The FTS5 table now keeps its own copy of the text
(of matched articles only) instead of reading it from `articles`, so that every change is a
plain insert, update or delete by rowid that is right whatever order the triggers fire in:
- a match inserted: its article is indexed, unless it already is;
- a match deleted (re-judging, retention): the article leaves the index with its last one;
- an article's text changed: its row in the index, if any, changes with it;
- an article deleted: its row in the index goes.
A later migration that recreates `articles` or `matches` in batch mode drops these triggers
with the old table and must create them again. PostgreSQL keeps its expression index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = "title, summary, body, page_text"
_TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"
_INDEX_ARTICLE = (
    f"INSERT INTO articles_search(rowid, {_COLUMNS}) SELECT id, {_COLUMNS} FROM articles "
    "WHERE id = new.article_id "
    "AND NOT EXISTS (SELECT 1 FROM articles_search WHERE rowid = new.article_id);"
)
_UNINDEX_ARTICLE = (
    "DELETE FROM articles_search WHERE rowid = old.article_id "
    "AND NOT EXISTS (SELECT 1 FROM matches WHERE article_id = old.article_id);"
)
_TRIGGERS = {
    "articles_search_match_insert": f"AFTER INSERT ON matches BEGIN {_INDEX_ARTICLE} END",
    "articles_search_match_delete": f"AFTER DELETE ON matches BEGIN {_UNINDEX_ARTICLE} END",
    "articles_search_match_update": (
        f"AFTER UPDATE OF article_id ON matches BEGIN {_UNINDEX_ARTICLE} {_INDEX_ARTICLE} END"
    ),
    "articles_search_update": (
        f"AFTER UPDATE OF {_COLUMNS} ON articles BEGIN UPDATE articles_search SET "
        "title = new.title, summary = new.summary, body = new.body, page_text = new.page_text "
        "WHERE rowid = new.id; END"
    ),
    "articles_search_delete": (
        "AFTER DELETE ON articles BEGIN DELETE FROM articles_search WHERE rowid = old.id; END"
    ),
}
# Migration 0007's: an external-content index over every article.
_OLD_TRIGGERS = {
    "articles_search_insert": (
        f"AFTER INSERT ON articles BEGIN INSERT INTO articles_search(rowid, {_COLUMNS}) "
        "VALUES (new.id, new.title, new.summary, new.body, new.page_text); END"
    ),
    "articles_search_delete": (
        "AFTER DELETE ON articles BEGIN INSERT INTO articles_search(articles_search, rowid, "
        f"{_COLUMNS}) VALUES ('delete', old.id, old.title, old.summary, old.body, "
        "old.page_text); END"
    ),
    "articles_search_update": (
        f"AFTER UPDATE OF {_COLUMNS} ON articles BEGIN INSERT INTO articles_search("
        f"articles_search, rowid, {_COLUMNS}) VALUES ('delete', old.id, old.title, old.summary, "
        f"old.body, old.page_text); INSERT INTO articles_search(rowid, {_COLUMNS}) VALUES "
        "(new.id, new.title, new.summary, new.body, new.page_text); END"
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    _replace(_OLD_TRIGGERS, _TRIGGERS, f"fts5({_COLUMNS}, {_TOKENIZE})")
    op.execute(
        f"INSERT INTO articles_search(rowid, {_COLUMNS}) SELECT id, {_COLUMNS} FROM articles "
        "WHERE EXISTS (SELECT 1 FROM matches WHERE matches.article_id = articles.id)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    table = f"fts5({_COLUMNS}, content='articles', content_rowid='id', {_TOKENIZE})"
    _replace(_TRIGGERS, _OLD_TRIGGERS, table)
    op.execute("INSERT INTO articles_search(articles_search) VALUES ('rebuild')")


def _replace(old: dict[str, str], new: dict[str, str], table: str) -> None:
    for name in old:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE articles_search")
    op.execute(f"CREATE VIRTUAL TABLE articles_search USING {table}")
    for name, body in new.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
