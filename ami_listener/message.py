"""An AMI message: its headers in order, looked up case-insensitively.

Headers may repeat (`Output`, `Variable`, `ChanVariable`…): `get` gives the first value,
`get_all` every value. Channel variables come in three spellings that `chan_variables()`
and `dest_chan_variables()` merge: `ChanVariable: NAME=value` (snapshot style),
`ChanVariable(PJSIP/x-0001): NAME=value` (legacy `append_channel_vars`) and
`DestChanVariable: NAME=value` (the destination channel of a two-channel event).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

_CHANVAR = re.compile(r"(Dest)?ChanVariable(?:\((?P<channel>[^)]*)\))?", re.IGNORECASE)

Kind = Literal["event", "response", "other"]


@dataclass(frozen=True, slots=True)
class AmiMessage(Mapping[str, str]):
    """One message between blank lines. `lines` keeps lines without a colon (old
    `Response: Follows` command output) in order."""

    headers: tuple[tuple[str, str], ...]
    lines: tuple[str, ...] = ()

    @property
    def kind(self) -> Kind:
        first = self.headers[0][0].lower() if self.headers else ""
        if first == "event":
            return "event"
        if first == "response":
            return "response"
        return "other"

    @property
    def name(self) -> str:
        """The event's name or the response's status (`Success`, `Error`, `Follows`…)."""
        return self.headers[0][1] if self.headers else ""

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def __getitem__(self, key: str) -> str:
        wanted = key.lower()
        for name, value in self.headers:
            if name.lower() == wanted:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self.headers:
            if name.lower() not in seen:
                seen.add(name.lower())
                yield name

    def __len__(self) -> int:
        return len({name.lower() for name, _ in self.headers})

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    def _variables(self, dest: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in self.headers:
            match = _CHANVAR.fullmatch(name)
            if match is None or bool(match.group(1)) != dest:
                continue
            var, sep, val = value.partition("=")
            if sep:
                out[var] = val
        return out

    def chan_variables(self) -> dict[str, str]:
        """`ChanVariable` and `ChanVariable(<channel>)` headers as one NAME → value dict."""
        return self._variables(dest=False)

    def dest_chan_variables(self) -> dict[str, str]:
        return self._variables(dest=True)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}: {v[:40]}" for k, v in self.headers[:4])
        return f"AmiMessage({shown}{', …' if len(self.headers) > 4 else ''})"


def parse_message(text: str) -> AmiMessage:
    """Headers of one message (its text without the blank line that ends it)."""
    headers: list[tuple[str, str]] = []
    lines: list[str] = []
    for line in text.split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip():
            headers.append((key.strip(), value.removeprefix(" ")))
        else:
            lines.append(line)
    return AmiMessage(tuple(headers), tuple(lines))
