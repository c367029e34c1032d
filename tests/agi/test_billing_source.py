"""BILLING_SOURCE says which billing answer the variables rest on: `live` (asked now),
`stale` (the last answer, while the billing fails), `none` (no answer was used).

Through the real server and wiring against the fake AGI Asterisk, on both backends: the
embedded billing is broken by taking its phone table away (a database that cannot answer),
the fake Ubilling by answering HTTP 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from sqlalchemy import text

from primitives.clock import FixedClock
from tests.agi.routes_rig import RouteRig, route_rig
from tests.conftest import Database
from tests.fakes.ubilling import SERIAL, FakeUbilling, Fault

Break = Callable[[], Awaitable[None]]

KNOWN = "0501110001"  # testuser1 in the fake Ubilling; added to the embedded billing here
OTHER = "0501110002"  # testuser2; never asked before the billing breaks


@asynccontextmanager
async def billing_rig(
    kind: str, database: Database, clock: FixedClock
) -> AsyncIterator[tuple[RouteRig, Break]]:
    if kind == "ubilling":
        async with FakeUbilling(clock=clock) as ubilling:
            settings = {"backend": "ubilling", "url": ubilling.url, "key": SERIAL}
            async with route_rig(database.url, clock, billing=settings) as rig:

                async def fail() -> None:
                    ubilling.add_fault(Fault(status=500))

                yield rig, fail
        return
    async with route_rig(database.url, clock) as rig:
        await rig.add("ivan", KNOWN, balance=Decimal(150))
        await rig.add("dmytro", OTHER, balance=Decimal(-50))

        async def fail() -> None:
            async with database.engine.begin() as conn:
                await conn.execute(
                    text("ALTER TABLE billing_subscriber_phones RENAME TO phones_gone")
                )

        yield rig, fail


@pytest.mark.parametrize("kind", ["local", "ubilling"])
@pytest.mark.parametrize("route", ["askozianum", "userstatus"])
async def test_billing_source_is_none_when_no_answer_was_used(
    database: Database, clock: FixedClock, kind: str, route: str
) -> None:
    async with billing_rig(kind, database, clock) as (rig, fail):
        live = await rig.call(route, callerid=KNOWN)
        await fail()
        stale = await rig.call(route, callerid=KNOWN)
        failed = await rig.call(route, callerid=OTHER)
    assert (live.set_variables["BILLING_RESULT"], live.set_variables["BILLING_SOURCE"]) == (
        "OK",
        "live",
    )
    assert (stale.set_variables["BILLING_RESULT"], stale.set_variables["BILLING_SOURCE"]) == (
        "OK",
        "stale",
    )
    assert stale.set_variables["SUBSCRIBER_STATUS"] == "1"
    assert {k: failed.set_variables[k] for k in ("SUBSCRIBER_STATUS", "SUBSCRIBER_LOGIN")} == {
        "SUBSCRIBER_STATUS": "0",
        "SUBSCRIBER_LOGIN": "",
    }
    assert (failed.set_variables["BILLING_RESULT"], failed.set_variables["BILLING_SOURCE"]) == (
        "ERROR",
        "none",
    )


async def test_a_number_that_is_not_a_phone_number_is_asked_of_no_billing(
    database: Database, clock: FixedClock
) -> None:
    async with billing_rig("ubilling", database, clock) as (rig, _):
        call = await rig.call("askozianum", callerid="0501110001;EXEC")
    assert call.set_variables == {
        "SUBSCRIBER_STATUS": "0",
        "SUBSCRIBER_LOGIN": "",
        "BILLING_RESULT": "NOTFOUND",
        "BILLING_SOURCE": "none",
    }
