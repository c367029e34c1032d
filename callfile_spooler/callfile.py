"""Call files: what one holds, its exact bytes, and reading back what Asterisk archived.

`render()` writes Asterisk's format (`pbx/pbx_spool.c`; `sample.call`): one `Key: value`
line per setting, `Setvar:` repeated per variable. Asterisk does not care about the order
of the keys; `CAPTURED_ORDER` (what pbxbridge writes) is the order of the call files in
the captured `outgoing_done/` archive, `SEED_ORDER` the order of the original call-out
service's files (variables before the dialplan target). Every value passes through
`escape`, so a file that renders is a file Asterisk reads back exactly.

With `Archive: yes` Asterisk moves a finished file into `outgoing_done/` and appends
`Status: Completed|Expired|Failed`; each attempt it made left a `StartRetry:` line
(`\\nStartRetry: <pid> <retries> (<time>)\\n`). `parse()` reads such a file back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from callfile_spooler import escape
from callfile_spooler.errors import CallFileValueError

Section = Literal["channel", "callerid", "retries", "target", "variables", "account", "archive"]

CAPTURED_ORDER: tuple[Section, ...] = (
    "channel",
    "callerid",
    "retries",
    "target",
    "variables",
    "account",
    "archive",
)
SEED_ORDER: tuple[Section, ...] = (
    "channel",
    "callerid",
    "retries",
    "variables",
    "target",
    "account",
    "archive",
)


@dataclass(frozen=True, slots=True)
class CallFile:
    """One call file. `callerid=None` leaves the line out; `""` writes an empty `CallerID:`.

    Either `context` + `extension` (+ `priority`) or `application` (+ `data`) is the
    dialplan target. `None` for a number leaves its line out (Asterisk's default applies:
    MaxRetries 0, RetryTime 300, WaitTime 45).
    """

    channel: str
    context: str | None = None
    extension: str | None = None
    priority: int | None = 1
    application: str | None = None
    data: str | None = None
    callerid: str | None = None
    max_retries: int | None = 0
    retry_time: int | None = None
    wait_time: int | None = None
    variables: tuple[tuple[str, str], ...] = ()
    account: str | None = None
    archive: bool = True


def _target(call: CallFile) -> list[str]:
    if call.application is not None:
        if call.context is not None or call.extension is not None:
            raise CallFileValueError("a call file has Application or Context, not both")
        lines = [escape.line("Application", escape.application(call.application))]
        if call.data is not None:
            lines.append(escape.line("Data", escape.app_data(call.data)))
        return lines
    if call.context is None or call.extension is None:
        raise CallFileValueError("a call file needs Context and Extension, or Application")
    lines = [
        escape.line("Context", escape.context(call.context)),
        escape.line("Extension", escape.extension(call.extension)),
    ]
    if call.priority is not None:
        lines.append(escape.line("Priority", escape.integer(call.priority, "Priority", 1)))
    return lines


def _channel(call: CallFile) -> list[str]:
    return [escape.line("Channel", escape.channel(call.channel))]


def _callerid(call: CallFile) -> list[str]:
    if call.callerid is None:
        return []
    return [escape.line("CallerID", escape.callerid(call.callerid))]


def _retries(call: CallFile) -> list[str]:
    lines = []
    for key, value in (
        ("MaxRetries", call.max_retries),
        ("RetryTime", call.retry_time),
        ("WaitTime", call.wait_time),
    ):
        if value is not None:
            minimum = 0 if key == "MaxRetries" else 1
            lines.append(escape.line(key, escape.integer(value, key, minimum)))
    return lines


def _variables(call: CallFile) -> list[str]:
    return [
        escape.line("Setvar", f"{escape.variable_name(n)}={escape.variable_value(v)}")
        for n, v in call.variables
    ]


def _account(call: CallFile) -> list[str]:
    if call.account is None:
        return []
    return [escape.line("Account", escape.text(call.account, "account"))]


def _archive(call: CallFile) -> list[str]:
    return [escape.line("Archive", "yes")] if call.archive else []


_SECTIONS: dict[Section, Callable[[CallFile], list[str]]] = {
    "channel": _channel,
    "callerid": _callerid,
    "retries": _retries,
    "target": _target,
    "variables": _variables,
    "account": _account,
    "archive": _archive,
}
"""The lines of each section, checked and escaped (`escape`)."""


def render(call: CallFile, order: Sequence[Section] = CAPTURED_ORDER) -> bytes:
    """The file's bytes (UTF-8, LF line ends). Raises CallFileValueError; nothing half-done."""
    if sorted(order) != sorted(CAPTURED_ORDER):
        raise ValueError(f"order must name each section once: {CAPTURED_ORDER}")
    return "".join(line for section in order for line in _SECTIONS[section](call)).encode("utf-8")


@dataclass(frozen=True, slots=True)
class ArchivedCallFile:
    """What a call file in `outgoing_done/` (or `outgoing/`) says, as Asterisk reads it."""

    variables: dict[str, str] = field(default_factory=dict)
    status: str | None = None
    """`Completed`, `Expired` or `Failed`; None while Asterisk has not appended it yet."""
    start_retries: int = 0
    """How many attempts Asterisk started (`StartRetry:` lines)."""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def started(self) -> bool:
        return self.start_retries > 0


def parse(data: bytes) -> ArchivedCallFile:
    """Read a call file the way `pbx_spool.c` does (comments cut, values trimmed)."""
    headers: list[tuple[str, str]] = []
    variables: dict[str, str] = {}
    status: str | None = None
    starts = 0
    for raw in data.decode("utf-8", errors="replace").split("\n"):
        line = _strip_comments(raw).strip()
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        headers.append((key, value))
        lowered = key.lower()
        if lowered in ("setvar", "set"):
            name, eq, var_value = value.partition("=")
            if eq:
                variables[name] = var_value
        elif lowered == "status":
            status = value
        elif lowered == "startretry":
            starts += 1
    return ArchivedCallFile(variables, status, starts, tuple(headers))


_COMMENT_HASH = re.compile(r"(?:^|[ \t])#")
_COMMENT_SEMICOLON = re.compile(r"(?<!\\);")


def _strip_comments(line: str) -> str:
    """`parse_line()`: cut at a `#` that starts the line or follows a blank, then at the
    first `;` not written `\\;` (whose backslash goes)."""
    if "#" in line:
        match = _COMMENT_HASH.search(line)
        if match:
            line = line[: match.start()]
    if ";" in line:
        match = _COMMENT_SEMICOLON.search(line)
        if match:
            line = line[: match.start()]
        line = line.replace("\\;", ";")
    return line
