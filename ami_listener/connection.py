"""One TCP connection to AMI: the banner, a reader task, writes, and a close reason.

The reader task only reads and routes (framer → router); it never awaits a handler. When
the connection ends, for whatever reason, every action still waiting on it fails at once
with AmiDisconnected, and nothing is kept to be sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ami_listener.errors import AmiDisconnected, AmiNotSent, ProtocolViolation
from ami_listener.router import MessageRouter

logger = logging.getLogger("pbxbridge.ami")

READ_SIZE = 65536


class AmiConnection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        router: MessageRouter,
        banner: str,
        monotonic: Callable[[], float],
    ) -> None:
        self.router = router
        self.banner = banner
        self._reader = reader
        self._writer = writer
        self._monotonic = monotonic
        self.last_data_at = monotonic()
        self._reason: str | None = None
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        router: MessageRouter,
        *,
        connect_timeout: float,
        monotonic: Callable[[], float],
    ) -> AmiConnection:
        """Connect and read the banner within `connect_timeout`; then start reading.

        Raises OSError, TimeoutError, ProtocolViolation (not an AMI greeting) or
        FrameTooLarge.
        """
        async with asyncio.timeout(connect_timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                banner = await _read_banner(reader, router)
            except BaseException:
                writer.close()
                raise
        connection = cls(reader, writer, router, banner, monotonic)
        connection._task = asyncio.create_task(connection._read_loop(), name="ami-reader")
        return connection

    @property
    def is_closed(self) -> bool:
        return self._reason is not None

    async def send(self, data: bytes) -> None:
        """Write one action. AmiDisconnected if the connection is (or becomes) closed."""
        if self._reason is not None:
            raise AmiNotSent(f"AMI link closed: {self._reason}")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self.close(f"write failed: {exc or type(exc).__name__}")
            raise AmiDisconnected(f"AMI link closed: {self._reason}") from None

    def close(self, reason: str) -> None:
        """End the connection (idempotent): pending actions fail with AmiDisconnected."""
        if self._reason is not None:
            return
        self._reason = reason
        self.router.fail_all(AmiDisconnected(f"AMI link lost before the response: {reason}"))
        self._writer.close()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._closed.set()

    async def wait_closed(self) -> str:
        """Wait for the end of the connection; the reason."""
        await self._closed.wait()
        return self._reason or "closed"

    async def aclose(self, reason: str) -> None:
        """Close and wait until the socket and the reader task are gone."""
        self.close(reason)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        reason = "closed by Asterisk"
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    break
                self.last_data_at = self._monotonic()
                self.router.feed(data)
        except ProtocolViolation as exc:  # FrameTooLarge too
            reason = f"not AMI: {exc}"
        except (ConnectionError, OSError) as exc:
            reason = f"read failed: {exc or type(exc).__name__}"
        except Exception as exc:  # a bug of ours: drop this link rather than hang on it
            logger.exception("AMI reader failed")
            reason = f"internal error: {type(exc).__name__}"
        self.close(reason)


async def _read_banner(reader: asyncio.StreamReader, router: MessageRouter) -> str:
    """Read until the framer has seen the `Asterisk Call Manager/x.y.z` line; anything
    that came with it is routed."""
    framer = router.framer
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            raise ConnectionError("closed by the peer before the AMI banner")
        messages = framer.feed(data)
        if framer.banner_checked:
            if framer.banner is None:
                raise ProtocolViolation("no 'Asterisk Call Manager/' banner: not AMI")
            router.route(messages)
            return framer.banner
