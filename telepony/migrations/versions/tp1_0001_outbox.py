"""telepony: the outbox of Cdr legs waiting for the MySQL table TelePony reads

Revision ID: tp1_0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tp1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("telepony",)
depends_on: str | Sequence[str] | None = None

TEXT = 1024
TEXT_COLUMNS = (
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
)
MORE_TEXT = ("disposition", "amaflags", "accountcode", "uniqueid", "userfield")


def upgrade() -> None:
    op.create_table(
        "telepony_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch", sa.String(32), nullable=True),
        sa.Column("calldate", sa.DateTime(timezone=False), nullable=False),
        *(sa.Column(name, sa.String(TEXT), nullable=False) for name in TEXT_COLUMNS),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("billsec", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.String(TEXT), nullable=False) for name in MORE_TEXT),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telepony_outbox")),
    )
    op.create_index("ix_telepony_outbox_batch", "telepony_outbox", ["batch"])


def downgrade() -> None:
    op.drop_index("ix_telepony_outbox_batch", table_name="telepony_outbox")
    op.drop_table("telepony_outbox")
