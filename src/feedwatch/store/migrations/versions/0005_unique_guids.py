"""Each article's digest guid is unique: two articles sharing one hid one of them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("guid", sa.String))


def upgrade() -> None:
    # Before the constraint: of the articles sharing a guid, the first stored keeps it (the
    # one readers have seen); the others get one derived from it and their own id.
    connection = op.get_bind()
    shared = (
        sa.select(articles.c.guid).group_by(articles.c.guid).having(sa.func.count() > 1)
    ).scalar_subquery()
    rows = connection.execute(
        sa.select(articles.c.id, articles.c.guid)
        .where(articles.c.guid.in_(shared))
        .order_by(articles.c.guid, articles.c.id)
    ).all()
    seen: set[str] = set()
    for row_id, guid in rows:
        if guid not in seen:
            seen.add(guid)
            continue
        key = f"{guid}\n{row_id}".encode()
        fresh = "urn:feedwatch:" + hashlib.sha1(key, usedforsecurity=False).hexdigest()
        connection.execute(sa.update(articles).where(articles.c.id == row_id).values(guid=fresh))
    # An index, not a constraint: SQLite would have to copy the table for a constraint, and
    # dropping the old copy would cascade to every entry.
    op.create_index(op.f("ix_articles_guid"), "articles", ["guid"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_articles_guid"), table_name="articles")
