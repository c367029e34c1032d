"""AgiSession over a real socket against the fake Asterisk: every reply kind and fault."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from agi import (
    AgiCommandError,
    AgiCommandFailed,
    AgiConnectionClosed,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiReply,
    AgiReplyTimeout,
    AgiRequest,
    AgiSession,
    AgiUsageError,
    PlaybackResult,
)
from tests.agi.conftest import Probe, Serve
from tests.fakes.agi_asterisk import (
    CaptureReplay,
    FakeAsterisk,
    FakeCall,
    Faults,
    GetDataInput,
    load_captured_sessions,
)

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")
Body = Callable[[AgiRequest, AgiSession], Awaitable[T]]


async def run(
    serve: Serve, body: Body[T], *, settings: dict[str, Any] | None = None, **fake: Any
) -> tuple[T, FakeCall]:
    """One call: the fake Asterisk dials a fresh server whose only route runs `body`."""
    probe = Probe(body)
    server = await serve({"askozianum": probe}, **(settings or {}))
    call = await FakeAsterisk(server.port, **fake).call()
    return await probe.result(), call


async def raised(awaitable: Awaitable[object]) -> type[BaseException] | None:
    try:
        await awaitable
    except AgiError as exc:
        return type(exc)
    return None


# Byte-for-byte replay of the captures

Step = Callable[[AgiSession], Awaitable[object]]

# Each captured command, sent through the typed helper that produces exactly those bytes,
# or through command() with the captured words.
STEPS: dict[bytes, Step] = {
    b"GET VARIABLE CALLERID(num)\n": lambda s: s.get_variable("CALLERID(num)"),
    b"GET VARIABLE NO_SUCH_VAR\n": lambda s: s.get_variable("NO_SUCH_VAR"),
    b'SET VARIABLE SUBSCRIBER_STATUS "1"\n': lambda s: s.set_variable("SUBSCRIBER_STATUS", "1"),
    'SET VARIABLE SUBSCRIBER_NAME "Иван Петров"\n'.encode(): lambda s: s.set_variable(
        "SUBSCRIBER_NAME", "Иван Петров"
    ),
    b'VERBOSE "capture \\"quoted\\" text" 1\n': lambda s: s.verbose('capture "quoted" text', 1),
    b"GET FULL VARIABLE ${CALLERID(name)}\n": lambda s: s.command(
        "GET", "FULL", "VARIABLE", "${CALLERID(name)}"
    ),
    b"NOSUCH COMMAND\n": lambda s: s.command("NOSUCH", "COMMAND"),
    b"SAY NUMBER\n": lambda s: s.command("SAY", "NUMBER"),
    b'STREAM FILE no-such-sound ""\n': lambda s: s.stream_file("no-such-sound"),
    b'EXEC NoOp "hello from agi"\n': lambda s: s.exec("NoOp", "hello from agi"),
    b"EXEC Gosub sub-test,s,1\n": lambda s: s.command("EXEC", "Gosub", "sub-test,s,1"),
    b"GOSUB sub-test s 1\n": lambda s: s.command("GOSUB", "sub-test", "s", "1"),
    b"CHANNEL STATUS\n": lambda s: s.command("CHANNEL", "STATUS"),
    b"DATABASE PUT lab key1 value1\n": lambda s: s.command(
        "DATABASE", "PUT", "lab", "key1", "value1"
    ),
    b"DATABASE GET lab key1\n": lambda s: s.command("DATABASE", "GET", "lab", "key1"),
    b"WAIT FOR DIGIT 100\n": lambda s: s.command("WAIT", "FOR", "DIGIT", "100"),
    b"SET VARIABLE AFTER_HANGUP 1\n": lambda s: s.command("SET", "VARIABLE", "AFTER_HANGUP", "1"),
}


def summary(value: object) -> object:
    if isinstance(value, AgiReply):
        return (value.result, value.data, value.endpos, value.rest, value.preliminary)
    if isinstance(value, BaseException):
        return type(value).__name__
    return value


EXPECTED: dict[bytes, object] = {
    b"GET VARIABLE CALLERID(num)\n": "0501234567",
    b"GET VARIABLE NO_SUCH_VAR\n": None,
    b'SET VARIABLE SUBSCRIBER_STATUS "1"\n': None,
    'SET VARIABLE SUBSCRIBER_NAME "Иван Петров"\n'.encode(): None,
    b'VERBOSE "capture \\"quoted\\" text" 1\n': None,
    b"GET FULL VARIABLE ${CALLERID(name)}\n": ("1", "Алексей Тест", None, "", ()),
    b"NOSUCH COMMAND\n": "AgiCommandError",
    b"SAY NUMBER\n": "AgiUsageError",
    b'STREAM FILE no-such-sound ""\n': PlaybackResult(digit="", failed=True, endpos=0),
    b'EXEC NoOp "hello from agi"\n': 0,
    b"EXEC Gosub sub-test,s,1\n": ("0", None, None, "", ()),
    b"GOSUB sub-test s 1\n": ("0", None, None, "Gosub complete", ("100 result=0 Trying...",)),
    b"DATABASE PUT lab key1 value1\n": ("1", None, None, "", ()),
    b"DATABASE GET lab key1\n": ("1", "value1", None, "", ()),
    b"WAIT FOR DIGIT 100\n": ("0", None, None, "", ()),
    b"SET VARIABLE AFTER_HANGUP 1\n": ("1", None, None, "", ()),
}
CHANNEL_STATUS = {0: "4", 1: "6"}  # unanswered Local;2 leg, then the answered (Up) one


@pytest.mark.parametrize("split_writes", [False, True], ids=["whole", "one-byte-writes"])
@pytest.mark.parametrize("scenario", [0, 1], ids=["no-hangup", "hangup-while-idle"])
async def test_captured_session_replayed_byte_for_byte(
    serve: Serve, scenario: int, split_writes: bool
) -> None:
    captured = load_captured_sessions()[scenario]

    async def body(request: AgiRequest, session: AgiSession) -> list[tuple[object, bool]]:
        outcomes: list[tuple[object, bool]] = []
        for exchange in captured.exchanges:
            try:
                value: object = await STEPS[exchange.command](session)
            except AgiError as exc:
                value = exc
            outcomes.append((summary(value), session.hangup_received))
        return outcomes

    probe = Probe(body)
    server = await serve({"askozianum": probe})
    replay = await CaptureReplay(server.port, captured, split_writes=split_writes).call()
    outcomes = await probe.result()

    assert replay.mismatch is None
    assert replay.received == [e.command for e in captured.exchanges]
    assert replay.server_closed
    assert replay.trailing == b""
    expected = {**EXPECTED, b"CHANNEL STATUS\n": (CHANNEL_STATUS[scenario], None, None, "", ())}
    assert [value for value, _ in outcomes] == [expected[e.command] for e in captured.exchanges]
    hangup_from = next(
        (i for i, e in enumerate(captured.exchanges) if e.unprompted_before),
        len(captured.exchanges),
    )
    assert [flag for _, flag in outcomes] == [
        i >= hangup_from for i in range(len(captured.exchanges))
    ]
    assert (hangup_from < len(captured.exchanges)) is (scenario == 1)


# Typed helpers against the scripted fake


async def test_variables_verbose_answer_exec(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> dict[str, object]:
        await session.answer()
        await session.set_variable("SUBSCRIBER_NAME", "Иван Петров")
        result: dict[str, object] = {
            "num": await session.get_variable("CALLERID(num)"),
            "unset": await session.get_variable("NO_SUCH_VAR"),
            "read back": await session.get_variable("SUBSCRIBER_NAME"),
            "full": await session.get_full_variable("${CALLERID(name)} / ${CALLERID(num)}"),
        }
        await session.verbose("hello", 3)
        result["exec"] = await session.exec("Playback", "beep", "noanswer")
        await session.hangup()
        return result

    result, call = await run(serve, body, variables={"EMPTY": ""})
    assert result == {
        "num": "0501234567",
        "unset": None,
        "read back": "Иван Петров",
        "full": "Алексей Тест / 0501234567",
        "exec": 0,
    }
    assert call.set_variables == {"SUBSCRIBER_NAME": "Иван Петров"}
    assert call.verbose == ["hello"]
    assert call.executed == [("Playback", "beep,noanswer")]
    assert call.received[0] == b"ANSWER\n"
    assert call.received[-1] == b"HANGUP\n"


async def test_empty_variable_is_not_unset(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> str | None:
        return await session.get_variable("EMPTY")

    result, _ = await run(serve, body, variables={"EMPTY": ""})
    assert result == ""


async def test_get_data(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        results: list[object] = []
        for _ in range(4):
            try:
                results.append(await session.get_data("agent-pass", 6000, 4))
            except AgiHangup as exc:
                results.append(type(exc))
        return results

    inputs = [
        GetDataInput("1234"),
        GetDataInput("0012", timed_out=True),
        GetDataInput("", timed_out=True),
        GetDataInput(hung_up=True),
    ]
    result, call = await run(serve, body, get_data=inputs)
    assert result == ["1234", "0012", "", AgiHangup]
    assert call.received[0] == b"GET DATA agent-pass 6000 4\n"


async def test_playback_digits(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[PlaybackResult]:
        return [
            await session.stream_file("pbxbridge/balance", "0123456789#"),
            await session.stream_file("pbxbridge/balance"),
            await session.stream_file("missing"),
            await session.say_number(1250, "5"),
            await session.say_digits("0501234567"),
        ]

    result, call = await run(serve, body, playback_digit="5", missing_sounds=["missing"])
    assert result == [
        PlaybackResult(digit="5", failed=False, endpos=8000),
        PlaybackResult(digit="", failed=False, endpos=8000),
        PlaybackResult(digit="", failed=True, endpos=0),
        PlaybackResult(digit="5", failed=False, endpos=None),
        PlaybackResult(digit="", failed=False, endpos=None),
    ]
    assert call.received == [
        b'STREAM FILE pbxbridge/balance "0123456789#"\n',
        b'STREAM FILE pbxbridge/balance ""\n',
        b'STREAM FILE missing ""\n',
        b'SAY NUMBER 1250 "5"\n',
        b'SAY DIGITS 0501234567 ""\n',
    ]


async def test_exec_of_a_missing_application(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> object:
        return await raised(session.exec("NoSuchApp"))

    result, call = await run(serve, body, exec_results={"NoSuchApp": -2})
    assert result is AgiCommandFailed
    assert call.received == [b"EXEC NoSuchApp\n"]


async def test_errors_keep_the_session_in_step(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        return [
            await raised(session.command("NOSUCH", "COMMAND")),
            await session.get_variable("CALLERID(num)"),
            await raised(session.command("SAY", "NUMBER")),  # the captured 520- block
            await session.get_variable("CALLERID(num)"),
            await raised(session.command("ANSWER", "extra", "words")),  # 520 single line
            await session.get_variable("CALLERID(num)"),
        ]

    result, _ = await run(serve, body)
    assert result == [
        AgiCommandError,
        "0501234567",
        AgiUsageError,
        "0501234567",
        AgiUsageError,
        "0501234567",
    ]


async def test_errors_name_the_command_as_sent(serve: Serve) -> None:
    """The session hands the reply reader the bytes it wrote; messages show them as text."""

    async def body(request: AgiRequest, session: AgiSession) -> list[str]:
        messages = []
        for command in (("NOSUCH", "COMMAND"), ("SAY", "NUMBER")):
            try:
                await session.command(*command)
            except AgiError as exc:
                messages.append(str(exc))
        return messages

    result, _ = await run(serve, body)
    assert result[0] == "'NOSUCH COMMAND': 510 Invalid or unknown command"
    assert result[1].startswith("'SAY NUMBER': ")


# Unprompted HANGUP and dead channels


async def test_hangup_before_a_reply(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        return [
            session.hangup_received,
            await session.get_variable("CALLERID(num)"),
            session.hangup_received,
            await session.get_variable("NO_SUCH_VAR"),
        ]

    result, _ = await run(serve, body, faults=Faults(hangup_before_reply=frozenset({0})))
    assert result == [False, "0501234567", True, None]


async def test_hangup_after_a_reply(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        first = await session.get_variable("CALLERID(num)")
        flag_after_first = session.hangup_received
        second = await session.get_variable("CALLERID(name)")
        return [first, flag_after_first, second, session.hangup_received]

    result, _ = await run(serve, body, faults=Faults(hangup_after_reply=frozenset({0})))
    assert result == ["0501234567", False, "Алексей Тест", True]


async def test_511_after_hangup_then_dead_capable_commands_still_work(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        await session.verbose("before")
        result = [
            await raised(session.stream_file("pbxbridge/balance")),
            await raised(session.get_data("agent-pass", 1000, 4)),
            await session.get_variable("CALLERID(num)"),
        ]
        await session.set_variable("BILLING_RESULT", "hangup")
        return [*result, session.hangup_received]

    faults = Faults(hangup_after_reply=frozenset({0}), dead_after_hangup=True)
    result, call = await run(serve, body, faults=faults)
    assert result == [AgiDeadChannel, AgiDeadChannel, "0501234567", True]
    assert call.set_variables == {"BILLING_RESULT": "hangup"}


# Transport faults


async def test_split_writes_keep_cyrillic_intact(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> tuple[str, str | None]:
        return request.calleridname, await session.get_variable("CALLERID(name)")

    result, _ = await run(serve, body, faults=Faults(split_writes=True))
    assert result == ("Алексей Тест", "Алексей Тест")


@pytest.mark.parametrize(
    ("command", "reply_name"),
    [(("GET", "VARIABLE", "CALLERID(name)"), "cyrillic value"), (("SAY", "NUMBER"), "520 block")],
)
async def test_close_at_every_byte_of_a_reply(
    serve: Serve, command: tuple[str, ...], reply_name: str
) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        return [
            await raised(session.command(*command)),
            session.closed,
            await raised(session.verbose("after")),
        ]

    probe = Probe(body)
    server = await serve({"askozianum": probe})
    full = FakeAsterisk(server.port)
    full_call = await full.call()
    await probe.result()
    reply = full.answer(full_call.received[0])  # the reply the fake would give whole
    assert len(reply) > 20, reply_name
    for cut in range(len(reply)):
        faults = Faults(close_in_reply=(0, cut))
        call = await FakeAsterisk(server.port, faults=faults).call()
        assert call.received == [(" ".join(command) + "\n").encode()]
        assert await probe.result() == [AgiConnectionClosed, True, AgiConnectionClosed], cut


async def test_command_stall_times_out_and_closes_the_session(serve: Serve) -> None:
    timed_out: list[AgiError] = []

    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        first: type[BaseException] | None = None
        try:
            await session.get_variable("CALLERID(num)")
        except AgiReplyTimeout as exc:
            first = type(exc)
            timed_out.append(exc)
        return [
            first,
            session.closed,
            await raised(session.get_variable("CALLERID(num)")),
        ]

    result, call = await run(
        serve,
        body,
        settings={"command_timeout": 0.2},
        faults=Faults(stall_at_command=0),
    )
    assert result == [AgiReplyTimeout, True, AgiConnectionClosed]
    assert call.received == [b"GET VARIABLE CALLERID(num)\n"]
    assert str(timed_out[0]) == "no reply to 'GET VARIABLE CALLERID(num)' within 0.2 s"
    assert call.server_closed


async def test_per_command_reply_timeout(serve: Serve) -> None:
    """A slow reply is accepted when the command asks for a longer wait (GET DATA does)."""

    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        return [
            await session.stream_file("long-prompt", reply_timeout=10.0),
            await session.get_data("agent-pass", 5000, 4),  # waits 0.1 + 4 * 5 s
        ]

    faults = Faults(delay_reply={0: 0.3, 1: 0.3})
    result, _ = await run(
        serve, body, settings={"command_timeout": 0.1}, faults=faults, get_data=[GetDataInput("7")]
    )
    assert result == [PlaybackResult(digit="", failed=False, endpos=8000), "7"]


async def test_a_later_command_keeps_its_own_longer_deadline(serve: Serve) -> None:
    """The reply timer armed by a quick first command fires during a slower second one
    that asked for more time: it moves on to that command's deadline, no timeout."""

    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        return [
            await session.get_variable("CALLERID(num)"),
            await session.stream_file("long-prompt", reply_timeout=5.0),
            await session.get_variable("CALLERID(num)"),
        ]

    faults = Faults(delay_reply={1: 0.4})
    result, _ = await run(serve, body, settings={"command_timeout": 0.15}, faults=faults)
    assert result == [
        "0501234567",
        PlaybackResult(digit="", failed=False, endpos=8000),
        "0501234567",
    ]


