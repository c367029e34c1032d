"""The real capture: two missed calls (ringing nobody answers, an abandoned queue), one answered."""

from __future__ import annotations

from decimal import Decimal

from billing_client.local.admin import LocalAdmin
from billing_client.subscriber import Status
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.missed_calls.conftest import (
    ABANDONED_QUEUE,
    MISSED_DIRECT,
    MakeTracker,
    Seen,
    capture_messages,
)


async def test_the_capture_gives_exactly_two_missed_calls(
    make_tracker: MakeTracker, admin: LocalAdmin, clock: FixedClock, db: Database
) -> None:
    await admin.add(
        "olena",
        name="Олена Коваль",
        phones=("+380671234567",),
        balance=Decimal("-20"),
        fee=Decimal("100"),
        actor="test",
    )
    seen = Seen()
    tracker = make_tracker(on_missed=seen)
    for message in capture_messages():
        await tracker.on_ami_event(message)
    await tracker.flush()

    missed = await tracker.list()
    assert [(m.number, m.raw_number) for m in missed] == [
        ("+380671234567", "0671234567"),
        ("+380501112233", "+380501112233"),
    ]
    direct, queued = missed
    assert direct.linkedid == MISSED_DIRECT
    assert (direct.login, direct.name, direct.status) == ("olena", "Олена Коваль", Status.DEBTOR)
    assert direct.queue is None
    assert direct.waited_seconds == 4  # the Dial's 4 s of ringing
    assert queued.linkedid == ABANDONED_QUEUE
    assert (queued.login, queued.lookup) == (None, "notfound")
    assert (queued.queue, queued.queue_position, queued.waited_seconds) == ("support", 1, 3)
    assert all(m.recalled_at is None and m.at == clock.now() for m in missed)
    # on_missed: once per call, after the subscriber lookup
    assert sorted(c.number for c in seen.calls) == ["+380501112233", "+380671234567"]
    assert next(c for c in seen.calls if c.linkedid == MISSED_DIRECT).login == "olena"
    assert tracker.calls_in_progress == 0


async def test_replaying_the_capture_twice_records_nothing_new(make_tracker: MakeTracker) -> None:
    first = make_tracker()
    for message in capture_messages():
        await first.on_ami_event(message)
    await first.flush()
    # a second process (or a restart) sees the same calls again: the linkedid is unique
    seen = Seen()
    second = make_tracker(on_missed=seen)
    for message in capture_messages(chunk=7):
        await second.on_ami_event(message)
    await second.flush()
    assert len(await second.list()) == 2
    assert seen.calls == []


async def test_the_timer_decides_calls_without_a_flush(make_tracker: MakeTracker) -> None:
    seen = Seen()
    tracker = make_tracker(on_missed=seen, flush_delay=0.05)
    for message in capture_messages():
        await tracker.on_ami_event(message)
    await seen.wait_for(2)
    assert sorted(c.number for c in seen.calls) == ["+380501112233", "+380671234567"]
