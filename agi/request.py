"""The request Asterisk opens a FastAGI session with: the `agi_*` environment block.

Asterisk sends `agi_network: yes`, `agi_network_script: <path>[?query]`, `agi_request`,
the channel's details, `agi_arg_1 … agi_arg_N`, then one empty line. Each line is decoded
on its own as UTF-8 with replacement, so a Cyrillic CallerID name survives however TCP
cut it, and a broken byte spoils one character instead of the session.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from agi.errors import AgiHeaderError, AgiHeaderTooLong


class HeaderReader(Protocol):
    """Where the environment block comes from: the server's AgiConnection, or any
    asyncio.StreamReader (same calls, same errors)."""

    async def readuntil(self, separator: bytes = b"\n") -> bytes: ...

    async def readexactly(self, n: int) -> bytes: ...


_HEADER_KEY = re.compile(r"agi_[A-Za-z0-9_]+")
_ARG_KEY = re.compile(r"agi_arg_(\d+)")
UNKNOWN = "unknown"
"""What Asterisk sends for a missing CallerID number or name, DNID or RDNIS."""


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """One FastAGI request, as a route sees it.

    `script` is the route: the path of `agi_network_script` without leading or trailing
    slashes (`askozianum?mode=test&x=1` → `askozianum`). `query` holds its parameters
    (the last value wins), `args` the `agi_arg_N` values in order. `callerid` and
    `calleridname` are empty when Asterisk sent `unknown`; `env` keeps everything
    exactly as received, keyed by the full header name (`agi_callerid`).
    """

    script: str
    query: Mapping[str, str]
    args: list[str]
    env: Mapping[str, str]
    network_script: str
    uniqueid: str
    channel: str
    callerid: str
    calleridname: str
    context: str
    extension: str
    language: str
    peer_host: str
    peer_port: int


def split_script(network_script: str) -> tuple[str, dict[str, str]]:
    """The route path and query parameters of an `agi_network_script` value."""
    script, query = _split_script(network_script)
    return script, dict(query)


@functools.lru_cache(maxsize=1024)
def _split_script(network_script: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    # A dialplan uses a few scripts over and over; urlsplit/parse_qsl cost ~10 µs.
    # The leading "/" keeps urlsplit from reading "billing:balance" as a URL scheme
    # or "//x/y" as a host.
    parts = urlsplit("/" + network_script.lstrip("/"))
    query = tuple(dict(parse_qsl(parts.query, keep_blank_values=True)).items())
    return parts.path.strip("/"), query


_CHECKED_KEYS: set[str] = set()
"""Header names already matched against _HEADER_KEY: Asterisk sends the same two dozen."""
_CHECKED_KEYS_MAX = 1024


def parse_header_line(line: str) -> tuple[str, str]:
    """`("agi_callerid", "0501234567")` from `agi_callerid: 0501234567`."""
    key, sep, value = line.partition(":")
    if key not in _CHECKED_KEYS:
        if not sep or _HEADER_KEY.fullmatch(key) is None:
            raise AgiHeaderError(f"malformed environment line {line[:80]!r}")
        if len(_CHECKED_KEYS) < _CHECKED_KEYS_MAX:
            _CHECKED_KEYS.add(key)
    elif not sep:
        raise AgiHeaderError(f"malformed environment line {line[:80]!r}")
    return key, value.removeprefix(" ")


def parse_environment(lines: Iterable[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in lines:
        key, value = parse_header_line(line)
        env[key] = value
    if not env:
        raise AgiHeaderError("empty environment block")
    return env


async def read_environment(reader: HeaderReader, max_bytes: int) -> dict[str, str]:
    """Read and parse the environment block up to its empty line.

    Raises AgiHeaderError at EOF or on a malformed line, AgiHeaderTooLong when the block,
    its empty line included, exceeds `max_bytes`. The reader's limit must be `max_bytes`
    (the server makes it so): it stops buffering a line or block that passes it, which
    bounds what a connection still sending its header holds. The first line is checked as
    soon as it arrives, so the usual strangers (an HTTP request, a port scanner's banner)
    are refused without waiting; the rest of the block is read in one piece, as Asterisk
    writes it. The caller puts a deadline around this.
    """
    first = await _read_part(reader.readuntil(b"\n"), 0, max_bytes)
    line = first.decode("utf-8", errors="replace").rstrip("\r\n")
    if not line:
        raise AgiHeaderError("empty environment block")
    key, value = parse_header_line(line)
    env = {key: value}
    # One byte tells whether the block ends here; the rest comes in one read.
    rest = await _read_part(reader.readexactly(1), len(first), max_bytes)
    if rest != b"\n":
        rest += await _read_part(reader.readuntil(b"\n\n"), len(first) + 1, max_bytes)
    if len(first) + len(rest) > max_bytes:
        raise AgiHeaderTooLong(f"environment block longer than {max_bytes} bytes")
    if rest != b"\n":
        text = rest.decode("utf-8", errors="replace")[:-2]
        carriage = "\r" in text
        for line in text.split("\n"):
            key, value = parse_header_line(line.rstrip("\r") if carriage else line)
            env[key] = value
    return env


async def _read_part(read: Awaitable[bytes], done: int, max_bytes: int) -> bytes:
    try:
        return await read
    except asyncio.IncompleteReadError as exc:
        raise AgiHeaderError(
            f"connection closed after {done + len(exc.partial)} bytes of the environment"
        ) from None
    except asyncio.LimitOverrunError:
        raise AgiHeaderTooLong(f"environment block longer than {max_bytes} bytes") from None
    except OSError as exc:
        raise AgiHeaderError(f"connection failed while reading the environment: {exc}") from None


def _arguments(env: Mapping[str, str]) -> list[str]:
    numbered: list[tuple[int, str]] = []
    for key, value in env.items():
        if not key.startswith("agi_arg_"):
            continue
        match = _ARG_KEY.fullmatch(key)
        if match is not None:
            numbered.append((int(match[1]), value))
    return [value for _, value in sorted(numbered)]


def _known(value: str) -> str:
    return "" if value == UNKNOWN else value


def build_request(env: Mapping[str, str], peer_host: str, peer_port: int) -> AgiRequest:
    network_script = env.get("agi_network_script", "")
    script, query = split_script(network_script)
    return AgiRequest(
        script=script,
        query=query,
        args=_arguments(env),
        env=dict(env),
        network_script=network_script,
        uniqueid=env.get("agi_uniqueid", ""),
        channel=env.get("agi_channel", ""),
        callerid=_known(env.get("agi_callerid", "")),
        calleridname=_known(env.get("agi_calleridname", "")),
        context=env.get("agi_context", ""),
        extension=env.get("agi_extension", ""),
        language=env.get("agi_language", ""),
        peer_host=peer_host,
        peer_port=peer_port,
    )
