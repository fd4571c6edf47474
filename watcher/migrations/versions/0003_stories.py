"""Stories: items carry a story id and a fingerprint; claims can be suppressed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_items_story_id"), ["story_id"], unique=False)
    with op.batch_alter_table("digest_claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suppressed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("digest_claims", schema=None) as batch_op:
        batch_op.drop_column("suppressed")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_story_id"))
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("story_id")
