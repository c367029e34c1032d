"""callfile_spooler: campaigns, numbers, attempts, do-not-call list

Revision ID: cs1_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cs1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("callfile_spooler",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spool_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("context", sa.String(80), nullable=False),
        sa.Column("extension", sa.String(80), nullable=False),
        sa.Column("callerid", sa.String(160), nullable=True),
        sa.Column("bundle_size", sa.Integer(), nullable=False),
        sa.Column("bundle_delay", sa.Float(), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("cps", sa.Float(), nullable=False),
        sa.Column("window", sa.String(16), nullable=True),
        sa.Column("schedule", sa.Text(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("run_no", sa.Integer(), nullable=False),
        sa.Column("last_run_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spool_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_spool_campaigns_name")),
    )
    op.create_table(
        "spool_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("extension", sa.String(80), nullable=True),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_outcome", sa.String(16), nullable=True),
        sa.Column("last_reason", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digit", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["spool_campaigns.id"],
            name=op.f("fk_spool_numbers_campaign_id_spool_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spool_numbers")),
        sa.UniqueConstraint("campaign_id", "number", name=op.f("uq_spool_numbers_campaign_id")),
    )
    op.create_index(op.f("ix_spool_numbers_campaign_id"), "spool_numbers", ["campaign_id"])
    op.create_table(
        "spool_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("run_no", sa.Integer(), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spooled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Integer(), nullable=True),
        sa.Column("cause", sa.Integer(), nullable=True),
        sa.Column("uniqueid", sa.String(64), nullable=True),
        sa.Column("digit", sa.String(32), nullable=True),
        sa.Column("detail", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["spool_campaigns.id"],
            name=op.f("fk_spool_attempts_campaign_id_spool_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["spool_numbers.id"],
            name=op.f("fk_spool_attempts_number_id_spool_numbers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spool_attempts")),
    )
    op.create_index(op.f("ix_spool_attempts_number_id"), "spool_attempts", ["number_id"])
    op.create_index(
        "ix_spool_attempts_campaign_status_not_before",
        "spool_attempts",
        ["campaign_id", "status", "not_before"],
    )
    op.create_index("ix_spool_attempts_status", "spool_attempts", ["status"])
    op.create_table(
        "spool_dnc",
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_spool_dnc")),
    )


def downgrade() -> None:
    op.drop_table("spool_dnc")
    op.drop_index("ix_spool_attempts_status", table_name="spool_attempts")
    op.drop_index("ix_spool_attempts_campaign_status_not_before", table_name="spool_attempts")
    op.drop_index(op.f("ix_spool_attempts_number_id"), table_name="spool_attempts")
    op.drop_table("spool_attempts")
    op.drop_index(op.f("ix_spool_numbers_campaign_id"), table_name="spool_numbers")
    op.drop_table("spool_numbers")
    op.drop_table("spool_campaigns")
