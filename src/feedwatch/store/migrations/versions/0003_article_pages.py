"""Each article's own web page: where it was fetched from, its main text or the error.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("page_url", sa.String(), nullable=True))
        batch.add_column(sa.Column("page_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("page_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("page_fetched", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        for column in ("page_fetched", "page_error", "page_text", "page_url"):
            batch.drop_column(column)
