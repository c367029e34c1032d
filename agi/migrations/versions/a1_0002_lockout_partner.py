"""agi: each failure names the subject it was counted with (number <-> login)

Lifting a lock must lift its partner too: a number and a login are locked together, and
a lock left on either still refuses the caller.

Revision ID: a1_0002
Revises: a1_0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1_0002"
down_revision: str | None = "a1_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agi_lockout_failures") as batch:
        batch.add_column(sa.Column("partner", sa.String(96), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agi_lockout_failures") as batch:
        batch.drop_column("partner")
