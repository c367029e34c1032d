"""The tables: the migration matches the models, a call is stored once, and a stored call
survives a `kill -9` of the process that stored it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from billing_client.local.admin import LocalAdmin
from call_log.models import CallRow
from missed_calls.calls import Missed
from missed_calls.models import RecallAttemptRow
from missed_calls.store import MissedCallStore
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.missed_calls.conftest import MISSED_DIRECT, MakeTracker, capture_messages
from tests.schema import schema_drift

ROOT = Path(__file__).resolve().parents[2]
MISSED = Missed("+380671234567", "0671234567", True, None, None, 4)


async def test_the_migration_matches_the_models(db: Database) -> None:
    assert await schema_drift(db, CallRow, RecallAttemptRow) == []


async def test_a_linkedid_is_stored_once(db: Database, clock: FixedClock) -> None:
    store = MissedCallStore(db.sessions, clock)
    now = clock.now()
    results = await asyncio.gather(
        *(store.insert(MISSED_DIRECT, MISSED, at=now, ended_at=now) for _ in range(5))
    )
    assert sum(r is not None for r in results) == 1
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallRow)) == 1


async def test_two_trackers_on_one_database_record_the_call_once(
    make_tracker: MakeTracker,
) -> None:
    first, second = make_tracker(), make_tracker()
    for message in capture_messages():
        await first.on_ami_event(message)
        await second.on_ami_event(message)
    await asyncio.gather(first.flush(), second.flush())
    assert len(await first.list()) == 2


SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime
    sys.path.insert(0, sys.argv[2])
    from billing_client.audit import AuditJournal
    from billing_client.client import BillingClient
    from primitives.clock import FixedClock
    from billing_client.local.backend import LocalBackend
    from primitives.phones import PhoneNormaliser
    from missed_calls import MissedCallSettings, MissedCallTracker
    from storage import DatabaseSettings, create_engine, session_factory
    from tests.missed_calls.conftest import capture_messages

    class Hanging(LocalBackend):
        async def lookup_number(self, number):
            print("asked", number, flush=True)
            await asyncio.Event().wait()

    async def main(url, now):
        engine = create_engine(DatabaseSettings(url=url))
        sessions = session_factory(engine)
        clock = FixedClock(datetime.fromisoformat(now))
        backend = Hanging(sessions, clock, AuditJournal(sessions, "local", clock))
        settings = MissedCallSettings(lookup_timeout=600)
        billing = BillingClient(backend, PhoneNormaliser())
        tracker = MissedCallTracker(sessions, clock, billing, settings)
        for message in capture_messages():
            await tracker.on_ami_event(message)
        await tracker.flush()

    asyncio.run(main(sys.argv[1], sys.argv[3]))
    """
)


async def test_a_recorded_call_survives_kill_9(
    db: Database, tmp_path: Path, make_tracker: MakeTracker, admin: LocalAdmin, clock: FixedClock
) -> None:
    """The service records the capture's calls (two missed, one answered), then hangs
    asking the billing for each caller; SIGKILL. The next process finds both missed calls
    and names the subscriber. Both processes read one fixed time
    (handed to the child), so the calls are on the day the parent lists."""
    await admin.add("olena", phones=("0671234567",), actor="test")
    script = tmp_path / "service.py"
    script.write_text(SCRIPT, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        db.url,
        str(ROOT),
        clock.now().isoformat(),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(20):
            asked = [await process.stdout.readline() for _ in range(3)]
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert sorted(line.split()[1] for line in asked) == [
        b"+380501112233",
        b"+380671234567",
        b"+380939876543",
    ]
    calls = {c.linkedid: c for c in await make_tracker().list()}
    assert len(calls) == 2
    assert calls[MISSED_DIRECT].login == "olena"
