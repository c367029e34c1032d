"""FastAgiServer: admission, the environment block, routing, failures and shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agi import AgiRequest, AgiSession, AgiSettings, FastAgiServer
from tests.agi.conftest import Probe, Serve, read_until_closed, wait_until
from tests.fakes.agi_asterisk import (
    FakeAsterisk,
    Faults,
    default_environment,
    environment_block,
)

pytestmark = pytest.mark.timeout(30)

# Timeouts far beyond the test's own: a session these tests expect closed must be
# closed by the fault handling under test, not by a deadline.
NO_DEADLINE = {"header_timeout": 300.0, "session_timeout": 300.0}


async def record_request(request: AgiRequest, session: AgiSession) -> AgiRequest:
    return request


async def never_called(request: AgiRequest, session: AgiSession) -> None:
    raise AssertionError("the route must not run")


# Routing


async def test_routes_on_the_script_path_with_query_and_args(serve: Serve) -> None:
    probe = Probe(record_request)
    server = await serve({"askozianum": probe})
    call = await FakeAsterisk(server.port).call()
    request = await probe.result()
    assert request.script == "askozianum"
    assert request.query == {"mode": "test", "x": "1"}
    assert request.args == ["arg one", "арг2"]
    assert request.network_script == "askozianum?mode=test&x=1"
    assert request.uniqueid == "1795311406.5"
    assert request.calleridname == "Алексей Тест"
    assert request.peer_host == "127.0.0.1"
    assert request.peer_port > 0
    assert request.env["agi_request"] == "agi://127.0.0.1:4573/askozianum?mode=test&x=1"
    assert call.server_closed
    assert call.received == []
    assert server.stats.completed == 1


async def test_nested_route_with_slashes(serve: Serve) -> None:
    probe = Probe(record_request)
    server = await serve({"/billing/balance/": probe, "askozianum": never_called})
    env = {"agi_network_script": "/billing/balance/?acct=1&acct=2", "agi_arg_2": None}
    await FakeAsterisk(server.port, env=env).call()
    request = await probe.result()
    assert (request.script, request.query, request.args) == (
        "billing/balance",
        {"acct": "2"},
        ["arg one"],
    )


async def test_unknown_route_says_so_and_ends_cleanly(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = await serve({"askozianum": never_called})
    with caplog.at_level(logging.WARNING, logger="agi"):
        call = await FakeAsterisk(server.port, env={"agi_network_script": "nosuch?x=1"}).call()
    assert call.verbose == ["pbxbridge: no AGI route 'nosuch'"]
    assert call.received == [b"VERBOSE \"pbxbridge: no AGI route 'nosuch'\" 1\n"]
    assert call.server_closed
    assert server.stats.unknown_routes == 1
    assert "no route for agi_network_script 'nosuch?x=1'" in caplog.text


def test_route_names_must_be_unique_and_non_empty() -> None:
    with pytest.raises(ValueError, match="twice"):
        FastAgiServer(AgiSettings(), {"a": never_called, "/a/": never_called})
    with pytest.raises(ValueError, match="empty"):
        FastAgiServer(AgiSettings(), {"/": never_called})


# Route failures


async def test_handler_exception_is_logged_and_the_server_keeps_serving(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def broken(request: AgiRequest, session: AgiSession) -> None:
        calls.append(request.uniqueid)
        if len(calls) == 1:
            raise RuntimeError("billing exploded")
        await session.set_variable("SUBSCRIBER_STATUS", "1")

    server = await serve({"askozianum": broken})
    with caplog.at_level(logging.INFO, logger="agi"):
        first = await FakeAsterisk(server.port).call()
    second = await FakeAsterisk(server.port, env={"agi_uniqueid": "2.2"}).call()

    assert first.server_closed
    assert second.set_variables == {"SUBSCRIBER_STATUS": "1"}
    assert calls == ["1795311406.5", "2.2"]
    assert server.stats.handler_errors == 1
    failure = next(r for r in caplog.records if "handler failed" in r.getMessage())
    assert "1795311406.5" in failure.getMessage()
    assert failure.exc_info is not None
    assert "billing exploded" in caplog.text


async def test_session_timeout(serve: Serve) -> None:
    started = asyncio.Event()

    async def hangs(request: AgiRequest, session: AgiSession) -> None:
        started.set()
        await asyncio.Event().wait()

    server = await serve({"askozianum": hangs}, session_timeout=0.3)
    call = await FakeAsterisk(server.port).call()
    assert started.is_set()
    assert call.server_closed
    assert server.stats.timeouts == 1
    assert server.active_sessions == 0


# The environment block


# A regression here spins the event loop (panoramisk's defect P1), which a signal-based
# timeout cannot interrupt; the thread method ends the run with a stack dump instead.
@pytest.mark.timeout(30, method="thread")
async def test_eof_at_every_byte_of_the_environment(serve: Serve) -> None:
    """Each cut ends only its own session, promptly (no deadline could close them here)."""
    server = await serve({"askozianum": never_called}, **NO_DEADLINE)
    block = default_environment()

    async def cut_at(n: int) -> None:
        faults = Faults(environment_bytes=n, after_environment="half_close")
        call = await FakeAsterisk(server.port, faults=faults).call()
        assert call.server_closed, n
        assert call.trailing == b"", n

    for start in range(0, len(block), 64):
        await asyncio.gather(*(cut_at(n) for n in range(start, min(start + 64, len(block)))))
    assert server.stats.header_failures == len(block)
    assert server.stats.accepted == len(block)
    assert server.active_sessions == 0

    probe = Probe(record_request)
    healthy = await serve({"askozianum": probe})
    await FakeAsterisk(healthy.port).call()
    assert (await probe.result()).uniqueid == "1795311406.5"


async def test_abrupt_close_mid_environment(serve: Serve) -> None:
    server = await serve({"askozianum": never_called}, **NO_DEADLINE)
    for n in (0, 1, 100, len(default_environment()) - 1):
        await FakeAsterisk(
            server.port, faults=Faults(environment_bytes=n, after_environment="close")
        ).call()
    await wait_until(lambda: server.stats.header_failures == 4)
    assert server.active_sessions == 0


@pytest.mark.parametrize("shape", ["one long line", "many lines"])
async def test_environment_over_max_header_bytes(serve: Serve, shape: str) -> None:
    server = await serve({"askozianum": never_called}, **NO_DEADLINE)
    if shape == "one long line":
        env = {"agi_padding": "x" * 17_000}
    else:
        env = {f"agi_pad_{i}": "y" * 100 for i in range(170)}
    call = await FakeAsterisk(server.port, env=env).call()
    assert call.server_closed
    assert call.received == []
    assert (server.stats.header_failures, server.stats.oversized) == (1, 1)


def block_of(size: int, *, one_line: bool) -> bytes:
    """An environment block of exactly `size` bytes, its final empty line included: the
    captured one padded with agi_arg_3, or a single agi_network_script line."""
    if one_line:
        head = b"agi_network_script: askozianum?pad="
        return head + b"p" * (size - len(head) - 2) + b"\n\n"
    base = environment_block(default_environment(), {"agi_arg_3": ""})
    return environment_block(base, {"agi_arg_3": "p" * (size - len(base))})


@pytest.mark.parametrize("one_line", [False, True], ids=["captured block", "one line"])
async def test_max_header_bytes_is_16_kib_to_the_byte(serve: Serve, one_line: bool) -> None:
    """Asterisk sends 1-2 KiB; 16 KiB is accepted, one byte more is not."""
    probe = Probe(record_request)
    server = await serve({"askozianum": probe}, **NO_DEADLINE)
    fits = block_of(16 * 1024, one_line=one_line)
    assert len(fits) == 16384
    await FakeAsterisk(server.port, environment=fits).call()
    assert (await probe.result()).script == "askozianum"
    over = await FakeAsterisk(
        server.port, environment=block_of(16 * 1024 + 1, one_line=one_line)
    ).call()
    assert over.server_closed
    assert over.received == []
    assert (server.stats.completed, server.stats.oversized) == (1, 1)


async def test_a_reply_line_longer_than_the_header_bound_is_read(serve: Serve) -> None:
    """The header's 16 KiB bound is for connections still sending it: a session reads
    Asterisk's replies up to 64 KiB a line (GET FULL VARIABLE of an SMS body)."""

    async def read_body(request: AgiRequest, session: AgiSession) -> str | None:
        return await session.get_variable("SMS_BASE64")

    probe = Probe(read_body)
    server = await serve({"askozianum": probe})
    body = "QUJD" * 10_000  # 40,000 bytes on one reply line
    await FakeAsterisk(server.port, variables={"SMS_BASE64": body}).call()
    assert await probe.result() == body


