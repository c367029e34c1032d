"""Hostile and broken events are logged and ignored; the tracker keeps working.

All events here are HAND-MADE (see conftest)."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ami_listener.framing import AmiFramer
from ami_listener.message import AmiMessage, parse_message
from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local.backend import LocalBackend
from missed_calls import EVENTS, MissedCallSettings, MissedCallTracker
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.missed_calls.conftest import (
    ABANDONED_QUEUE,
    MISSED_DIRECT,
    MakeTracker,
    capture_messages,
    cdr,
    channel_event,
    event,
    feed,
)

HUGE = "9" * 200_000

BROKEN: list[tuple[str, AmiMessage]] = [
    ("Cdr without UniqueID", event("Cdr", Source="0671234567", Disposition="NO ANSWER")),
    (
        "Cdr with SQL for a UniqueID",
        event("Cdr", UniqueID="1.1' OR '1'='1", Disposition="NO ANSWER", UserField="in"),
    ),
    (
        "Cdr with a UniqueID longer than Asterisk's",
        event("Cdr", UniqueID="1" * 151, Disposition="NO ANSWER", UserField="in"),
    ),
    (
        "Hangup with a Cyrillic Uniqueid",
        event("Hangup", Uniqueid="Абонент.1", Linkedid="8.2"),
    ),
    ("Cdr without Disposition", event("Cdr", UniqueID="8.1", Source="0671234567")),
    ("Hangup without Uniqueid", event("Hangup", Channel="PJSIP/x", Linkedid="8.2")),
    ("Newchannel with a huge Uniqueid", event("Newchannel", Uniqueid=HUGE, Linkedid="8.3")),
    ("a queue join without a queue", channel_event("QueueCallerJoin", "8.4", "8.4")),
    (
        "a queue name of 200 kB",
        channel_event("QueueCallerAbandon", "8.5", "8.5", Queue=HUGE, HoldTime="3"),
    ),
    ("DialEnd with no channel at all", event("DialEnd", DialStatus="ANSWER")),
    (
        "a Uniqueid with a newline smuggled in",
        parse_message("Event: Hangup\r\nUniqueid: 8.6\nAction: Originate\r\nLinkedid: 8.6"),
    ),
]

ODD_BUT_HARMLESS: list[AmiMessage] = [
    AmiMessage(()),  # nothing at all
    parse_message("Response: Success\r\nMessage: not an event"),
    parse_message("no colon anywhere, just words"),
    event("NoSuchEvent", Uniqueid="8.7"),
    event("cdr", UniqueID="8.8", Disposition="FAILED", Duration="abc", Source=HUGE),
    event("CDR", UniqueID="8.9", Disposition="NO ANSWER", Duration="-5", Source="\x00\x01\x7f"),
    channel_event("QueueCallerAbandon", "8.10", "8.10", Queue="q", HoldTime="99999999999999"),
    channel_event("BridgeEnter", "8.11", "8.11", BridgeNumChannels="lots"),
    channel_event("Hangup", "8.12", "8.12", Timestamp="1e308"),
    channel_event("Hangup", "8.13", "8.13", Timestamp="nan"),
    channel_event("Newchannel", "8.14", "8.14", Timestamp="99999999999.9"),
    cdr("8.15", src="0671234567", dst="100", disposition="NO ANSWER", duration=999_999_999),
]


@pytest.fixture
async def offline_tracker(clock: FixedClock) -> AsyncIterator[MissedCallTracker]:
    """A tracker with no database behind it: broken events never get that far."""
    nowhere: async_sessionmaker[AsyncSession] = async_sessionmaker()
    backend = LocalBackend(nowhere, clock, AuditJournal(nowhere, "local", clock))
    tracker = MissedCallTracker(
        nowhere, clock, BillingClient(backend, PhoneNormaliser()), MissedCallSettings()
    )
    yield tracker
    await tracker.aclose()


@pytest.mark.parametrize(("what", "message"), BROKEN, ids=[w for w, _ in BROKEN])
async def test_a_broken_event_is_logged_and_ignored(
    offline_tracker: MissedCallTracker,
    caplog: pytest.LogCaptureFixture,
    what: str,
    message: AmiMessage,
) -> None:
    with caplog.at_level(logging.WARNING, "pbxbridge.missed_calls"):
        await offline_tracker.on_ami_event(message)
    assert "ignored a" in caplog.text, what
    assert len(caplog.text) < 2000  # a 200 kB value is not copied into the log
    assert offline_tracker.calls_in_progress == 0


async def test_odd_events_do_not_break_the_real_calls(make_tracker: MakeTracker) -> None:
    tracker = make_tracker()
    real = capture_messages()
    # the odd events interleaved with the capture's, every few events
    mixed: list[AmiMessage] = []
    for i, message in enumerate(real):
        mixed.append(message)
        if i % 7 == 0:
            mixed.append(ODD_BUT_HARMLESS[(i // 7) % len(ODD_BUT_HARMLESS)])
    mixed += ODD_BUT_HARMLESS + [m for _, m in BROKEN]
    await feed(tracker, mixed)
    await tracker.flush(force=True)
    calls = {c.linkedid: c for c in await tracker.list()}
    assert calls[MISSED_DIRECT].number == "+380671234567"
    assert calls[ABANDONED_QUEUE].number == "+380501112233"
    # "8.15": a plausible inbound-less row: not a missed call, and its huge duration is clamped
    assert set(calls) == {MISSED_DIRECT, ABANDONED_QUEUE}


async def test_random_headers_for_every_consumed_event(make_tracker: MakeTracker) -> None:
    """A seeded fuzz: events we consume, with headers drawn from real and absurd values."""
    rng = random.Random(20261122)
    keys = [
        "Uniqueid", "Linkedid", "UniqueID", "DestUniqueid", "DestLinkedid", "Queue", "HoldTime",
        "Position", "Disposition", "UserField", "Source", "Destination", "DestinationChannel",
        "DialStatus", "BridgeNumChannels", "Duration", "CallerIDNum", "Context", "Timestamp",
    ]  # fmt: skip
    values = [
        "", " ", "1.1", "1.2", "0671234567", "+380501112233", "in", "ANSWERED", "NO ANSWER",
        "ANSWER", "2", "-1", "3.5", "<unknown>", "\u0410\u0431\u043e\u043d\u0435\u043d\u0442",
        "x" * 300, "9" * 70, "0", "1e9", "\ufffd\ufffd",
    ]  # fmt: skip
    tracker = make_tracker()
    for _ in range(3000):
        headers = tuple((rng.choice(keys), rng.choice(values)) for _ in range(rng.randint(0, 8)))
        await tracker.on_ami_event(AmiMessage((("Event", rng.choice(EVENTS)), *headers)))
    await tracker.flush(force=True)
    # still working: the capture gives its two misses
    await feed(tracker, capture_messages())
    calls = {c.linkedid: c.number for c in await tracker.list()}
    assert calls[MISSED_DIRECT] == "+380671234567"
    assert calls[ABANDONED_QUEUE] == "+380501112233"


async def test_newline_free_nonsense_through_the_framer(make_tracker: MakeTracker) -> None:
    tracker = make_tracker()
    framer = AmiFramer(max_message_bytes=64 * 1024)
    junk = [b"\x00\xff" * 1000, b"Event: Cdr" * 500, b"\r\n\r\n", b"Event: Hangup\r\nUniq"]
    for chunk in junk:
        for message in framer.feed(chunk):
            await tracker.on_ami_event(message)
    await tracker.flush(force=True)
    assert await tracker.list() == []
