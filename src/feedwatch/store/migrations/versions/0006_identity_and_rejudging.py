"""Entry identity, re-judging, retention and stories: display links apart from identity,
authors, enclosures, tags and language, the matched phrase, summary settings, forgotten
entries, each article's story, the moments daily roundups were published.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        # `url` stays the identity shared across feeds (unique, may now be empty: a link that
        # several entries of a feed share identifies none of them); `link` is what readers follow.
        batch.add_column(sa.Column("link", sa.String(), nullable=True))
        batch.add_column(sa.Column("authors", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("enclosures", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("story", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_articles_story"), ["story"], unique=False)
    articles = sa.table("articles", sa.column("url", sa.String), sa.column("link", sa.String))
    op.execute(articles.update().values(link=articles.c.url))
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("phrase", sa.String(), nullable=True))
    # NULL: made under settings unknown, so redone once for the articles the digest shows.
    with op.batch_alter_table("summaries") as batch:
        batch.add_column(sa.Column("settings", sa.String(length=64), nullable=True))
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(
            sa.Column("last_skipped", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "forgotten_entries",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_forgotten_entries_feed_id_feeds")
        ),
        sa.PrimaryKeyConstraint("feed_id", "entry_id", name=op.f("pk_forgotten_entries")),
    )
    op.create_table(
        "roundups",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("at", name=op.f("pk_roundups")),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("roundups")
    op.drop_table("forgotten_entries")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("last_skipped")
    with op.batch_alter_table("summaries") as batch:
        batch.drop_column("settings")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("phrase")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index(batch.f("ix_articles_story"))
        for column in ("story", "language", "tags", "enclosures", "authors", "link"):
            batch.drop_column(column)
