"""Webhooks: how fast events are queued and delivered to a receiver on this machine.

    .venv/bin/python bench/webhooks_bench.py [--events 2000] [--kinds 2]

A fresh migrated SQLite database, one webhook, an aiohttp receiver on 127.0.0.1 that
answers 200 at once: `emit` is timed alone (one outbox row and one transaction each), then
the running worker delivers the lot, in order per kind, each kind a queue of its own.
What is measured is pbxbridge's side (outbox reads and writes, signing, one POST per row).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from pbxbridge import migrations
from primitives.clock import Clock
from storage import DatabaseSettings, create_engine, session_factory
from webhooks.events import KINDS
from webhooks.service import Webhooks
from webhooks.settings import DeliverySettings, WebhookSettings


async def bench(events: int, kinds: int) -> None:
    received = 0
    done = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        if received >= events:
            done.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{Path(folder) / 'b.db'}"))
        await migrations.upgrade(engine)
        hook = WebhookSettings(
            name="bench",
            url=f"http://127.0.0.1:{port}/hook",
            events=list(KINDS),
            secret=SecretStr("bench-secret-0123456789"),
        )
        webhooks = Webhooks(
            session_factory(engine), Clock(), [hook], DeliverySettings(max_pending=1_000_000)
        )
        started = time.perf_counter()
        for n in range(events):
            await webhooks.emit(KINDS[n % kinds], {"n": n, "text": "x" * 100})
        emitted = time.perf_counter() - started
        started = time.perf_counter()
        await webhooks.start()
        await done.wait()
        delivered = time.perf_counter() - started
        await webhooks.stop()
        await engine.dispose()
    await runner.cleanup()
    print(f"{events} events, {kinds} kind(s), SQLite")
    print(f"  emit:    {events / emitted:8.0f} events/s ({emitted * 1000 / events:.2f} ms each)")
    print(f"  deliver: {events / delivered:8.0f} events/s ({delivered:.1f} s for all)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--kinds", type=int, default=2, choices=range(1, len(KINDS) + 1))
    args = parser.parse_args()
    asyncio.run(bench(args.events, args.kinds))


if __name__ == "__main__":
    main()
