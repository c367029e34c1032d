"""Fixtures for the missed-calls tracker: its tables, a billing, the capture and hand-made events.

`tests/fixtures/asterisk/ami-session-missed-answered-queue.raw` is the real Asterisk
capture, byte for byte (the same file FakeAmi replays). Events built with `event()` are HAND-MADE:
shaped after the capture's events, for cases the capture does not contain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pytest

from ami_listener.framing import AmiFramer
from ami_listener.message import AmiMessage, parse_message
from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from missed_calls import MissedCall, MissedCallSettings, MissedCallTracker
from pbxbridge import migrations
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import migrate
from tests.conftest import Database

T = TypeVar("T")

CAPTURE = (
    Path(__file__).parent.parent / "fixtures" / "asterisk" / "ami-session-missed-answered-queue.raw"
)

# the three calls of the capture, by linkedid
MISSED_DIRECT = "1795311485.13"  # 0671234567: Dial to a leg that never answers
ANSWERED = "1795311492.17"  # 0939876543: answered
ABANDONED_QUEUE = "1795311498.21"  # +380501112233: abandons the empty queue `support`


def version_locations() -> tuple[Path, ...]:
    """pbxbridge's histories (ours among them)."""
    return migrations.VERSION_LOCATIONS


@pytest.fixture
async def db(database: Database) -> Database:
    """The shared `database` fixture (SQLite and PostgreSQL) with our tables too."""
    await migrate.upgrade(database.engine, version_locations())
    return database


def capture_messages(data: bytes | None = None, chunk: int = 1400) -> list[AmiMessage]:
    """Every event of the capture, framed the way the AMI client frames a socket."""
    framer = AmiFramer()
    raw = CAPTURE.read_bytes() if data is None else data
    out: list[AmiMessage] = []
    for start in range(0, len(raw), chunk):
        out.extend(framer.feed(raw[start : start + chunk]))
    return [m for m in out if m.kind == "event"]


def event(name: str, **headers: str) -> AmiMessage:
    """A HAND-MADE event: `event("Cdr", UniqueID="1.1")`; header names as Asterisk spells
    them (use a dict for names that are not identifiers)."""
    lines = [f"Event: {name}", *(f"{k}: {v}" for k, v in headers.items())]
    return parse_message("\r\n".join(lines))


def cdr(
    uniqueid: str,
    *,
    src: str,
    dst: str,
    disposition: str,
    userfield: str = "",
    dcontext: str = "from-internal",
    channel: str = "PJSIP/101-00000001",
    dstchannel: str = "",
    duration: int = 10,
) -> AmiMessage:
    """A HAND-MADE Cdr event in cdr_manager's shape (see the capture's Cdr events)."""
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
        LastApplication="Dial",
        LastData="",
        StartTime="2026-11-22 12:00:00",
        AnswerTime="",
        EndTime="2026-11-22 12:00:10",
        Duration=str(duration),
        BillableSeconds=str(duration if disposition == "ANSWERED" else 0),
        Disposition=disposition,
        AMAFlags="DOCUMENTATION",
        UniqueID=uniqueid,
        UserField=userfield,
    )


def channel_event(name: str, uniqueid: str, linkedid: str, **extra: str) -> AmiMessage:
    """A HAND-MADE channel event (Newchannel, Hangup, Queue*, BridgeEnter…)."""
    return event(
        name,
        Privilege="call,all",
        Channel=f"PJSIP/trunk-{uniqueid}",
        ChannelState="6",
        ChannelStateDesc="Up",
        CallerIDNum=extra.pop("CallerIDNum", "<unknown>"),
        CallerIDName="<unknown>",
        Context=extra.pop("Context", "from-trunk"),
        Exten="s",
        Priority="1",
        Uniqueid=uniqueid,
        Linkedid=linkedid,
        **extra,
    )


def inbound_call(uid: str, number: str, **row: Any) -> list[AmiMessage]:
    """HAND-MADE: a trunk call to the inbound context that rings out, unanswered."""
    fields: dict[str, Any] = {
        "dst": "100",
        "disposition": "NO ANSWER",
        "userfield": "in",
        "channel": f"PJSIP/trunk-{uid}",
        "dstchannel": "PJSIP/101-00000001",
    }
    fields.update(row)
    return [
        channel_event("Newchannel", uid, uid, CallerIDNum=number),
        cdr(uid, src=number, **fields),
        channel_event("Hangup", uid, uid, CallerIDNum=number),
    ]


async def feed(tracker: MissedCallTracker, messages: list[AmiMessage]) -> None:
    """Hand `messages` to the tracker and decide every call that is over."""
    for message in messages:
        await tracker.on_ami_event(message)
    await tracker.flush()


class Heard(Generic[T]):
    """What a tracker's hook (on_missed, on_answered) was called with."""

    def __init__(self) -> None:
        self.calls: list[T] = []
        self._changed = asyncio.Event()

    async def __call__(self, call: T) -> None:
        self.calls.append(call)
        self._changed.set()

    async def wait_for(self, count: int, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.calls) < count:
                self._changed.clear()
                await self._changed.wait()


Seen = Heard[MissedCall]
"""What on_missed was called with."""


class MakeTracker(Protocol):
    def __call__(
        self,
        *,
        billing: BillingClient | None = None,
        on_missed: Callable[[MissedCall], Awaitable[None]] | None = None,
        **settings: Any,
    ) -> MissedCallTracker: ...


@pytest.fixture
def phones() -> PhoneNormaliser:
    return PhoneNormaliser("UA")


@pytest.fixture
def billing(db: Database, clock: FixedClock, phones: PhoneNormaliser) -> BillingClient:
    """The embedded billing on the test database."""
    audit = AuditJournal(db.sessions, "local", clock)
    return BillingClient(LocalBackend(db.sessions, clock, audit), phones)


@pytest.fixture
def admin(db: Database, clock: FixedClock, phones: PhoneNormaliser) -> LocalAdmin:
    return LocalAdmin(db.sessions, clock, AuditJournal(db.sessions, "local", clock), phones)


@pytest.fixture
async def make_tracker(
    db: Database, clock: FixedClock, billing: BillingClient
) -> AsyncIterator[MakeTracker]:
    """Trackers on the test database; each is closed after the test."""
    made: list[MissedCallTracker] = []

    default_billing = billing

    def make(
        *,
        billing: BillingClient | None = None,
        on_missed: Callable[[MissedCall], Awaitable[None]] | None = None,
        **settings: Any,
    ) -> MissedCallTracker:
        tracker = MissedCallTracker(
            db.sessions,
            clock,
            billing or default_billing,
            MissedCallSettings(**settings),
            on_missed,
        )
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        await tracker.aclose()
