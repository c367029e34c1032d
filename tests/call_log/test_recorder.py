"""Every call recorded in the call log, from the real capture and hand-made calls shaped
after it: caller, callee, times, disposition, direction, queue, who answered, the
subscriber, the recording; the answered-call hook once per answered call; missed calls
the same rows, seen through the missed-calls view."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from ami_listener import AmiClient, AmiSettings
from billing_client.local.admin import LocalAdmin
from call_log.store import CallLogStore
from primitives.clock import FixedClock
from tests.call_log.conftest import (
    INTERNAL,
    OUTGOING,
    RECORDED,
    Answered,
    MakeRecorder,
    internal_call,
    outgoing_call,
    recorded_call,
)
from tests.conftest import Database
from tests.fakes.ami_asterisk import DEFAULT_SECRET, FakeAmi
from tests.missed_calls.conftest import (
    ABANDONED_QUEUE,
    ANSWERED,
    MISSED_DIRECT,
    Seen,
    capture_messages,
    feed,
)


async def test_the_captures_three_calls_are_logged(
    make_recorder: MakeRecorder, db: Database, clock: FixedClock, admin: LocalAdmin
) -> None:
    await admin.add("petro", phones=("0939876543",), actor="test")
    missed, answered = Seen(), Answered()
    recorder = make_recorder(on_missed=missed, on_answered=answered)
    await feed(recorder, capture_messages())
    calls = {
        c.linkedid: c
        for c in await CallLogStore(db.sessions, clock).days(clock.today(), clock.today())
    }
    assert set(calls) == {MISSED_DIRECT, ANSWERED, ABANDONED_QUEUE}
    direct, talk, queue = calls[MISSED_DIRECT], calls[ANSWERED], calls[ABANDONED_QUEUE]
    # the unanswered Dial: four legs, one call
    assert (direct.caller, direct.callee, direct.direction) == ("0671234567", "100", "incoming")
    assert (direct.disposition, direct.missed, direct.billsec) == ("NO ANSWER", True, 0)
    assert direct.duration == 4  # 01:38:05 .. 01:38:09
    assert direct.answered_at is None
    assert direct.number == "+380671234567"
    # the answered call: the Local leg that picked up, a second of talk
    assert (talk.caller, talk.callee, talk.direction) == ("0939876543", "101", "incoming")
    assert (talk.disposition, talk.missed) == ("ANSWERED", False)
    assert (talk.duration, talk.billsec) == (2, 1)
    assert talk.answered_by == "Local/s@campaign-test-00000009;1"
    assert talk.answered_at == talk.ended_at - timedelta(seconds=1)
    assert (talk.login, talk.lookup) == ("petro", "ok")
    # the empty queue
    assert (queue.caller, queue.callee, queue.queue) == ("+380501112233", "102", "support")
    assert (queue.disposition, queue.missed, queue.waited_seconds) == ("NO ANSWER", True, 3)
    # the hooks: each call once, after the subscriber was looked up
    assert sorted(c.linkedid for c in missed.calls) == [MISSED_DIRECT, ABANDONED_QUEUE]
    assert [c.linkedid for c in answered.calls] == [ANSWERED]
    assert answered.calls[0].login == "petro"
    # missed calls are the same rows, seen through the view
    view = {c.linkedid: c for c in await recorder.list()}
    assert set(view) == {MISSED_DIRECT, ABANDONED_QUEUE}
    assert view[MISSED_DIRECT].id == direct.id


async def test_outgoing_internal_and_recorded_calls(
    make_recorder: MakeRecorder, db: Database, clock: FixedClock
) -> None:
    answered = Answered()
    recorder = make_recorder(on_answered=answered)
    await feed(recorder, [*outgoing_call(), *internal_call(), *recorded_call()])
    store = CallLogStore(db.sessions, clock)
    calls = {c.linkedid: c for c in await store.days(clock.today(), clock.today())}
    out, inside, recorded = calls[OUTGOING], calls[INTERNAL], calls[RECORDED]
    assert (out.caller, out.callee, out.direction, out.number) == (
        "101",
        "0671234567",
        "outgoing",
        "+380671234567",
    )
    assert (out.disposition, out.duration, out.billsec) == ("ANSWERED", 65, 60)
    assert out.answered_by == "PJSIP/trunk-0000000b"
    assert (inside.direction, inside.number, inside.lookup) == ("internal", None, "skipped")
    assert (inside.billsec, inside.answered_by) == (30, "PJSIP/102-0000000d")
    assert recorded.direction == "incoming"
    assert recorded.recording == "/var/spool/asterisk/monitor/20261122-120000-0501234567.wav"
    assert (recorded.answered_by, recorded.billsec) == ("PJSIP/104-0000000f", 120)
    assert out.recording is None
    assert inside.recording is None
    assert sorted(c.linkedid for c in answered.calls) == sorted([OUTGOING, INTERNAL, RECORDED])
    assert await recorder.list() == []  # none of them is missed
    # the same call again (a second process, a replay): recorded once
    again = make_recorder()
    await feed(again, outgoing_call())
    assert len(await store.days(clock.today(), clock.today())) == 3


async def test_an_outgoing_call_recalls_the_miss(make_recorder: MakeRecorder) -> None:
    recorder = make_recorder()
    await feed(recorder, capture_messages())
    await feed(recorder, outgoing_call(number="0671234567"))
    misses = {c.linkedid: c for c in await recorder.list()}
    assert misses[MISSED_DIRECT].recalled_by == OUTGOING
    assert misses[ABANDONED_QUEUE].recalled_at is None


async def test_cdr_events_through_the_fake_ami(
    make_recorder: MakeRecorder, db: Database, clock: FixedClock
) -> None:
    """FakeAmi replays the capture and sends the hand-made calls over TCP; the real
    AmiClient frames and dispatches them to the recorder."""
    answered = Answered()
    recorder = make_recorder(on_answered=answered, flush_delay=0.05)
    async with FakeAmi() as fake:
        client = AmiClient(
            AmiSettings(
                host=fake.host,
                port=fake.port,
                secret=SecretStr(DEFAULT_SECRET),
                events="call,cdr,agent,user,dialplan",
                ping_interval=30,
            )
        )
        client.add_consumer(recorder)
        await client.start()
        try:
            await fake.wait_for_logins(1)
            await fake.replay("queue", chunk_size=997)
            for message in [*outgoing_call(), *recorded_call()]:
                await fake.send_event(message.headers)
            store = CallLogStore(db.sessions, clock)
            await answered.wait_for(3)
        finally:
            await client.stop()
    calls = await store.days(clock.today(), clock.today())
    assert len(calls) == 5
    assert {c.linkedid for c in calls if c.recording} == {RECORDED}
