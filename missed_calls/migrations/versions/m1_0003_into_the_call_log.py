"""missed_calls: missed calls move into the call log's `calls` table (a view of it now)

Every row of `missed_calls_entries` becomes a row of `calls` (call_log c1_0001) with
`missed` true, keeping its id (the REST API's ids and cursors stay valid), its linkedid,
subscriber and recall marking; then `missed_calls_entries` goes. What a missed call did
not keep is filled in as the missed-calls source told it to Ubilling: incoming, NO ANSWER,
callee the queue (or empty), duration the wait, no talk time. Downgrading copies the
missed rows back and takes them out of `calls`.

Revision ID: m1_0003
Revises: m1_0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m1_0003"
down_revision: str | None = "m1_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "c1_0001"

ENTRY_COLUMNS = (
    "id",
    "linkedid",
    "number",
    "raw_number",
    "number_valid",
    "lookup",
    "login",
    "name",
    "status",
    "queue",
    "queue_position",
    "at",
    "ended_at",
    "waited_seconds",
    "recalled_at",
    "recalled_by",
)


def _entries() -> sa.TableClause:
    return sa.table(
        "missed_calls_entries",
        *(sa.column(name) for name in ENTRY_COLUMNS),
    )


CALL_COLUMNS = (
    "id",
    "linkedid",
    "caller",
    "callee",
    "number",
    "number_valid",
    "direction",
    "disposition",
    "started_at",
    "ended_at",
    "duration",
    "billsec",
    "queue",
    "queue_position",
    "lookup",
    "login",
    "name",
    "status",
    "missed",
    "waited_seconds",
    "recalled_at",
    "recalled_by",
)
"""The columns of `calls` a missed call fills (the others stay empty)."""


def _calls() -> sa.TableClause:
    return sa.table("calls", *(sa.column(name) for name in CALL_COLUMNS))


def _reset_sequence(table: str) -> None:
    """PostgreSQL: ids were copied, so the serial's sequence moves past them."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (a constant)
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
        )


def upgrade() -> None:
    entries, calls = _entries(), _calls()
    c = entries.c
    op.execute(
        calls.insert().from_select(
            list(CALL_COLUMNS),
            sa.select(
                c.id,
                c.linkedid,
                c.raw_number,
                sa.func.coalesce(c.queue, ""),
                c.number,
                c.number_valid,
                sa.literal("incoming"),
                sa.literal("NO ANSWER"),
                c.at,
                c.ended_at,
                c.waited_seconds,
                sa.literal(0),
                c.queue,
                c.queue_position,
                c.lookup,
                c.login,
                c.name,
                c.status,
                sa.true(),
                c.waited_seconds,
                c.recalled_at,
                c.recalled_by,
            ).order_by(c.id),
        )
    )
    _reset_sequence("calls")
    op.drop_index("ix_missed_calls_entries_number_at", table_name="missed_calls_entries")
    op.drop_index(op.f("ix_missed_calls_entries_at"), table_name="missed_calls_entries")
    op.drop_table("missed_calls_entries")


def downgrade() -> None:
    op.create_table(
        "missed_calls_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(150), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("raw_number", sa.String(64), nullable=False),
        sa.Column("number_valid", sa.Boolean(), nullable=False),
        sa.Column("lookup", sa.String(16), nullable=False),
        sa.Column("login", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("queue_position", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waited_seconds", sa.Integer(), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recalled_by", sa.String(150), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_calls_entries")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_missed_calls_entries_linkedid")),
    )
    op.create_index(op.f("ix_missed_calls_entries_at"), "missed_calls_entries", ["at"])
    op.create_index("ix_missed_calls_entries_number_at", "missed_calls_entries", ["number", "at"])
    entries, calls = _entries(), _calls()
    c = calls.c
    missed = sa.and_(c.missed == sa.true(), c.number.is_not(None))
    op.execute(
        entries.insert().from_select(
            list(ENTRY_COLUMNS),
            sa.select(
                c.id,
                c.linkedid,
                c.number,
                c.caller,
                c.number_valid,
                c.lookup,
                c.login,
                c.name,
                c.status,
                c.queue,
                c.queue_position,
                c.started_at,
                c.ended_at,
                c.waited_seconds,
                c.recalled_at,
                c.recalled_by,
            )
            .where(missed)
            .order_by(c.id),
        )
    )
    _reset_sequence("missed_calls_entries")
    op.execute(calls.delete().where(missed))
