"""Leases: which worker polls a feed until when, and an index for the due query.

Revision ID: 0008
Revises: 0007 (0007_search, added in parallel on another branch)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        # claims.due_feeds reads the feeds whose next poll has come and whose lease is free.
        batch.create_index(
            batch.f("ix_feeds_next_poll_lease_until"), ["next_poll", "lease_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_index(batch.f("ix_feeds_next_poll_lease_until"))
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
