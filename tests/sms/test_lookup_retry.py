"""An SMS that arrives while the billing cannot be asked: its sender is looked up again by the
running inbox, and a balance command gets its reply once the billing is back."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from primitives.clock import FixedClock
from sms.inbox import LOOKUP_RETRY, LOOKUP_RETRY_MAX
from sms.models import InboxRow, OutboxRow
from sms.types import InboundSms, OutboxState
from tests.billing_client.test_ubilling_backend import ubilling_rig
from tests.conftest import Database
from tests.fakes.ubilling import Fault
from tests.sms.conftest import MakeRig, Rig, eventually

SWEEP = 0.01
SUBSCRIBER = "0501110001"  # testuser1 of the fake Ubilling, balance 150
RETRYING = "trying again"


async def inbox_row(rig: Rig) -> InboxRow:
    async with rig.db.sessions() as session:
        (row,) = await session.scalars(select(InboxRow))
        return row


async def outbox_rows(rig: Rig) -> list[OutboxRow]:
    async with rig.db.sessions() as session:
        return list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


async def until_done(rig: Rig, within: float = 5.0) -> InboxRow:
    async with asyncio.timeout(within):
        while (row := await inbox_row(rig)).stage != "done":  # noqa: ASYNC110 - a row's state
            await asyncio.sleep(SWEEP)
    return row


async def retried(caplog: pytest.LogCaptureFixture, times: int) -> None:
    """Wait until the inbox has logged `times` failed lookups of the sender."""
    await eventually(lambda: sum(RETRYING in r.getMessage() for r in caplog.records) >= times)


async def test_balance_command_is_answered_once_the_billing_is_back(
    make_rig: MakeRig,
    sms_db: Database,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pbxbridge.sms")
    async with ubilling_rig(sms_db, clock) as billing:
        billing.fake.add_fault(Fault(status=500))
        rig = make_rig(billing=billing.client, sweep_interval=SWEEP)
        await rig.inbox.start()
        try:
            await rig.inbox.receive(InboundSms("dongle3", SUBSCRIBER, "БАЛАНС", "base64"))
            await rig.inbox.drain()
            row = await inbox_row(rig)
            assert (row.stage, row.lookup, row.login, row.reply_id) == (
                "stored",
                "error",
                None,
                None,
            )
            # staff hear of it at once, without waiting for the billing
            assert [(s.id, s.lookup) for s in rig.stored] == [(row.id, "error")]

            rig.advance(LOOKUP_RETRY)  # a retry while the billing still fails: no reply
            await retried(caplog, 2)
            assert (await inbox_row(rig)).stage == "stored"
            assert await outbox_rows(rig) == []

            billing.fake.faults.clear()
            billing.monotonic.advance(billing.settings.breaker_reset)
            rig.advance(LOOKUP_RETRY_MAX)
            row = await until_done(rig)
            rig.advance(LOOKUP_RETRY_MAX)
            # what every later sweep does: no follow-up is left to retry, so none queues more
            assert rig.inbox.retry_due() == 0
            await rig.inbox.drain()
        finally:
            await rig.inbox.stop()

    (reply,) = await outbox_rows(rig)
    assert (row.lookup, row.login, row.reply_id) == ("found", "testuser1", reply.id)
    assert (reply.number, reply.device, reply.transport) == ("+380501110001", "dongle3", "dongle")
    assert reply.text.startswith("Баланс: 150.00 грн.")
    assert (reply.state, reply.actor, reply.reply_to) == (
        OutboxState.QUEUED,
        "sms:auto-reply",
        row.id,
    )
    assert [s.id for s in rig.stored] == [row.id]  # one notice to staff


async def test_lookups_stop_after_max_age_with_no_reply(
    make_rig: MakeRig,
    sms_db: Database,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pbxbridge.sms")
    async with ubilling_rig(sms_db, clock) as billing:
        billing.fake.add_fault(Fault(status=500))
        rig = make_rig(billing=billing.client, sweep_interval=SWEEP, auto_reply={"max_age": 45})
        await rig.inbox.start()
        try:
            await rig.inbox.receive(InboundSms("dongle0", SUBSCRIBER, "BALANCE", "base64"))
            await rig.inbox.drain()
            assert ((await inbox_row(rig)).stage, await outbox_rows(rig)) == ("stored", [])
            rig.advance(LOOKUP_RETRY)
            await retried(caplog, 2)  # the next retry is due at max_age, not 60 s later
            rig.advance(45 - LOOKUP_RETRY)
            row = await until_done(rig)
            # the billing is back, but the subscriber has moved on
            billing.fake.faults.clear()
            billing.monotonic.advance(billing.settings.breaker_reset)
            rig.advance(LOOKUP_RETRY_MAX)
            assert rig.inbox.retry_due() == 0  # the billing is back, but nothing is retried
            await rig.inbox.drain()
        finally:
            await rig.inbox.stop()

    assert (row.stage, row.lookup, row.login, row.reply_id) == ("done", "error", None, None)
    assert await outbox_rows(rig) == []
    assert sum(RETRYING in r.getMessage() for r in caplog.records) == 2
    assert "did not answer within 45 s; no reply" in caplog.text
    assert [s.id for s in rig.stored] == [row.id]
