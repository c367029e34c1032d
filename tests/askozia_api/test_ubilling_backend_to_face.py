"""pbxbridge's own Ubilling backend, pointed at pbxbridge's remoteapi face.

Two pbxbridges: A keeps the reference's subscribers in its embedded billing and serves the
face on a real socket (money moves on); B has `billing.backend = "ubilling"` with A's URL
and key, and its own database for its audit journal. Everything B's Ubilling client asks
(userstatus with getmoney, userbynum, getuserdatabylogin/bymobile, getonlinedaysleft,
loginuniq, setcredit and paycardpay with their read-backs, callmeback, the health check)
must be answered by A's face well enough for B to work as it does against Ubilling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from billing_client.client import BillingClient
from billing_client.outcomes import (
    BillingResult,
    CreditResult,
    LoginMatch,
    MoneySource,
    PaycardResult,
)
from billing_client.subscriber import Status
from pbxbridge import migrations
from pbxbridge.app import Core, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine
from tests.askozia_api.conftest import KEY, reference_billing
from tests.conftest import Database
from tests.web.conftest import web_rig
from web.server import WebServer

STAFF = MoneySource(kind="cli", user="staff")


@asynccontextmanager
async def ubilling_client_of(url: str, folder: Path, clock: FixedClock) -> AsyncIterator[Core]:
    """pbxbridge B: the Ubilling backend with A's face as its Ubilling."""
    database = f"sqlite+aiosqlite:///{folder / 'b.db'}"
    engine = create_engine(DatabaseSettings(url=database))
    await migrations.upgrade(engine)
    await engine.dispose()
    settings = Settings(
        database={"url": database},
        billing={"backend": "ubilling", "url": url, "key": KEY},
        agi={"port": 0},
        ami={"enabled": False},
        http={"enabled": False},
        spool={"dir": folder / "b-spool", "sounds_dir": folder / "b-sounds"},
    )
    async with open_core(settings, clock=clock) as core:
        yield core


async def _a_call(billing: BillingClient) -> None:
    """A call: userstatus&getmoney, then userbynum, getuserdatabylogin, days left."""
    call = await billing.lookup_call("0501110002")
    assert call.result == BillingResult.OK
    info = call.subscriber
    assert info is not None
    assert info.unknown == frozenset()
    assert (info.login, info.name, info.status) == (
        "testuser2",
        "Debtor Dmytro",
        Status.DEBTOR,
    )
    assert (info.balance, info.fee, info.tariff, info.days_left) == (
        Decimal("-50.00"),
        Decimal("100.00"),
        "Test100",
        0,
    )
    assert info.phones == ("+380501110002",)
    named = await billing.lookup_call("+380501110001")
    assert named.subscriber is not None
    assert named.subscriber.name == "Петренко Іван Петрович"  # userbynum: intact
    assert named.subscriber.days_left == 45
    assert (await billing.lookup_call("0509999999")).result == BillingResult.NOTFOUND


async def _lookups(billing: BillingClient) -> None:
    """Lookups that are not calls: getuserdatabymobile / bylogin."""
    found = await billing.find("0501110004")
    assert found.subscriber is not None
    assert (found.subscriber.login, found.subscriber.credit) == (
        "testuser4",
        Decimal("50.00"),
    )
    assert found.subscriber.status == Status.ACTIVE
    frozen = await billing.find("testuser3")
    assert frozen.subscriber is not None
    assert (frozen.subscriber.status, frozen.subscriber.frozen) == (Status.FROZEN, True)
    assert await billing.login_for_money("0501110005") == (
        LoginMatch.FOUND,
        "testuser5",
    )


async def _money_moves(b: Core) -> None:
    """Money moves: journalled at B, sent once, verified by reading back."""
    billing = b.billing
    credit = await billing.set_credit(login="testuser2", source=STAFF)
    assert (credit.result, credit.amount) == (CreditResult.OK, Decimal("100.00"))
    assert credit.expire is not None
    assert credit.expire.isoformat() == "2026-11-27"
    again = await billing.set_credit(login="testuser2", source=STAFF)
    assert again.result == CreditResult.DENIED
    paid = await billing.pay_card("1111222233334444", login="testuser1", source=STAFF)
    assert (paid.result, paid.amount, paid.balance) == (
        PaycardResult.OK,
        Decimal("50.00"),
        Decimal("200.00"),
    )
    used = await billing.pay_card("1111222233334444", login="testuser1", source=STAFF)
    assert used.result == PaycardResult.INVALID
    b_journal = await b.audit.records()
    assert [(r.kind, r.outcome, r.backend) for r in reversed(b_journal)] == [
        ("credit", "ok", "ubilling"),
        ("credit", "denied", "ubilling"),
        ("paycard", "ok", "ubilling"),
        ("paycard", "denied", "ubilling"),
    ]


async def test_pbxbridges_ubilling_backend_works_against_the_face(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with web_rig(database, clock, tmp_path, remoteapi_key=KEY, remoteapi_money=True) as a:
        await reference_billing(a.core)
        server = WebServer(a.core.settings.http, a.app)
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.port}/billing/"
            async with ubilling_client_of(url, tmp_path, clock) as b:
                billing = b.billing
                await billing.check()  # getuserdatabylogin of a login nobody has: []
                await _a_call(billing)
                await _lookups(billing)
                await _money_moves(b)

                # callmeback: a callback request at A
                backend = billing.backend
                assert hasattr(backend, "callmeback")
                await backend.callmeback("0501110003")
        finally:
            await server.stop()
        a_journal = [r for r in await a.core.audit.records() if r.source.startswith("remoteapi")]
        assert sorted((r.login, r.kind, r.outcome) for r in a_journal) == [
            ("testuser1", "paycard", "ok"),
            ("testuser2", "credit", "ok"),
        ]
        [request] = await a.service.callbacks.list_requests()
        assert (request.number, request.status) == ("+380501110003", "queued")
        after = await a.core.billing.by_login("testuser2")
        assert after.subscriber is not None
        assert after.subscriber.status == Status.ACTIVE


async def test_money_off_at_the_face_is_a_refusal_not_a_move_of_unknown_fate(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A's face has money moves off: B's client must read that as "nothing was done" (audit
    `error`), not as an answer it cannot place (audit `unknown` and an alert to staff)."""
    async with web_rig(sqlite_database, clock, tmp_path, remoteapi_key=KEY) as a:
        await reference_billing(a.core)
        server = WebServer(a.core.settings.http, a.app)
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.port}/"
            async with ubilling_client_of(url, tmp_path, clock) as b:
                credit = await b.billing.set_credit(login="testuser2", source=STAFF)
                card = await b.billing.pay_card("1111222233334444", login="testuser1", source=STAFF)
                journal = await b.audit.records()
        finally:
            await server.stop()
    assert credit.result == CreditResult.ERROR
    assert card.result == PaycardResult.ERROR
    assert "http.remoteapi_money" in (credit.error or "")
    assert [(r.kind, r.outcome) for r in reversed(journal)] == [
        ("credit", "error"),
        ("paycard", "error"),
    ]
    assert "fate unknown" not in caplog.text
