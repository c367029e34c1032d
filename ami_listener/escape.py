"""Writing AMI actions: the one place that puts a header on the wire.

An action is `Name: value` lines ended by a blank line, so a CR or LF inside a value would
end the header early and let the rest of the value be read as further headers, or as a
second action (`…\\r\\n\\r\\nAction: Originate…`). Asterisk also ends a C string at NUL.
None of the three can be carried by AMI at all, so `header_value()` refuses them rather
than replacing them: a caller that must send a multi-line SMS has to encode it (base64,
or chan_dongle's `\\n` escape) deliberately.

Asterisk reads a session's input into a 1025-byte buffer (`mansession_session.inbuf`); a
longer line is discarded with "Line too long" and the action goes out mangled, so
`format_action()` refuses lines over `MAX_LINE_BYTES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
"""A header name: letters, digits, `_` and `-` (no colon, space or control character)."""

MAX_LINE_BYTES = 1024
"""Longest header line Asterisk reads whole, CRLF included (bytes of UTF-8)."""

RESERVED = frozenset({"action", "actionid"})
"""Written by `format_action()` itself; a caller passes them as arguments instead."""

HeaderValues = Mapping[str, str | Sequence[str]]
"""Action headers: a value, or a sequence of values for a repeated header (`Variable`)."""


def header_name(name: str) -> str:
    """`name` if it can be written as an AMI header name; ValueError otherwise."""
    if not isinstance(name, str) or HEADER_NAME.fullmatch(name) is None:
        raise ValueError(f"not a valid AMI header name: {name!r}")
    return name


def header_value(value: str) -> str:
    """`value` if it can be written as one AMI header value; ValueError on CR, LF or NUL."""
    if not isinstance(value, str):
        raise ValueError(f"an AMI header value must be a str, not {type(value).__name__}")
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError("an AMI header value cannot contain CR, LF or NUL")
    return value


def _line(name: str, value: str) -> str:
    line = f"{header_name(name)}: {header_value(value)}\r\n"
    if len(line) * 4 > MAX_LINE_BYTES and len(line.encode()) > MAX_LINE_BYTES:
        raise ValueError(
            f"AMI header {name} is longer than Asterisk reads ({MAX_LINE_BYTES} bytes a line)"
        )
    return line


def format_action(name: str, action_id: str, headers: HeaderValues | None = None) -> bytes:
    """The bytes of one action: `Action`, `ActionID`, then `headers` in their order.

    A sequence value writes the header once per item, in order (`Variable: A=1`,
    `Variable: B=2`). `Action`/`ActionID` inside `headers` are refused: they would be
    ambiguous, and the ActionID is how a reply finds its caller.
    """
    if not isinstance(name, str) or HEADER_NAME.fullmatch(name) is None:
        raise ValueError(f"not a valid AMI action name: {name!r}")
    parts = [_line("Action", name), _line("ActionID", action_id)]
    for key, value in (headers or {}).items():
        if isinstance(key, str) and key.lower() in RESERVED:
            raise ValueError(f"{key} is set by the client; pass it as an argument")
        if isinstance(value, str):
            parts.append(_line(key, value))
        else:
            parts.extend(_line(key, item) for item in value)
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")
