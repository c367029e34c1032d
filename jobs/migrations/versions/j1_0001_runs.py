"""jobs: the run history (one row per job and tick: the claim) and the per-job lock

Revision ID: j1_0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "j1_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("jobs",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("tick", sa.DateTime(timezone=True), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs_runs")),
        sa.UniqueConstraint("job", "tick", name="uq_jobs_runs_job_tick"),
    )
    op.create_index("ix_jobs_runs_job_started", "jobs_runs", ["job", "started_at"])
    op.create_index("ix_jobs_runs_started", "jobs_runs", ["started_at"])
    op.create_table(
        "jobs_locks",
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_jobs_locks")),
    )


def downgrade() -> None:
    op.drop_table("jobs_locks")
    op.drop_index("ix_jobs_runs_started", table_name="jobs_runs")
    op.drop_index("ix_jobs_runs_job_started", table_name="jobs_runs")
    op.drop_table("jobs_runs")
