"""kill -9 at random moments, several times, mid-campaign: nobody called twice, nobody lost.

The spooler runs as a separate process (`kill_worker`); Asterisk is a `FakeAsterisk` in
this process that answers every call at once. Each run is killed with SIGKILL once it has
made a random number of calls; the last run is left to finish the campaign. Every number
must have reached outgoing/ exactly once, and been archived exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from callfile_spooler.campaigns import CampaignManager, CampaignSettings
from callfile_spooler.imports import parse_numbers
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser
from tests.callfile_spooler.conftest import ua_numbers
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate
from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = 300
KILLS = 6


async def run_asterisk(asterisk: FakeAsterisk, stop: asyncio.Event) -> None:
    while not stop.is_set():
        now = datetime.now(UTC)
        asterisk.pick_up(now)
        asterisk.finish(now)
        await asyncio.sleep(0.002)


async def test_kill_nine_mid_campaign(sqlite_db: Database, spool_dir: Path) -> None:
    seed = int(time.time() * 1000) % 1_000_000
    rng = random.Random(seed)
    manager = CampaignManager(sqlite_db.sessions, Clock(), PhoneNormaliser("UA"))
    await manager.create("kill", CampaignSettings(max_concurrent=8, cps=400))
    text = "number\n" + "\n".join(ua_numbers(NUMBERS)) + "\n"
    await manager.import_numbers("kill", parse_numbers(text, manager.phones))
    await manager.start("kill")

    asterisk = FakeAsterisk(spool_dir, lambda _call: Fate(0.01))
    stop = asyncio.Event()
    fake = asyncio.create_task(run_asterisk(asterisk, stop))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.callfile_spooler.kill_worker"]
    kills = 0
    try:
        for run in range(KILLS + 1):
            proc = await asyncio.create_subprocess_exec(
                *command, sqlite_db.url, str(spool_dir), cwd=ROOT, env=env
            )
            if run < KILLS:
                # after a random number of calls, then a random instant more
                target = len(asterisk.arrivals) + rng.randint(1, 30)
                deadline = time.monotonic() + 20
                while len(asterisk.arrivals) < target and proc.returncode is None:
                    assert time.monotonic() < deadline, f"seed {seed}: worker stalled"
                    await asyncio.sleep(0.001)
                await asyncio.sleep(rng.random() * 0.05)
                if proc.returncode is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                await proc.wait()
            else:
                code = await asyncio.wait_for(proc.wait(), 60)
                assert code == 0, f"seed {seed}: the last run failed"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        stop.set()
        await fake

    assert kills >= 3, f"seed {seed}: the campaign ended before the kills"
    reached_outgoing = Counter(number for _, _, number in asterisk.arrivals)
    assert len(reached_outgoing) == NUMBERS, f"seed {seed}: numbers never called"
    twice = {n: c for n, c in reached_outgoing.items() if c > 1}
    assert not twice, f"seed {seed}: called more than once: {twice}"
    assert not os.listdir(spool_dir / "outgoing")
    assert not os.listdir(spool_dir / "tmp")
    report = await manager.report("kill")
    assert Counter(r.status for r in report) == {"answered": NUMBERS}, f"seed {seed}"
    assert all(r.attempts == 1 for r in report), f"seed {seed}"
    assert (await manager.get("kill")).state == "done"
