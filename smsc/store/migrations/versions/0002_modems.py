"""The modem rack: per-SIM usage counters and operator controls.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "modem_usage",
        sa.Column("sim", sa.String(32), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("sim", "period", name="pk_modem_usage"),
    )
    op.create_table(
        "modem_controls",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reset_requested_at", sa.Double, nullable=True),
        sa.Column("reset_done_at", sa.Double, nullable=True),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_modem_controls"),
    )


def downgrade() -> None:
    op.drop_table("modem_controls")
    op.drop_table("modem_usage")