@pytest.mark.parametrize(
    "bad_line",
    [b"GET / HTTP/1.1", b"Host: example.org", b"\xff\xfe\x00garbage", b"agi_network yes"],
)
async def test_malformed_environment_line(serve: Serve, bad_line: bytes) -> None:
    server = await serve({"askozianum": never_called}, **NO_DEADLINE)
    environment = b"agi_network: yes\n" + bad_line + b"\nagi_network_script: askozianum\n\n"
    call = await FakeAsterisk(server.port, environment=environment).call()
    assert call.server_closed
    assert call.received == []
    assert server.stats.header_failures == 1


async def test_environment_stall(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    server = await serve({"askozianum": never_called}, header_timeout=0.2)
    faults = Faults(environment_bytes=100, after_environment="stall")
    with caplog.at_level(logging.WARNING, logger="agi"):
        call = await FakeAsterisk(server.port, faults=faults).call()
    assert call.server_closed
    assert server.stats.header_failures == 1
    assert "no complete environment within 0.2 s" in caplog.text


# Admission


async def test_connection_outside_the_allowlist_is_closed_unread(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = await serve({"askozianum": never_called}, allow=["10.0.0.0/8"])
    with caplog.at_level(logging.WARNING, logger="agi"):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await read_until_closed(reader) == b""
        writer.close()
    assert server.stats.rejected == 1
    assert server.stats.accepted == 0
    assert "connection from 127.0.0.1:" in caplog.text
    assert "not in agi.allow" in caplog.text


async def test_sessions_beyond_max_sessions_are_refused(serve: Serve) -> None:
    """A session is a connection whose environment is complete; one more is closed unserved."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def busy(request: AgiRequest, session: AgiSession) -> None:
        entered.set()
        await release.wait()
        await session.set_variable("SUBSCRIBER_STATUS", "1")

    server = await serve({"askozianum": busy}, max_sessions=1, **NO_DEADLINE)
    # A connection still sending its environment is not a session: it does not count.
    _, silent = await asyncio.open_connection("127.0.0.1", server.port)
    await wait_until(lambda: server.pending_connections == 1)
    first = asyncio.create_task(FakeAsterisk(server.port).call())
    await entered.wait()
    assert server.active_sessions == 1
    refused = await FakeAsterisk(server.port, env={"agi_uniqueid": "2.2"}).call()
    assert refused.server_closed
    assert refused.received == []
    assert server.stats.rejected == 1
    release.set()
    assert (await first).set_variables == {"SUBSCRIBER_STATUS": "1"}
    assert server.pending_connections == 1
    silent.close()


# Shutdown


async def test_stop_lets_an_in_flight_session_finish(serve: Serve) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow(request: AgiRequest, session: AgiSession) -> None:
        entered.set()
        await release.wait()
        await session.set_variable("SUBSCRIBER_STATUS", "1")
        finished.append(request.uniqueid)

    server = await serve({"askozianum": slow}, drain_timeout=30.0)
    port = server.port
    call_task = asyncio.create_task(FakeAsterisk(port).call())
    await entered.wait()
    stop_task = asyncio.create_task(server.stop())
    await wait_until(lambda: not server.is_serving)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    assert not stop_task.done()

    release.set()
    await stop_task
    call = await call_task
    assert finished == ["1795311406.5"]
    assert call.set_variables == {"SUBSCRIBER_STATUS": "1"}
    assert server.stats.completed == 1
    assert server.stats.cancelled == 0


async def test_stop_closes_sessions_still_running_after_drain_timeout(serve: Serve) -> None:
    entered = asyncio.Event()
    outcome: list[str] = []

    async def stuck(request: AgiRequest, session: AgiSession) -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    server = await serve({"askozianum": stuck}, drain_timeout=0.2, **NO_DEADLINE)
    call_task = asyncio.create_task(FakeAsterisk(server.port).call())
    await entered.wait()
    await server.stop()
    call = await call_task
    assert outcome == ["cancelled"]
    assert call.server_closed
    assert server.stats.cancelled == 1
    assert server.active_sessions == 0


async def test_stop_drops_connections_still_sending_their_environment(serve: Serve) -> None:
    server = await serve({"askozianum": never_called}, drain_timeout=300.0, **NO_DEADLINE)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(default_environment()[:50])
    await wait_until(lambda: server.pending_connections == 1)
    await server.stop()
    assert await read_until_closed(reader) == b""
    assert server.pending_connections == 0
    writer.close()


async def test_port_and_sockets() -> None:
    server = FastAgiServer(AgiSettings(port=0), {"askozianum": never_called})
    with pytest.raises(RuntimeError):
        _ = server.port
    async with server:
        assert server.port > 0
        assert server.sockets[0].getsockname()[0] == "127.0.0.1"
        assert server.is_serving
    assert not server.is_serving
