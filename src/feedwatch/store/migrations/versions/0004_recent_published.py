"""Each feed's newest publish times, kept so that a poll that changed nothing reads none.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: each feed's times are read from its articles at its next poll.
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("recent_published", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("recent_published")
