"""Fixtures for the call log: the missed-calls fixtures (the tables on SQLite and
PostgreSQL, a billing, the capture) and HAND-MADE calls shaped after the capture's events
for what the capture lacks (an outgoing call, an internal one, a recording).

MixMonitor's file name comes in a VarSet of MIXMONITOR_FILENAME (Asterisk's docs for
MixMonitor; the VarSet shape is the channel snapshot every channel event carries plus
Variable and Value). The capture has no recording, so that event is hand-made too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from ami_listener.message import AmiMessage
from billing_client.client import BillingClient
from call_log.records import Call
from missed_calls import MissedCall, MissedCallSettings, MissedCallTracker
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.missed_calls.conftest import Heard, admin, billing, channel_event, db, event, phones

__all__ = ["admin", "billing", "db", "phones"]

OUTGOING = "1795400000.1"
INTERNAL = "1795400100.1"
RECORDED = "1795400200.1"


def leg(
    uniqueid: str,
    *,
    src: str,
    dst: str,
    disposition: str,
    channel: str,
    dstchannel: str = "",
    start: str = "2026-11-22 12:00:00",
    answer: str = "",
    end: str = "2026-11-22 12:00:10",
    billsec: int = 0,
    userfield: str = "",
    dcontext: str = "from-internal",
    lastapp: str = "Dial",
) -> AmiMessage:
    """A HAND-MADE Cdr event with its times, in cdr_manager's shape (see the capture)."""
    shape = "%Y-%m-%d %H:%M:%S"
    duration = int((datetime.strptime(end, shape) - datetime.strptime(start, shape)).seconds)
    return event(
        "Cdr",
        Privilege="cdr,all",
        AccountCode="",
        Source=src,
        Destination=dst,
        DestinationContext=dcontext,
        CallerID=f'"" <{src}>',
        Channel=channel,
        DestinationChannel=dstchannel,
        LastApplication=lastapp,
        LastData="",
        StartTime=start,
        AnswerTime=answer,
        EndTime=end,
        Duration=str(duration),
        BillableSeconds=str(billsec),
        Disposition=disposition,
        AMAFlags="DOCUMENTATION",
        UniqueID=uniqueid,
        UserField=userfield,
    )


def recording(uniqueid: str, filename: str) -> AmiMessage:
    """HAND-MADE: VarSet of MIXMONITOR_FILENAME, as MixMonitor() sets it on its channel."""
    return channel_event(
        "VarSet",
        uniqueid,
        uniqueid,
        Variable="MIXMONITOR_FILENAME",
        Value=filename,
    )


def outgoing_call(uid: str = OUTGOING, number: str = "0671234567") -> list[AmiMessage]:
    """HAND-MADE: operator 101 calls a customer out through the trunk; answered after 5 s,
    a minute of talk."""
    return [
        channel_event("Newchannel", uid, uid, CallerIDNum="101", Context="from-internal"),
        leg(
            uid,
            src="101",
            dst=number,
            disposition="ANSWERED",
            channel="PJSIP/101-0000000a",
            dstchannel="PJSIP/trunk-0000000b",
            answer="2026-11-22 12:00:05",
            end="2026-11-22 12:01:05",
            billsec=60,
        ),
        channel_event("Hangup", uid, uid, CallerIDNum="101", Context="from-internal"),
    ]


def internal_call(uid: str = INTERNAL) -> list[AmiMessage]:
    """HAND-MADE: extension 101 calls 102, who answers."""
    return [
        channel_event("Newchannel", uid, uid, CallerIDNum="101", Context="from-internal"),
        leg(
            uid,
            src="101",
            dst="102",
            disposition="ANSWERED",
            channel="PJSIP/101-0000000c",
            dstchannel="PJSIP/102-0000000d",
            answer="2026-11-22 12:00:02",
            end="2026-11-22 12:00:32",
            billsec=30,
        ),
        channel_event("Hangup", uid, uid, CallerIDNum="101", Context="from-internal"),
    ]


def recorded_call(uid: str = RECORDED) -> list[AmiMessage]:
    """HAND-MADE: a customer's call answered by 104, recorded by MixMonitor."""
    return [
        channel_event("Newchannel", uid, uid, CallerIDNum="0501234567"),
        recording(uid, "/var/spool/asterisk/monitor/20261122-120000-0501234567.wav"),
        leg(
            uid,
            src="0501234567",
            dst="100",
            disposition="ANSWERED",
            channel="PJSIP/trunk-0000000e",
            dstchannel="PJSIP/104-0000000f",
            answer="2026-11-22 12:00:08",
            end="2026-11-22 12:02:08",
            billsec=120,
            userfield="in",
            dcontext="from-trunk",
        ),
        channel_event("Hangup", uid, uid, CallerIDNum="0501234567"),
    ]


Answered = Heard[Call]
"""What on_answered was called with."""


MakeRecorder = Callable[..., MissedCallTracker]


@pytest.fixture
async def make_recorder(
    db: Database, clock: FixedClock, billing: BillingClient
) -> AsyncIterator[MakeRecorder]:
    """Trackers (the call log's recorder) on the test database; closed after the test."""
    made: list[MissedCallTracker] = []

    def make(
        *,
        on_missed: Callable[[MissedCall], Awaitable[None]] | None = None,
        on_answered: Callable[[Call], Awaitable[None]] | None = None,
        **settings: Any,
    ) -> MissedCallTracker:
        tracker = MissedCallTracker(
            db.sessions,
            clock,
            billing,
            MissedCallSettings(**settings),
            on_missed,
            on_answered=on_answered,
        )
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        await tracker.aclose()
