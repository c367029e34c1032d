"""Reading AGI replies the way Asterisk sends them (`res/res_agi.c`).

A reply is one line `200 result=<r>[ (<data>)][ endpos=<n>]`, possibly preceded by
`100 result=0 Trying...` (Gosub) and by an unprompted `HANGUP` line, which Asterisk writes
whenever the channel hangs up while the AGI is idle; the reply to the command in flight
still follows it. Errors are `510 …`, `511 …`, `520 …` on one line, or a `520-` block of
usage text ending in `520 End of proper usage.`. Every line of a reply is consumed here,
so the next command starts in step whatever came back.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from agi.errors import (
    AgiCommandError,
    AgiDeadChannel,
    AgiError,
    AgiProtocolError,
    AgiUsageError,
)

HANGUP_LINE = "HANGUP"

_STATUS = re.compile(r"(?P<code>\d{3})(?P<sep>[ -])(?P<text>.*)")
_RESULT = re.compile(
    r"result=(?P<result>\S*)"
    r"(?: \((?P<data>.*)\))?"
    r"(?: endpos=(?P<endpos>-?\d+))?"
    r"(?: (?P<rest>.*))?"
)


@dataclass(frozen=True, slots=True)
class AgiReply:
    """A `200` reply.

    `result` stays text: GET DATA answers the digits there (`0123`, or nothing at all
    before ` (timeout)`), so leading zeros must survive. `data` is the text in
    parentheses (a variable's value, `timeout`, `dtmf`…), `rest` any other trailing text
    (`Gosub complete`), `preliminary` the `100 …` lines that came first.
    """

    code: int
    result: str
    data: str | None = None
    endpos: int | None = None
    rest: str = ""
    line: str = ""
    preliminary: tuple[str, ...] = ()

    @property
    def result_int(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            raise AgiProtocolError(f"non-numeric result in {self.line!r}") from None


def parse_result(code: int, text: str, line: str) -> AgiReply:
    """Parse the part of a `200`/`100` line after the code."""
    match = _RESULT.fullmatch(text)
    if match is None:
        raise AgiProtocolError(f"reply without result=: {line!r}")
    endpos = match["endpos"]
    return AgiReply(
        code=code,
        result=match["result"],
        data=match["data"],
        endpos=int(endpos) if endpos is not None else None,
        rest=match["rest"] or "",
        line=line,
    )


_COMMON = {
    line: parse_result(200, line[4:], line)
    for line in ("200 result=0", "200 result=1", "200 result=-1")
}
"""The replies most commands get, parsed once (AgiReply is immutable)."""


def command_text(command: str | bytes) -> str:
    """A command as messages show it: the sent line (bytes) decoded, without its newline."""
    if isinstance(command, bytes):
        return command.decode("utf-8", errors="replace").rstrip("\n")
    return command


async def read_reply(
    read_line: Callable[[], Awaitable[str]],
    command: str | bytes,
    on_hangup: Callable[[], None],
) -> AgiReply:
    """Read lines until the complete reply to `command` has been consumed.

    `read_line` returns one decoded line without its line ending (and raises at EOF).
    `on_hangup` is called for every unprompted `HANGUP` line, which is then skipped.
    `command` (the line sent, as text or as the bytes written) is only decoded for an
    error's message.
    """
    preliminary: list[str] = []
    while True:
        line = await read_line()
        common = _COMMON.get(line)
        if common is not None and not preliminary:
            return common
        if line == HANGUP_LINE:
            on_hangup()
            continue
        if not line:
            continue
        status = _STATUS.fullmatch(line)
        if status is None:
            raise AgiProtocolError(
                f"unexpected line in reply to {command_text(command)!r}: {line[:200]!r}"
            )
        code, continued, text = int(status["code"]), status["sep"] == "-", status["text"]
        if code == 100 and not continued:
            preliminary.append(line)
            continue
        if code == 200 and not continued:
            reply = parse_result(code, text, line)
            return replace(reply, preliminary=tuple(preliminary)) if preliminary else reply
        raise await _failure(
            read_line, on_hangup, command_text(command), line, code, text, continued=continued
        )


async def _failure(
    read_line: Callable[[], Awaitable[str]],
    on_hangup: Callable[[], None],
    command: str,
    line: str,
    code: int,
    text: str,
    *,
    continued: bool,
) -> AgiError:
    """The error a reply other than 100/200 means; a `520-` block is read to its end first,
    so the session stays in step."""
    if code == 510:
        return AgiCommandError(command, line)
    if code == 511:
        return AgiDeadChannel(command, line)
    if code != 520:
        return AgiProtocolError(f"unknown reply code in reply to {command!r}: {line[:200]!r}")
    if not continued:
        return AgiUsageError(command, text)
    usage: list[str] = []
    while True:
        more = await read_line()
        if more.startswith("520 "):
            return AgiUsageError(command, "\n".join(usage))
        if more != HANGUP_LINE:
            usage.append(more)
        else:
            on_hangup()
