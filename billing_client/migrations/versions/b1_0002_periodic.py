"""billing_client: fee charges and days, autofreeze watch, reminders sent (the periodic jobs)

Revision ID: b1_0002
Revises: b1_0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0002"
down_revision: str | None = "b1_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_fee_charges",
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("login", "day", name=op.f("pk_billing_fee_charges")),
    )
    op.create_index(op.f("ix_billing_fee_charges_day"), "billing_fee_charges", ["day"])
    op.create_table(
        "billing_fee_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_billing_fee_days")),
    )
    op.create_table(
        "billing_autofreeze_watch",
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("below_since", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_billing_autofreeze_watch")),
    )
    op.create_table(
        "billing_reminders_sent",
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("login", "period", name=op.f("pk_billing_reminders_sent")),
    )
    op.create_index(
        op.f("ix_billing_reminders_sent_sent_at"), "billing_reminders_sent", ["sent_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_billing_reminders_sent_sent_at"), table_name="billing_reminders_sent")
    op.drop_table("billing_reminders_sent")
    op.drop_table("billing_autofreeze_watch")
    op.drop_table("billing_fee_days")
    op.drop_index(op.f("ix_billing_fee_charges_day"), table_name="billing_fee_charges")
    op.drop_table("billing_fee_charges")
