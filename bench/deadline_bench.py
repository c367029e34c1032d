"""The FastAGI server's connection deadlines, µs per session (uvloop, in-process, three
suspension points standing in for the environment read and two commands): the header's
and the session's as two nested asyncio.timeout (before) and as one timer rescheduled
once the environment is in (after); the billing lookup's timeout_at shown apart.

    python bench/deadline_bench.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import uvloop

SESSIONS = 50_000


async def _bare() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def _nested() -> None:
    async with asyncio.timeout(30):
        async with asyncio.timeout(5):
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        await asyncio.sleep(0)


async def _one_rescheduled() -> None:
    now = asyncio.get_running_loop().time()
    deadline = asyncio.timeout_at(now + 5)
    async with deadline:
        await asyncio.sleep(0)
        deadline.reschedule(now + 30)
        await asyncio.sleep(0)
        await asyncio.sleep(0)


async def _lookup_timeout() -> None:
    await asyncio.sleep(0)
    async with asyncio.timeout_at(asyncio.get_running_loop().time() + 3):
        await asyncio.sleep(0)
    await asyncio.sleep(0)


async def _per_session(body: Callable[[], Awaitable[None]]) -> float:
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(SESSIONS):
            await body()
        rounds.append((time.process_time() - start) / SESSIONS * 1e6)
    return statistics.median(rounds)


async def main() -> None:
    bare = await _per_session(_bare)
    for name, body in (
        ("header + session: two nested asyncio.timeout", _nested),
        ("header + session: one timer, rescheduled", _one_rescheduled),
        ("the billing lookup's asyncio.timeout_at alone", _lookup_timeout),
    ):
        print(f"{name:48} {await _per_session(body) - bare:5.1f} µs/session")


if __name__ == "__main__":
    uvloop.run(main())
