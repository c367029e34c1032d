"""The supervisor: ping watchdog, restarts, backoff, garbage, health reporting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator

import pytest

from ami_listener import AmiClient, AmiHealth, AmiMessage, AmiSettings
from tests.ami_listener.conftest import (
    SECRET,
    TEST_SETTINGS,
    HealthLog,
    MakeClient,
    connected,
    until,
)
from tests.fakes.ami_asterisk import FakeAmi, encode

pytestmark = pytest.mark.timeout(30)


def user_events(start: int, stop: int) -> bytes:
    return b"".join(
        encode({"Event": "UserEvent", "Privilege": "user,all", "UserEvent": "Seq", "Seq": str(i)})
        for i in range(start, stop)
    )


async def test_ping_watchdog_detects_a_half_open_connection(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(ping_interval=0.1, ping_timeout=0.2)
    health = HealthLog(client)
    await fake.wait_for_action("Ping")  # the watchdog pings while all is well
    assert client.health is AmiHealth.CONNECTED
    fake.stall()  # the socket stays open; nothing comes back (a dead peer behind NAT)
    await fake.wait_for_logins(2)
    await connected(client)
    assert health.states == [AmiHealth.RECONNECTING, AmiHealth.CONNECTED]
    assert "no answer to Ping within 0.2 s" in health.changes[0][1]
    assert fake.connections == 2


async def test_unanswered_ping_reconnects_even_when_everything_else_answers(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(ping_interval=0.1, ping_timeout=0.1)
    fake.answer_ping = False
    await fake.wait_for_logins(2)
    fake.answer_ping = True
    await connected(client)
    assert (await client.action("Ping"))["Ping"] == "Pong"


async def test_events_resume_in_order_after_asterisk_restarts(
    fake: FakeAmi, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pbxbridge.ami")
    client = await make_client(backoff_initial=0.02, backoff_max=0.08, backoff_jitter=0)
    health = HealthLog(client)
    seen: list[int] = []
    client.on_event("UserEvent", lambda e: seen.append(int(e["Seq"])))
    await fake.send_raw(user_events(0, 500))
    await until(lambda: len(seen) == 500)
    await fake.restart(down_for=0.3)
    await connected(client)
    await fake.send_raw(user_events(500, 1000))
    await until(lambda: len(seen) == 1000)
    assert seen == list(range(1000))
    assert health.states == [AmiHealth.RECONNECTING, AmiHealth.CONNECTED]
    # While Asterisk was down: refused attempts with delays doubling up to backoff_max.
    delays = [float(d) for d in re.findall(r"next attempt in ([0-9.]+) s", caplog.text)]
    assert delays[0] == 0.02
    assert delays[:3] == [0.02, 0.04, 0.08]
    assert set(delays[3:]) <= {0.08}
    assert "cannot connect" in caplog.text


async def test_backoff_restarts_from_initial_after_a_successful_login(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(
        backoff_initial=0.05, backoff_max=1.0, backoff_jitter=0, stable_after=0
    )
    health = HealthLog(client)
    for logins in (2, 3):
        await fake.drop()
        await fake.wait_for_logins(logins)
        await connected(client)
    details = [d for s, d in health.changes if s is AmiHealth.RECONNECTING]
    assert [d.rsplit("next attempt in ", 1)[1] for d in details] == ["0.05 s", "0.05 s"]
    assert client.status().logins == 3


async def test_a_peer_that_drops_right_after_each_login_is_backed_off_too(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    """Only a link that stayed up `stable_after` seconds resets the backoff; otherwise a
    peer that accepts the login and hangs up would be hammered at backoff_initial."""
    client = await make_client(
        backoff_initial=0.05, backoff_max=1.0, backoff_jitter=0, stable_after=60
    )
    health = HealthLog(client)
    for logins in (2, 3, 4):
        await fake.drop()
        await fake.wait_for_logins(logins)
        await connected(client)
    details = [d for s, d in health.changes if s is AmiHealth.RECONNECTING]
    assert [d.rsplit("next attempt in ", 1)[1] for d in details] == ["0.05 s", "0.1 s", "0.2 s"]


async def test_jitter_comes_from_the_injected_random(fake: FakeAmi) -> None:
    settings = AmiSettings(
        **{**TEST_SETTINGS, "port": fake.port, "backoff_initial": 0.1, "backoff_jitter": 0.5}
    )
    client = AmiClient(settings, random=lambda: 1.0)
    health = HealthLog(client)
    await fake.stop()  # nothing listens: the first attempt fails
    await client.start()
    try:
        await until(lambda: client.health is AmiHealth.RECONNECTING)
        await until(lambda: len(health.changes) >= 2)
        assert health.changes[1][1].endswith("next attempt in 0.15 s")
    finally:
        await client.stop()


async def test_health_callbacks_sync_and_async_once_per_change(
    fake: FakeAmi, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(start=False)
    sync_seen: list[AmiHealth] = []
    async_seen: list[AmiHealth] = []

    async def record(health: AmiHealth, detail: str) -> None:
        await asyncio.sleep(0)
        async_seen.append(health)

    def broken(health: AmiHealth, detail: str) -> None:
        raise RuntimeError("a broken health callback")

    client.on_health(broken)
    client.on_health(lambda h, d: sync_seen.append(h))
    client.on_health(record)
    caplog.set_level(logging.INFO, logger="pbxbridge.ami")
    await client.start()
    await connected(client)
    await fake.drop()
    await fake.wait_for_logins(2)
    await connected(client)
    await client.stop()
    expected = [
        AmiHealth.CONNECTING,
        AmiHealth.CONNECTED,
        AmiHealth.RECONNECTING,
        AmiHealth.CONNECTED,
        AmiHealth.STOPPED,
    ]
    assert sync_seen == expected
    assert async_seen == expected
    lines = [
        (r.levelname, r.getMessage().split(":")[0])
        for r in caplog.records
        if r.getMessage().startswith("AMI ") and "callback" not in r.getMessage()
    ]
    assert lines == [
        ("INFO", "AMI connecting"),
        ("INFO", "AMI connected"),
        ("WARNING", "AMI reconnecting"),
        ("INFO", "AMI connected"),
        ("INFO", "AMI stopped"),
    ]
    assert "a broken health callback" in caplog.text


async def test_garbage_closes_and_reconnects(
    fake: FakeAmi, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pbxbridge.ami")
    client = await make_client()
    health = HealthLog(client)
    await fake.send_garbage()
    await fake.wait_for_logins(2)
    await connected(client)
    assert "not AMI" in health.changes[0][1]
    assert sum("not AMI" in r.getMessage() for r in caplog.records) == 1


async def test_a_message_over_one_mebibyte_without_end_closes_and_reconnects(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    health = HealthLog(client)
    seen: list[AmiMessage] = []
    client.on_event("Hangup", seen.append)
    await fake.send_raw(b"Event: Huge\r\nData: " + b"x" * (1 << 20) + b"\r\n")
    await fake.wait_for_logins(2)
    await connected(client)
    assert "has no end" in health.changes[0][1]
    await fake.send_event({"Event": "Hangup", "Uniqueid": "1.2"})
    await until(lambda: len(seen) == 1)


async def test_connection_refused_is_reconnecting_with_a_reason(fake: FakeAmi) -> None:
    await fake.stop()
    settings = AmiSettings(**{**TEST_SETTINGS, "port": fake.port, "secret": SECRET})
    client = AmiClient(settings)
    await client.start()
    try:
        await until(lambda: client.health is AmiHealth.RECONNECTING)
        assert f"cannot connect to 127.0.0.1:{fake.port}" in client.status().detail
        await fake.start()  # Asterisk comes up
        await connected(client)
    finally:
        await client.stop()


@contextlib.asynccontextmanager
async def not_ami_server(greeting: bytes) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("greeting", "reason"),
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "banner"),
        (b"", "timed out"),
    ],
    ids=["http", "silent"],
)
async def test_a_peer_that_is_not_asterisk_is_refused(greeting: bytes, reason: str) -> None:
    async with not_ami_server(greeting) as port:
        settings = AmiSettings(**{**TEST_SETTINGS, "port": port, "connect_timeout": 0.2})
        client = AmiClient(settings)
        await client.start()
        try:
            await until(lambda: client.health is AmiHealth.RECONNECTING)
            assert reason in client.status().detail
        finally:
            await client.stop()


async def test_disabled_client_never_connects(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client(wait=False, enabled=False)
    assert client.health is AmiHealth.STOPPED
    assert "disabled" in client.status().detail
    # nothing was started that could connect later
    assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("ami-")] == []
    assert fake.connections == 0


async def test_start_twice_is_one_supervisor_and_stop_is_idempotent(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    await client.start()
    await client.action("Ping")
    assert fake.connections == 1
    await client.stop()
    await client.stop()
    assert client.health is AmiHealth.STOPPED


async def test_status_reports_the_monotonic_clock_it_was_given(fake: FakeAmi) -> None:
    now = [1000.0]
    settings = AmiSettings(**{**TEST_SETTINGS, "port": fake.port, "secret": SECRET})
    client = AmiClient(settings, monotonic=lambda: now[0])
    assert client.status().since == 1000.0
    now[0] = 1234.5
    await client.start()
    try:
        await connected(client)
        status = client.status()
        assert (status.health, status.since, status.last_data_at) == (
            AmiHealth.CONNECTED,
            1234.5,
            1234.5,
        )
        assert repr(client) == f"AmiClient(pbxbridge@127.0.0.1:{fake.port}, connected)"
    finally:
        await client.stop()
