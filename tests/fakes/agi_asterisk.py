"""A fake Asterisk that dials pbxbridge's FastAGI server over a real TCP socket.

It sends the `agi_*` environment block exactly as captured from a real Asterisk
(`tests/fixtures/asterisk/fastagi-sessions.json`, optionally with fields changed), then
answers each command line the way the captures show:

* GET VARIABLE / GET FULL VARIABLE from a dict of channel variables (`200 result=0` when
  unset), SET VARIABLE recorded (and readable afterwards), VERBOSE and EXEC recorded;
* GET DATA, STREAM FILE, SAY NUMBER, SAY DIGITS with configurable digits and results;
* any other line from the capture's command→reply table (`SAY NUMBER` without arguments
  gets the captured `520-` block, `GOSUB sub-test s 1` the `100 Trying…` pair, …);
* anything else `510 Invalid or unknown command`.

Shapes not in the captures (511, GET DATA, playback digits…) come from the hand-made
`fastagi-handmade-replies.json`. Commands are split into words the way Asterisk's
`parse_args()` does, so a test sees exactly what Asterisk would have read.

`Faults` makes it misbehave: an unprompted `HANGUP` before or after any reply, 511 to
non-dead-capable commands once hung up, replies written one byte per TCP write, a stall
instead of a reply, a close part-way through a reply or the environment block.
`CaptureReplay` replays one captured session byte for byte and checks that the server
sends exactly the captured commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agi.probe import parse_args

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk"
CAPTURE_FILE = FIXTURES / "fastagi-sessions.json"
HANDMADE_FILE = FIXTURES / "fastagi-handmade-replies.json"

HANGUP_LINE = b"HANGUP\n"
UNKNOWN_COMMAND = b"510 Invalid or unknown command\n"
"""As captured (scenario 1, `NOSUCH COMMAND`)."""

# Commands Asterisk still runs on a dead channel (`dead` flag in res_agi.c's command table).
DEAD_CAPABLE = frozenset(
    {
        "asyncagi break",
        "database del",
        "database deltree",
        "database get",
        "database put",
        "exec",
        "get full variable",
        "get variable",
        "noop",
        "set variable",
        "speech destroy",
        "speech unload grammar",
        "verbose",
    }
)
KNOWN_COMMANDS = DEAD_CAPABLE | {
    "answer",
    "channel status",
    "get data",
    "get option",
    "gosub",
    "hangup",
    "record file",
    "say digits",
    "say number",
    "set context",
    "set extension",
    "set priority",
    "stream file",
    "wait for digit",
}
_SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")


# Captures


@dataclass(frozen=True)
class CapturedExchange:
    command: bytes
    reply: bytes
    unprompted_before: bytes = b""
    """Lines Asterisk sent on its own before this command was written (`HANGUP\\n`)."""


@dataclass(frozen=True)
class CapturedSession:
    scenario: str
    environment: bytes
    exchanges: tuple[CapturedExchange, ...]


def load_captured_sessions() -> tuple[CapturedSession, ...]:
    sessions = []
    for item in json.loads(CAPTURE_FILE.read_text(encoding="utf-8")):
        environment: bytes | None = None
        command: bytes | None = None
        unprompted = b""
        exchanges: list[CapturedExchange] = []
        for step in item["exchange"]:
            data = step["data"].encode("utf-8")
            direction = step["dir"]
            if direction == "recv" and environment is None:
                environment = data
            elif direction == "send":
                command = data
            elif direction == "recv":
                assert command is not None, "a reply without a command in the capture"
                exchanges.append(CapturedExchange(command, data, unprompted))
                command, unprompted = None, b""
            elif direction == "recv-unprompted":
                unprompted += data
        assert environment is not None
        sessions.append(CapturedSession(item["scenario"], environment, tuple(exchanges)))
    return tuple(sessions)


def capture_reply_table(sessions: Iterable[CapturedSession]) -> dict[bytes, bytes]:
    """Command line → reply, from every captured exchange (the first capture wins)."""
    table: dict[bytes, bytes] = {}
    for session in sessions:
        for exchange in session.exchanges:
            table.setdefault(exchange.command, exchange.reply)
    return table


def handmade_replies() -> dict[str, str]:
    data: dict[str, str] = json.loads(HANDMADE_FILE.read_text(encoding="utf-8"))
    return {key: value for key, value in data.items() if not key.startswith("_")}


def environment_block(base: bytes, changes: Mapping[str, str | None] | None = None) -> bytes:
    """`base` with header values replaced (None removes the header; new ones go last).

    Unchanged lines keep their exact bytes.
    """
    changes = dict(changes or {})
    lines = base.split(b"\n")
    assert lines[-2:] == [b"", b""], "an environment block ends with an empty line"
    out: list[bytes] = []
    for line in lines[:-2]:
        key = line.split(b":", 1)[0].decode("utf-8", errors="replace")
        if key in changes:
            value = changes.pop(key)
            if value is not None:
                out.append(f"{key}: {value}".encode())
        else:
            out.append(line)
    out.extend(f"{key}: {value}".encode() for key, value in changes.items() if value is not None)
    return b"\n".join([*out, b"", b""])


def command_name(argv: list[str]) -> str | None:
    words = [word.lower() for word in argv]
    for length in (3, 2, 1):
        name = " ".join(words[:length])
        if len(words) >= length and name in KNOWN_COMMANDS:
            return name
    return None


# The scripted Asterisk


@dataclass(frozen=True)
class GetDataInput:
    """What the caller does at one GET DATA."""

    digits: str = ""
    timed_out: bool = False
    hung_up: bool = False


@dataclass(frozen=True)
class Faults:
    split_writes: bool = False
    """Write every reply (and the environment block) one byte per TCP write."""
    hangup_before_reply: frozenset[int] = frozenset()
    """Command numbers (0-based) before whose reply an unprompted `HANGUP` is sent."""
    hangup_after_reply: frozenset[int] = frozenset()
    """Command numbers after whose reply an unprompted `HANGUP` is sent."""
    dead_after_hangup: bool = False
    """After a HANGUP line, answer non-dead-capable commands with 511 (AGISIGHUP=yes)."""
    stall_at_command: int | None = None
    """Never answer this command; wait for the server to close."""
    delay_reply: Mapping[int, float] = field(default_factory=dict)
    """Command number → seconds to wait before answering it."""
    close_in_reply: tuple[int, int] | None = None
    """(command number, n): send only the reply's first n bytes, then close."""
    environment_bytes: int | None = None
    """Send only this many bytes of the environment block, then `after_environment`."""
    after_environment: Literal["half_close", "close", "stall"] = "half_close"
    """half_close: shut our sending side and wait for the server to close; close: close;
    stall: send nothing more and wait for the server to close."""


