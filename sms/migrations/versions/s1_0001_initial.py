"""sms: inbox, inbox parts, outbox

Revision ID: s1_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("sms",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("sender_raw", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_key", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("parts_missing", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("lookup", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbox")),
    )
    op.create_index(
        "ix_sms_inbox_dedupe", "sms_inbox", ["device", "sender", "text_key", "received_at"]
    )
    op.create_index("ix_sms_inbox_stage", "sms_inbox", ["stage"])
    op.create_table(
        "sms_inbox_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("sender_raw", sa.String(64), nullable=False),
        sa.Column("ref", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_key", sa.String(64), nullable=False),
        sa.Column("assembled_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbox_parts")),
    )
    op.create_index(
        "ix_sms_inbox_parts_group", "sms_inbox_parts", ["device", "sender", "ref", "total"]
    )
    op.create_index("ix_sms_inbox_parts_received_at", "sms_inbox_parts", ["received_at"])
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=True),
        sa.Column("modem_id", sa.String(64), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("part_no", sa.Integer(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("transliterated", sa.Boolean(), nullable=False),
        sa.Column("reply_to", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
    )
    op.create_index("ix_sms_outbox_state_next", "sms_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_sms_outbox_action_id", "sms_outbox", ["action_id"])
    op.create_index("ix_sms_outbox_modem_id", "sms_outbox", ["modem_id"])


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_modem_id", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_action_id", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_state_next", table_name="sms_outbox")
    op.drop_table("sms_outbox")
    op.drop_index("ix_sms_inbox_parts_received_at", table_name="sms_inbox_parts")
    op.drop_index("ix_sms_inbox_parts_group", table_name="sms_inbox_parts")
    op.drop_table("sms_inbox_parts")
    op.drop_index("ix_sms_inbox_stage", table_name="sms_inbox")
    op.drop_index("ix_sms_inbox_dedupe", table_name="sms_inbox")
    op.drop_table("sms_inbox")
