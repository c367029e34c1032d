"""web: request limits shared by every instance (the callback form)

Revision ID: w4_0001
Revises: w1_0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "w4_0001"
down_revision: str | None = "w1_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_rate_limits",
        sa.Column("name", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "subject", "bucket", name=op.f("pk_web_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("web_rate_limits")