async def test_a_shorter_deadline_after_a_longer_one_still_fires(serve: Serve) -> None:
    """The first command armed the timer far ahead; the stalled second one, due sooner,
    times out on its own deadline."""

    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        started = asyncio.get_running_loop().time()
        first = await session.stream_file("long-prompt", reply_timeout=20.0)
        second = await raised(session.get_variable("CALLERID(num)"))
        return [first.failed, second, asyncio.get_running_loop().time() - started < 5]

    result, call = await run(
        serve, body, settings={"command_timeout": 0.2}, faults=Faults(stall_at_command=1)
    )
    assert result == [False, AgiReplyTimeout, True]
    assert call.server_closed


async def test_a_cancelled_command_is_not_taken_for_a_timeout(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        waiting = asyncio.ensure_future(session.get_variable("CALLERID(num)"))
        await asyncio.sleep(0)  # one turn of the loop: the command is written, its timer armed
        waiting.cancel()
        try:
            await waiting
        except asyncio.CancelledError:
            return ["cancelled", session.closed]
        return ["answered", session.closed]

    # A timeout far beyond the test: whatever the machine's speed, only the cancel can end
    # the stalled command.
    result, _ = await run(
        serve, body, settings={"command_timeout": 30.0}, faults=Faults(stall_at_command=0)
    )
    assert result == ["cancelled", True]


async def test_concurrent_commands_do_not_interleave(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[str | None]:
        names = ["CALLERID(num)", "CALLERID(name)", "NO_SUCH_VAR"] * 5
        return list(await asyncio.gather(*(session.get_variable(n) for n in names)))

    result, call = await run(serve, body, faults=Faults(split_writes=True))
    assert result == ["0501234567", "Алексей Тест", None] * 5
    assert len(call.received) == 15


# Injection


EVIL = 'x"\nEXEC System rm -rf /\n'


async def test_a_value_built_to_inject_a_command_stays_one_line(serve: Serve) -> None:
    async def body(request: AgiRequest, session: AgiSession) -> list[object]:
        await session.set_variable("SUBSCRIBER_NAME", EVIL)
        await session.verbose(EVIL)
        await session.exec("NoOp", EVIL)
        await session.get_full_variable(EVIL)
        await session.set_variable("SUBSCRIBER_NAME2", 'a\\"\r\nHANGUP\0')
        return [
            await raised_value(session.set_variable(EVIL, "x")),
            await raised_value(session.command("VERBOSE", EVIL)),
            await raised_value(session.stream_file(EVIL)),
            await raised_value(session.set_variable("LONG", "x" * 3000)),
        ]

    result, call = await run(serve, body)
    assert result == [ValueError] * 4
    flat = EVIL.replace("\n", " ")
    assert call.received == [
        b'SET VARIABLE SUBSCRIBER_NAME "x\\" EXEC System rm -rf / "\n',
        b'VERBOSE "x\\" EXEC System rm -rf / " 1\n',
        b'EXEC NoOp "x\\" EXEC System rm -rf / "\n',
        b'GET FULL VARIABLE "x\\" EXEC System rm -rf / "\n',
        b'SET VARIABLE SUBSCRIBER_NAME2 "a\\\\\\"  HANGUP "\n',
    ]
    assert call.argv == [
        ["SET", "VARIABLE", "SUBSCRIBER_NAME", flat],
        ["VERBOSE", flat, "1"],
        ["EXEC", "NoOp", flat],
        ["GET", "FULL", "VARIABLE", flat],
        ["SET", "VARIABLE", "SUBSCRIBER_NAME2", 'a\\"  HANGUP '],
    ]
    assert call.set_variables == {"SUBSCRIBER_NAME": flat, "SUBSCRIBER_NAME2": 'a\\"  HANGUP '}


async def raised_value(awaitable: Awaitable[object]) -> type[BaseException] | None:
    try:
        await awaitable
    except ValueError as exc:
        return type(exc)
    return None
