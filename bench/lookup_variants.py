"""The askozianum lookup alone, in-process, done several ways: where its cost comes from.

`python bench/lookup_variants.py --database FILE` (a database seeded by agi_bench.py,
e.g. with --keep) prints, per variant, CPU µs per lookup (all threads: the event loop and
the worker threads), wall µs per lookup at the given concurrency, and how many times the
event loop handed work to another thread and waited for the answer (counting adds about
a microsecond per round trip).

The first variant is exactly what the service runs (`BillingClient.lookup_call` from
`pbxbridge.app.open_core`); the others are what it could run instead, written here only
to measure them. Every variant normalises the number with the project's PhoneNormaliser
and computes the same status.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
from bench_billing import FIRST_NUMBER, callers
from sqlalchemy import bindparam, select
from sqlalchemy.orm import lazyload

from billing_client.models import Subscriber, SubscriberPhone
from pbxbridge.app import open_core
from pbxbridge.settings import Settings
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine

ZONE = ZoneInfo("Europe/Kyiv")
Lookup = Callable[[str], Awaitable[Any]]

RAW_SQL = (
    "SELECT s.login, s.balance_cents, s.credit_cents, s.credit_expire, s.frozen, s.disabled "
    "FROM billing_subscribers AS s JOIN billing_subscriber_phones AS p "
    "ON p.subscriber_id = s.id WHERE p.phone = ?"
)


def status(row: Sequence[Any] | None) -> int:
    if row is None:
        return 0
    _, balance, credit, expire, frozen, disabled = row
    if frozen or disabled:
        return 3
    if isinstance(expire, str):
        expire = date.fromisoformat(expire)
    in_force = credit > 0 and expire is not None and datetime.now(ZONE).date() <= expire
    return 1 if balance >= -(credit if in_force else 0) else 2


class HopCounter:
    """Counts work the event loop hands to another thread and waits for: aiosqlite calls
    and `run_in_executor`. Each is a round trip through a queue, the thread, the GIL,
    call_soon_threadsafe and the loop's self-pipe."""

    def __init__(self) -> None:
        self.count = 0
        self._original: Any = None

    def __enter__(self) -> HopCounter:
        original: Any = aiosqlite.Connection._execute
        self._original = original

        async def counted(conn: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
            self.count += 1
            return await original(conn, fn, *args, **kw)

        setattr(aiosqlite.Connection, "_execute", counted)  # noqa: B010
        loop = asyncio.get_running_loop()
        executor = loop.run_in_executor

        def in_executor(*args: Any) -> Any:
            self.count += 1
            return executor(*args)

        setattr(loop, "run_in_executor", in_executor)  # noqa: B010 (this loop only)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(aiosqlite.Connection, "_execute", self._original)  # noqa: B010
        del asyncio.get_running_loop().run_in_executor  # back to the class's method


@dataclass
class VariantResult:
    name: str
    cpu_us: float
    wall_us: float
    hops: float


@dataclass(frozen=True)
class Numbers:
    """Warm-up numbers, and the numbers measured (disjoint from the warm-up's)."""

    warm: Sequence[str]
    measured: Sequence[str]


async def measure(name: str, lookup: Lookup, numbers: Numbers, concurrency: int) -> VariantResult:
    jobs = iter(numbers.warm)

    async def worker() -> None:
        for number in jobs:
            await lookup(number)

    # Warm up at full concurrency: pools grow to their size, statements compile.
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    jobs = iter(numbers.measured)

    with HopCounter() as hops:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    count = len(numbers.measured)
    return VariantResult(name, cpu / count * 1e6, wall / count * 1e6, hops.count / count)


async def run_variants(
    database: Path, numbers: Numbers, concurrency: int, shapes: dict[str, Numbers]
) -> list[VariantResult]:
    """`numbers` for every variant; `shapes` (label → numbers) again for the shipped one."""
    phones = PhoneNormaliser("UA")
    url = f"sqlite+aiosqlite:///{database}"
    return [
        *await _through_the_core(url, phones, numbers, concurrency, shapes),
        *await _through_sqlalchemy_core(url, phones, numbers, concurrency),
        *await _through_aiosqlite(database, phones, numbers, concurrency),
        *await _blocking_floor(database, phones, numbers, concurrency),
    ]


async def _through_the_core(
    url: str,
    phones: PhoneNormaliser,
    numbers: Numbers,
    concurrency: int,
    shapes: dict[str, Numbers],
) -> list[VariantResult]:
    """The shipped path (`open_core`), and the ORM entity read in the core's sessions."""
    results = []
    settings = Settings(database=DatabaseSettings(url=url))
    async with open_core(settings) as core:

        async def shipped(number: str) -> Any:
            return await core.billing.lookup_call(number, deadline=30.0)

        results.append(
            await measure(
                "as shipped (`open_core` → BillingClient.lookup_call)",
                shipped,
                numbers,
                concurrency,
            )
        )
        for label, shaped in shapes.items():
            results.append(await measure(f"as shipped, {label}", shipped, shaped, concurrency))

        sessions = core.sessions

        async def orm_noload(number: str) -> Any:
            e164 = phones.normalise(number)
            if e164 is None:
                return None
            stmt = (
                select(Subscriber)
                .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
                .where(SubscriberPhone.phone == e164)
                .options(lazyload(Subscriber.phones))
            )
            async with sessions() as session:
                row = await session.scalar(stmt)
                if row is None:
                    return 0
                return status(
                    (
                        row.login,
                        row.balance_cents,
                        row.credit_cents,
                        row.credit_expire,
                        row.frozen,
                        row.disabled,
                    )
                )

        results.append(
            await measure(
                "ORM entity, phones not loaded (lazyload), same session per call",
                orm_noload,
                numbers,
                concurrency,
            )
        )

    return results


async def _through_sqlalchemy_core(
    url: str, phones: PhoneNormaliser, numbers: Numbers, concurrency: int
) -> list[VariantResult]:
    """SQLAlchemy Core selects on an engine of its own."""
    results = []
    engine = create_engine(DatabaseSettings(url=url))
    columns = (
        Subscriber.login,
        Subscriber.balance_cents,
        Subscriber.credit_cents,
        Subscriber.credit_expire,
        Subscriber.frozen,
        Subscriber.disabled,
    )
    prebuilt = (
        select(*columns)
        .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
        .where(SubscriberPhone.phone == bindparam("phone"))
    )
    try:

        async def core_columns(number: str) -> int:
            e164 = phones.normalise(number)
            if e164 is None:
                return 0
            stmt = (
                select(*columns)
                .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
                .where(SubscriberPhone.phone == e164)
            )
            async with engine.connect() as conn:
                return status((await conn.execute(stmt)).first())

        results.append(
            await measure(
                "Core select of 6 columns, engine.connect()", core_columns, numbers, concurrency
            )
        )

        async def core_prebuilt(number: str) -> int:
            e164 = phones.normalise(number)
            if e164 is None:
                return 0
            async with engine.connect() as conn:
                return status((await conn.execute(prebuilt, {"phone": e164})).first())

        results.append(
            await measure(
                "Core select built once (bindparam), engine.connect()",
                core_prebuilt,
                numbers,
                concurrency,
            )
        )
    finally:
        await engine.dispose()

    return results


async def _through_aiosqlite(
    database: Path, phones: PhoneNormaliser, numbers: Numbers, concurrency: int
) -> list[VariantResult]:
    """Raw SQL on one shared aiosqlite connection."""
    results = []
    async with aiosqlite.connect(database) as db:

        async def raw(number: str) -> int:
            e164 = phones.normalise(number)
            if e164 is None:
                return 0
            async with db.execute(RAW_SQL, (e164,)) as cursor:
                return status(await cursor.fetchone())

        results.append(
            await measure(
                "raw SQL, one shared aiosqlite connection (as b)", raw, numbers, concurrency
            )
        )

        async def raw_fetchall(number: str) -> int:
            e164 = phones.normalise(number)
            if e164 is None:
                return 0
            rows = await db.execute_fetchall(RAW_SQL, (e164,))
            return status(next(iter(rows), None))

        results.append(
            await measure(
                "raw SQL, shared aiosqlite connection, execute_fetchall (1 hop)",
                raw_fetchall,
                numbers,
                concurrency,
            )
        )

    return results


async def _blocking_floor(
    database: Path, phones: PhoneNormaliser, numbers: Numbers, concurrency: int
) -> list[VariantResult]:
    """sqlite3 in the loop thread: the floor no server may use."""
    results = []
    conn = sqlite3.connect(database)
    try:

        async def blocking(number: str) -> int:
            e164 = phones.normalise(number)
            if e164 is None:
                return 0
            return status(conn.execute(RAW_SQL, (e164,)).fetchone())

        results.append(
            await measure(
                "floor: sqlite3 in the loop thread (blocks the loop; not an option)",
                blocking,
                numbers,
                concurrency,
            )
        )
    finally:
        conn.close()
    return results


def numbers_for(count: int, subscribers: int) -> tuple[Numbers, dict[str, Numbers]]:
    """The bench's caller mix, plus two shapes that matter to any per-number memo: every
    number asked once, and the same 100 numbers over and over."""
    warm = [c.callerid for c in callers(200, subscribers, seed=8)]
    mix = Numbers(warm, [c.callerid for c in callers(count, subscribers, seed=7)])
    order = random.Random(9).sample(range(subscribers), subscribers)
    unique = [f"0{FIRST_NUMBER + i}" for i in order]
    once = Numbers(unique[:200], unique[200 : 200 + count])
    hot = Numbers(unique[:100], [unique[i % 100] for i in range(count)])
    return mix, {
        f"each number once ({len(once.measured):,} numbers)": once,
        "the same 100 numbers again and again": hot,
    }


def table(results: Sequence[VariantResult], concurrency: int) -> str:
    lines = [
        f"| lookup variant | CPU µs/lookup | wall µs/lookup ({concurrency} at once) "
        "| thread round trips/lookup |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r.name} | {r.cpu_us:,.0f} | {r.wall_us:,.0f} | {r.hops:.2f} |" for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    numbers, shapes = numbers_for(args.lookups, args.subscribers)
    results = asyncio.run(run_variants(args.database, numbers, args.concurrency, shapes))
    print(table(results, args.concurrency))


if __name__ == "__main__":
    main()
