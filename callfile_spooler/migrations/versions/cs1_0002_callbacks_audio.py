"""callfile_spooler: callback requests, campaign messages

Revision ID: cs1_0002
Revises: cs1_0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cs1_0002"
down_revision: str | None = "cs1_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spool_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("name", sa.String(80), nullable=True),
        sa.Column("comment", sa.String(500), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("subscriber_name", sa.String(160), nullable=True),
        sa.Column("billing_error", sa.String(255), nullable=False),
        sa.Column("ubilling", sa.String(16), nullable=True),
        sa.Column("ubilling_error", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["spool_campaigns.id"],
            name=op.f("fk_spool_callbacks_campaign_id_spool_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spool_callbacks")),
    )
    op.create_index(
        "ix_spool_callbacks_number_requested_at", "spool_callbacks", ["number", "requested_at"]
    )
    op.create_table(
        "spool_campaign_audio",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.String(255), nullable=False),
        sa.Column("formats", sa.String(64), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["spool_campaigns.id"],
            name=op.f("fk_spool_campaign_audio_campaign_id_spool_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_spool_campaign_audio")),
    )


def downgrade() -> None:
    op.drop_table("spool_campaign_audio")
    op.drop_index("ix_spool_callbacks_number_requested_at", table_name="spool_callbacks")
    op.drop_table("spool_callbacks")
