"""One AMI `Cdr` event → one row as Asterisk's cdr_mysql writes it.

cdr_manager (the AMI `Cdr` event) and cdr_mysql are two backends of the same CDR record,
so each column has its AMI header:

    calldate     StartTime            "2026-11-22 01:38:05": the PBX's local time, as
                                      cdr_mysql writes `start` (ast_localtime, no zone)
    clid         CallerID             "Абонент" <0671234567>
    src, dst     Source, Destination
    dcontext     DestinationContext
    channel      Channel
    dstchannel   DestinationChannel
    lastapp      LastApplication
    lastdata     LastData
    duration     Duration             seconds, an integer
    billsec      BillableSeconds
    disposition  Disposition          ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION
    amaflags     AMAFlags             cdr_manager sends the name (DOCUMENTATION); cdr_mysql
                                      writes the number (3) into a numeric column
    accountcode  AccountCode
    uniqueid     UniqueID
    userfield    UserField

cdr_mysql reads the table's layout (DESC) and writes the raw number of `disposition` and
`amaflags` into a numeric column, their names into a text one; `Layout` does the same, so
an existing table (cdr_mysql's int amaflags, cdr_adaptive_odbc's varchar one) gets what
Asterisk would have put there. Text longer than its column is cut to fit, as MySQL
without strict mode would have cut it for cdr_mysql.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from primitives.ami import AmiEvent
from telepony.errors import BadCdr
from telepony.models import RAW_MAX

CDR_EVENTS = ("Cdr",)

AMA_FLAGS = {"OMIT": 1, "BILLING": 2, "DOCUMENTATION": 3}
"""Asterisk's enum ama_flags (channel.h); ast_channel_amaflags2string gives these names
and "Unknown" for AST_AMA_NONE (0)."""
DISPOSITIONS = {"NO ANSWER": 0, "FAILED": 2, "BUSY": 4, "ANSWERED": 8, "CONGESTION": 16}
"""Asterisk's enum ast_cdr_disposition (cdr.h), by the name ast_cdr_disp2str gives."""

TEXT_COLUMNS: dict[str, int] = {
    "clid": 80,
    "src": 80,
    "dst": 80,
    "dcontext": 80,
    "channel": 80,
    "dstchannel": 80,
    "lastapp": 80,
    "lastdata": 80,
    "disposition": 45,
    "accountcode": 80,
    "uniqueid": 150,
    "userfield": 255,
}
"""cdr_mysql's varchar columns and the widths a created table gets: cdr_mysql's own, but
accountcode 80 and uniqueid 150 as Asterisk's ast-db-manage CDR schema has them (an
Originate may name its channels up to AST_MAX_UNIQUEID, 150)."""
INT_COLUMNS = ("duration", "billsec", "amaflags")
COLUMNS = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
)
"""cdr_mysql's columns, in its documented order."""

_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,10}")
_INT_MAX = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class CdrLeg:
    """One row of the cdr table; the outbox keeps it as it is."""

    calldate: datetime
    """Naive: the PBX's local wall time, as StartTime gives it and cdr_mysql writes it."""
    clid: str
    src: str
    dst: str
    dcontext: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    duration: int
    billsec: int
    disposition: str
    amaflags: str
    """The name as cdr_manager sends it; `Layout.values` writes the number when the column
    is numeric."""
    accountcode: str
    uniqueid: str
    userfield: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(event: AmiEvent, key: str) -> str:
    value = event.get(key) or ""
    return _CONTROL.sub("", value).strip()[:RAW_MAX]


def _seconds(event: AmiEvent, key: str) -> int:
    value = (event.get(key) or "").strip()
    if _DIGITS.fullmatch(value) is None:
        return 0
    return min(int(value), _INT_MAX)


def _start(event: AmiEvent) -> datetime | None:
    start = (event.get("StartTime") or "").strip()
    if _START.fullmatch(start) is None:
        return None
    try:
        return datetime.strptime(start, "%Y-%m-%d %H:%M:%S")
    except ValueError:  # 2026-13-45 25:61:00
        return None


def leg_of(event: AmiEvent, received_at: datetime) -> CdrLeg:
    """The row of one `Cdr` event; `received_at` (local, naive) stands in for a missing or
    unreadable StartTime. BadCdr when the event has no UniqueID (TelePony could not group
    it into a call)."""
    uniqueid = _text(event, "UniqueID")
    if not uniqueid:
        raise BadCdr("Cdr event without UniqueID")
    calldate = _start(event)
    return CdrLeg(
        calldate=calldate or received_at.replace(microsecond=0, tzinfo=None),
        clid=_text(event, "CallerID"),
        src=_text(event, "Source"),
        dst=_text(event, "Destination"),
        dcontext=_text(event, "DestinationContext"),
        channel=_text(event, "Channel"),
        dstchannel=_text(event, "DestinationChannel"),
        lastapp=_text(event, "LastApplication"),
        lastdata=_text(event, "LastData"),
        duration=_seconds(event, "Duration"),
        billsec=_seconds(event, "BillableSeconds"),
        disposition=_text(event, "Disposition").upper(),
        amaflags=_text(event, "AMAFlags").upper(),
        accountcode=_text(event, "AccountCode"),
        uniqueid=uniqueid,
        userfield=_text(event, "UserField"),
    )


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the table as MySQL describes it."""

    name: str
    numeric: bool
    width: int | None
    """Characters a text column holds (None: not a text column, or no limit given)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of cdr_mysql's that the table has, and how each is written."""

    columns: tuple[Column, ...]

    @classmethod
    def created(cls) -> Layout:
        """The layout of a table pbxbridge creates (telepony.mysql.cdr_table)."""
        return cls(
            tuple(Column(name, name in INT_COLUMNS, TEXT_COLUMNS.get(name)) for name in COLUMNS)
        )

    @classmethod
    def described(cls, described: Mapping[str, Column]) -> Layout:
        """From information_schema's columns (names in any case); ours it lacks are left
        out, as cdr_mysql writes only the columns DESC shows it."""
        by_name = {name.lower(): column for name, column in described.items()}
        return cls(tuple(by_name[name] for name in COLUMNS if name in by_name))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def values(self, leg: CdrLeg) -> dict[str, Any]:
        """The row for an INSERT of this layout, keyed by the table's own column names."""
        data = leg.as_dict()
        row: dict[str, Any] = {}
        for column in self.columns:
            row[column.name] = _value(column, data[column.name.lower()])
        return row


def _value(column: Column, value: Any) -> Any:
    name = column.name.lower()
    if name == "amaflags" and column.numeric:
        return AMA_FLAGS.get(value, 0)
    if name == "disposition" and column.numeric:
        return DISPOSITIONS.get(value, 0)
    if isinstance(value, str) and column.width is not None:
        return value[: column.width]
    return value
