"""lines: voice lines (BILLmanager) and the pending reload flag

Revision ID: l1_0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("lines",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lines_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("password", sa.String(64), nullable=False),
        sa.Column("callerid", sa.String(128), nullable=False),
        sa.Column("max_channels", sa.Integer(), nullable=False),
        sa.Column("codecs", sa.String(255), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lines_lines")),
        sa.UniqueConstraint("name", name=op.f("uq_lines_lines_name")),
        sa.UniqueConstraint("number", name=op.f("uq_lines_lines_number")),
    )
    op.create_index("ix_lines_lines_login", "lines_lines", ["login"])
    reload = op.create_table(
        "lines_reload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lines_reload")),
    )
    op.bulk_insert(reload, [{"id": 1, "pending": False, "since": None, "detail": ""}])


def downgrade() -> None:
    op.drop_table("lines_reload")
    op.drop_index("ix_lines_lines_login", table_name="lines_lines")
    op.drop_table("lines_lines")
