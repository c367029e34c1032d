"""Calls pbxbridge places itself (campaign and callback call files) are never missed calls.

The operator-first callback nobody takes is the capture's abandoned queue call moved into
pbxbridge's dialplan: that call was an Originate of `Local/102@inbound-test` (CallerID the
caller's number) whose `;2` leg ran Queue(support) and was hung up waiting, which is what
Asterisk does with the call file `Channel: Local/support@pbxbridge-callback-queue` (the
customer's number as CallerID) when no operator answers within its WaitTime. Only what this
dialplan changes is rewritten: the context and extension, the Queue's arguments, no
userfield (pbxbridge-callback-queue sets none), the customer's number and the uniqueids.
The other events here are HAND-MADE (see conftest).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ami_listener.message import AmiMessage
from missed_calls import MissedCallTracker
from tests.missed_calls.conftest import (
    ABANDONED_QUEUE,
    CAPTURE,
    MISSED_DIRECT,
    MakeTracker,
    Seen,
    capture_messages,
    cdr,
    channel_event,
    event,
)

CUSTOMER = "0501112233"  # the capture's queue abandoner (+380501112233), called back
CALLBACK = "1795320000.40"  # linkedid of the callback call


def unanswered_operator_first_callback() -> list[AmiMessage]:
    """The capture's queue abandon, as the operator-first callback's call file makes it."""
    raw = CAPTURE.read_bytes().decode()
    blocks = [b for b in raw.split("\r\n\r\n") if ABANDONED_QUEUE.removesuffix(".21") in b]
    rewritten = []
    for original in blocks:
        if "AppData: CDR(userfield)=in" in original:
            continue  # the inbound test context's Set(); pbxbridge-callback-queue has none
        block = original
        for old, new in (
            ("Local/102@inbound-test-0000000a", "Local/support@pbxbridge-callback-queue-0000001c"),
            ("DialString: 102@inbound-test", "DialString: support@pbxbridge-callback-queue"),
            ("Context: inbound-test", "Context: pbxbridge-callback-queue"),
            ("Exten: 102", "Exten: support"),
            ("Extension: 102", "Extension: support"),
            ("Destination: 102", "Destination: support"),
            ("AppData: support,,,,3", "AppData: support,r"),
            ("UserField: in", "UserField: "),
            ("+380501112233", CUSTOMER),
            ("1795311498.21", CALLBACK),
            ("1795311498.22", "1795320000.41"),
        ):
            block = block.replace(old, new)
        rewritten.append(block + "\r\n\r\n")
    messages = capture_messages("".join(rewritten).encode())
    assert len(messages) >= 8
    assert not any("inbound-test" in repr(m.headers) for m in messages)
    return messages


def without(name: str) -> Callable[[list[AmiMessage]], list[AmiMessage]]:
    return lambda messages: [m for m in messages if m.name != name]


@pytest.mark.parametrize(
    "lose",
    [
        pytest.param(lambda m: m, id="every-event"),
        pytest.param(without("Newchannel"), id="newchannel-lost"),
        pytest.param(without("Cdr"), id="no-cdr-events"),
    ],
)
async def test_an_operator_first_callback_nobody_takes_is_no_missed_call(
    make_tracker: MakeTracker, lose: Callable[[list[AmiMessage]], list[AmiMessage]]
) -> None:
    seen = Seen()
    tracker = make_tracker(on_missed=seen)  # queues = []: every queue counts
    callback = lose(unanswered_operator_first_callback())
    # the callback rings while the real calls of the capture come and go
    for message in capture_messages()[:40] + callback + capture_messages()[40:]:
        await tracker.on_ami_event(message)
    await tracker.flush()

    missed = await tracker.list()
    assert [m.linkedid for m in missed] == [MISSED_DIRECT, ABANDONED_QUEUE]
    assert sorted(c.linkedid for c in seen.calls) == [MISSED_DIRECT, ABANDONED_QUEUE]
    # the customer's own abandoned call stays open, and nobody dialled them
    assert all(m.recalled_at is None for m in missed)
    [today] = await tracker.stats(1)
    assert today.unsuccessful_attempts == 0


async def test_the_same_call_in_contexts_not_named_outbound_is_missed(
    make_tracker: MakeTracker,
) -> None:
    """The events alone carry the difference: with the list emptied it is a miss again."""
    seen = Seen()
    tracker = make_tracker(on_missed=seen, outbound_contexts=[])
    for message in unanswered_operator_first_callback():
        await tracker.on_ami_event(message)
    await tracker.flush()
    assert [(m.linkedid, m.number, m.queue) for m in await tracker.list()] == [
        (CALLBACK, "+380501112233", "support")
    ]
    assert len(seen.calls) == 1


async def replay_capture(tracker: MissedCallTracker) -> None:
    for message in capture_messages():
        await tracker.on_ami_event(message)
    await tracker.flush()


def operator_took_callback(*, customer_answered: bool) -> list[AmiMessage]:
    """HAND-MADE: an operator (PJSIP/101) takes the callback from the queue; the connect
    context sets the company's CallerID and Dial()s Local/<customer>@pbxbridge-dial."""
    a, b, op, d, e, trunk = (f"1795330000.{n}" for n in range(50, 56))
    queue_leg = "Local/support@pbxbridge-callback-queue-0000001d"
    dial_leg = f"Local/{CUSTOMER}@pbxbridge-dial-0000001e"
    disposition = "ANSWERED" if customer_answered else "NO ANSWER"
    return [
        channel_event("Newchannel", a, a, Context="pbxbridge-callback-queue"),
        channel_event("Newchannel", b, a, Context="pbxbridge-callback-queue"),
        channel_event("QueueCallerJoin", b, a, CallerIDNum=CUSTOMER, Queue="support", Position="1"),
        channel_event("Newchannel", op, a, Context="from-internal"),
        event(
            "AgentConnect",
            Uniqueid=b,
            Linkedid=a,
            CallerIDNum=CUSTOMER,
            DestUniqueid=op,
            DestLinkedid=a,
            Queue="support",
            HoldTime="4",
        ),
        channel_event("QueueCallerLeave", b, a, CallerIDNum=CUSTOMER, Queue="support"),
        channel_event("Newchannel", d, a, Context="pbxbridge-dial"),
        channel_event("Newchannel", e, a, Context="pbxbridge-dial"),
        channel_event("Newchannel", trunk, a, Context="from-trunk"),
        event(
            "DialEnd",
            Uniqueid=e,
            Linkedid=a,
            DestUniqueid=trunk,
            DestLinkedid=a,
            DialStatus="ANSWER" if customer_answered else "NOANSWER",
        ),
        *(channel_event("Hangup", u, a) for u in (trunk, e, d)),
        cdr(
            e,
            src="0441234567",
            dst=CUSTOMER,
            dcontext="pbxbridge-dial",
            channel=f"{dial_leg};2",
            dstchannel=f"PJSIP/trunk-{trunk}",
            disposition=disposition,
        ),
        cdr(
            b,
            src=CUSTOMER,
            dst="support",
            dcontext="pbxbridge-callback-queue",
            channel=f"{queue_leg};2",
            dstchannel="PJSIP/101-0000001f",
            disposition="ANSWERED",
        ),
        cdr(
            a,
            src="0441234567",
            dst="s",
            dcontext="pbxbridge-callback-connect",
            channel=f"{queue_leg};1",
            dstchannel=f"{dial_leg};1",
            disposition=disposition,
        ),
        *(channel_event("Hangup", u, a) for u in (op, b, a)),
    ]


@pytest.mark.parametrize("customer_answered", [False, True])
async def test_an_operator_taking_a_callback_is_no_recall_until_the_customer_answers(
    make_tracker: MakeTracker, customer_answered: bool
) -> None:
    """The operator's answer connects two parties before the customer's phone rings: only
    the customer answering the number pbxbridge dialled recalls their miss."""
    tracker = make_tracker()
    await replay_capture(tracker)
    for message in operator_took_callback(customer_answered=customer_answered):
        await tracker.on_ami_event(message)
    await tracker.flush()

    calls = {m.linkedid: m for m in await tracker.list()}
    assert len(calls) == 2  # no new miss either way
    recalled_by = calls[ABANDONED_QUEUE].recalled_by
    [today] = await tracker.stats(1)
    if customer_answered:
        assert recalled_by == "1795330000.50"
        assert today.unsuccessful_attempts == 0
    else:
        assert recalled_by is None
        assert today.unsuccessful_attempts == 1
