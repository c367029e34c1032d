"""The fake Asterisk itself, over a raw socket: what other tests rely on it to do."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.ami_asterisk import CAPTURES, FIXTURES, Capture, FakeAmi, split_messages

pytestmark = pytest.mark.timeout(30)


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, text: str) -> None:
        self.writer.write(text.encode())
        await self.writer.drain()

    async def read_message(self) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)

    async def read_exactly(self, size: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(size), 5)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.mark.parametrize("name", ["originate", "queue"])
def test_session_captures_are_whole_messages_and_nothing_else(name: str) -> None:
    data = (FIXTURES / CAPTURES[name]).read_bytes()
    banners, messages = split_messages(data)
    assert b"".join(banners + messages) == data
    assert banners == [b"Asterisk Call Manager/13.0.0\r\n"]


def test_login_capture_holds_both_connections() -> None:
    capture = Capture.load("login")
    assert len(capture.banners) == 2
    assert [m.get("Message") or m.get("Challenge") for m in capture.parsed] == [
        "Authentication failed",
        "136912217",
        "Authentication accepted",
    ]


async def test_banner_permission_denied_before_login_and_plain_login() -> None:
    async with FakeAmi(secret="pw") as fake:
        raw = await RawClient.connect(fake.port)
        banner = await asyncio.wait_for(raw.reader.readuntil(b"\r\n"), 5)
        assert banner == b"Asterisk Call Manager/13.0.0\r\n"
        await raw.send("Action: Originate\r\nActionID: o1\r\n\r\n")
        assert await raw.read_message() == (
            b"Response: Error\r\nActionID: o1\r\nMessage: Permission denied\r\n\r\n"
        )
        await raw.send("Action: Login\r\nActionID: l1\r\nUsername: pbxbridge\r\nSecret: pw\r\n\r\n")
        assert await raw.read_message() == (
            b"Response: Success\r\nActionID: l1\r\nMessage: Authentication accepted\r\n\r\n"
        )
        assert (await raw.read_message()).startswith(b"Event: FullyBooted\r\n")
        await raw.send("Action: NoSuchThing\r\nActionID: n1\r\n\r\n")
        assert b"Invalid/unknown command: NoSuchThing. Use" in await raw.read_message()
        await raw.close()


async def test_replay_sends_the_captured_bytes_unchanged() -> None:
    async with FakeAmi(secret="pw") as fake:
        raw = await RawClient.connect(fake.port)
        await raw.send("Action: Login\r\nUsername: pbxbridge\r\nSecret: pw\r\nEvents: on\r\n\r\n")
        await raw.reader.readuntil(b"\r\n")  # the banner
        await raw.read_message()  # Authentication accepted
        await raw.read_message()  # FullyBooted
        count = await fake.replay("originate", chunk_size=333, pause=0)
        events = Capture.load("originate").events()
        assert count == len(events)
        expected = b"".join(events)
        assert await raw.read_exactly(len(expected)) == expected
        assert "Привет, абонент!".encode() in expected
        await raw.close()


async def test_refused_login_closes_the_connection_and_restart_keeps_the_record() -> None:
    async with FakeAmi(secret="pw") as fake:
        raw = await RawClient.connect(fake.port)
        await raw.send("Action: Login\r\nActionID: bad\r\nUsername: pbxbridge\r\nSecret: x\r\n\r\n")
        await raw.reader.readuntil(b"\r\n")  # the banner
        reply = await raw.read_message()
        assert (
            reply == b"Response: Error\r\nActionID: bad\r\nMessage: Authentication failed\r\n\r\n"
        )
        assert await asyncio.wait_for(raw.reader.read(), 5) == b""
        await raw.close()
        port = fake.port
        await fake.restart()
        assert (fake.port, fake.generation, fake.failed_logins) == (port, 1, 1)
        assert [a.action_id for a in fake.actions_named("login")] == ["bad"]
