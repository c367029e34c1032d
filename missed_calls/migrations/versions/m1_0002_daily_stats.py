"""missed_calls: daily statistics (WhyDoYouCall's wdycinfo), written by job missed_stats

Revision ID: m1_0002
Revises: m1_0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m1_0002"
down_revision: str | None = "m1_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "missed_calls_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("recalled", sa.Integer(), nullable=False),
        sa.Column("unsuccessful", sa.Integer(), nullable=False),
        sa.Column("distinct_numbers", sa.Integer(), nullable=False),
        sa.Column("missed_numbers", sa.Text(), nullable=False),
        sa.Column("total_recall_seconds", sa.Integer(), nullable=False),
        sa.Column("average_recall_seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_missed_calls_daily")),
    )


def downgrade() -> None:
    op.drop_table("missed_calls_daily")
