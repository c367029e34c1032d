"""One FastAGI socket as the server sees it: bytes in as lines, command lines out.

asyncio's streams (StreamReaderProtocol, StreamReader, StreamWriter) are pure Python over
the transport, and a FastAGI session is little else than their overhead: one header block
in, four command lines out and four reply lines in. Measured with the project's bench (a
null responder answering askozianum, stock asyncio, 2 cores): 245-265 µs of CPU per
session through streams against 173-184 µs for a bare protocol, and on uvloop, which
pbxbridge runs on, the streams' share is larger still since the transport underneath is
in C. `AgiConnection` is that bare protocol with the part of the streams' contract the
server and `AgiSession` use, and the same limits:

- `readuntil()` and `readexactly()` raise what StreamReader raises
  (`asyncio.IncompleteReadError` at EOF, `asyncio.LimitOverrunError` for a line or block
  longer than the limit, the connection's error when it failed), so the header reader and
  the session keep their error handling;
- the limit bounds what a connection makes the server hold: a line without its separator
  is not read past it, and the socket stops being read at twice it (`pause_reading`);
- `drain()` waits while the transport's write buffer is over its high-water mark.

A line that is already in the buffer is returned without suspending: Asterisk answers a
command with one write, which has usually arrived by the time the session asks.
"""

from __future__ import annotations

import asyncio
import collections.abc
from typing import Any, cast

_Opened = collections.abc.Callable[["AgiConnection"], None]


class AgiConnection(asyncio.Protocol):
    """The protocol of one accepted FastAGI connection; reader and writer in one object.

    `opened` is called from `connection_made` (the server checks the peer there and
    starts the connection's task, or closes it at once).
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_drain_waiter",
        "_eof",
        "_exception",
        "_limit",
        "_loop",
        "_opened",
        "_read_paused",
        "_transport",
        "_waiter",
        "_want",
        "_want_bytes",
        "_want_from",
        "_write_paused",
    )

    def __init__(self, opened: _Opened, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        self._opened = opened
        self._limit = limit
        self._loop = loop
        self._buffer = bytearray()
        self._eof = False
        self._exception: BaseException | None = None
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        # What the waiting reader needs before it is worth waking: the separator (searched
        # from _want_from on), or, with none, _want_bytes bytes.
        self._want = b""
        self._want_from = 0
        self._want_bytes = 0
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass, but has its calls.
        self._transport = cast(asyncio.Transport, transport)
        self._opened(self)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._waiter is not None:
            # Asterisk writes the environment a line per write: the reader waiting for the
            # block's end is woken once, when it is there (or the limit is passed).
            want = self._want
            if not want:
                if len(buffer) >= self._want_bytes:
                    self._wake()
            elif buffer.find(want, self._want_from) >= 0 or len(buffer) > self._limit:
                self._wake()
            else:
                self._want_from = max(0, len(buffer) + 1 - len(want))
        if not self._read_paused and len(buffer) > 2 * self._limit:
            transport = self._transport
            if transport is not None:
                transport.pause_reading()
                self._read_paused = True

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return True  # keep the transport open: the session closes it when it is done

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None:
            self._exception = exc
        self._wake()
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            drain.set_exception(exc or ConnectionResetError("Connection lost"))
            drain.exception()  # retrieved here: nobody may be waiting any more
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self._transport = None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain_waiter
        if drain is not None:
            self._drain_waiter = None
            if not drain.done():
                drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # Reading

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def buffered(self) -> int:
        """Bytes received and not read yet."""
        return len(self._buffer)

    def widen(self, limit: int) -> None:
        """Let lines grow to `limit` bytes from now on (the environment is in: replies such
        as `GET FULL VARIABLE` of an SMS body may be longer than a header)."""
        self._limit = limit
        self._resume_reading()

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """The bytes up to and including `separator`, as StreamReader.readuntil."""
        buffer = self._buffer
        end = buffer.find(separator)
        if end < 0:
            end = await self._wait_for(separator)
        end += len(separator)
        if end > self._limit + len(separator):
            raise asyncio.LimitOverrunError(
                "Separator is found, but chunk is longer than limit", end - len(separator)
            )
        return self._take(end)

    async def _wait_for(self, separator: bytes) -> int:
        """Wait until `separator` is in the buffer; its offset."""
        buffer = self._buffer
        while True:
            offset = len(buffer) + 1 - len(separator)
            if offset > self._limit and self._exception is None:
                raise asyncio.LimitOverrunError(
                    "Separator is not found, and chunk exceed the limit", offset
                )
            self._raise_if_ended(None)
            await self._wait(separator, max(0, offset))
            end = buffer.find(separator, max(0, offset))
            if end >= 0:
                return end

    async def readexactly(self, n: int) -> bytes:
        """Exactly `n` bytes, as StreamReader.readexactly."""
        buffer = self._buffer
        while len(buffer) < n:
            self._raise_if_ended(n)
            await self._wait(b"", n)
        return self._take(n)

    def _take(self, n: int) -> bytes:
        """The buffer's first `n` bytes, removed from it; the socket is read again once the
        buffer is back under the limit."""
        chunk = bytes(self._buffer[:n])
        del self._buffer[:n]
        self._resume_reading()
        return chunk

    def _raise_if_ended(self, expected: int | None) -> None:
        """Raise the connection's error, or at EOF IncompleteReadError with what is left."""
        if self._exception is not None:
            raise self._exception
        if self._eof:
            partial = bytes(self._buffer)
            self._buffer.clear()
            raise asyncio.IncompleteReadError(partial, expected)

    async def _wait(self, separator: bytes, need: int) -> None:
        """Until `separator` is in the buffer at `need` or later (with b"": until the buffer
        holds `need` bytes), EOF, an error, or the limit passed."""
        if self._waiter is not None:
            raise RuntimeError("two readers on one FastAGI connection")
        self._resume_reading(wanted=True)  # the reader wants more: read the socket again
        self._want, self._want_from, self._want_bytes = separator, need, need
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _resume_reading(self, *, wanted: bool = False) -> None:
        """Read the socket again if it was paused and the buffer is under the limit (or a
        reader waits for more than is buffered: `wanted`)."""
        if self._read_paused and (wanted or len(self._buffer) <= self._limit):
            self._read_paused = False
            if self._transport is not None:
                self._transport.resume_reading()

    # Writing and closing

    @property
    def transport(self) -> asyncio.Transport:
        if self._transport is None:
            raise ConnectionResetError("FastAGI connection lost")
        return self._transport

    def write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    async def drain(self) -> None:
        """Wait while the write buffer is over its high-water mark; raise once the
        connection is lost (as StreamWriter.drain)."""
        if self._transport is None:
            raise self._exception or ConnectionResetError("Connection lost")
        if not self._write_paused:
            return
        drain = self._drain_waiter
        if drain is None or drain.done():
            drain = self._drain_waiter = self._loop.create_future()
        await drain

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def write_buffer_size(self) -> int:
        return 0 if self._transport is None else self._transport.get_write_buffer_size()

    async def wait_closed(self) -> None:
        """Until the connection is lost (its last bytes sent, or aborted)."""
        if self._transport is None:
            return
        if self._closed is None:
            self._closed = self._loop.create_future()
        await self._closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if self._transport is None:
            return default
        return self._transport.get_extra_info(name, default)
