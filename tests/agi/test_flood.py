"""Floods of broken, stalled and silent connections do not hold up a real call, and the log
gets a line per kind and one summary, not a line per connection."""

from __future__ import annotations

import asyncio
import logging
import re
import resource
import socket
import time
from collections.abc import Iterator

import pytest

from agi import AgiRequest, AgiSession, AgiSettings, FastAgiServer
from tests.agi.conftest import TEST_SETTINGS, Probe, Serve, wait_until
from tests.fakes.agi_asterisk import FakeAsterisk, default_environment

pytestmark = pytest.mark.timeout(60)

STALLED = 300
REFUSED_GARBAGE = 20
FLOOD = 1500
ANSWER_WITHIN = 1.0  # seconds: a real call must not notice the flood

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def stalled_payloads() -> list[bytes]:
    """What the stalled clients send: never an environment block's final empty line."""
    block = default_environment()
    shapes = [
        b"",  # connect and say nothing
        block[:200],  # half an environment block
        block[:-1],  # everything but the final newline
        b"agi_network: yes\nagi_network_scr",  # a line that never ends
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 20,  # TLS-ish garbage, no newline
        b"agi_padding: " + b"z" * 16_000,  # a huge, unfinished line under the 16 KiB limit
    ]
    return [shapes[i % len(shapes)] for i in range(STALLED)]


async def set_status(request: AgiRequest, session: AgiSession) -> str | None:
    await session.set_variable("SUBSCRIBER_STATUS", "1")
    return await session.get_variable("CALLERID(num)")


def flood_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the server logged at WARNING or above."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "agi.server" and r.levelno >= logging.WARNING
    ]


@pytest.fixture
def open_files() -> Iterator[None]:
    """Room for the flood's sockets, both ends in this process (twice FLOOD, plus some)."""
    need = 2 * FLOOD + 512
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"the open-files hard limit ({hard}) is below the {need} this flood needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def silent_flood(port: int, count: int) -> list[Connection]:
    """`count` connections that never send a byte."""
    return [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]


def close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()


async def timed_call(port: int) -> tuple[float, dict[str, str]]:
    started = time.monotonic()
    call = await FakeAsterisk(port).call()
    return time.monotonic() - started, call.set_variables


async def test_a_valid_call_completes_while_hundreds_of_connections_stall(serve: Serve) -> None:
    probe = Probe(set_status)
    # A generous header_timeout: the stalled connections must truly still be open when
    # the valid call runs. stop() at teardown drops them.
    server = await serve(
        {"askozianum": probe}, header_timeout=120.0, session_timeout=300.0, max_sessions=1000
    )

    stalled: list[Connection] = []
    for payload in stalled_payloads():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(payload)
        stalled.append((reader, writer))
    garbage: list[asyncio.StreamWriter] = []
    for _ in range(REFUSED_GARBAGE):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")  # a complete but malformed line
        garbage.append(writer)
    await wait_until(
        lambda: (
            server.stats.accepted == STALLED + REFUSED_GARBAGE
            and server.stats.header_failures == REFUSED_GARBAGE
        )
    )
    assert server.pending_connections == STALLED
    assert server.active_sessions == 0

    call = await FakeAsterisk(server.port).call()
    assert await probe.result() == "0501234567"
    assert call.set_variables == {"SUBSCRIBER_STATUS": "1"}
    assert server.stats.completed == 1

    # Every stalled connection is still open: the valid call did not wait for them.
    assert server.pending_connections == STALLED
    assert server.stats.header_failures == REFUSED_GARBAGE
    assert server.stats.timeouts == 0
    assert not any(reader.at_eof() for reader, _ in stalled)

    close_all(stalled)
    for writer in garbage:
        writer.close()


