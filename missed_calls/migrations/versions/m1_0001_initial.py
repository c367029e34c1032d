"""missed_calls: missed calls and unsuccessful recall attempts

Revision ID: m1_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("missed_calls",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "missed_calls_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(150), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("raw_number", sa.String(64), nullable=False),
        sa.Column("number_valid", sa.Boolean(), nullable=False),
        sa.Column("lookup", sa.String(16), nullable=False),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("queue_position", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waited_seconds", sa.Integer(), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recalled_by", sa.String(150), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_calls_entries")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_missed_calls_entries_linkedid")),
    )
    op.create_index(op.f("ix_missed_calls_entries_at"), "missed_calls_entries", ["at"])
    op.create_index("ix_missed_calls_entries_number_at", "missed_calls_entries", ["number", "at"])
    op.create_table(
        "missed_calls_recall_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(150), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_calls_recall_attempts")),
        sa.UniqueConstraint("linkedid", "number", name="uq_missed_calls_recall_attempts_call"),
    )
    op.create_index(
        op.f("ix_missed_calls_recall_attempts_at"), "missed_calls_recall_attempts", ["at"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_missed_calls_recall_attempts_at"), table_name="missed_calls_recall_attempts"
    )
    op.drop_table("missed_calls_recall_attempts")
    op.drop_index("ix_missed_calls_entries_number_at", table_name="missed_calls_entries")
    op.drop_index(op.f("ix_missed_calls_entries_at"), table_name="missed_calls_entries")
    op.drop_table("missed_calls_entries")
