"""Hundreds of broken and stalled connections do not hold up a real call."""

from __future__ import annotations

import asyncio

import pytest

from agi import AgiRequest, AgiSession
from tests.agi.conftest import Probe, Serve, wait_until
from tests.fakes.agi_asterisk import FakeAsterisk, default_environment

pytestmark = pytest.mark.timeout(60)

STALLED = 300
REFUSED_GARBAGE = 20


def stalled_payloads() -> list[bytes]:
    """What the stalled clients send: never an environment block's final empty line."""
    block = default_environment()
    shapes = [
        b"",  # connect and say nothing
        block[:200],  # half an environment block
        block[:-1],  # everything but the final newline
        b"agi_network: yes\nagi_network_scr",  # a line that never ends
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 20,  # TLS-ish garbage, no newline
        b"agi_padding: " + b"z" * 60_000,  # a huge, unfinished line under the limit
    ]
    return [shapes[i % len(shapes)] for i in range(STALLED)]


async def test_a_valid_call_completes_while_hundreds_of_connections_stall(serve: Serve) -> None:
    async def route(request: AgiRequest, session: AgiSession) -> str | None:
        await session.set_variable("SUBSCRIBER_STATUS", "1")
        return await session.get_variable("CALLERID(num)")

    probe = Probe(route)
    # A generous header_timeout: the stalled connections must truly still be open when
    # the valid call runs. stop() at teardown drops them.
    server = await serve(
        {"askozianum": probe}, header_timeout=120.0, session_timeout=300.0, max_sessions=1000
    )

    stalled: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
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
    assert server.active_sessions == STALLED

    call = await FakeAsterisk(server.port).call()
    assert await probe.result() == "0501234567"
    assert call.set_variables == {"SUBSCRIBER_STATUS": "1"}
    assert server.stats.completed == 1

    # Every stalled connection is still open: the valid call did not wait for them.
    assert server.active_sessions == STALLED
    assert server.stats.header_failures == REFUSED_GARBAGE
    assert server.stats.timeouts == 0
    assert not any(reader.at_eof() for reader, _ in stalled)

    for _, writer in stalled:
        writer.close()
    for writer in garbage:
        writer.close()
