"""Feed health: when a feed started failing, and what operators were told.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(), nullable=True))
    op.create_table(
        "feed_notices",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("notified_kind", sa.String(length=16), nullable=True),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column("announced_move", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    # A feed failing at upgrade time counts from its last poll, not from never.
    op.execute("UPDATE feeds SET failing_since = last_polled_at WHERE error_count > 0")


def downgrade() -> None:
    op.drop_table("feed_notices")
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("failing_since")
