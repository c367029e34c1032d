"""One FastAGI session: send a command, read its whole reply, under a deadline.

Commands go out one at a time (a lock keeps concurrent callers from interleaving).
A session is either in step with Asterisk or closed: when a reply cannot be read to its
end (timeout, cancellation, EOF, garbage) the connection is closed, because a late or
partial reply would otherwise be taken for the answer to the next command.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from agi.errors import (
    AgiCommandError,
    AgiCommandFailed,
    AgiConnectionClosed,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiReplyTimeout,
    AgiUsageError,
)
from agi.escape import (
    DEFAULT_MAX_COMMAND_BYTES,
    application_name,
    digit_string,
    escape_digit_set,
    format_command,
    integer,
    quote,
    set_variable_line,
    sound_name,
    variable_name,
)
from agi.replies import AgiReply, command_text, read_reply

log = logging.getLogger(__name__)


class ReplyReader(Protocol):
    """Where replies come from: the server's AgiConnection, an asyncio.StreamReader, or
    stdin for classic AGI."""

    async def readuntil(self, separator: bytes = b"\n") -> bytes: ...


class CommandWriter(Protocol):
    """Where commands go: the server's AgiConnection, an asyncio.StreamWriter, or stdout
    for classic AGI."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


APP_NOT_FOUND = "-2"
"""EXEC's result when the dialplan application does not exist."""


@dataclass(frozen=True, slots=True)
class PlaybackResult:
    """What STREAM FILE, SAY NUMBER and SAY DIGITS answered.

    `digit` is the escape digit pressed ("" when playback ran to its end), `failed` is
    set for `result=-1` (sound file missing, or the channel hung up), `endpos` is the
    sample offset where STREAM FILE stopped (None for SAY …).
    """

    digit: str
    failed: bool
    endpos: int | None


class _ReplyDeadline:
    """The deadline of the command in flight, on one timer that outlives the command.

    `asyncio.timeout()` around each command costs about 5 µs (a timer made and cancelled,
    two coroutines); a session sends its commands one after another, each due later than
    the one before, so one timer serves them all: when it fires before the command in
    flight is due (an earlier command armed it), it moves itself to that deadline. When
    the command in flight is past due, its task is cancelled, and `expired()` tells the
    command that the cancellation was the deadline's (as asyncio.timeout tells it), so it
    raises AgiReplyTimeout; a cancellation from elsewhere passes through.
    """

    __slots__ = ("_cancelling", "_due", "_fired", "_loop", "_task", "_timer")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due: float | None = None
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._fired = False

    def arm(self, seconds: float) -> None:
        # current_task(loop) skips get_running_loop(), which costs a getpid() syscall on
        # Python 3.11; the loop is the session's first command's (a session lives in one).
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("an AGI command must run in a task")
        self._task, self._cancelling, self._fired = task, task.cancelling(), False
        self._due = due = loop.time() + seconds
        timer = self._timer
        if timer is None or timer.when() > due:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(due, self._check)

    def _check(self) -> None:
        self._timer = None
        due, task = self._due, self._task
        if due is None or task is None:
            return
        loop = task.get_loop()
        if loop.time() < due:
            self._timer = loop.call_at(due, self._check)
            return
        self._fired = True
        task.cancel()

    def expired(self) -> bool:
        """Called while the command handles a CancelledError: whether the deadline caused it
        (and nobody else cancelled the task meanwhile); the deadline's cancel is taken back."""
        task = self._task
        return self._fired and task is not None and task.uncancel() <= self._cancelling

    def disarm(self) -> None:
        self._due = self._task = None
        self._fired = False

    def release(self) -> None:
        self.disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _playback(reply: AgiReply) -> PlaybackResult:
    code = reply.result_int
    if code < 0:
        return PlaybackResult(digit="", failed=True, endpos=reply.endpos)
    return PlaybackResult(digit=chr(code) if code else "", failed=False, endpos=reply.endpos)


