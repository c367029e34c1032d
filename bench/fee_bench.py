"""Job charge_fee on 10,000 subscribers: how long it takes, and that the books balance.

    .venv/bin/python bench/fee_bench.py [--subscribers 10000] [--pg postgresql+asyncpg://…]

Seeds a fresh migrated database (SQLite in a temporary folder; PostgreSQL too when --pg
names an empty database), charges one day's fee, then checks with plain SQL that the
journal's fee entries sum to the balance changes and to the charges table, and that a
second run charges nothing. A tenth of the subscribers are frozen or disabled.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select, text

from billing_client.audit import AuditJournal
from billing_client.local.fees import charge_fee
from billing_client.models import AuditEntry, FeeCharge, Subscriber
from billing_client.settings import BillingSettings
from pbxbridge import migrations
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, session_factory

NOW = datetime(2027, 1, 31, 8, 0, tzinfo=UTC)  # 10:00 Kyiv, the month's last day


async def bench(url: str, count: int) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    await migrations.upgrade(engine)
    sessions = session_factory(engine)
    clock = FixedClock(NOW)
    created = datetime(2027, 1, 1, tzinfo=UTC)
    rows = [
        {
            "login": f"bench{i:05d}",
            "name": f"Subscriber {i}",
            "balance_cents": 10_000 + i,
            "credit_cents": 0,
            "tariff": "Home",
            "fee_cents": 10_000 + (i % 7) * 1_234,
            "frozen": i % 20 == 0,
            "disabled": i % 20 == 1,
            "lock_seq": 0,
            "created_at": created,
            "updated_at": created,
        }
        for i in range(count)
    ]
    async with sessions.begin() as session:
        for start in range(0, count, 1000):
            await session.execute(insert(Subscriber), rows[start : start + 1000])
    async with sessions() as session:
        before = await session.scalar(select(func.sum(Subscriber.balance_cents)))
    audit = AuditJournal(sessions, "local", clock)
    began = time.perf_counter()
    result = await charge_fee(sessions, clock, BillingSettings(), audit)
    took = time.perf_counter() - began
    again = await charge_fee(sessions, clock, BillingSettings(), audit)
    async with sessions() as session:
        after = await session.scalar(select(func.sum(Subscriber.balance_cents)))
        journal = await session.scalar(
            select(func.sum(AuditEntry.amount_cents)).where(AuditEntry.kind == "fee")
        )
        entries = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == "fee")
        )
        charged = await session.scalar(select(func.sum(FeeCharge.amount_cents)))
        mismatched = await session.scalar(
            text(
                "SELECT count(*) FROM billing_audit a JOIN billing_subscribers s "
                "ON s.login = a.login WHERE a.kind = 'fee' AND a.after_cents != s.balance_cents"
            )
        )
    await engine.dispose()
    assert before is not None
    assert after is not None
    print(f"{engine.dialect.name}: {result.summary}")
    print(
        f"  {result.counts['charged']} charged in {took:.2f} s "
        f"({result.counts['charged'] / took:.0f}/s); second run: {again.summary}"
    )
    print(
        f"  balances moved {after - before} kopecks; journal {journal} in {entries} entries; "
        f"charges table {-(charged or 0)}; entries whose 'after' is not the balance: {mismatched}"
    )
    ok = after - before == journal == -(charged or 0) and mismatched == 0
    ok = ok and again.counts["charged"] == 0
    print("  books balance" if ok else "  BOOKS DO NOT BALANCE")
    if not ok:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--pg", help="an empty PostgreSQL database (SQLAlchemy URL, asyncpg)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(bench(url, args.subscribers))
    if args.pg:
        asyncio.run(bench(args.pg, args.subscribers))


if __name__ == "__main__":
    main()
