"""SMS fixtures: a migrated database with the sms tables, an embedded billing, the inbox and
outbox wired as the root wires them, and the hand-made chan_dongle event streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ami_listener.framing import AmiFramer
from ami_listener.message import AmiMessage
from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from billing_client.local.admin import LocalAdmin
from pbxbridge import migrations
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from sms.inbox import SWEEP_INTERVAL, Inbox
from sms.outbox import Outbox
from sms.settings import SmsSettings
from sms.transports import Ready, SmsTransport
from sms.types import OutboxMessage, StoredSms
from storage import migrate
from tests.conftest import Database

FIXTURE_FILE = (
    Path(__file__).resolve().parent.parent / "fixtures" / "asterisk" / ("dongle-sms-handmade.json")
)
ACTOR = "test"

VERSION_LOCATIONS = migrations.VERSION_LOCATIONS
"""The root's migration folders (sms's among them)."""


def fixtures() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE_FILE.read_text(encoding="utf-8"))
    return data


def stream(name: str, **values: str) -> bytes:
    """A hand-made event stream, `{placeholders}` filled in."""
    text: str = fixtures()[name]
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.encode("utf-8")


def frame(data: bytes, chunk: int | None = None) -> list[AmiMessage]:
    """Messages of a raw stream through the client's framer (fed in `chunk`-byte reads)."""
    framer = AmiFramer()
    framer.feed(b"Asterisk Call Manager/9.0.0\r\n")
    step = chunk or len(data)
    out: list[AmiMessage] = []
    for start in range(0, len(data), step):
        out += framer.feed(data[start : start + step])
    return out


async def upgrade_sms(database: Database) -> None:
    await migrate.upgrade(database.engine, VERSION_LOCATIONS)


@pytest.fixture
async def sms_db(database: Database) -> Database:
    """The `database` fixture (SQLite and PostgreSQL) with the sms tables added.

    The shared PostgreSQL template is left alone: other folders' tests upgrade their copies
    with version folders that do not include ours."""
    await upgrade_sms(database)
    return database


@dataclass
class Rig:
    db: Database
    clock: FixedClock
    settings: SmsSettings
    admin: LocalAdmin
    billing: BillingClient
    outbox: Outbox
    inbox: Inbox
    stored: list[StoredSms] = field(default_factory=list)
    finals: list[OutboxMessage] = field(default_factory=list)

    def advance(self, seconds: float) -> None:
        self.clock.instant += timedelta(seconds=seconds)

    async def add_subscriber(self, login: str, phone: str, **values: Any) -> None:
        fields: dict[str, Any] = {
            "name": "Іван Петренко",
            "balance": Decimal("150.00"),
            "fee": Decimal("300"),
            "tariff": "Home100",
        }
        fields.update(values)
        await self.admin.add(login, phones=(phone,), actor=ACTOR, **fields)

    async def feed(self, data: bytes, chunk: int | None = None) -> list[AmiMessage]:
        """Hand each framed event to the inbox, as the AMI dispatcher would, in order."""
        messages = frame(data, chunk)
        for message in messages:
            await self.inbox.on_ami_event(message)
        await self.inbox.drain()
        return messages


MakeRig = Callable[..., Rig]


def rig_factory(db: Database, clock: FixedClock) -> MakeRig:
    """`make(sender=None, **sms_settings)`: inbox + outbox on `db`, wired like the root, with
    the local billing on `db` unless `billing` is given."""

    def make(
        sender: SmsTransport | None = None,
        *,
        ready: Ready | None = None,
        billing: BillingClient | None = None,
        sweep_interval: float = SWEEP_INTERVAL,
        **values: Any,
    ) -> Rig:
        settings = SmsSettings(**values)
        phones = PhoneNormaliser()
        audit = AuditJournal(db.sessions, "local", clock)
        admin = LocalAdmin(db.sessions, clock, audit, phones)
        if billing is None:
            billing = BillingClient(LocalBackend(db.sessions, clock, audit), phones)
        finals: list[OutboxMessage] = []
        stored: list[StoredSms] = []

        async def on_final(message: OutboxMessage) -> None:
            finals.append(message)

        async def on_stored(item: StoredSms) -> None:
            stored.append(item)

        outbox = Outbox(db.sessions, clock, sender, settings, on_final, phones=phones, ready=ready)
        inbox = Inbox(
            db.sessions,
            clock,
            billing,
            settings,
            outbox=outbox,
            on_stored=on_stored,
            sweep_interval=sweep_interval,
        )
        return Rig(db, clock, settings, admin, billing, outbox, inbox, stored, finals)

    return make


@pytest.fixture
def make_rig(sms_db: Database, clock: FixedClock) -> MakeRig:
    """Rigs on SQLite and on PostgreSQL: for what storage decides."""
    return rig_factory(sms_db, clock)


@pytest.fixture
async def make_sqlite_rig(sqlite_database: Database, clock: FixedClock) -> MakeRig:
    """Rigs on SQLite only: for what does not depend on the database (message formats)."""
    await upgrade_sms(sqlite_database)
    return rig_factory(sqlite_database, clock)


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling a plain condition
            await asyncio.sleep(0.01)


@pytest.fixture
async def stop_later() -> AsyncIterator[list[Inbox | Outbox]]:
    """Inboxes and outboxes to stop after the test, whatever happened."""
    items: list[Inbox | Outbox] = []
    yield items
    for item in items:
        await item.stop()
