"""billing_client: a change counter for the lookups' memory (SQLite triggers)

Call lookups keep answers in memory while the billing has not changed. SQLite's
`data_version` moves on a commit to any table (an SMS worker's heartbeat, a call log row),
so on a working PBX it would retire that memory several times a second. These triggers
count only the commits that touch what a lookup reads: the subscribers and their phones.
On PostgreSQL the table is created for one schema everywhere; lookups there read rows.

Revision ID: b1_0003
Revises: b1_0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1_0003"
down_revision: str | None = "b1_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("billing_subscribers", "billing_subscriber_phones")
_EVENTS = ("INSERT", "UPDATE", "DELETE")


def _trigger(table: str, event: str) -> str:
    return f"{table}_stamp_{event.lower()}"


def upgrade() -> None:
    op.create_table(
        "billing_lookup_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_lookup_stamp")),
    )
    op.execute("INSERT INTO billing_lookup_stamp (id, changes) VALUES (1, 0)")
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _TABLES:
        for event in _EVENTS:
            op.execute(
                f"CREATE TRIGGER {_trigger(table, event)} AFTER {event} ON {table} "  # noqa: S608
                "BEGIN UPDATE billing_lookup_stamp SET changes = changes + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _TABLES:
            for event in _EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, event)}")
    op.drop_table("billing_lookup_stamp")
