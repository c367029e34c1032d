"""Pay-card guessing racing itself: many calls for one card at once, over real FastAGI sockets."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from agi.models import Lockout, LockoutFailure
from primitives.clock import FixedClock
from tests.agi.routes_rig import route_rig
from tests.conftest import Database

pytestmark = pytest.mark.timeout(60)

SESSIONS = 50
# The race is between the transactions of calls that fail at the same moment; a few bursts
# (each a new subscriber) make it near certain that one of them hits it.
BURSTS = 3


async def test_fifty_calls_for_one_card_each_get_a_result_and_failures_count_once(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock, agi={"max_sessions": 100}) as rig:
        bursts = []
        for burst in range(BURSTS):
            number = f"05011100{burst:02d}"
            await rig.add(f"payer{burst}", number)
            card = await rig.card("50")
            calls = await asyncio.gather(
                *(
                    rig.call(f"paycardpay?card={card}", callerid=number, uniqueid=f"{burst}.{i}")
                    for i in range(SESSIONS)
                )
            )
            bursts.append(Counter(call.set_variables.get("PAYCARD_RESULT") for call in calls))
        async with database.sessions() as s:
            rows = await s.execute(
                select(LockoutFailure.subject, func.count()).group_by(LockoutFailure.subject)
            )
            failures = dict(rows.all())
            locks = set(await s.scalars(select(Lockout.subject)))
    for burst, results in enumerate(bursts):
        assert None not in results, f"burst {burst}: sessions without a result: {results}"
        assert results["OK"] == 1, results
        assert set(results) <= {"OK", "USED", "LOCKED"}, results
        assert results["USED"] >= 5, results  # the lock needs five failures
        number = f"+3805011100{burst:02d}"
        # Every USED counted once against the number and once against the login; the
        # LOCKED calls were refused before they tried the card.
        assert failures[f"number:{number}"] == results["USED"]
        assert failures[f"login:payer{burst}"] == results["USED"]
        assert {f"number:{number}", f"login:payer{burst}"} <= locks
    assert len(failures) == len(locks) == 2 * BURSTS


async def test_a_database_failure_in_the_lockout_still_gives_the_call_a_result(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await rig.add("debtor", "0501110002")
        card = await rig.card("50")
        paid = await rig.call(f"paycardpay?card={card}", callerid="0501110002")
        async with database.sessions.begin() as s:
            await s.execute(text("ALTER TABLE agi_lockout_failures RENAME TO gone"))
        again = await rig.call(f"paycardpay?card={card}", callerid="0501110002")
        failures = rig.service.agi.stats.handler_errors
    assert paid.set_variables["PAYCARD_RESULT"] == "OK"
    # The card was used, but the failure could not be counted: fail closed, say ERROR.
    assert again.set_variables == {
        "PAYCARD_RESULT": "ERROR",
        "PAYCARD_REASON": "",
        "PAYCARD_AMOUNT": "",
        "SUBSCRIBER_BALANCE": "",
    }
    assert failures == 1  # and the server logged it as a failed handler, with its traceback
