"""Recalls: a later answered call to or from the number closes a miss. Events here are HAND-MADE
(see conftest), in the shape of the capture's; the misses come from the real capture."""

from __future__ import annotations

from datetime import timedelta

from missed_calls import MissedCallTracker
from primitives.clock import FixedClock
from tests.missed_calls.conftest import (
    ABANDONED_QUEUE,
    MISSED_DIRECT,
    MakeTracker,
    capture_messages,
    cdr,
    channel_event,
)


async def replay_capture(tracker: MissedCallTracker) -> None:
    for message in capture_messages():
        await tracker.on_ami_event(message)
    await tracker.flush()


async def outbound(
    tracker: MissedCallTracker, uid: str, number: str, *, answered: bool, legs: int = 1
) -> None:
    """Staff dial `number` from extension 101 (Dial(PJSIP/<number>@trunk)); with `legs` > 1 the
    call goes through Local channels and gives one Cdr row per leg."""
    await tracker.on_ami_event(channel_event("Newchannel", uid, uid, Context="from-internal"))
    for leg in range(legs):
        await tracker.on_ami_event(
            cdr(
                f"{uid}{leg}" if leg else uid,
                src="101",
                dst=number,
                disposition="ANSWERED" if answered else "NO ANSWER",
                dstchannel="PJSIP/trunk-00000002",
                userfield="out",
            )
        )
        if leg:  # the Local leg's channel, linked to the call
            await tracker.on_ami_event(channel_event("Hangup", f"{uid}{leg}", uid))
    await tracker.on_ami_event(channel_event("Hangup", uid, uid))
    await tracker.flush()


async def test_an_answered_outbound_call_recalls_the_number(
    make_tracker: MakeTracker, clock: FixedClock
) -> None:
    tracker = make_tracker()
    await replay_capture(tracker)
    missed_at = clock.now()
    clock.instant += timedelta(minutes=25)
    # dialled the way staff type it: national format
    await outbound(tracker, "1795400000.1", "067 123 45 67", answered=True)

    calls = {m.linkedid: m for m in await tracker.list()}
    recalled = calls[MISSED_DIRECT]
    assert recalled.recalled_at == missed_at + timedelta(minutes=25)
    assert recalled.recalled_by == "1795400000.1"
    assert recalled.seconds_to_recall == 25 * 60
    assert calls[ABANDONED_QUEUE].recalled_at is None
    assert [m.linkedid for m in await tracker.list(only_open=True)] == [ABANDONED_QUEUE]


async def test_the_caller_getting_through_later_recalls_too(
    make_tracker: MakeTracker, clock: FixedClock
) -> None:
    tracker = make_tracker()
    await replay_capture(tracker)
    clock.instant += timedelta(hours=2)
    uid = "1795500000.5"
    await tracker.on_ami_event(channel_event("Newchannel", uid, uid, CallerIDNum="380501112233"))
    await tracker.on_ami_event(
        cdr(
            uid,
            src="380501112233",
            dst="100",
            disposition="ANSWERED",
            userfield="in",
            channel=f"PJSIP/trunk-{uid}",
            dstchannel="PJSIP/101-00000009",
        )
    )
    await tracker.on_ami_event(channel_event("Hangup", uid, uid))
    await tracker.flush()
    calls = {m.linkedid: m for m in await tracker.list()}
    assert calls[ABANDONED_QUEUE].recalled_by == uid
    assert calls[ABANDONED_QUEUE].seconds_to_recall == 7200
    assert calls[MISSED_DIRECT].recalled_at is None


