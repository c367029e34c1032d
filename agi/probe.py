"""`pbxbridge agi-probe`: play Asterisk against a running FastAGI server and show what it set.

The operator's debugging tool: it connects like Asterisk does, sends an `agi_*`
environment modelled on a real Asterisk's, answers every command the way a live channel
would (GET DATA with the digits given, playback as if heard to the end, unset variables
as unset), and reports every variable the route set and every command it sent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

ENVIRONMENT_TEMPLATE = (
    ("agi_network", "yes"),
    ("agi_network_script", "{script}"),
    ("agi_request", "agi://{host}:{port}/{script}"),
    ("agi_channel", "Local/s@pbxbridge-probe-00000001;2"),
    ("agi_language", "{language}"),
    ("agi_type", "Local"),
    ("agi_uniqueid", "{uniqueid}"),
    ("agi_version", "pbxbridge-agi-probe"),
    ("agi_callerid", "{callerid}"),
    ("agi_calleridname", "unknown"),
    ("agi_callingpres", "0"),
    ("agi_callingani2", "0"),
    ("agi_callington", "0"),
    ("agi_callingtns", "0"),
    ("agi_dnid", "unknown"),
    ("agi_rdnis", "unknown"),
    ("agi_context", "pbxbridge-probe"),
    ("agi_extension", "s"),
    ("agi_priority", "1"),
    ("agi_enhanced", "0.0"),
    ("agi_accountcode", ""),
    ("agi_threadid", "1"),
)
"""Asterisk's order (res_agi.c); the values of a Local channel like the captured ones."""


def parse_args(line: str) -> list[str]:
    """Split a command line into words exactly as res_agi.c `parse_args()` does."""
    argv: list[str] = []
    quoted = escaped = False
    whitespace = True
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                argv.append("")
                whitespace = False
            continue
        if char in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            argv.append("")
            whitespace = False
        argv[-1] += char
        escaped = False
    return argv


def environment(
    *,
    host: str,
    port: int,
    script: str,
    callerid: str,
    args: Iterable[str] = (),
    uniqueid: str = "1700000000.1",
    language: str = "en",
) -> bytes:
    values = {
        "host": host,
        "port": port,
        "script": script,
        "callerid": callerid or "unknown",
        "uniqueid": uniqueid,
        "language": language,
    }
    lines = [f"{key}: {value.format(**values)}" for key, value in ENVIRONMENT_TEMPLATE]
    lines += [f"agi_arg_{i}: {arg}" for i, arg in enumerate(args, start=1)]
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValueError(f"a newline cannot be sent in the environment: {line!r}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


@dataclass
class ProbeResult:
    variables: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)


_FIXED: dict[tuple[str, ...], str] = {
    ("STREAM", "FILE"): "200 result=0 endpos=8000",
    ("SAY", "NUMBER"): "200 result=0",
    ("SAY", "DIGITS"): "200 result=0",
    ("EXEC",): "200 result=0",
    ("ANSWER",): "200 result=0",
    ("WAIT",): "200 result=0",
    ("NOOP",): "200 result=0",
}
"""Commands a live channel answers the same way every time (nothing pressed, played whole)."""


class _Channel:
    """Answers commands the way a live, answered channel does."""

    def __init__(self, digits: Iterable[str]) -> None:
        self.digits = deque(digits)
        self.result = ProbeResult()

    def reply(self, line: str) -> str:
        self.result.commands.append(line)
        argv = parse_args(line)
        words = [w.upper() for w in argv]
        if words[:2] == ["SET", "VARIABLE"] and len(argv) >= 4:
            self.result.variables[argv[2]] = argv[3]
            return "200 result=1"
        if words[:2] == ["GET", "VARIABLE"] or words[:3] == ["GET", "FULL", "VARIABLE"]:
            name = argv[-1]
            value = self.result.variables.get(name)
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if words[:1] == ["VERBOSE"]:
            self.result.verbose.append(argv[1] if len(argv) > 1 else "")
            return "200 result=1"
        if words[:2] == ["GET", "DATA"]:
            if self.digits:
                return f"200 result={self.digits.popleft()}"
            return "200 result= (timeout)"
        fixed = _FIXED.get(tuple(words[:2])) or _FIXED.get(tuple(words[:1]))
        return fixed or "510 Invalid or unknown command"


async def probe(
    *,
    host: str,
    port: int,
    script: str,
    callerid: str,
    args: Iterable[str] = (),
    digits: Iterable[str] = (),
    deadline: float = 10.0,
) -> ProbeResult:
    """Run one call against the server; raises OSError/TimeoutError when it cannot."""
    channel = _Channel(digits)
    async with asyncio.timeout(deadline):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                environment(host=host, port=port, script=script, callerid=callerid, args=args)
            )
            await writer.drain()
            while line := await reader.readline():
                text = line.decode("utf-8", errors="replace").rstrip("\n")
                writer.write(channel.reply(text).encode("utf-8") + b"\n")
                await writer.drain()
        finally:
            writer.close()
    return channel.result
