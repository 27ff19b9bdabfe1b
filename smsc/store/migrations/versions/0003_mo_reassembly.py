"""MO parts kept in the outbox until their message is whole (durable reassembly).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("group_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("part", sa.SmallInteger, nullable=True))
    op.create_index("ix_outbox_group", "outbox", ["group_key"])


def downgrade() -> None:
    op.drop_index("ix_outbox_group", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("part")
        batch.drop_column("group_key")
