"""Which of an item's fields the parser cut to their limits.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("cut", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("items", "cut")
