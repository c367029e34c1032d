"""callfile_spooler: the address a web callback request came from

Revision ID: cs4_0001
Revises: cs1_0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cs4_0001"
down_revision: str | None = "cs1_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("spool_callbacks") as batch:
        batch.add_column(sa.Column("client_ip", sa.String(45), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("spool_callbacks") as batch:
        batch.drop_column("client_ip")
