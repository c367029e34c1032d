"""Limits kept in the database: counted atomically (two instances, one count), sliding
across the window's edge, and the table bounded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from primitives.clock import FixedClock
from tests.conftest import Database
from tests.schema import schema_drift
from web.rate_limits import Limit, RateLimitRow, RateLimits, ip_subject

HOURLY = Limit("test", 3, timedelta(hours=1))
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""On an hour's edge: the window starts here."""


async def rows(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RateLimitRow)) or 0)


async def test_the_migration_builds_the_model(database: Database) -> None:
    assert await schema_drift(database, RateLimitRow) == []


async def test_attempts_past_the_limit_are_refused_until_the_window_slides(
    database: Database,
) -> None:
    clock = FixedClock(START)
    limits = RateLimits(database.sessions, clock)
    verdicts = [await limits.hit(HOURLY, "a") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    # The window ends at 11:00; the 4 of this one weigh 4 × (1 - share gone by) then, so
    # one more passes once 4 × (1 - f) + 1 ≤ 3: at f = 0.5, 11:30.
    assert verdicts[3].retry_after == 90 * 60
    assert (await limits.hit(Limit("test", 3, timedelta(hours=1)), "b")).allowed  # others pass
    # At the edge, a fixed window would let 3 more through at once; the sliding one not.
    clock.instant = START + timedelta(hours=1, minutes=1)
    assert not (await limits.hit(HOURLY, "a")).allowed
    clock.instant = START + timedelta(hours=1, minutes=40)  # 4·(1-0.67) + 2 = 3.33 > 3
    assert not (await limits.hit(HOURLY, "a")).allowed
    clock.instant = START + timedelta(hours=2, minutes=30)  # 2·0.5 + 1 = 2
    assert (await limits.hit(HOURLY, "a")).allowed


async def test_two_instances_racing_share_one_count(database: Database) -> None:
    """Ten attempts at once through two RateLimits (two processes' worth): exactly the
    limit passes, whichever wins each race."""
    clock = FixedClock(START + timedelta(minutes=5))
    one = RateLimits(database.sessions, clock)
    two = RateLimits(database.sessions, clock)
    verdicts = await asyncio.gather(
        *(limiter.hit(HOURLY, "198.51.100.7") for limiter in [one, two] * 5)
    )
    assert sorted(v.allowed for v in verdicts) == [False] * 7 + [True] * 3


async def test_old_windows_are_pruned(database: Database) -> None:
    clock = FixedClock(START)
    limits = RateLimits(database.sessions, clock, prune_every=timedelta(minutes=10))
    for n in range(20):
        await limits.hit(HOURLY, f"198.51.100.{n}")
    assert await rows(database) == 20
    clock.instant = START + timedelta(hours=1)
    await limits.hit(HOURLY, "203.0.113.1")
    assert await rows(database) == 21  # the previous window still counts
    clock.instant = START + timedelta(hours=2, minutes=5)
    await limits.hit(HOURLY, "203.0.113.2")
    assert await rows(database) == 2  # 10:00's rows gone; 11:00's and 12:00's stay


def test_an_ipv6_client_counts_by_its_64() -> None:
    assert ip_subject("198.51.100.7") == "198.51.100.7"
    assert ip_subject("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert ip_subject("2001:db8:1:2::9") == ip_subject("2001:db8:1:2:ffff::1")
    assert ip_subject("unix-socket") == "unix-socket"