async def test_an_ivr_answer_and_another_abandon_are_no_recall(
    make_tracker: MakeTracker, clock: FixedClock
) -> None:
    """pbxbridge's dialplan Answer()s every inbound call for the IVR, then queues it. The
    caller abandoning the queue again is a second miss, not a recall of the first."""
    tracker = make_tracker()
    await replay_capture(tracker)
    clock.instant += timedelta(minutes=5)
    uid = "1795600000.7"
    await tracker.on_ami_event(channel_event("Newchannel", uid, uid, CallerIDNum="0501112233"))
    await tracker.on_ami_event(
        channel_event(
            "QueueCallerJoin",
            uid,
            uid,
            CallerIDNum="0501112233",
            Queue="support",
            Position="2",
            Count="2",
        )
    )
    await tracker.on_ami_event(
        channel_event(
            "QueueCallerAbandon",
            uid,
            uid,
            CallerIDNum="0501112233",
            Queue="support",
            Position="1",
            OriginalPosition="2",
            HoldTime="41",
        )
    )
    await tracker.on_ami_event(
        cdr(
            uid,
            src="0501112233",
            dst="s",
            disposition="ANSWERED",
            userfield="in",
            dcontext="pbxbridge-support",
            channel=f"PJSIP/trunk-{uid}",
            duration=60,
        )
    )
    await tracker.on_ami_event(channel_event("Hangup", uid, uid))
    await tracker.flush()

    calls = await tracker.list()
    assert [(m.linkedid, m.recalled_at) for m in calls] == [
        (MISSED_DIRECT, None),
        (ABANDONED_QUEUE, None),
        (uid, None),
    ]
    second = calls[2]
    assert (second.number, second.queue, second.queue_position, second.waited_seconds) == (
        "+380501112233",
        "support",
        2,
        41,
    )


async def test_an_unanswered_recall_is_an_attempt_counted_once(
    make_tracker: MakeTracker, clock: FixedClock
) -> None:
    tracker = make_tracker()
    await replay_capture(tracker)
    clock.instant += timedelta(minutes=10)
    # one attempt through Local channels: three NO ANSWER rows, one attempt
    await outbound(tracker, "1795700000.1", "+380671234567", answered=False, legs=3)
    clock.instant += timedelta(minutes=10)
    await outbound(tracker, "1795700001.1", "0671234567", answered=False)
    # a number with no open miss is no attempt
    await outbound(tracker, "1795700002.1", "0441234567", answered=False)
    [today] = await tracker.stats(1)
    assert today.unsuccessful_attempts == 2
    assert today.recalled == 0
    clock.instant += timedelta(minutes=10)
    await outbound(tracker, "1795700003.1", "0671234567", answered=True)
    [today] = await tracker.stats(1)
    assert (today.missed, today.recalled, today.unsuccessful_attempts) == (2, 1, 2)
    assert today.average_recall_seconds == 30 * 60
    # once recalled, a further unanswered call to the number is no attempt
    await outbound(tracker, "1795700004.1", "0671234567", answered=False)
    assert (await tracker.stats(1))[0].unsuccessful_attempts == 2


async def test_misses_older_than_the_window_stay_open(
    make_tracker: MakeTracker, clock: FixedClock
) -> None:
    tracker = make_tracker(recall_window_days=1)
    await replay_capture(tracker)
    day = clock.today()
    clock.instant += timedelta(days=2)
    await outbound(tracker, "1795800000.1", "0671234567", answered=True)
    assert all(m.recalled_at is None for m in await tracker.list(day))


async def test_a_call_does_not_recall_itself(make_tracker: MakeTracker) -> None:
    """A row of the missed call that arrives ANSWERED after the call was decided (here: a
    late leg) belongs to the decided call and is ignored, never a recall of itself."""
    tracker = make_tracker()
    await replay_capture(tracker)
    late = cdr(
        "1795311485.16",  # a leg of the missed call, known from its Newchannel
        src="0671234567",
        dst="s",
        disposition="ANSWERED",
        dstchannel="PJSIP/101-00000001",
    )
    await tracker.on_ami_event(late)
    await tracker.flush()
    assert all(m.recalled_at is None for m in await tracker.list())


async def test_a_recall_reported_by_another_component(
    make_tracker: MakeTracker, clock: FixedClock
) -> None:
    """An answered callback call file: its CDR does not carry the number, so the root
    reports it (e.g. from the spooler's outcome)."""
    tracker = make_tracker()
    await replay_capture(tracker)
    clock.instant += timedelta(minutes=3)
    assert await tracker.mark_recalled("+38 (050) 111-22-33", by="callback-42") == 1
    assert await tracker.mark_recalled("+38 (050) 111-22-33", by="callback-43") == 0
    assert await tracker.mark_recalled("101", by="callback-44") == 0
    calls = {m.linkedid: m for m in await tracker.list()}
    assert calls[ABANDONED_QUEUE].recalled_by == "callback-42"
    assert calls[ABANDONED_QUEUE].seconds_to_recall == 180
