"""The request Asterisk opens a FastAGI session with: the `agi_*` environment block.

Asterisk sends `agi_network: yes`, `agi_network_script: <path>[?query]`, `agi_request`,
the channel's details, `agi_arg_1 … agi_arg_N`, then one empty line. Each line is decoded
on its own as UTF-8 with replacement, so a Cyrillic CallerID name survives however TCP
cut it, and a broken byte spoils one character instead of the session.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from agi.errors import AgiHeaderError

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
    # The leading "/" keeps urlsplit from reading "billing:balance" as a URL scheme
    # or "//x/y" as a host.
    parts = urlsplit("/" + network_script.lstrip("/"))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return parts.path.strip("/"), query


def parse_header_line(line: str) -> tuple[str, str]:
    """`("agi_callerid", "0501234567")` from `agi_callerid: 0501234567`."""
    key, sep, value = line.partition(":")
    if not sep or _HEADER_KEY.fullmatch(key) is None:
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


async def read_environment(reader: asyncio.StreamReader, max_bytes: int) -> dict[str, str]:
    """Read and parse the environment block up to its empty line.

    Raises AgiHeaderError at EOF, when the block exceeds `max_bytes`, or on a malformed
    line (checked as each line arrives, so garbage is refused without waiting). The
    caller puts a deadline around this.
    """
    env: dict[str, str] = {}
    total = 0
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise AgiHeaderError(
                f"connection closed after {total + len(exc.partial)} bytes of the environment"
            ) from None
        except asyncio.LimitOverrunError:
            raise AgiHeaderError(f"environment line longer than {max_bytes} bytes") from None
        except OSError as exc:
            raise AgiHeaderError(
                f"connection failed while reading the environment: {exc}"
            ) from None
        total += len(raw)
        if total > max_bytes:
            raise AgiHeaderError(f"environment block longer than {max_bytes} bytes")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            break
        key, value = parse_header_line(line)
        env[key] = value
    if not env:
        raise AgiHeaderError("empty environment block")
    return env


def _arguments(env: Mapping[str, str]) -> list[str]:
    numbered: list[tuple[int, str]] = []
    for key, value in env.items():
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
