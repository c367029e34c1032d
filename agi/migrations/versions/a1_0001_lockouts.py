"""agi: lockout failures and locks

Revision ID: a1_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("agi",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agi_lockout_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(96), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agi_lockout_failures")),
    )
    op.create_index("ix_agi_lockout_failures_subject_at", "agi_lockout_failures", ["subject", "at"])
    op.create_table(
        "agi_lockouts",
        sa.Column("subject", sa.String(96), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_agi_lockouts")),
    )


def downgrade() -> None:
    op.drop_table("agi_lockouts")
    op.drop_index("ix_agi_lockout_failures_subject_at", table_name="agi_lockout_failures")
    op.drop_table("agi_lockout_failures")
