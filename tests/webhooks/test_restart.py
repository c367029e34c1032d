"""Nothing is lost across a restart: pending rows are delivered by the next process with
the same delivery id, and a delivery cut off mid-request is tried again once its lease ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from primitives.clock import FixedClock
from tests.conftest import Database
from tests.webhooks.conftest import MakeWebhooks, hook, settle
from tests.webhooks.receiver import Receiver
from webhooks.events import CALL_MISSED, SMS_RECEIVED
from webhooks.models import DELIVERED, OutboxRow
from webhooks.service import LEASE_MARGIN


async def test_rows_pending_at_stop_are_delivered_once_after_the_next_start(
    receiver: Receiver, make_webhooks: MakeWebhooks, database: Database
) -> None:
    # The first process: the receiver is down (503); its retry is an hour away, in real
    # time, when it is stopped.
    first = make_webhooks(hook(receiver.url), retry_initial=3600, sleep=asyncio.sleep)
    # By kind: the SMS and the missed calls are delivered at once, either may come first.
    receiver.answers_for = {CALL_MISSED: [503]}
    await first.start()
    await first.emit(CALL_MISSED, {"n": 1})
    await first.emit(CALL_MISSED, {"n": 2})
    await first.emit(SMS_RECEIVED, {"n": 1})
    await receiver.wait_received(2)  # the SMS went; the first missed call got its 503
    await first.stop()
    assert sorted(r.status for r in receiver.received) == [200, 503]
    failed = next(r for r in receiver.received if r.status == 503)

    # The next process (its waits move the clock): both missed calls, in order, once each.
    second = make_webhooks(hook(receiver.url))
    await second.start()
    got = await receiver.wait_for(3)
    await second.stop()
    missed = [r for r in got if r.event == CALL_MISSED]
    assert [r.body["payload"]["n"] for r in missed] == [1, 2]
    assert missed[0].delivery_id == failed.delivery_id  # the same id, so the receiver can dedupe
    assert len(receiver.received) == 4  # 503, the SMS, then each missed call once
    async with database.sessions() as session:
        states = list(await session.scalars(select(OutboxRow.state)))
    assert states == [DELIVERED] * 3


async def test_a_delivery_cut_off_mid_request_is_retried_after_its_lease(
    receiver: Receiver, make_webhooks: MakeWebhooks, clock: FixedClock
) -> None:
    """A process that died while posting left its claim on the row: the next one waits
    for the lease to run out, then sends the same delivery again."""
    dead = make_webhooks(hook(receiver.url))
    await dead.emit(CALL_MISSED, {"n": 1})
    [head] = await dead.store.heads(["billing"])
    now = clock.now()
    assert await dead.store.claim(head.id, now, now + timedelta(seconds=2 + LEASE_MARGIN))
    # … and the process is gone before the answer is recorded.

    after = make_webhooks(hook(receiver.url))
    assert await after.deliver_due() == 2 + LEASE_MARGIN  # not before the lease ends
    assert receiver.received == []
    await settle(after, clock)
    [got] = receiver.received
    assert got.delivery_id == head.delivery_id
    assert await after.store.heads(["billing"]) == []  # delivered: nothing pending
