"""Feed leases and hosts, so polls can be claimed by many workers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("host", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.create_index(batch_op.f("ix_feeds_host"), ["host"], unique=False)
    feeds = sa.table(
        "feeds",
        sa.column("id", sa.Integer),
        sa.column("url", sa.Text),
        sa.column("host", sa.String),
    )
    connection = op.get_bind()
    for feed_id, url in connection.execute(sa.select(feeds.c.id, feeds.c.url)).all():
        host = urlsplit(url).netloc.rsplit("@", 1)[-1].lower()
        connection.execute(feeds.update().where(feeds.c.id == feed_id).values(host=host))


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feeds_host"))
        batch_op.drop_column("host")
        batch_op.drop_column("lease_until")
