"""billing_client: subscribers, phones, paycards, audit journal

Revision ID: b1_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("billing_client",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("credit_cents", sa.BigInteger(), nullable=False),
        sa.Column("credit_expire", sa.Date(), nullable=True),
        sa.Column("last_credit_on", sa.Date(), nullable=True),
        sa.Column("tariff", sa.String(64), nullable=False),
        sa.Column("fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("pin_hash", sa.String(255), nullable=True),
        sa.Column("lock_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_subscribers")),
        sa.UniqueConstraint("login", name=op.f("uq_billing_subscribers_login")),
    )
    op.create_table(
        "billing_subscriber_phones",
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["billing_subscribers.id"],
            name=op.f("fk_billing_subscriber_phones_subscriber_id_billing_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_billing_subscriber_phones")),
    )
    op.create_index(
        op.f("ix_billing_subscriber_phones_subscriber_id"),
        "billing_subscriber_phones",
        ["subscriber_id"],
    )
    op.create_table(
        "billing_paycards",
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_billing_paycards")),
    )
    op.create_table(
        "billing_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("before_cents", sa.BigInteger(), nullable=True),
        sa.Column("after_cents", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("number", sa.String(32), nullable=True),
        sa.Column("uniqueid", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_audit")),
    )
    op.create_index(op.f("ix_billing_audit_at"), "billing_audit", ["at"])
    op.create_index("ix_billing_audit_login_at", "billing_audit", ["login", "at"])


def downgrade() -> None:
    op.drop_index("ix_billing_audit_login_at", table_name="billing_audit")
    op.drop_index(op.f("ix_billing_audit_at"), table_name="billing_audit")
    op.drop_table("billing_audit")
    op.drop_table("billing_paycards")
    op.drop_index(
        op.f("ix_billing_subscriber_phones_subscriber_id"), table_name="billing_subscriber_phones"
    )
    op.drop_table("billing_subscriber_phones")
    op.drop_table("billing_subscribers")
