"""The sms tables: the migrations match the models, and s1_0002 adds and drops
`sms_inbox.driver` on a database that already holds messages."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from sms.models import InboxPartRow, InboxRow, OutboxRow, OutboxWorkerRow
from storage import migrate
from tests.conftest import Database
from tests.schema import schema_drift
from tests.sms.conftest import VERSION_LOCATIONS


async def test_the_migrations_match_the_models(sms_db: Database) -> None:
    assert await schema_drift(sms_db, InboxRow, InboxPartRow, OutboxRow, OutboxWorkerRow) == []


def _inbox_columns(conn: Connection) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns("sms_inbox")}


def _downgrade(conn: Connection, target: str) -> None:
    cfg = migrate.alembic_config(VERSION_LOCATIONS)
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, target)


async def test_driver_column_added_to_an_inbox_with_messages(database: Database) -> None:
    await migrate.upgrade(database.engine, VERSION_LOCATIONS)
    async with database.engine.begin() as conn:
        await conn.run_sync(_downgrade, "s1_0001")  # as a database made before s1_0002
        assert "driver" not in await conn.run_sync(_inbox_columns)
        await conn.execute(
            text(
                "INSERT INTO sms_inbox (received_at, device, sender, sender_raw, text, text_key,"
                " source, parts, parts_missing, duplicates, lookup, stage) VALUES"
                " (CURRENT_TIMESTAMP, 'dongle0', '+380501110001', '0501110001', 'hi', 'k',"
                " 'base64', 1, 0, 0, 'found', 'done')"
            )
        )
    await migrate.upgrade(database.engine, VERSION_LOCATIONS)
    async with database.engine.connect() as conn:
        assert (await conn.execute(text("SELECT text, driver FROM sms_inbox"))).all() == [
            ("hi", None)
        ]
    async with database.engine.begin() as conn:
        await conn.run_sync(_downgrade, "s1_0001")
        assert "driver" not in await conn.run_sync(_inbox_columns)
        assert (await conn.execute(text("SELECT text FROM sms_inbox"))).all() == [("hi",)]