class AgiSession:
    """Commands to the channel behind one FastAGI connection.

    `command()` sends words built with `agi.escape` (constants, validated identifiers,
    `quote()`d values); the typed helpers do that for you and are what routes should use.
    Every reply is read under `command_timeout` unless a command passes its own.
    """

    def __init__(
        self,
        reader: ReplyReader,
        writer: CommandWriter,
        *,
        command_timeout: float,
        max_command_bytes: int = DEFAULT_MAX_COMMAND_BYTES,
        uniqueid: str = "",
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._command_timeout = command_timeout
        self._max_command_bytes = max_command_bytes
        self._uniqueid = uniqueid
        self._lock = asyncio.Lock()
        self._deadline = _ReplyDeadline()
        self._hangup_received = False
        self._closed_because: str | None = None
        self._variables_set: set[str] = set()

    @property
    def hangup_received(self) -> bool:
        """Asterisk has sent an unprompted `HANGUP` line: the caller is gone.

        Dead-capable commands (GET/SET VARIABLE, VERBOSE, EXEC…) still work; others get 511.
        """
        return self._hangup_received

    @property
    def variables_set(self) -> frozenset[str]:
        """Names of the channel variables this session has set (Asterisk said 200)."""
        return frozenset(self._variables_set)

    @property
    def closed(self) -> bool:
        return self._closed_because is not None

    def close(self, reason: str = "closed by pbxbridge") -> None:
        """Close the connection (idempotent); Asterisk then continues the dialplan."""
        self._deadline.release()
        if self._closed_because is None:
            self._closed_because = reason
            self._writer.close()

    def release(self) -> None:
        """Drop the session's reply timer (its owner calls this when the session ends, so a
        finished session is not kept alive until its last command's deadline)."""
        self._deadline.release()

    def _mark_hangup(self) -> None:
        if not self._hangup_received:
            log.debug("AGI %s: HANGUP received", self._uniqueid)
        self._hangup_received = True

    async def _read_line(self) -> str:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise AgiConnectionClosed(
                f"Asterisk closed the connection ({len(exc.partial)} bytes of a line pending)"
            ) from None
        except asyncio.LimitOverrunError:
            raise AgiProtocolError("reply line over the stream limit") from None
        except OSError as exc:
            raise AgiConnectionClosed(f"connection to Asterisk failed: {exc}") from None
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def command(self, *words: str, reply_timeout: float | None = None) -> AgiReply:
        """Send one command and return its `200` reply.

        Raises AgiCommandError (510), AgiUsageError (520), AgiDeadChannel (511),
        AgiReplyTimeout, AgiProtocolError, AgiConnectionClosed. ValueError when a word is
        not safe to send (see `agi.escape.format_command`).
        """
        line = format_command(*words, max_bytes=self._max_command_bytes)
        return await self._exchange(line, reply_timeout)

    async def _exchange(self, line: bytes, reply_timeout: float | None) -> AgiReply:
        """Write one encoded command line (one write) and read its whole reply."""
        wait = self._command_timeout if reply_timeout is None else reply_timeout
        async with self._lock:
            if self._closed_because is not None:
                raise AgiConnectionClosed(f"session closed: {self._closed_because}")
            in_step = False
            deadline = self._deadline
            deadline.arm(wait)
            try:
                self._writer.write(line)
                await self._writer.drain()
                reply = await read_reply(self._read_line, line, self._mark_hangup)
                in_step = True
                return reply
            except AgiError as exc:
                # 510/511/520 replies were read to their end: still in step.
                in_step = isinstance(exc, AgiCommandError | AgiUsageError | AgiDeadChannel)
                raise
            except asyncio.CancelledError:
                if deadline.expired():
                    raise AgiReplyTimeout(command_text(line), wait) from None
                raise
            except OSError as exc:
                raise AgiConnectionClosed(f"connection to Asterisk failed: {exc}") from None
            finally:
                deadline.disarm()
                if not in_step:
                    self.close(f"{command_text(line)!r} did not complete")

    # Typed helpers. Every value goes through quote(); identifiers are validated.

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set (`200 result=0`)."""
        reply = await self.command("GET", "VARIABLE", variable_name(name))
        return _variable_value(reply)

    async def get_full_variable(self, expression: str) -> str | None:
        """`expression` (e.g. `${CALLERID(name)}`) evaluated on the channel.

        Asterisk expands everything in it, functions included: never build it from
        caller-controlled text.
        """
        reply = await self.command("GET", "FULL", "VARIABLE", quote(expression))
        return _variable_value(reply)

    async def set_variable(self, name: str, value: str) -> None:
        line = set_variable_line(name, value, self._max_command_bytes)
        await self._exchange(line, None)
        self._variables_set.add(name)

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write `message` to the Asterisk console/log at verbosity `level` (1-4)."""
        if level not in range(1, 5):
            raise ValueError(f"verbose level must be 1-4, not {level!r}")
        await self.command("VERBOSE", quote(message), integer(level))

    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if reply.result_int < 0:
            raise AgiCommandFailed("ANSWER", reply.line)

    async def hangup(self) -> None:
        await self.command("HANGUP")

    async def stream_file(
        self, name: str, escape_digits: str = "", *, reply_timeout: float | None = None
    ) -> PlaybackResult:
        """Play a sound file; stops early when one of the escape digits is pressed."""
        reply = await self.command(
            "STREAM",
            "FILE",
            sound_name(name),
            escape_digit_set(escape_digits),
            reply_timeout=reply_timeout,
        )
        return _playback(reply)

    async def get_data(
        self,
        prompt: str,
        timeout_ms: int,
        max_digits: int,
        *,
        reply_timeout: float | None = None,
    ) -> str:
        """Play `prompt` and collect up to `max_digits` digits ('#' ends input early).

        Returns the digits entered, possibly fewer than `max_digits` or "" when the caller
        let it time out. `timeout_ms` is Asterisk's wait for each digit; the reply timeout
        defaults to `command_timeout` plus that wait for every digit, since the prompt and
        the typing both happen before Asterisk answers. Raises AgiHangup on `result=-1`.
        """
        if timeout_ms < 0 or max_digits < 1:
            raise ValueError("GET DATA needs timeout_ms >= 0 and max_digits >= 1")
        wait = reply_timeout
        if wait is None:
            wait = self._command_timeout + timeout_ms / 1000 * max_digits
        reply = await self.command(
            "GET",
            "DATA",
            sound_name(prompt),
            integer(timeout_ms),
            integer(max_digits),
            reply_timeout=wait,
        )
        if reply.result == "-1":
            raise AgiHangup(f"GET DATA {prompt}: {reply.line}")
        return reply.result

    async def say_number(
        self, number: int, escape_digits: str = "", *, reply_timeout: float | None = None
    ) -> PlaybackResult:
        reply = await self.command(
            "SAY",
            "NUMBER",
            integer(number),
            escape_digit_set(escape_digits),
            reply_timeout=reply_timeout,
        )
        return _playback(reply)

    async def say_digits(
        self, digits: str, escape_digits: str = "", *, reply_timeout: float | None = None
    ) -> PlaybackResult:
        reply = await self.command(
            "SAY",
            "DIGITS",
            digit_string(digits),
            escape_digit_set(escape_digits),
            reply_timeout=reply_timeout,
        )
        return _playback(reply)

    async def exec(self, application: str, *args: str, reply_timeout: float | None = None) -> int:
        """Run a dialplan application; its arguments are joined with "," into one value.

        A "," inside an argument therefore splits it. Asterisk passes the text literally
        unless the channel sets AGIEXECFULL=yes; then it expands `${…}` in it, so never
        pass caller-controlled text there: set a variable and pass `${THAT_VARIABLE}`.
        Returns the application's result (-1 usually means the channel hung up during it).
        Raises AgiCommandFailed when the application does not exist.
        """
        words = ["EXEC", application_name(application)]
        if args:
            words.append(quote(",".join(args)))
        reply = await self.command(*words, reply_timeout=reply_timeout)
        if reply.result == APP_NOT_FOUND:
            raise AgiCommandFailed(f"EXEC {application}", f"{reply.line} (no such application)")
        return reply.result_int


def _variable_value(reply: AgiReply) -> str | None:
    if reply.result == "1":
        return reply.data if reply.data is not None else ""
    if reply.result == "0":
        return None
    raise AgiProtocolError(f"unexpected GET VARIABLE reply {reply.line!r}")
