"""A money move whose audit journal fails reaches staff: one alert, not only a log line.

The journal is broken for real: its table is renamed away on the test database (SQLite and
PostgreSQL) while the fake Ubilling holds its answer to the move, so the entry was opened
and cannot be closed. The alert callable is the rig's recording one (it stands in for
pbxbridge's Alerts, a peer sink).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from sqlalchemy import text

from billing_client.outcomes import CreditResult, PaycardResult
from primitives.clock import FixedClock
from tests.billing_client.test_ubilling_backend import CALL, ubilling_rig
from tests.conftest import Database
from tests.fakes.ubilling import FakeUbilling, Fault

AUDIT = "billing_audit"
AWAY = "billing_audit_away"


async def rename(database: Database, old: str, new: str) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_an_audit_entry_that_cannot_be_closed_is_alerted_once(
    database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with ubilling_rig(database, clock) as rig:
        arrived, release = asyncio.Event(), asyncio.Event()
        rig.fake.add_fault(
            Fault(when={"param": "setcredit"}, before=lambda _: arrived.set(), release=release)
        )
        move = asyncio.create_task(rig.client.set_credit(login="testuser2", source=CALL))
        await asyncio.wait_for(arrived.wait(), 10)
        [pending] = await rig.audit_rows()
        assert pending.outcome == "pending"
        await rename(database, AUDIT, AWAY)  # the journal goes away while Ubilling works
        release.set()
        with caplog.at_level(logging.ERROR, logger="pbxbridge.billing.ubilling"):
            outcome = await move
        # the credit was given and read back: the subscriber hears OK, staff hear the rest
        assert outcome.result == CreditResult.OK
        assert rig.fake.state.users["testuser2"].credit == Decimal(100)
        assert len(rig.alerts) == 1, rig.alerts
        alert = rig.alerts[0]
        assert alert.startswith(f"Ubilling: audit entry {pending.id} could not be closed as ok: ")
        assert "Error" in alert  # the driver error's class and first line, no statement
        assert "[SQL" not in alert
        assert "\n" not in alert
        assert f"audit entry {pending.id} could not be closed" in caplog.text
        await rename(database, AWAY, AUDIT)
        [row] = await rig.audit_rows()
        assert row.outcome == "pending"  # what staff are told to look at


@pytest.mark.parametrize("move", ["credit", "paycard"])
async def test_a_move_not_sent_with_the_journal_down_is_alerted_once(
    database: Database, clock: FixedClock, move: str
) -> None:
    """Ubilling fails the read before the move and the journal cannot record that."""
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(status=500, when={"param": "getuserdatabylogin"}))
        await rename(database, AUDIT, AWAY)
        if move == "credit":
            credit = await rig.client.set_credit(login="testuser2", source=CALL)
            assert credit.result == CreditResult.ERROR
        else:
            card = await rig.client.pay_card("5555666677778888", login="testuser1", source=CALL)
            assert card.result == PaycardResult.ERROR
        kind = "credit" if move == "credit" else "paycard"
        login = "testuser2" if move == "credit" else "testuser1"
        assert len(rig.alerts) == 1, rig.alerts
        assert rig.alerts[0].startswith(
            f"Ubilling: audit journal unavailable: a {kind} for {login} that was not sent "
            "is not journalled: "
        )
        assert "[SQL" not in rig.alerts[0]
        assert rig.sent("setcredit") == rig.sent("paycardpay") == []
        await rename(database, AWAY, AUDIT)
        assert await rig.audit_rows() == []


async def test_a_corrupt_read_back_after_a_money_move_is_an_error_and_one_alert(
    database: Database, clock: FixedClock
) -> None:
    """Ubilling's users.Cash is a DOUBLE: a corrupt 1e300 read back after a pay card is a
    number no kopeck amount holds. It used to crash the move (InvalidOperation, the audit
    entry left pending); now the reply is malformed, the caller gets ERROR, the entry is
    closed and staff are told once."""
    async with ubilling_rig(database, clock) as rig:

        def corrupt(fake: FakeUbilling) -> None:
            fake.state.users["testuser1"].cash = Decimal("1e300")

        rig.fake.add_fault(Fault(when={"param": "paycardpay"}, before=corrupt))
        outcome = await rig.client.pay_card("5555666677778888", login="testuser1", source=CALL)
        await rig.backend.aclose()  # waits for the moves, and the alert, still running
        assert outcome.result is PaycardResult.ERROR
        assert "reading it back failed" in (outcome.error or "")
        assert len(rig.alerts) == 1, rig.alerts
        assert rig.alerts[0].startswith("Ubilling: audit 1: Ubilling reported paycardpay")
        [row] = await rig.audit_rows()
        assert (row.kind, row.outcome) == ("paycard", "unverified")
