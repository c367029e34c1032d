"""The embedded billing the benchmark runs against: seeding, callers, expected answers.

The database is a fresh SQLite file migrated with `pbxbridge.migrations.upgrade` and
seeded through the billing client's own tables. What a lookup *should* answer is read
back with plain `sqlite3` and the status rule written out here, independently of the
code under test.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from billing_client.models import Subscriber, SubscriberPhone
from pbxbridge import migrations
from storage import DatabaseSettings, create_engine

ZONE = ZoneInfo("Europe/Kyiv")
FIRST_NUMBER = 501_000_000
"""Subscriber i owns +380 50 1000000+i (written 0501000000+i at home)."""

UNKNOWN_CALLERID = "unknown"
"""What Asterisk sends when the channel has no CallerID number."""

NAMES = ("SUBSCRIBER_STATUS", "SUBSCRIBER_LOGIN", "BILLING_RESULT", "BILLING_SOURCE")
NOTFOUND = {
    "SUBSCRIBER_STATUS": "0",
    "SUBSCRIBER_LOGIN": "",
    "BILLING_RESULT": "NOTFOUND",
    "BILLING_SOURCE": "live",
}
NOT_ASKED = {**NOTFOUND, "BILLING_SOURCE": "none"}
"""A CallerID that is no phone number: the billing is not asked, no answer is used."""


def today() -> date:
    return datetime.now(ZONE).date()


def login_of(i: int) -> str:
    return f"bench{i:05d}"


def phone_of(i: int) -> str:
    return f"+380{FIRST_NUMBER + i}"


def _subscriber_row(i: int, day: date, now: datetime) -> dict[str, object]:
    """A mix of every status: active, debtors, debtors saved by a credit, frozen, disabled."""
    balance, credit, expire = 10_000 + i % 5000, 0, None
    kind = i % 10
    if kind == 0:  # debtor
        balance = -(100 + i % 4000)
    elif kind == 1:  # debtor with a credit in force: active
        balance, credit, expire = -(100 + i % 4000), 5_000, day + timedelta(days=3)
    elif kind == 2:  # debtor whose credit expired yesterday: debtor
        balance, credit, expire = -(100 + i % 4000), 5_000, day - timedelta(days=1)
    return {
        "id": i + 1,
        "login": login_of(i),
        "name": f"Абонент Тестовий {i}",
        "balance_cents": balance,
        "credit_cents": credit,
        "credit_expire": expire,
        "tariff": "Home-100",
        "fee_cents": 10_000,
        "frozen": i % 17 == 3,
        "disabled": i % 23 == 4,
        "lock_seq": 0,
        "created_at": now,
        "updated_at": now,
    }


async def _seed(url: str, subscribers: int) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        await migrations.upgrade(engine)
        day, now = today(), datetime.now(UTC)
        rows = [_subscriber_row(i, day, now) for i in range(subscribers)]
        phones = [
            {"phone": phone_of(i), "subscriber_id": i + 1, "position": 0}
            for i in range(subscribers)
        ]
        async with engine.begin() as conn:
            await conn.execute(insert(Subscriber), rows)
            await conn.execute(insert(SubscriberPhone), phones)
    finally:
        await engine.dispose()


def seed(path: Path, subscribers: int) -> str:
    """Create, migrate and seed the SQLite file; its SQLAlchemy URL."""
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(_seed(url, subscribers))
    return url


@dataclass(frozen=True)
class Caller:
    """One session's caller: what Asterisk sends as agi_callerid, and the E.164 number
    the billing should find (None: a number no subscriber owns, or no number at all)."""

    callerid: str
    phone: str | None


def callers(count: int, subscribers: int, *, seed: int = 1) -> list[Caller]:
    """Random callers: subscribers' numbers written three ways, 5 % numbers nobody owns
    (067…), 1 % without CallerID."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.01:
            out.append(Caller(UNKNOWN_CALLERID, None))
        elif roll < 0.06:
            out.append(Caller(f"067{rng.randrange(10_000_000):07d}", None))
        else:
            i = rng.randrange(subscribers)
            local = f"0{FIRST_NUMBER + i}"
            written = rng.choice((local, local, "38" + local, "+38" + local))
            out.append(Caller(written, phone_of(i)))
    return out


def expected_values(database: Path) -> dict[str, dict[str, str]]:
    """E.164 phone → the four askozianum variables, as the database says now."""
    day = today()
    out: dict[str, dict[str, str]] = {}
    with sqlite3.connect(database) as conn:
        for phone, login, balance, credit, expire, frozen, disabled in conn.execute(
            "SELECT p.phone, s.login, s.balance_cents, s.credit_cents, s.credit_expire,"
            " s.frozen, s.disabled FROM billing_subscriber_phones p"
            " JOIN billing_subscribers s ON s.id = p.subscriber_id"
        ):
            in_force = credit > 0 and expire is not None and day <= date.fromisoformat(expire)
            if frozen or disabled:
                status = 3
            else:
                status = 1 if balance >= -(credit if in_force else 0) else 2
            out[phone] = {
                "SUBSCRIBER_STATUS": str(status),
                "SUBSCRIBER_LOGIN": login,
                "BILLING_RESULT": "OK",
                "BILLING_SOURCE": "live",
            }
    return out


def pick(expected: dict[str, dict[str, str]], status: str, subscribers: int) -> tuple[str, str]:
    """(login, phone) of the first subscriber whose status is `status` now."""
    for i in range(subscribers):
        if expected[phone_of(i)]["SUBSCRIBER_STATUS"] == status:
            return login_of(i), phone_of(i)
    raise LookupError(f"no subscriber with status {status}")
