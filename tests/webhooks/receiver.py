"""A billing's web server receiving webhooks: a real aiohttp app on a real socket.

It checks each request as the README tells a receiver to (written out here, not imported
from webhooks.signing, so the test would catch a signer and a checker wrong the same way):
the timestamp within 300 s of its clock, the HMAC-SHA256 of `timestamp + "." + body`,
and it deduplicates on the delivery id. What it answers is scripted per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SECRET = "s3cret-shared-with-the-billing"


@dataclass
class Received:
    delivery_id: str
    event: str
    timestamp: int
    body: dict[str, Any]
    raw: bytes
    verified: bool
    status: int
    """What the receiver answered (0: it hung past the sender's timeout)."""
    authorization: str | None


Script = Callable[["Received"], "int | float"]
"""Per request: the status to answer, or (a float) seconds to hang before answering 200."""


@dataclass
class Receiver:
    secret: str = SECRET
    now: Callable[[], float] = lambda: 0.0
    """The receiver's clock (Unix seconds); the tests hand it the service's clock."""
    answers: list[int | float] = field(default_factory=list)
    """Scripted answers, one per request, in order; when used up: 200 (or `refuse`'s)."""
    answers_for: dict[str, list[int | float]] = field(default_factory=dict)
    """Scripted answers per event kind, taken before `answers`: queues of different kinds
    are delivered at once, so which one arrives first is not for a test to script."""
    received: list[Received] = field(default_factory=list)
    accepted: dict[str, Received] = field(default_factory=dict)
    """Delivery id → the first request accepted with it (a receiver deduplicates)."""
    port: int = 0
    _arrived: asyncio.Condition | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pbxbridge/hook"

    def verify(self, timestamp: str, signature: str, body: bytes) -> bool:
        # The README's Python snippet, written out.
        if not timestamp.isdigit() or abs(self.now() - int(timestamp)) > 300:
            return False
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest("sha256=" + expected, signature)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        timestamp = request.headers.get("X-Pbxbridge-Timestamp", "")
        verified = self.verify(timestamp, request.headers.get("X-Pbxbridge-Signature", ""), raw)
        answer = self._answer(request.headers.get("X-Pbxbridge-Event", ""))
        hangs = isinstance(answer, float)
        status = (0 if hangs else int(answer)) if verified else 401
        body = json.loads(raw) if verified else {}
        got = Received(
            delivery_id=request.headers.get("X-Pbxbridge-Delivery", ""),
            event=request.headers.get("X-Pbxbridge-Event", ""),
            timestamp=int(timestamp) if timestamp.isdigit() else 0,
            body=body,
            raw=raw,
            verified=verified,
            status=status,
            authorization=request.headers.get("Authorization"),
        )
        self.received.append(got)
        if hangs:  # recorded as 0: whatever comes after the hang is too late
            await asyncio.sleep(float(answer))
            return web.Response(text="late")
        if 200 <= status < 300:
            self.accepted.setdefault(got.delivery_id, got)
        if self._arrived is not None:
            async with self._arrived:
                self._arrived.notify_all()
        return web.Response(status=status, text="ok" if status < 300 else "nope: bad request")

    def _answer(self, event: str) -> int | float:
        scripted = self.answers_for.get(event)
        if scripted:
            return scripted.pop(0)
        return self.answers.pop(0) if self.answers else 200

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Until `count` requests were accepted (2xx)."""
        assert self._arrived is not None
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.accepted) >= count)
        return list(self.accepted.values())

    async def wait_received(self, count: int, within: float = 10.0) -> list[Received]:
        """Until `count` requests arrived, whatever they were answered."""
        assert self._arrived is not None
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)

    def events(self, kind: str) -> list[Received]:
        return [r for r in self.accepted.values() if r.event == kind]

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        self._arrived = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/pbxbridge/hook", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            await runner.cleanup()

    @contextmanager
    def in_thread(self) -> Iterator[Receiver]:
        """Served from a thread of its own (for CLI commands, which run their own loop)."""
        ready = threading.Event()
        stop: list[asyncio.Event] = []
        loop_box: list[asyncio.AbstractEventLoop] = []

        async def main() -> None:
            async with self.serving():
                stop.append(asyncio.Event())
                loop_box.append(asyncio.get_running_loop())
                ready.set()
                await stop[0].wait()

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        assert ready.wait(10)
        try:
            yield self
        finally:
            loop_box[0].call_soon_threadsafe(stop[0].set)
            thread.join(10)