@dataclass
class FakeCall:
    """What the fake saw during one call."""

    received: list[bytes] = field(default_factory=list)
    """Command lines exactly as the server sent them."""
    argv: list[list[str]] = field(default_factory=list)
    """Each command as Asterisk would have split it."""
    set_variables: dict[str, str] = field(default_factory=dict)
    verbose: list[str] = field(default_factory=list)
    executed: list[tuple[str, str]] = field(default_factory=list)
    server_closed: bool = False
    """The server closed the connection (EOF or reset seen by the fake)."""
    trailing: bytes = b""
    """Bytes the server sent after the fake stopped answering (should be none)."""


def default_environment() -> bytes:
    return load_captured_sessions()[0].environment


class FakeAsterisk:
    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        environment: bytes | None = None,
        env: Mapping[str, str | None] | None = None,
        variables: Mapping[str, str] | None = None,
        get_data: Iterable[GetDataInput] = (),
        playback_digit: str = "",
        missing_sounds: Iterable[str] = (),
        exec_results: Mapping[str, int] | None = None,
        faults: Faults | None = None,
    ) -> None:
        captured = load_captured_sessions()
        self.host = host
        self.port = port
        self.environment = environment_block(environment or captured[0].environment, env)
        # The captured channel's variables (see the captures' GET VARIABLE replies).
        self.variables: dict[str, str] = {
            "CALLERID(num)": "0501234567",
            "CALLERID(name)": "Алексей Тест",
        }
        self.variables.update(variables or {})
        self.get_data_inputs = deque(get_data)
        self.playback_digit = playback_digit
        self.missing_sounds = frozenset(missing_sounds)
        self.exec_results = dict(exec_results or {})
        self.faults = faults or Faults()
        self.table = capture_reply_table(captured)
        self.replies = handmade_replies()
        self.record = FakeCall()
        self._dead = False
        self._hangup_after_this = False

    async def call(self) -> FakeCall:
        """Connect, send the environment, answer commands until the server closes."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            if await self._send_environment(reader, writer):
                await self._converse(reader, writer)
        except ConnectionError:
            self.record.server_closed = True
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return self.record

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if not self.faults.split_writes:
            writer.write(data)
            await writer.drain()
            return
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0)

    async def _wait_for_server_close(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            self.record.trailing += await reader.read()
        self.record.server_closed = True

    async def _send_environment(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        cut = self.faults.environment_bytes
        if cut is None:
            await self._write(writer, self.environment)
            return True
        await self._write(writer, self.environment[:cut])
        if self.faults.after_environment == "half_close":
            writer.write_eof()
        if self.faults.after_environment != "close":
            await self._wait_for_server_close(reader)
        return False

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        faults = self.faults
        number = 0
        while True:
            line = await reader.readline()
            if not line.endswith(b"\n"):
                self.record.trailing += line
                self.record.server_closed = True
                return
            self.record.received.append(line)
            if faults.stall_at_command == number:
                await self._wait_for_server_close(reader)
                return
            reply = self.answer(line)
            if number in faults.delay_reply:
                await asyncio.sleep(faults.delay_reply[number])
            if number in faults.hangup_before_reply:
                await self._write(writer, HANGUP_LINE)
                self._dead = True
            if faults.close_in_reply is not None and faults.close_in_reply[0] == number:
                await self._write(writer, reply[: faults.close_in_reply[1]])
                return
            await self._write(writer, reply)
            if number in faults.hangup_after_reply or self._hangup_after_this:
                await self._write(writer, HANGUP_LINE)
                self._dead = True
                self._hangup_after_this = False
            number += 1

    def answer(self, line: bytes) -> bytes:
        """The reply this fake gives to one command line (and records the command)."""
        argv = parse_args(line.decode("utf-8", errors="replace").removesuffix("\n"))
        self.record.argv.append(argv)
        name = command_name(argv)
        dead = self._dead and self.faults.dead_after_hangup
        if dead and name is not None and name not in DEAD_CAPABLE:
            return self.replies["dead_channel"].encode()
        reply = self._dynamic(name, argv) if name is not None else None
        if reply is not None:
            return reply
        if line in self.table:
            return self.table[line]
        if name is not None:
            return self.replies["usage_not_available"].encode()
        return UNKNOWN_COMMAND

    def _dynamic(self, name: str, argv: list[str]) -> bytes | None:
        """The reply to a command the fake simulates; None for a wrong argument count."""
        args = argv[len(name.split()) :]
        replies = self.replies
        if name == "get variable" and len(args) == 1:
            value = self.variables.get(args[0])
            return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
        if name == "get full variable" and len(args) in (1, 2):
            value = _SUBSTITUTION.sub(lambda m: self.variables.get(m[1], ""), args[0])
            return f"200 result=1 ({value})\n".encode()
        if name == "set variable" and len(args) == 2:
            self.record.set_variables[args[0]] = args[1]
            self.variables[args[0]] = args[1]
            return b"200 result=1\n"
        if name == "verbose" and len(args) in (1, 2):
            self.record.verbose.append(args[0])
            return b"200 result=1\n"
        if name == "exec" and len(args) in (1, 2):
            self.record.executed.append((args[0], args[1] if len(args) == 2 else ""))
            result = self.exec_results.get(args[0], 0)
            return replies["exec"].format(result=result).encode()
        if name == "answer" and not args:
            return replies["answer"].format(result=0).encode()
        if name == "hangup" and len(args) <= 1:
            self._hangup_after_this = True
            return replies["hangup_command"].encode()
        if name == "stream file" and len(args) in (2, 3):
            if args[0] in self.missing_sounds:
                return replies["stream_file"].format(result=-1, endpos=0).encode()
            result = self._pressed(args[1])
            return replies["stream_file"].format(result=result, endpos=8000).encode()
        if name in ("say number", "say digits") and len(args) in (2, 3):
            return replies["say"].format(result=self._pressed(args[1])).encode()
        if name == "get data" and 1 <= len(args) <= 3:
            entry = self.get_data_inputs.popleft() if self.get_data_inputs else GetDataInput()
            if entry.hung_up:
                return replies["get_data_hangup"].encode()
            key = "get_data_timeout" if entry.timed_out else "get_data"
            return replies[key].format(digits=entry.digits).encode()
        return None

    def _pressed(self, escape_digits: str) -> int:
        digit = self.playback_digit
        return ord(digit) if digit and digit in escape_digits else 0


# Byte-for-byte replay of a captured session


@dataclass
class ReplayResult:
    received: list[bytes] = field(default_factory=list)
    mismatch: tuple[int, bytes, bytes] | None = None
    """(exchange number, expected command, received command) at the first difference."""
    trailing: bytes = b""
    server_closed: bool = False


class CaptureReplay:
    """Replays one captured session: environment, then each reply, byte for byte.

    Each command the server sends must equal the captured one; the first difference is
    recorded and the replay stops.
    """

    def __init__(
        self,
        port: int,
        session: CapturedSession,
        *,
        host: str = "127.0.0.1",
        split_writes: bool = False,
    ) -> None:
        self.port = port
        self.host = host
        self.session = session
        self.split_writes = split_writes
        self.result = ReplayResult()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        chunks = [data[i : i + 1] for i in range(len(data))] if self.split_writes else [data]
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            if self.split_writes:
                await asyncio.sleep(0)

    async def call(self) -> ReplayResult:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            await self._write(writer, self.session.environment)
            for number, exchange in enumerate(self.session.exchanges):
                if exchange.unprompted_before:
                    await self._write(writer, exchange.unprompted_before)
                line = await reader.readline()
                self.result.received.append(line)
                if line != exchange.command:
                    self.result.mismatch = (number, exchange.command, line)
                    return self.result
                await self._write(writer, exchange.reply)
            self.result.trailing = await reader.read()
            self.result.server_closed = True
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return self.result
