"""webhooks: the outbox (one row per event and webhook, until delivered or given up)

Revision ID: wh1_0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "wh1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("webhooks",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhooks_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("webhook", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(255), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks_outbox")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_webhooks_outbox_delivery_id")),
    )
    op.create_index(
        "ix_webhooks_outbox_queue", "webhooks_outbox", ["state", "webhook", "kind", "id"]
    )
    op.create_index("ix_webhooks_outbox_finished", "webhooks_outbox", ["state", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_webhooks_outbox_finished", table_name="webhooks_outbox")
    op.drop_index("ix_webhooks_outbox_queue", table_name="webhooks_outbox")
    op.drop_table("webhooks_outbox")
