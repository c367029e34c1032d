"""The upgrade that makes missed calls rows of the call log: a database holding missed
calls (made before m1_0003) keeps every one of them, ids and recalls included, and new
calls are recorded after them; downgrading gives the rows back."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from call_log.models import CallRow
from call_log.records import CallEntry
from call_log.store import CallLogStore
from missed_calls.store import MissedCallStore
from pbxbridge import migrations
from primitives.clock import FixedClock
from storage import migrate
from tests.conftest import Database
from tests.schema import schema_drift

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ROWS = (
    "INSERT INTO missed_calls_entries (id, linkedid, number, raw_number, number_valid, lookup,"
    " login, name, status, queue, queue_position, at, ended_at, waited_seconds, recalled_at,"
    " recalled_by) VALUES"
    " (7, '1795311485.13', '+380671234567', '0671234567', :yes, 'ok', 'olena', 'Olena', 1,"
    "  NULL, NULL, :at, :at, 4, :later, '1795311600.1'),"
    " (9, '1795311498.21', '+380501112233', '+380501112233', :yes, 'pending', NULL, NULL, NULL,"
    "  'support', 1, :at, :at, 3, NULL, NULL)"
)


def _alembic(conn: Connection, action: str, target: str) -> None:
    cfg = migrate.alembic_config(migrations.VERSION_LOCATIONS)
    cfg.attributes["connection"] = conn
    getattr(command, action)(cfg, target)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_missed_calls_move_into_the_call_log(database: Database) -> None:
    clock = FixedClock(AT)
    await migrations.upgrade(database.engine)
    async with database.engine.begin() as conn:  # as a database of the last release
        await conn.run_sync(_alembic, "downgrade", "m1_0002")
        await conn.run_sync(_alembic, "downgrade", "call_log@base")
        assert "calls" not in await conn.run_sync(_tables)
        await conn.execute(text(ROWS), {"yes": True, "at": AT, "later": AT.replace(minute=30)})
    await migrations.upgrade(database.engine)
    async with database.engine.connect() as conn:
        assert "missed_calls_entries" not in await conn.run_sync(_tables)
    assert await schema_drift(database, CallRow) == []
    missed = MissedCallStore(database.sessions, clock)
    calls = await missed.list(AT.date())
    assert [(c.id, c.linkedid, c.number, c.raw_number) for c in calls] == [
        (7, "1795311485.13", "+380671234567", "0671234567"),
        (9, "1795311498.21", "+380501112233", "+380501112233"),
    ]
    direct, queue = calls
    assert (direct.login, direct.name, direct.lookup, direct.waited_seconds) == (
        "olena",
        "Olena",
        "ok",
        4,
    )
    assert (direct.recalled_at, direct.recalled_by) == (AT.replace(minute=30), "1795311600.1")
    assert (queue.queue, queue.queue_position, queue.lookup, queue.recalled_at) == (
        "support",
        1,
        "pending",
        None,
    )
    log = CallLogStore(database.sessions, clock)
    moved = await log.get(9)
    assert moved is not None
    assert (moved.direction, moved.disposition, moved.callee, moved.missed) == (
        "incoming",
        "NO ANSWER",
        "support",
        True,
    )
    # the next call recorded gets a new id (PostgreSQL's sequence moved past the copies)
    new = await log.insert(
        CallEntry(
            linkedid="1795311700.1",
            caller="101",
            callee="102",
            number=None,
            number_valid=False,
            direction="internal",
            disposition="ANSWERED",
            started_at=AT,
            answered_at=AT,
            ended_at=AT,
            duration=0,
            billsec=0,
        )
    )
    assert new is not None
    assert new.id > 9
    # and back: the missed rows return to their table, the other calls stay
    async with database.engine.begin() as conn:
        await conn.run_sync(_alembic, "downgrade", "m1_0002")
        back = (
            await conn.execute(
                text(
                    "SELECT id, linkedid, login, recalled_by FROM missed_calls_entries ORDER BY id"
                )
            )
        ).all()
        left = (await conn.execute(text("SELECT linkedid FROM calls"))).all()
    assert [tuple(r) for r in back] == [
        (7, "1795311485.13", "olena", "1795311600.1"),
        (9, "1795311498.21", None, None),
    ]
    assert [tuple(r) for r in left] == [("1795311700.1",)]
