"""Accounts and the messages queue.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("system_id", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("max_binds", sa.Integer, nullable=False, server_default="4"),
        sa.Column("window", sa.Integer, nullable=False, server_default="100"),
        sa.Column("throughput", sa.Double, nullable=False, server_default="0"),
        sa.Column("allowed_sources", sa.Text, nullable=True),
        sa.Column("ip_allowlist", sa.Text, nullable=True),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("system_id", name="uq_accounts_system_id"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("command", sa.String(16), nullable=False),
        sa.Column("multi_id", sa.BigInteger, nullable=True),
        sa.Column("service_type", sa.String(6), nullable=False, server_default=""),
        sa.Column("source_addr", sa.String(65), nullable=False),
        sa.Column("source_ton", sa.SmallInteger, nullable=False),
        sa.Column("source_npi", sa.SmallInteger, nullable=False),
        sa.Column("dest_addr", sa.String(65), nullable=False),
        sa.Column("dest_ton", sa.SmallInteger, nullable=False),
        sa.Column("dest_npi", sa.SmallInteger, nullable=False),
        sa.Column("esm_class", sa.SmallInteger, nullable=False),
        sa.Column("protocol_id", sa.SmallInteger, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("registered_delivery", sa.SmallInteger, nullable=False),
        sa.Column("data_coding", sa.SmallInteger, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("segments", sa.SmallInteger, nullable=False),
        sa.Column("tlvs", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("schedule_at", sa.Double, nullable=True),
        sa.Column("expires_at", sa.Double, nullable=True),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("route", sa.String(64), nullable=True),
        sa.Column("upstream", sa.String(64), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("done_at", sa.Double, nullable=True),
        sa.Column("claimed_by", sa.SmallInteger, nullable=True),
        sa.Column("parts_sent", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("parts_done", sa.SmallInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_messages_account_id_accounts"),
    )
    op.create_index("ix_messages_due", "messages", ["state", sa.text("priority DESC"), "next_attempt_at", "id"])
    op.create_index("ix_messages_account_created", "messages", ["account_id", "created_at"])
    op.create_index("ix_messages_dest", "messages", ["dest_addr"])
    op.create_table(
        "dlr_keys",
        sa.Column("upstream", sa.String(64), nullable=False),
        sa.Column("remote_id", sa.String(80), nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("part", sa.SmallInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("upstream", "remote_id", name="pk_dlr_keys"),
    )
    op.create_index("ix_dlr_keys_message", "dlr_keys", ["message_id"])
    op.create_table(
        "early_receipts",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("upstream", sa.String(64), nullable=False),
        sa.Column("remote_id", sa.String(80), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_code", sa.Integer, nullable=True),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_early_receipts"),
    )
    op.create_index("ix_early_receipts_key", "early_receipts", ["upstream", "remote_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("account_id", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("source_addr", sa.String(65), nullable=False),
        sa.Column("source_ton", sa.SmallInteger, nullable=False),
        sa.Column("source_npi", sa.SmallInteger, nullable=False),
        sa.Column("dest_addr", sa.String(65), nullable=False),
        sa.Column("dest_ton", sa.SmallInteger, nullable=False),
        sa.Column("dest_npi", sa.SmallInteger, nullable=False),
        sa.Column("esm_class", sa.SmallInteger, nullable=False),
        sa.Column("data_coding", sa.SmallInteger, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("tlvs", sa.LargeBinary, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("delivered_at", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_outbox_account_id_accounts"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["state", "account_id", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("early_receipts")
    op.drop_table("dlr_keys")
    op.drop_table("messages")
    op.drop_table("accounts")
