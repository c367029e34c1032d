"""call_log: the calls table (every call; missed calls are rows of it)

Revision ID: c1_0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("call_log",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(150), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("callee", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=True),
        sa.Column("number_valid", sa.Boolean(), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("billsec", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("queue_position", sa.Integer(), nullable=True),
        sa.Column("answered_by", sa.String(255), nullable=True),
        sa.Column("recording", sa.String(255), nullable=True),
        sa.Column("lookup", sa.String(16), nullable=False),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("waited_seconds", sa.Integer(), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recalled_by", sa.String(150), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_calls_linkedid")),
    )
    op.create_index(op.f("ix_calls_started_at"), "calls", ["started_at"])
    op.create_index("ix_calls_number_started_at", "calls", ["number", "started_at"])
    op.create_index("ix_calls_missed_started_at", "calls", ["missed", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_missed_started_at", table_name="calls")
    op.drop_index("ix_calls_number_started_at", table_name="calls")
    op.drop_index(op.f("ix_calls_started_at"), table_name="calls")
    op.drop_table("calls")
