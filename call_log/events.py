"""The AMI events the tracker reads, as small typed values checked on the way in.

Every header is treated as hostile: identifiers must look like Asterisk uniqueids, numbers
and names are length-bounded, integers must be plain digits. An event of a consumed kind
that lacks what it needs raises `BadEvent` (the tracker logs it and moves on); a value that
is merely odd (a Duration of "abc") reads as unknown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from call_log.errors import BadEvent
from call_log.models import ID_MAX, NUMBER_MAX, QUEUE_MAX
from primitives.ami import AmiEvent

EVENTS: tuple[str, ...] = (
    "Newchannel",
    "Hangup",
    "Cdr",
    "QueueCallerJoin",
    "QueueCallerAbandon",
    "QueueCallerLeave",
    "AgentConnect",
    "DialEnd",
    "BridgeEnter",
    "VarSet",
)
"""AMI events the tracker consumes (its `ami_events`; the root adds it to the AMI client).

Classes in manager.conf: call (Newchannel, Hangup, DialEnd, BridgeEnter), cdr (Cdr),
agent (QueueCaller*, AgentConnect), dialplan (VarSet: only MIXMONITOR_FILENAME is read,
the recording's file name; without the dialplan class calls are logged without it)."""

RECORDING_VARIABLE = "MIXMONITOR_FILENAME"
"""Set by MixMonitor() on its channel: the file it actually writes (Asterisk's docs)."""

# uniqueids are `1795311485.13` or `<systemname>-1795311485.13`; an Originate may set its
# own (ChannelId), e.g. a UUID: printable ASCII without spaces, bounded
_ID = re.compile(rf"[!-~]{{1,{ID_MAX}}}")
_DIGITS = re.compile(r"[0-9]{1,9}")
_TIMESTAMP = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,9})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_MAX = 255
_CDR_TIME = "%Y-%m-%d %H:%M:%S"
# Timestamps outside these years are garbage, not a call.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_LATEST = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
# Bridges that hold one party (parking, holding) connect nobody.
_HOLDING_BRIDGES = frozenset({"parking", "holding"})


@dataclass(frozen=True, slots=True)
class Channel:
    """The channel snapshot of an event (or its `Dest…` snapshot)."""

    uniqueid: str
    linkedid: str | None
    caller_num: str
    context: str


@dataclass(frozen=True, slots=True)
class ChannelUp:
    """Newchannel."""

    channel: Channel


@dataclass(frozen=True, slots=True)
class ChannelGone:
    """Hangup."""

    channel: Channel


@dataclass(frozen=True, slots=True)
class QueueJoin:
    channel: Channel
    queue: str
    position: int | None


@dataclass(frozen=True, slots=True)
class QueueAbandon:
    channel: Channel
    queue: str
    position: int | None
    hold_time: int | None


@dataclass(frozen=True, slots=True)
class QueueLeave:
    channel: Channel
    queue: str


@dataclass(frozen=True, slots=True)
class ChannelsSeen:
    """An event that names channels and says whether two parties were joined: AgentConnect
    (always), DialEnd (DialStatus ANSWER), BridgeEnter (a second party in a talking bridge)."""

    channels: tuple[Channel, ...]
    connected: bool


@dataclass(frozen=True, slots=True)
class Recording:
    """VarSet of MIXMONITOR_FILENAME: the call is being recorded to `filename`."""

    channel: Channel
    filename: str


@dataclass(frozen=True, slots=True)
class CdrRow:
    """One `Cdr` event (cdr_manager). It carries UniqueID but no Linkedid.

    `start`/`answer`/`end` are StartTime/AnswerTime/EndTime as cdr_manager writes them:
    the PBX's local wall time, naive (None when empty or unreadable)."""

    uniqueid: str
    linkedid: str | None
    src: str
    dst: str
    dcontext: str
    channel: str
    dstchannel: str
    disposition: str
    userfield: str
    duration: int | None
    billsec: int | None = None
    start: datetime | None = None
    answer: datetime | None = None
    end: datetime | None = None
    clid: str = ""
    lastapp: str = ""
    lastdata: str = ""
    accountcode: str = ""

    @property
    def answered(self) -> bool:
        return self.disposition == "ANSWERED"

    @property
    def answered_by_party(self) -> bool:
        """ANSWERED with a destination channel: a dialled party picked up. A row answered
        with no destination was answered by the dialplan itself (an IVR's Answer())."""
        return self.answered and bool(self.dstchannel)


Parsed = (
    ChannelUp
    | ChannelGone
    | QueueJoin
    | QueueAbandon
    | QueueLeave
    | ChannelsSeen
    | CdrRow
    | Recording
)


@dataclass(frozen=True, slots=True)
class Event:
    body: Parsed
    instant: datetime | None
    """From the event's `Timestamp` header (manager.conf timestampevents = yes), if any."""


def _text(message: AmiEvent, key: str, limit: int = _TEXT_MAX) -> str:
    """A free-text header: stripped, control characters removed; too long reads as empty."""
    value = message.get(key)
    if value is None:
        return ""
    value = _CONTROL.sub("", value).strip()
    return value if len(value) <= limit else ""


def _ident(message: AmiEvent, key: str) -> str | None:
    value = message.get(key)
    if value is None:
        return None
    value = value.strip()
    return value if _ID.fullmatch(value) else None


def _int(message: AmiEvent, key: str) -> int | None:
    value = (message.get(key) or "").strip()
    return int(value) if _DIGITS.fullmatch(value) else None


def _number(message: AmiEvent, key: str) -> str:
    """A caller or dialled number as Asterisk wrote it (`<unknown>` and the like included)."""
    return _text(message, key, NUMBER_MAX)


