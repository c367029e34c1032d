"""`kill -9` at random moments: every SMS acknowledged as stored is there, the database is
intact, and no outbound message was transmitted twice (SQLite WAL, one commit per step)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from primitives.clock import FixedClock
from sms.models import InboxRow, OutboxRow
from sms.outbox import Outbox
from sms.settings import SmsSettings
from sms.types import OutboxState
from storage import DatabaseSettings, create_engine, session_factory
from tests.sms.conftest import VERSION_LOCATIONS
from tests.sms.crash_worker import text_for

ROOT = Path(__file__).resolve().parents[2]
RUNS = 4
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""The time the workers' clocks and the check's stand at."""


def run_and_kill(url: str, log: Path, run: int, rng: random.Random) -> list[str]:
    """Start the worker, let it acknowledge a random number of steps (plus a random
    moment more), kill -9 it; every line it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sms.crash_worker", url, str(log), str(run), NOW.isoformat()],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        wanted = rng.randint(6, 40)
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the worker ended before it was killed"
            lines.append(line.rstrip("\n"))
            if sum(1 for x in lines if x.startswith("stored")) >= wanted:
                break
        time.sleep(rng.uniform(0, 0.03))  # somewhere inside the next steps
    finally:
        os.kill(process.pid, signal.SIGKILL)
        rest, _ = process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    return lines + [x for x in rest.splitlines() if x]


def acknowledged(url: str, log: Path, rng: random.Random) -> tuple[dict[int, str], set[int]]:
    """Run and kill the child RUNS times; what the children acknowledged before dying:
    the texts of the SMS they stored, by row id, and the ids of the messages they queued."""
    stored: dict[int, str] = {}
    queued: set[int] = set()
    for run in range(RUNS):
        for line in run_and_kill(url, log, run, rng):
            kind, _, rest = line.partition(" ")
            if kind == "stored":
                stored_id, run_no, i = rest.split()
                stored[int(stored_id)] = text_for(int(run_no), int(i))
            elif kind == "queued":
                queued.add(int(rest))
    return stored, queued


def test_kill_minus_nine_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    url = f"sqlite+aiosqlite:///{path}"
    log = tmp_path / "transmissions.log"
    log.touch()

    async def migrate() -> None:
        from storage import migrate as storage_migrate

        engine = create_engine(DatabaseSettings(url=url))
        await storage_migrate.upgrade(engine, VERSION_LOCATIONS)
        await engine.dispose()

    asyncio.run(migrate())
    seed = random.randrange(1 << 30)
    stored, queued = acknowledged(url, log, random.Random(seed))
    assert len(stored) >= RUNS * 6, f"seed {seed}"

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    async def check() -> tuple[dict[int, str], dict[int, str]]:
        engine = create_engine(DatabaseSettings(url=url))
        sessions = session_factory(engine)
        # What the next start-up does: nothing stays `sending`.
        await Outbox(sessions, FixedClock(NOW), None, SmsSettings()).recover()
        async with sessions() as session:
            inbox = {r.id: r.text for r in await session.scalars(select(InboxRow))}
            outbox = {r.id: r.state for r in await session.scalars(select(OutboxRow))}
        await engine.dispose()
        return inbox, outbox

    inbox, outbox = asyncio.run(check())
    for row_id, text in stored.items():
        assert inbox.get(row_id) == text, f"acknowledged SMS {row_id} lost (seed {seed})"
    assert queued <= set(outbox), f"acknowledged outbound messages lost (seed {seed})"
    sends = Counter(int(x.split()[0]) for x in log.read_text().splitlines())
    assert all(n == 1 for n in sends.values()), f"sent twice: {sends} (seed {seed})"
    for message_id, state in outbox.items():
        assert state != OutboxState.SENDING
        if state == OutboxState.SENT:
            assert sends[message_id] == 1
        if state == OutboxState.QUEUED:
            assert sends[message_id] == 0
