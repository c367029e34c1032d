"""Call detail records as the Askozia face hands them out, and where they come from.

`CdrSource` is what the face reads: rows with the fields of Asterisk's CSV CDR (cdr_csv,
which every Askozia export extended) plus the two Askozia added that Ubilling reads: the
direction (index 16) and the internal number an incoming call was for (index 18). The call
log implements it (askozia_api/call_log_cdr.py: every call, recalls as Ubilling reads
them).

The CSV is written as Ubilling's parser reads it (api.wdyc.php `fetchAskoziaCalls`,
api.askozia.php, api.exhorse.php): one row a line (`\\n`), `;` between fields, a header
line first whose first field is `accountcode`, at most 25 fields (more would trigger
Ubilling's "CFE fix", which drops field 3). Ubilling splits on every `;` and deletes every
`"`, so a value is made safe in one place, `field()`: a `;` becomes `,` (a Local channel's
`;1`/`;2` suffix would otherwise shift every later column), `"` and control characters go.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

Direction = Literal["incoming", "outgoing", "internal", ""]

COLUMNS: tuple[str, ...] = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "direction",
    "uniqueid",
    "called",
    "userfield",
)
"""Index 0-15 Asterisk's CSV order, 16 and 18 Askozia's extras where Ubilling reads them."""

MAX_BILLSEC = 86_400
"""Ubilling ignores rows with billsec of a day or more (a stuck channel)."""


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """One CDR row. Times are aware instants (written in the face's timezone)."""

    src: str
    dst: str
    start: datetime
    disposition: str
    """ANSWERED, NO ANSWER, BUSY, FAILED (Asterisk's words)."""
    direction: Direction = ""
    """`outgoing` for calls placed out (Ubilling looks for `out` in it)."""
    called: str = ""
    """The internal number (extension, queue) an incoming call was for."""
    accountcode: str = ""
    dcontext: str = ""
    clid: str = ""
    channel: str = ""
    dstchannel: str = ""
    lastapp: str = ""
    lastdata: str = ""
    answer: datetime | None = None
    end: datetime | None = None
    duration: int = 0
    billsec: int = 0
    amaflags: str = ""
    uniqueid: str = ""
    userfield: str = ""


class CdrSource(Protocol):
    """Where the Askozia face reads calls from (the call log implements it)."""

    def records(self, first: date, last: date) -> AsyncIterator[CdrRecord]:
        """Rows whose start falls on the local days `first`..`last`, oldest first."""
        ...

    async def count_calls(self, since: datetime) -> int | None:
        """Calls since `since` (the status line's "calls processed"); None when the source
        cannot tell (it does not see every call)."""
        ...


def field(value: str) -> str:
    """A value Ubilling's `explode(';')` and quote stripping leave intact."""
    cleaned = value.replace(";", ",").replace('"', "")
    return "".join(c if c.isprintable() else " " for c in cleaned)


def _time(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def header() -> str:
    return ";".join(COLUMNS) + "\n"


def csv_line(record: CdrRecord, tz: ZoneInfo) -> str:
    values: Sequence[str] = (
        record.accountcode,
        record.src,
        record.dst,
        record.dcontext,
        record.clid,
        record.channel,
        record.dstchannel,
        record.lastapp,
        record.lastdata,
        _time(record.start, tz),
        _time(record.answer, tz),
        _time(record.end, tz),
        str(max(record.duration, 0)),
        str(max(record.billsec, 0)),
        record.disposition,
        record.amaflags,
        record.direction,
        record.uniqueid,
        record.called,
        record.userfield,
    )
    return ";".join(field(v) for v in values) + "\n"
