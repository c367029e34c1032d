"""AgiConnection: the server's side of a FastAGI socket, over real TCP, on both loops.

It stands in for asyncio's StreamReader/StreamWriter, so each test pins a part of their
contract the server and AgiSession rely on: lines however TCP cuts them, EOF with the
partial line, the limit (and widening it), a connection reset, and writes that wait for
a peer that does not read.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agi.connection import AgiConnection

pytestmark = pytest.mark.timeout(30)

Pair = tuple[AgiConnection, asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[..., Awaitable[Pair]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """A listening AgiConnection server; each call opens one client connection and gives
    the server side's AgiConnection with the client's reader and writer."""
    loop = asyncio.get_running_loop()
    opened: asyncio.Queue[AgiConnection] = asyncio.Queue()
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def open_pair(limit: int = 1024) -> Pair:
        server = await loop.create_server(
            lambda: AgiConnection(opened.put_nowait, limit, loop), "127.0.0.1", 0
        )
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        return await opened.get(), reader, writer

    yield open_pair
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()


async def test_lines_however_tcp_cuts_them(connect: Connect) -> None:
    connection, _, client = await connect()
    line = connection.readuntil(b"\n")
    task = asyncio.ensure_future(line)
    for piece in (b"200 re", b"sult=1", b"\n200 result=0\nHANG"):
        client.write(piece)
        await client.drain()
    assert await task == b"200 result=1\n"
    # The second line was already in: it comes without waiting; the third waits its end.
    assert await connection.readuntil(b"\n") == b"200 result=0\n"
    third = asyncio.ensure_future(connection.readuntil(b"\n"))
    client.write(b"UP\n")
    assert await third == b"HANGUP\n"


async def test_a_two_byte_separator_split_between_reads(connect: Connect) -> None:
    connection, _, client = await connect()
    block = asyncio.ensure_future(connection.readuntil(b"\n\n"))
    client.write(b"agi_network: yes\n")
    await client.drain()
    client.write(b"\nSET")
    assert await block == b"agi_network: yes\n\n"
    assert await connection.readexactly(3) == b"SET"


async def test_eof_gives_the_partial_line(connect: Connect) -> None:
    connection, _, client = await connect()
    client.write(b"200 result=1\n200 res")
    client.write_eof()
    assert await connection.readuntil(b"\n") == b"200 result=1\n"
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await connection.readuntil(b"\n")
    assert caught.value.partial == b"200 res"
    with pytest.raises(asyncio.IncompleteReadError) as short:
        await connection.readexactly(2)
    assert (short.value.partial, short.value.expected) == (b"", 2)


async def test_a_line_past_the_limit_is_refused_until_widened(connect: Connect) -> None:
    connection, _, client = await connect(limit=64)
    client.write(b"x" * 100 + b"\n")
    with pytest.raises(asyncio.LimitOverrunError):
        await connection.readuntil(b"\n")
    connection.widen(4096)
    assert connection.limit == 4096
    assert await connection.readuntil(b"\n") == b"x" * 100 + b"\n"


async def test_no_separator_within_the_limit_stops_the_wait(connect: Connect) -> None:
    """A line that never ends is refused once it passes the limit, not at EOF."""
    connection, _, client = await connect(limit=64)
    reading = asyncio.ensure_future(connection.readuntil(b"\n"))
    client.write(b"y" * 40)
    await client.drain()
    client.write(b"y" * 40)
    with pytest.raises(asyncio.LimitOverrunError) as caught:
        await reading
    assert caught.value.consumed > 64


async def test_a_reset_reaches_the_waiting_reader(connect: Connect) -> None:
    connection, _, client = await connect()
    reading = asyncio.ensure_future(connection.readuntil(b"\n"))
    sock = client.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.transport.abort()  # RST, as a crashed Asterisk box's kernel would send
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await reading
    await connection.wait_closed()
    with pytest.raises(ConnectionResetError):
        await connection.drain()
    connection.write(b"NOOP\n")  # a write to a lost connection is dropped, not raised
    assert connection.get_extra_info("peername") is None


async def test_drain_waits_for_a_peer_that_does_not_read(connect: Connect) -> None:
    """drain() returns once the transport's buffer is back under its low-water mark, which
    takes the peer reading: the kernel's buffers were full."""
    connection, reader, _ = await connect()
    fill(connection)
    got = 0
    at_drained: list[tuple[int, int]] = []  # (bytes the peer had read, bytes still buffered)
    draining = asyncio.ensure_future(connection.drain())
    draining.add_done_callback(lambda _: at_drained.append((got, connection.write_buffer_size())))
    while not draining.done():
        got += len(await reader.read(1 << 20))
    await draining
    read_by_then, buffered = at_drained[0]
    assert read_by_then > 0
    assert buffered <= 64 * 1024  # at most the high-water mark: writing resumed


def fill(connection: AgiConnection) -> None:
    """Write until the transport holds 512 KiB the kernel would not take (well past the
    high-water mark of 64 KiB, so writing is paused)."""
    chunk = b"z" * 65536
    while connection.write_buffer_size() < 512 * 1024:
        connection.write(chunk)


async def test_drain_fails_when_the_peer_goes_away(connect: Connect) -> None:
    connection, _, client = await connect()
    fill(connection)
    draining = asyncio.ensure_future(connection.drain())
    sock = client.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.transport.abort()
    with pytest.raises(ConnectionError):
        await draining


async def test_reading_stops_at_twice_the_limit_and_resumes(connect: Connect) -> None:
    """What a connection makes the server hold is bounded: past twice the limit the
    socket is not read (the rest stays in the kernel) until the reader takes lines."""
    connection, _, client = await connect(limit=1024)
    payload = b"".join(b"%05d:%s\n" % (i, b"p" * 90) for i in range(40_000))  # 3.8 MB
    client.write(payload)
    while connection.buffered <= 2 * 1024:  # noqa: ASYNC110 (data_received has no event)
        await asyncio.sleep(0)
    assert not connection.transport.is_reading()
    held = connection.buffered
    received = bytearray()
    while connection.buffered > 1024:
        received += await connection.readuntil(b"\n")
    assert connection.transport.is_reading()
    while len(received) < len(payload):
        received += await connection.readuntil(b"\n")
    assert received == payload
    assert held < len(payload) // 4
