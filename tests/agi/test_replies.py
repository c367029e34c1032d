"""agi.replies: each reply shape Asterisk sends, read to its end (no network)."""

from __future__ import annotations

import pytest

from agi import (
    AgiCommandError,
    AgiDeadChannel,
    AgiProtocolError,
    AgiReply,
    AgiUsageError,
)
from agi.replies import read_reply
from tests.fakes.agi_asterisk import load_captured_sessions


class Lines:
    """Feeds read_reply one line at a time and remembers HANGUP callbacks."""

    def __init__(self, *lines: str) -> None:
        self.pending = list(lines)
        self.hangups = 0

    async def read(self) -> str:
        return self.pending.pop(0)

    def hangup(self) -> None:
        self.hangups += 1

    async def reply(self, command: str = "CMD") -> AgiReply:
        return await read_reply(self.read, command, self.hangup)


@pytest.mark.parametrize(
    ("line", "result", "data", "endpos", "rest"),
    [
        ("200 result=1 (0501234567)", "1", "0501234567", None, ""),
        ("200 result=1 (Алексей Тест)", "1", "Алексей Тест", None, ""),
        ("200 result=0", "0", None, None, ""),
        ("200 result=-1 endpos=0", "-1", None, 0, ""),
        ("200 result=49 endpos=8000", "49", None, 8000, ""),
        ("200 result= (timeout)", "", "timeout", None, ""),
        ("200 result=0123 (timeout)", "0123", "timeout", None, ""),
        ("200 result=0 (dtmf) endpos=1234", "0", "dtmf", 1234, ""),
        ("200 result=1 (f(x) (y))", "1", "f(x) (y)", None, ""),
        ("200 result=1 ()", "1", "", None, ""),
        ("200 result=0 Gosub complete", "0", None, None, "Gosub complete"),
    ],
)
async def test_200_replies(
    line: str, result: str, data: str | None, endpos: int | None, rest: str
) -> None:
    reply = await Lines(line).reply()
    assert (reply.code, reply.result, reply.data, reply.endpos, reply.rest) == (
        200,
        result,
        data,
        endpos,
        rest,
    )
    assert reply.line == line


async def test_100_trying_is_followed_by_the_final_reply() -> None:
    lines = Lines("100 result=0 Trying...", "200 result=0 Gosub complete", "NEXT")
    reply = await lines.reply("GOSUB sub-test s 1")
    assert reply.preliminary == ("100 result=0 Trying...",)
    assert reply.rest == "Gosub complete"
    assert lines.pending == ["NEXT"]


@pytest.mark.parametrize("position", [0, 1])
async def test_unprompted_hangup_is_skipped_and_the_reply_still_read(position: int) -> None:
    sequence = ["100 result=0 Trying...", "200 result=1 (v)"]
    sequence.insert(position, "HANGUP")
    lines = Lines(*sequence, "NEXT")
    reply = await lines.reply()
    assert reply.data == "v"
    assert lines.hangups == 1
    assert lines.pending == ["NEXT"]


async def test_510() -> None:
    lines = Lines("510 Invalid or unknown command", "NEXT")
    with pytest.raises(AgiCommandError) as caught:
        await lines.reply("NOSUCH COMMAND")
    assert caught.value.command == "NOSUCH COMMAND"
    assert lines.pending == ["NEXT"]


async def test_511() -> None:
    lines = Lines("HANGUP", "511 Command Not Permitted on a dead channel or intercept routine")
    with pytest.raises(AgiDeadChannel):
        await lines.reply()
    assert lines.hangups == 1


async def test_captured_520_block_is_consumed_to_its_end() -> None:
    captured = load_captured_sessions()[0]
    block = next(e.reply for e in captured.exchanges if e.command == b"SAY NUMBER\n")
    lines = Lines(*block.decode().splitlines(), "200 result=1")
    with pytest.raises(AgiUsageError) as caught:
        await lines.reply("SAY NUMBER")
    assert caught.value.usage.startswith("Say a given number, returning early")
    assert lines.pending == ["200 result=1"]
    assert (await lines.reply()).result == "1"


async def test_single_line_520() -> None:
    lines = Lines("520 Invalid command syntax.  Proper usage not available.")
    with pytest.raises(AgiUsageError, match="Proper usage not available"):
        await lines.reply()


@pytest.mark.parametrize(
    "line", ["garbage", "200 no result here", "300 result=0", "2000 result=0", "200-result=0"]
)
async def test_unparseable_replies(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        await Lines(line).reply()


async def test_result_int_refuses_text() -> None:
    reply = await Lines("200 result= (timeout)").reply()
    with pytest.raises(AgiProtocolError):
        _ = reply.result_int
