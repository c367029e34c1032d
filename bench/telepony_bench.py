"""The TelePony feed's throughput: Cdr legs queued in the outbox, then written to MariaDB.

    .venv/bin/python bench/telepony_bench.py [--legs 20000] [--batch 200 1000]
        [--mysql mysql+asyncmy://root@127.0.0.1:3306/mysql]

On a fresh migrated SQLite database (pbxbridge's own) and a throwaway MariaDB database
(created with a random name, dropped after), for each batch size: the legs are queued one
by one as the AMI consumer queues them (one committed INSERT each: legs/s queued), then the
worker drains the outbox into the cdr table (legs/s written, batches of that size, each one
MySQL transaction with its marker, then the outbox rows deleted). `--mysql` defaults to
$PBXBRIDGE_TEST_MYSQL_URL, else root on 127.0.0.1:3306.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ami_listener.message import parse_message
from pbxbridge import migrations
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, session_factory
from telepony.feed import TeleponyFeed
from telepony.settings import TeleponySettings

DEFAULT_MYSQL = "mysql+asyncmy://root@127.0.0.1:3306/mysql"
EVENT = (
    "Event: Cdr\r\nAccountCode: \r\nSource: 0671234567\r\nDestination: 100\r\n"
    'DestinationContext: inbound-test\r\nCallerID: "Абонент" <0671234567>\r\n'
    "Channel: Local/100@inbound-test-00000006;2\r\n"
    "DestinationChannel: Local/s@noanswer-test-00000007;1\r\nLastApplication: Dial\r\n"
    "LastData: Local/s@noanswer-test,4\r\nStartTime: 2026-11-22 01:38:05\r\nAnswerTime: \r\n"
    "EndTime: 2026-11-22 01:38:09\r\nDuration: 4\r\nBillableSeconds: 0\r\n"
    "Disposition: NO ANSWER\r\nAMAFlags: DOCUMENTATION\r\nUniqueID: 1795311485.{n}\r\n"
    "UserField: in"
)


async def admin(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def run(legs: int, batch: int, server: str, folder: Path) -> None:
    name = f"pbxbridge_bench_{secrets.token_hex(4)}"
    await admin(server, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{folder}/b{batch}.db"))
    try:
        await migrations.upgrade(engine)
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        settings = TeleponySettings(url=url, batch_size=batch, flush_interval=0)
        clock = FixedClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
        feed = TeleponyFeed(session_factory(engine), clock, settings)
        await feed.table.prepare()
        events = [parse_message(EVENT.format(n=n)) for n in range(legs)]
        started = time.perf_counter()
        for event in events:
            await feed.on_ami_event(event)
        queued = time.perf_counter() - started
        started = time.perf_counter()
        await feed.start()
        await feed.wait_until(lambda: feed.queued == 0, 600)
        written = time.perf_counter() - started
        await feed.stop()
        print(
            f"batch {batch:>5}: {legs} legs queued in {queued:.2f} s ({legs / queued:,.0f}/s), "
            f"written in {written:.2f} s ({legs / written:,.0f}/s, "
            f"{feed.stats.batches} transactions)"
        )
    finally:
        await engine.dispose()
        await admin(server, f"DROP DATABASE IF EXISTS `{name}`")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[200, 1000])
    parser.add_argument(
        "--mysql", default=os.environ.get("PBXBRIDGE_TEST_MYSQL_URL", DEFAULT_MYSQL)
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for batch in args.batch:
            await run(args.legs, batch, args.mysql, Path(folder))


if __name__ == "__main__":
    asyncio.run(main())
