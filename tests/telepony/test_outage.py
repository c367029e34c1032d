"""MySQL away, pbxbridge restarted, the outbox full: every leg reaches MySQL exactly once,
staff hear of an outage once, and a flood is bounded and said once a minute."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from primitives.clock import FixedClock
from primitives.health import HealthStatus
from telepony.feed import SAY_EVERY, TeleponyFeed
from telepony.models import OutboxRow
from tests.conftest import Database
from tests.fakes.tcp_proxy import TcpProxy, free_port
from tests.telepony.conftest import Rig, cdr_event, drained, rig_on


@pytest.fixture
async def proxy(mysql_url: str) -> AsyncIterator[TcpProxy]:
    """Between the feed and MariaDB; not listening until the test starts it."""
    url = make_url(mysql_url)
    made = TcpProxy(url.host or "127.0.0.1", url.port or 3306)
    yield made
    await made.stop()


async def feed_legs(feed: TeleponyFeed, first: int, count: int) -> None:
    for n in range(first, first + count):
        await feed.on_ami_event(cdr_event(f"1795311492.{n}"))


async def uniqueids(rig: Rig) -> list[str]:
    return sorted(r["uniqueid"] for r in await rig.rows())


async def outbox_rows(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count(OutboxRow.id))) or 0)


async def test_an_outage_keeps_the_legs_and_tells_staff_once(rig: Rig, proxy: TcpProxy) -> None:
    feed = rig.feed(rig.via(proxy.port), batch_size=3)
    await feed_legs(feed, 1, 5)
    await feed.start()

    await rig.told.count(1)  # nothing listens: the first failure is told
    assert "cannot write to MySQL" in rig.told.messages[0]
    assert "5 Cdr leg(s) kept" in rig.told.messages[0]
    await rig.sleep.pass_time()  # a second try fails too …
    await rig.sleep.pass_time()  # … and a third
    await rig.sleep.reached()
    assert len(rig.told.messages) == 1  # once per outage, not per try
    assert feed.stats.failures == 3
    assert rig.sleep.asked[:3] == [pytest.approx(1, rel=0.11), pytest.approx(2, rel=0.11),
                                   pytest.approx(4, rel=0.11)]  # fmt: skip
    health = await feed.health()
    assert health.status is HealthStatus.DEGRADED
    assert "5 leg(s) queued" in health.reason

    await proxy.start()  # MySQL is back
    await rig.sleep.pass_time()
    await drained(feed)
    await rig.told.count(2)
    assert rig.told.messages[1] == "TelePony feed writes to MySQL again (2 leg(s) still queued)"
    assert await uniqueids(rig) == [f"1795311492.{n}" for n in range(1, 6)]
    assert (await feed.health()).status is HealthStatus.OK

    # the link drops again; a leg waits for it, the ones after it go at once
    await proxy.stop()
    await feed_legs(feed, 6, 1)
    await rig.told.count(3)
    await rig.sleep.reached()  # waiting to retry
    await proxy.start()
    await rig.sleep.pass_time()
    await drained(feed)
    await feed_legs(feed, 7, 3)
    await drained(feed)
    assert await uniqueids(rig) == sorted(f"1795311492.{n}" for n in range(1, 10))
    assert feed.stats.written == 9
    assert await outbox_rows(rig.db) == 0


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
async def test_a_restart_before_the_write_loses_nothing(
    database: Database, mysql_url: str, clock: FixedClock
) -> None:
    async with rig_on(database, mysql_url, clock) as rig:
        before = rig.feed(rig.via(free_port()))  # MySQL unreachable: nothing is written
        await before.start()
        await feed_legs(before, 1, 5)
        await before.claim()  # a batch stamped, never written
        await before.stop()
        assert await outbox_rows(database) == 5

        after = rig.feed(batch_size=2)
        await after.start()
        assert after.queued == 5
        await drained(after)
        assert await uniqueids(rig) == [f"1795311492.{n}" for n in range(1, 6)]
        assert after.stats.written == 5


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
async def test_a_restart_between_mysqls_commit_and_the_outbox_writes_nothing_twice(
    database: Database, mysql_url: str, clock: FixedClock
) -> None:
    async with rig_on(database, mysql_url, clock) as rig:
        before = rig.feed(batch_size=10)
        await feed_legs(before, 1, 4)
        batch = await before.claim()
        assert batch is not None
        # MySQL commits the batch, then pbxbridge dies before dropping it from the outbox
        assert await before.table.write(batch.key, batch.legs, rig.clock.now())
        await before.stop()
        assert await outbox_rows(database) == 4

        after = rig.feed(batch_size=10)
        await after.start()
        await feed_legs(after, 5, 1)
        await drained(after)
        assert await uniqueids(rig) == [f"1795311492.{n}" for n in range(1, 6)]
        assert after.stats.already_written == 1
        assert after.stats.written == 1
        assert await outbox_rows(database) == 0


async def test_a_full_outbox_refuses_new_legs_and_says_so_once_a_minute(rig: Rig) -> None:
    now = [1000.0]
    feed = TeleponyFeed(
        rig.db.sessions,
        rig.clock,
        rig.settings(rig.via(free_port()), max_queued=10),
        alert=rig.told,
        sleep=rig.sleep,
        monotonic=lambda: now[0],
    )
    rig.feeds.append(feed)
    await feed_legs(feed, 1, 13)  # the worker is not running: nothing leaves
    assert feed.queued == 10
    assert feed.stats.rejected == 3
    assert len(rig.told.messages) == 1  # the first refusal is said, the next two counted
    assert "outbox full (10 legs" in rig.told.messages[0]
    assert "1 new Cdr leg(s) refused" in rig.told.messages[0]
    now[0] += SAY_EVERY
    await feed_legs(feed, 14, 1)
    assert len(rig.told.messages) == 2
    assert "3 new Cdr leg(s) refused" in rig.told.messages[1]  # the two unsaid and this one
    assert await uniqueids_queued(rig.db) == sorted(f"1795311492.{n}" for n in range(1, 11))

    await feed.start()
    health = await feed.health()
    assert health.status is HealthStatus.DOWN
    assert "outbox full" in health.reason


async def uniqueids_queued(db: Database) -> list[str]:
    async with db.sessions() as session:
        found = await session.scalars(select(OutboxRow.uniqueid).order_by(OutboxRow.id))
        return sorted(found)


async def test_a_partial_batch_waits_for_the_flush_interval(rig: Rig) -> None:
    feed = rig.feed(batch_size=5, flush_interval=30)
    await feed_legs(feed, 1, 2)
    assert await feed.due_in() == 30  # the clock stands still: the oldest waits 30 s more
    rig.clock.instant += timedelta(seconds=31)
    assert await feed.due_in() == 0
    await feed_legs(feed, 3, 3)
    rig.clock.instant -= timedelta(seconds=31)
    assert await feed.due_in() == 0  # a full batch goes at once


async def test_pbxbridges_own_database_failing_is_counted_and_said_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    feed = rig.feed()
    await feed.start()
    async with rig.db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE telepony_outbox"))
    await feed_legs(feed, 1, 3)
    assert feed.stats.lost == 3
    said = [r for r in caplog.records if "not queued" in r.getMessage()]
    assert len(said) == 1  # once a minute, not once a leg
    assert "1 Cdr leg(s) not queued, pbxbridge's database fails" in said[0].getMessage()

    feed.wake()  # the worker reads its outbox and fails: staff hear which side failed
    await rig.told.count(1)
    assert "cannot read or update its outbox in pbxbridge's database" in rig.told.messages[0]
    assert "MySQL" not in rig.told.messages[0]


async def test_cdr_events_without_uniqueid_are_counted_and_said_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    feed = rig.feed()
    for _ in range(3):
        await feed.on_ami_event(cdr_event(""))
    assert feed.stats.bad_events == 3
    assert feed.queued == 0
    said = [r for r in caplog.records if "not written" in r.getMessage()]
    assert [r.getMessage() for r in said] == [
        "TelePony: 1 Cdr event(s) not written: Cdr event without UniqueID"
    ]