@pytest.mark.usefixtures("open_files")
async def test_silent_connections_are_not_sessions_and_a_real_call_gets_in_at_once(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """1,500 connections that never send a header, with room for only 10 sessions."""
    probe = Probe(set_status)
    server = await serve({"askozianum": probe}, header_timeout=120.0, max_sessions=10)
    caplog.set_level(logging.INFO, logger="agi.server")
    flood = await silent_flood(server.port, FLOOD)
    await wait_until(lambda: server.pending_connections == FLOOD)

    took, variables = await timed_call(server.port)
    assert variables == {"SUBSCRIBER_STATUS": "1"}
    assert await probe.result() == "0501234567"
    print(f"\n{FLOOD} silent connections held; the real call was answered in {took * 1000:.1f} ms")
    assert took < ANSWER_WITHIN
    assert server.pending_connections == FLOOD  # all still held: none was closed for it
    assert (server.stats.evicted, server.stats.rejected, server.stats.header_failures) == (0, 0, 0)
    assert flood_lines(caplog) == []

    await server.stop()
    # One line for all the connections the shutdown closed, none per connection.
    closing = [r.getMessage() for r in caplog.records if "still sending" in r.getMessage()]
    assert closing == ["closing 1,500 FastAGI connections still sending their environment"]
    assert not [r for r in caplog.records if "closed by shutdown" in r.getMessage()]
    close_all(flood)


async def test_a_burst_evicted_before_its_tasks_ran_leaves_nothing_behind(serve: Serve) -> None:
    """Connections the kernel queued while the loop was busy are accepted in one go: the
    oldest are evicted before their tasks ever ran, and must still be forgotten."""
    server = await serve({"askozianum": Probe(set_status)}, header_timeout=120.0, max_pending=10)
    # Blocking connects: the loop cannot accept meanwhile, so the kernel queues all 50.
    burst = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
    try:
        await wait_until(lambda: server.stats.accepted == 50)
        assert server.stats.evicted == 40
        await wait_until(lambda: server.open_connections == 10)
        assert server.pending_connections == 10
    finally:
        for sock in burst:
            sock.close()
    await wait_until(lambda: server.open_connections == 0)


@pytest.mark.usefixtures("open_files")
async def test_over_max_pending_the_oldest_go_and_the_newest_stay(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe(set_status)
    server = await serve({"askozianum": probe}, header_timeout=120.0, max_pending=100)
    caplog.set_level(logging.WARNING, logger="agi.server")
    flood = await silent_flood(server.port, FLOOD)
    await wait_until(lambda: server.stats.accepted == FLOOD)
    assert server.pending_connections == 100
    assert server.stats.evicted == FLOOD - 100

    # The real call is the newest: it makes the oldest of the 100 go, and is answered.
    took, variables = await timed_call(server.port)
    assert variables == {"SUBSCRIBER_STATUS": "1"}
    print(f"\nmax_pending 100 under {FLOOD}: answered in {took * 1000:.1f} ms")
    assert took < ANSWER_WITHIN
    assert server.stats.evicted == FLOOD - 99
    assert server.pending_connections == 99

    def closed(connection: Connection) -> bool:
        reader = connection[0]
        return reader.at_eof() or reader.exception() is not None

    # The oldest were closed by the server (they see EOF or a reset) ...
    await wait_until(lambda: all(closed(c) for c in flood[: FLOOD - 99]))
    # ... and the 99 newest are the ones it still holds.
    assert not any(closed(c) for c in flood[FLOOD - 99 :])

    await server.stop()
    lines = flood_lines(caplog)
    assert len(lines) == 2, lines
    assert re.fullmatch(
        r"FastAGI: 100 connections still sending their environment \(agi.max_pending\); "
        r"closed the oldest, from 127\.0\.0\.1:\d+",
        lines[0],
    )
    assert re.fullmatch(
        r"FastAGI: 1,401 header-less connections closed \(1,401 oldest still sending its "
        r"header, over agi.max_pending\), 0 refused in the last [\d.]+ s",
        lines[1],
    )
    close_all(flood)


async def test_header_timeouts_are_summed_up(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = await serve({"askozianum": Probe(set_status)}, header_timeout=0.3)
    caplog.set_level(logging.WARNING, logger="agi.server")
    flood = await silent_flood(server.port, 200)
    await wait_until(lambda: server.stats.header_failures == 200)
    await server.stop()
    lines = flood_lines(caplog)
    assert len(lines) == 2, lines
    assert "dropped: no complete environment within 0.3 s" in lines[0]
    assert lines[1].startswith(
        "FastAGI: 200 header-less connections closed (200 no complete header within "
        "agi.header_timeout), 0 refused in the last "
    )
    close_all(flood)


async def test_refusals_are_summed_up(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    """Outside agi.allow, and complete headers while agi.max_sessions are running."""
    caplog.set_level(logging.WARNING, logger="agi.server")
    outsider = await serve({"askozianum": Probe(set_status)}, allow=["10.0.0.0/8"])
    refused = await silent_flood(outsider.port, 50)
    await wait_until(lambda: outsider.stats.rejected == 50)
    await outsider.stop()

    entered, release = asyncio.Event(), asyncio.Event()

    async def busy(request: AgiRequest, session: AgiSession) -> None:
        entered.set()
        await release.wait()

    full = await serve({"askozianum": busy}, max_sessions=1)
    running = asyncio.create_task(FakeAsterisk(full.port).call())
    await entered.wait()
    turned_away = await asyncio.gather(*(FakeAsterisk(full.port).call() for _ in range(30)))
    assert all(c.server_closed and not c.received for c in turned_away)
    release.set()
    await running

    await full.stop()
    lines = flood_lines(caplog)
    assert len(lines) == 4, lines
    assert "refused: not in agi.allow" in lines[0]
    assert lines[1].startswith(
        "FastAGI: 0 header-less connections closed, 50 refused (50 not in agi.allow) in the last "
    )
    assert "refused: all 1 sessions of agi.max_sessions are running" in lines[2]
    assert lines[3].startswith(
        "FastAGI: 0 header-less connections closed, 30 refused "
        "(30 agi.max_sessions sessions running) in the last "
    )
    close_all(refused)


async def test_the_summary_comes_when_the_interval_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agi.server")
    settings = AgiSettings(**{**TEST_SETTINGS, "header_timeout": 0.1})
    async with FastAgiServer(settings, {"ping": Probe(set_status)}, summary_interval=1.0) as server:
        flood = await silent_flood(server.port, 20)
        await wait_until(lambda: len(flood_lines(caplog)) == 2)  # no stop() to flush it
        lines = flood_lines(caplog)
        assert lines[1].startswith("FastAGI: 20 header-less connections closed")
        # the next interval starts over: its first is logged in full again
        again = await silent_flood(server.port, 1)
        await wait_until(lambda: len(flood_lines(caplog)) == 3)
        assert "no complete environment" in flood_lines(caplog)[2]
        close_all(flood + again)


async def test_a_limit_too_low_for_max_pending_is_said_at_start(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        pytest.skip("the open-files limit is unlimited")
    caplog.set_level(logging.WARNING, logger="agi.server")
    await serve({"askozianum": Probe(set_status)}, max_pending=soft, max_sessions=10)
    (line,) = flood_lines(caplog)
    assert line == (
        f"agi.max_sessions + agi.max_pending need about {soft + 266:,} open files, the limit "
        f"is {soft:,}: a flood may run out of them (raise LimitNOFILE or lower agi.max_pending)"
    )


async def test_an_endless_header_is_cut_at_max_header_bytes(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that sends one header line and never ends it is closed once the line
    passes agi.max_header_bytes (16 KiB), not at the header deadline: the server stops
    reading it there instead of buffering what comes."""
    caplog.set_level(logging.WARNING, logger="agi.server")
    server = await serve({"askozianum": Probe(set_status)}, header_timeout=300.0)
    assert server.stats.oversized == 0
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_padding: ")
    chunk, sent, cut = b"z" * 4096, 0, False
    try:
        # Loopback socket buffers take a few MiB before a write blocks; 256 MiB is far
        # beyond them: a server that went on reading would let this loop run to its end.
        while sent < 256 * 1024 * 1024 and not reader.at_eof():
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
    except (ConnectionResetError, BrokenPipeError):
        cut = True
    assert cut or reader.at_eof(), f"{sent:,} bytes sent and the connection still open"
    await wait_until(lambda: server.stats.oversized == 1)
    assert (server.stats.header_failures, server.pending_connections) == (1, 0)
    writer.close()
    (line,) = flood_lines(caplog)
    assert "dropped: environment block longer than 16384 bytes (agi.max_header_bytes)" in line


async def test_oversized_headers_are_summed_up(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """Many lines, no empty line: each connection closed past 16 KiB, one summary."""
    caplog.set_level(logging.WARNING, logger="agi.server")
    server = await serve({"askozianum": Probe(set_status)}, header_timeout=300.0)
    lines = b"".join(b"agi_pad_%d: %s\n" % (i, b"y" * 100) for i in range(200))  # 22 KB
    flood: list[Connection] = []
    for _ in range(50):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(lines)  # never the final empty line
        flood.append((reader, writer))
    await wait_until(lambda: server.stats.oversized == 50)
    assert server.pending_connections == 0
    await server.stop()
    logged = flood_lines(caplog)
    assert len(logged) == 2, logged
    assert logged[1].startswith(
        "FastAGI: 50 header-less connections closed (50 header over agi.max_header_bytes), "
        "0 refused in the last "
    )
    close_all(flood)
