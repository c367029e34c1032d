"""HealthTracker: every change reaches every callback, also those queued at stop()."""

from __future__ import annotations

import asyncio
import time

from ami_listener.health import AmiHealth, HealthTracker
from tests.ami_listener.conftest import until


async def test_stop_delivers_a_change_queued_while_a_callback_runs() -> None:
    """A slow callback (the lines' pending reload on CONNECTED) was still running when
    stop() came: stop() gave up the task first, so the change queued behind it was never
    delivered and stop() sat out its whole drain timeout."""
    tracker = HealthTracker(time.monotonic)
    seen: list[AmiHealth] = []
    release = asyncio.Event()

    async def slow(state: AmiHealth, detail: str) -> None:
        seen.append(state)
        if state is AmiHealth.CONNECTED:
            await release.wait()

    tracker.add_callback(slow)
    tracker.start()
    tracker.set(AmiHealth.CONNECTED, "up")
    await until(lambda: seen == [AmiHealth.CONNECTED])
    tracker.set(AmiHealth.RECONNECTING, "lost")
    stopping = asyncio.create_task(tracker.stop(drain_timeout=2.0))
    await asyncio.sleep(0)  # stop() is waiting for the queue now
    release.set()
    await stopping
    assert seen == [AmiHealth.CONNECTED, AmiHealth.RECONNECTING]