def _wall_time(message: AmiEvent, key: str) -> datetime | None:
    """A Cdr time (`2026-11-22 01:38:05`), naive; None when empty or not that shape."""
    value = (message.get(key) or "").strip()
    if len(value) != len("2026-11-22 01:38:05"):
        return None
    try:
        return datetime.strptime(value, _CDR_TIME)
    except ValueError:
        return None


def _instant(message: AmiEvent) -> datetime | None:
    value = (message.get("Timestamp") or "").strip()
    if not _TIMESTAMP.fullmatch(value):
        return None
    seconds = float(value)
    if not math.isfinite(seconds) or not _EARLIEST <= seconds < _LATEST:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def _channel(message: AmiEvent, prefix: str = "", *, required: bool = True) -> Channel | None:
    uniqueid = _ident(message, f"{prefix}Uniqueid")
    if uniqueid is None:
        if required:
            shown = "missing" if message.get(f"{prefix}Uniqueid") is None else "malformed"
            raise BadEvent(f"{prefix}Uniqueid {shown}")
        return None
    return Channel(
        uniqueid=uniqueid,
        linkedid=_ident(message, f"{prefix}Linkedid"),
        caller_num=_number(message, f"{prefix}CallerIDNum"),
        context=_text(message, f"{prefix}Context", QUEUE_MAX),
    )


def _queue(message: AmiEvent) -> str:
    queue = _text(message, "Queue", QUEUE_MAX)
    if not queue:
        raise BadEvent("Queue missing, empty or too long")
    return queue


def _cdr(message: AmiEvent) -> CdrRow:
    uniqueid = _ident(message, "UniqueID")
    if uniqueid is None:
        raise BadEvent("UniqueID missing or malformed")
    disposition = _text(message, "Disposition", 32).upper()
    if not disposition:
        raise BadEvent("Disposition missing")
    return CdrRow(
        uniqueid=uniqueid,
        linkedid=_ident(message, "Linkedid"),  # only when cdr_manager maps one in
        src=_number(message, "Source"),
        dst=_number(message, "Destination"),
        dcontext=_text(message, "DestinationContext", QUEUE_MAX),
        channel=_text(message, "Channel"),
        dstchannel=_text(message, "DestinationChannel"),
        disposition=disposition,
        userfield=_text(message, "UserField"),
        duration=_int(message, "Duration"),
        billsec=_int(message, "BillableSeconds"),
        start=_wall_time(message, "StartTime"),
        answer=_wall_time(message, "AnswerTime"),
        end=_wall_time(message, "EndTime"),
        clid=_text(message, "CallerID", 80),
        lastapp=_text(message, "LastApplication", 80),
        lastdata=_text(message, "LastData", 80),
        accountcode=_text(message, "AccountCode", 80),
    )


def _recording(message: AmiEvent) -> Recording | None:
    """A VarSet of MIXMONITOR_FILENAME; None for every other variable."""
    if _text(message, "Variable", 80).upper() != RECORDING_VARIABLE:
        return None
    filename = _text(message, "Value")
    if not filename:
        raise BadEvent("MIXMONITOR_FILENAME empty or too long")
    return Recording(_required_channel(message), filename)


def _queue_event(message: AmiEvent, name: str) -> Parsed:
    if name == "queuecallerjoin":
        return QueueJoin(_required_channel(message), _queue(message), _int(message, "Position"))
    if name == "queuecallerabandon":
        return QueueAbandon(
            _required_channel(message),
            _queue(message),
            _int(message, "OriginalPosition") or _int(message, "Position"),
            _int(message, "HoldTime"),
        )
    return QueueLeave(_required_channel(message), _queue(message))


def _joining_event(message: AmiEvent, name: str) -> Parsed:
    if name == "agentconnect":
        return ChannelsSeen(_channels(message), connected=True)
    if name == "dialend":
        status = _text(message, "DialStatus", 32).upper()
        return ChannelsSeen(_channels(message), connected=status == "ANSWER")
    count = _int(message, "BridgeNumChannels") or 0
    kind = _text(message, "BridgeType", 32).lower()
    return ChannelsSeen(
        (_required_channel(message),),
        connected=count >= 2 and kind not in _HOLDING_BRIDGES,
    )


_QUEUE_EVENTS = frozenset({"queuecallerjoin", "queuecallerabandon", "queuecallerleave"})
_JOINING_EVENTS = frozenset({"agentconnect", "dialend", "bridgeenter"})


def parse_event(message: AmiEvent) -> Event | None:
    """The typed event, or None for an event the tracker does not read. Raises BadEvent."""
    name = message.name.strip().lower()
    body: Parsed | None
    if name == "cdr":
        body = _cdr(message)
    elif name == "newchannel":
        body = ChannelUp(_required_channel(message))
    elif name == "hangup":
        body = ChannelGone(_required_channel(message))
    elif name in _QUEUE_EVENTS:
        body = _queue_event(message, name)
    elif name in _JOINING_EVENTS:
        body = _joining_event(message, name)
    elif name == "varset":
        body = _recording(message)
    else:
        body = None
    return Event(body, _instant(message)) if body is not None else None


def _required_channel(message: AmiEvent) -> Channel:
    channel = _channel(message)
    assert channel is not None
    return channel


def _channels(message: AmiEvent) -> tuple[Channel, ...]:
    """The caller's and the destination's snapshots; at least one must be there (an
    Originate's DialEnd has only the destination)."""
    found = tuple(
        c
        for c in (
            _channel(message, required=False),
            _channel(message, "Dest", required=False),
        )
        if c is not None
    )
    if not found:
        raise BadEvent("neither Uniqueid nor DestUniqueid")
    return found
