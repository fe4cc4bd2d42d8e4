"""Each feed's polling schedule: next poll, failures, Retry-After, gone, redirect, hints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("fetch_url", sa.String(), nullable=True))
        batch.add_column(sa.Column("next_poll", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("error_count", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("gone_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ttl_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("update_period_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("config_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        for column in (
            "config_hash",
            "update_period_seconds",
            "ttl_seconds",
            "gone_since",
            "retry_after",
            "error_count",
            "next_poll",
            "fetch_url",
        ):
            batch.drop_column(column)
