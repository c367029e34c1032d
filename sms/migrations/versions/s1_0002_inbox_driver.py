"""sms: the driver an inbound SMS came in on (sms_inbox.driver)

Revision ID: s1_0002
Revises: s1_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s1_0002"
down_revision: str | None = "s1_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sms_inbox", sa.Column("driver", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_inbox") as batch:
        batch.drop_column("driver")
