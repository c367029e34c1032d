"""UbillingBackend through the real BillingClient, against the fake Ubilling over HTTP.

Audit rows land in the `database` fixture (SQLite and PostgreSQL). Expected values come
from the reference's §4 test data, written out here, never read back from the fake.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from billing_client.audit import AuditJournal, AuditRecord
from billing_client.breaker import CircuitBreaker
from billing_client.client import BillingClient
from billing_client.outcomes import (
    BillingResult,
    CreditReason,
    CreditResult,
    LoginMatch,
    MoneySource,
    PaycardResult,
)
from billing_client.settings import BillingSettings
from billing_client.stale_cache import StaleCache
from billing_client.subscriber import Status
from billing_client.ubilling import UbillingBackend
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database
from tests.fakes.ubilling import (
    PHP_FATAL_ERROR,
    SERIAL,
    ExtMobile,
    FakeUbilling,
    Fault,
    Payment,
    PhoneRow,
    Tariff,
    User,
)

# Lookups write no audit rows: one database kind is enough for them.
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

CALL = MoneySource(kind="call", number="+380501110002", uniqueid="1795860000.17")


class FakeMonotonic:
    """A monotonic clock the test moves by hand (breaker and stale cache)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Rig:
    fake: FakeUbilling
    settings: BillingSettings
    backend: UbillingBackend
    client: BillingClient
    audit: AuditJournal
    alerts: list[str]
    monotonic: FakeMonotonic

    def sent(self, param: str) -> list[str]:
        """Raw query strings the fake received for one `param=` (or `action=`)."""
        return [q for q in self.fake.requests if f"param={param}&" in q + "&" or
                f"action={param}&" in q + "&"]  # fmt: skip

    async def audit_rows(self, login: str | None = None) -> list[AuditRecord]:
        return await self.audit.records(login)


@contextlib.asynccontextmanager
async def ubilling_rig(
    database: Database,
    clock: FixedClock,
    *,
    url: str | None = None,
    key: str = SERIAL,
    lookup_timeout: float = 2.0,
    **overrides: Any,
) -> AsyncIterator[Rig]:
    """A started fake, and a UbillingBackend + BillingClient pointed at it (or at `url`)."""
    async with FakeUbilling(clock=clock) as fake:
        values: dict[str, Any] = {
            "backend": "ubilling",
            "url": url or fake.url,
            "key": SecretStr(key),
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "money_timeout": 5.0,
            "breaker_failures": 3,
            "breaker_reset": 15.0,
            "stale_ttl": 0.0,
        }
        settings = BillingSettings(**(values | overrides))
        monotonic = FakeMonotonic()
        audit = AuditJournal(database.sessions, "ubilling", clock)
        alerts: list[str] = []

        async def alert(message: str) -> None:
            alerts.append(message)

        phones = PhoneNormaliser()
        breaker = CircuitBreaker(
            settings.breaker_failures, settings.breaker_reset, monotonic=monotonic
        )
        backend = UbillingBackend(settings, audit, clock, phones, alert, breaker=breaker)
        client = BillingClient(
            backend,
            phones,
            lookup_timeout=lookup_timeout,
            stale=StaleCache(settings.stale_ttl, monotonic=monotonic),
            credit_days=settings.credit_days,
            credit_amount=settings.credit_amount,
        )
        try:
            yield Rig(fake, settings, backend, client, audit, alerts, monotonic)
        finally:
            await client.aclose()


# ------------------------------------------------------------------ lookups


@dataclass(frozen=True)
class Expected:
    number: str
    login: str
    name: str
    translit: str
    status: Status
    balance: str
    credit: str
    fee: str
    tariff: str
    frozen: bool
    disabled: bool
    days_left: int


# days_left is Ubilling's getonlinedaysleft on 2026-11-22 (monthly fee charged on the 1st):
# 150 at 100 lasts the 9 days of November and all 31 of December; -1 (below 0) is 0, even
# when a credit covers it; 10 at 100 lasts to the end of November.
SUBSCRIBERS = [
    Expected("+380501110001", "testuser1", "Петренко Іван Петрович", "Petrenko van Petrovych",
             Status.ACTIVE, "150", "0", "100", "Test100", False, False, 40),
    Expected("+380501110002", "testuser2", "Debtor Dmytro", "Debtor Dmytro",
             Status.DEBTOR, "-50", "0", "100", "Test100", False, False, 0),
    Expected("+380501110003", "testuser3", "Frozen Fedir", "Frozen Fedir",
             Status.FROZEN, "200", "0", "200", "Test200", True, False, 40),
    Expected("+380501110004", "testuser4", "Credit Kateryna", "Credit Kateryna",
             Status.ACTIVE, "-20", "50", "200", "Test200", False, False, 0),
    Expected("+380501110005", "testuser5", "Down Denys", "Down Denys",
             Status.FROZEN, "10", "0", "100", "Test100", False, True, 9),
]  # fmt: skip


def _check(info: Any, want: Expected, name: str) -> None:
    assert info.login == want.login
    assert info.name == name
    assert info.status == want.status
    assert info.balance == Decimal(want.balance)
    assert info.credit == Decimal(want.credit)
    assert info.fee == Decimal(want.fee)
    assert info.tariff == want.tariff
    assert (info.frozen, info.disabled) == (want.frozen, want.disabled)
    assert info.days_left == want.days_left
    assert info.phones == (want.number,)
    assert info.unknown == frozenset()


@sqlite_only
@pytest.mark.parametrize("want", SUBSCRIBERS, ids=[s.login for s in SUBSCRIBERS])
async def test_lookup_call_with_userbynum(
    database: Database, clock: FixedClock, want: Expected
) -> None:
    async with ubilling_rig(database, clock) as rig:
        lookup = await rig.client.lookup_call(want.number, uniqueid="1795860000.1")
        assert lookup.result == BillingResult.OK
        assert lookup.source == "live"
        assert lookup.subscriber is not None
        _check(lookup.subscriber, want, want.name)
        national = "0" + want.number[4:]
        assert [(c.number, c.login) for c in rig.fake.state.callshist] == [(national, want.login)]
        status = rig.sent("userstatus")
        assert status == [f"module=remoteapi&key={SERIAL}&action=asterisk&number={national}"
                          "&param=userstatus&getmoney=1&ignorecache=1"]  # fmt: skip
        assert len(rig.sent("userbynum")) == 1
        for param in ("getuserdatabylogin", "getonlinedaysleft"):  # fresh, by login
            assert rig.sent(param) == [
                f"module=remoteapi&key={SERIAL}&action=asterisk&param={param}&login={want.login}"
            ]


@sqlite_only
@pytest.mark.parametrize("want", SUBSCRIBERS, ids=[s.login for s in SUBSCRIBERS])
async def test_lookup_call_with_realname(
    database: Database, clock: FixedClock, want: Expected
) -> None:
    async with ubilling_rig(database, clock, use_userbynum=False) as rig:
        lookup = await rig.client.lookup_call(want.number)
        assert lookup.subscriber is not None
        _check(lookup.subscriber, want, want.translit)
        assert rig.sent("userbynum") == []
        # userstatus logs the call; realname runs Ubilling's default branch, which logs too
        assert [c.login for c in rig.fake.state.callshist] == [want.login, want.login]


@sqlite_only
async def test_lookup_call_asks_status_and_name_at_once(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(delay=0.1, when={"param": "userstatus"}))
        rig.fake.add_fault(Fault(delay=0.1, when={"action": "userbynum"}))
        assert (await rig.client.lookup_call("0501110001")).result == BillingResult.OK
        assert rig.fake.max_in_flight == 2


@sqlite_only
async def test_lookup_call_every_time_never_cached(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        first = await rig.client.lookup_call("0501110001")
        rig.fake.state.users["testuser1"].cash = Decimal("-500")
        second = await rig.client.lookup_call("0501110001")
        assert first.subscriber is not None
        assert second.subscriber is not None
        assert first.subscriber.status == Status.ACTIVE
        assert (second.subscriber.status, second.subscriber.balance) == (
            Status.DEBTOR,
            Decimal("-500.00"),
        )
        assert len(rig.sent("userstatus")) == 2
        assert len(rig.fake.calls_for("testuser1")) == 2


@sqlite_only
async def test_lookup_call_unknown_number(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        lookup = await rig.client.lookup_call("0509999999")
        assert lookup.result == BillingResult.NOTFOUND
        assert [(c.number, c.login) for c in rig.fake.state.callshist] == [("0509999999", "")]


@sqlite_only
async def test_lookup_call_survives_userbynum_disabled(
    database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.config.userbynum_enabled = False
        lookup = await rig.client.lookup_call("0501110002")
        assert lookup.subscriber is not None
        assert (lookup.subscriber.status, lookup.subscriber.balance) == (
            Status.DEBTOR,
            Decimal("-50.00"),
        )
        assert lookup.subscriber.name == ""
        assert "USERBYNUM_ENABLED=1" in caplog.text


@sqlite_only
@pytest.mark.parametrize("use_userbynum", [True, False])
async def test_lookups_that_are_not_calls_log_nothing(
    database: Database, clock: FixedClock, use_userbynum: bool
) -> None:
    async with ubilling_rig(database, clock, use_userbynum=use_userbynum) as rig:
        for want in SUBSCRIBERS:
            name = want.name if use_userbynum else ""
            by_number = await rig.client.find(want.number)
            assert by_number.subscriber is not None
            _check(by_number.subscriber, want, name)
            by_login = await rig.client.find(want.login)
            assert by_login.subscriber is not None
            _check(by_login.subscriber, want, name)
        assert (await rig.client.find("0509999999")).result == BillingResult.NOTFOUND
        assert (await rig.client.find("nosuchuser")).result == BillingResult.NOTFOUND
        assert rig.fake.state.callshist == []
        assert rig.sent("userstatus") == rig.sent("realname") == []


@sqlite_only
async def test_credit_expiry_read_as_local_date(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.state.users["testuser2"].credit = Decimal(100)
        rig.fake.state.users["testuser2"].credit_expire = 1795730400  # 2026-11-27 00:00 Kyiv
        lookup = await rig.client.find("testuser2")
        assert lookup.subscriber is not None
        assert lookup.subscriber.credit_expire == date(2026, 11, 27)
        assert lookup.subscriber.status == Status.ACTIVE


@sqlite_only
async def test_login_for_money(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        assert await rig.client.login_for_money("0501110004") == (LoginMatch.FOUND, "testuser4")
        assert await rig.client.login_for_money("0509999999") == (LoginMatch.NOTFOUND, None)
        rig.fake.state.mobileext.append(ExtMobile(1, "testuser2", "0501110001", ""))
        assert await rig.client.login_for_money("0501110001") == (LoginMatch.AMBIGUOUS, None)
        outcome = await rig.client.set_credit(number="0501110001", source=CALL)
        assert (outcome.result, outcome.reason) == (
            CreditResult.DENIED,
            CreditReason.AMBIGUOUS_NUMBER,
        )
        assert rig.sent("setcredit") == []
        assert rig.sent("getuserdatabylogin") == []


# ------------------------------------------------------------------ setcredit


def _month_limit(fake: FakeUbilling) -> None:
    fake.config.sc_check_enabled = True
    fake.state.zbssclog.append(("2026-11-03 10:00:00", "testuser2"))


def _last_payment_was_a_credit_fee(fake: FakeUbilling) -> None:
    fake.config.sc_check_enabled = True
    fake.state.payments.append(
        Payment(
            "testuser2", "2026-11-01 00:00:00", "external", Decimal(0), Decimal(0), "1", "SCFEE"
        )
    )


def _tariff_not_allowed(fake: FakeUbilling) -> None:
    fake.config.sc_check_enabled = True
    fake.config.sc_tariffs_allowed = "Test200,Gold"


def _vanishes(login: str, param: str) -> Callable[[FakeUbilling], object]:
    """The login is deleted in Ubilling between pbxbridge's read and its money move."""

    def setup(fake: FakeUbilling) -> object:
        return fake.add_fault(
            Fault(when={"param": param}, before=lambda f: f.state.users.pop(login))
        )

    return setup


@pytest.mark.parametrize(
    ("login", "amount", "setup", "result", "reason", "sentence"),
    [
        ("testuser1", None, None, CreditResult.DENIED, CreditReason.NOT_NEEDED,
         "ASTERISK CREDIT NOT SET: CASH > 0 OR NOT SET"),
        ("testuser2", Decimal(10), None, CreditResult.DENIED, CreditReason.DEBT_TOO_LARGE,
         "ASTERISK CREDIT NOT AVAILABLE: BALANCE LOWER THAN CREDIT LIMIT"),
        ("testuser2", None, _month_limit, CreditResult.DENIED, CreditReason.MONTH_LIMIT,
         "ASTERISK CREDIT NOT AVAILABLE: ALREADY TOOK"),
        ("testuser2", None, _last_payment_was_a_credit_fee, CreditResult.DENIED,
         CreditReason.NOT_ALLOWED,
         "ASTERISK CREDIT NOT AVAILABLE: NOT PAYED PREVIOUSLY"),
        ("testuser2", None, _tariff_not_allowed, CreditResult.DENIED, CreditReason.NOT_ALLOWED,
         "ASTERISK CREDIT NOT AVAILABLE: NOT ALLOWED FOR TARIFF"),
        ("testuser2", None, _vanishes("testuser2", "setcredit"), CreditResult.NOTFOUND, None,
         "ASTERISK CREDIT NOT SET: EMPTY USERDATA"),
    ],
    ids=["not-needed", "debt-too-large", "month-limit", "not-payed-previously",
         "not-allowed-for-tariff", "empty-userdata"],
)  # fmt: skip
async def test_setcredit_refusals(
    *,
    database: Database,
    clock: FixedClock,
    login: str,
    amount: Decimal | None,
    setup: Any,
    result: CreditResult,
    reason: CreditReason | None,
    sentence: str,
) -> None:
    async with ubilling_rig(database, clock) as rig:
        if setup is not None:
            setup(rig.fake)
        outcome = await rig.client.set_credit(login=login, amount=amount, source=CALL)
        assert (outcome.result, outcome.reason) == (result, reason)
        assert len(rig.sent("setcredit")) == 1
        [row] = await rig.audit_rows()
        assert (row.login, row.kind, row.field, row.outcome) == (
            login,
            "credit",
            "credit",
            "denied",
        )
        assert row.detail == sentence
        assert row.source == CALL.describe()
        assert rig.alerts == []


async def test_setcredit_ok_is_verified(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        outcome = await rig.client.set_credit(number="+380501110002", source=CALL)
        assert outcome.result == CreditResult.OK
        assert outcome.amount == Decimal("100.00")  # the tariff fee: no amount configured
        assert outcome.expire == date(2026, 11, 27)  # what Ubilling stored: 1795730400
        assert outcome.login == "testuser2"
        assert rig.sent("setcredit") == [
            f"module=remoteapi&key={SERIAL}&action=asterisk&param=setcredit&login=testuser2"
            "&money=100&expiredays=5"
        ]
        user = rig.fake.state.users["testuser2"]
        assert (user.credit, user.credit_expire) == (Decimal(100), 1795730400)
        [row] = await rig.audit_rows("testuser2")
        assert (row.outcome, row.amount, row.before, row.after) == (
            "ok",
            Decimal("100.00"),
            Decimal("0.00"),
            Decimal("100.00"),
        )
        assert row.detail == "until 2026-11-27"
        # a second credit while this one runs: Ubilling refuses it
        again = await rig.client.set_credit(login="testuser2", source=CALL)
        assert (again.result, again.reason) == (CreditResult.DENIED, CreditReason.ALREADY_IN_CREDIT)
        rows = await rig.audit_rows("testuser2")
        assert [r.outcome for r in rows] == ["denied", "ok"]
        assert rows[0].detail == "ASTERISK CREDIT NOT AVAILABLE: CREDIT IS CURRENTLY ACTIVE"


async def test_setcredit_configured_amount(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock, credit_amount=Decimal("60.50")) as rig:
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert (outcome.result, outcome.amount) == (CreditResult.OK, Decimal("60.50"))
        assert rig.sent("setcredit")[0].endswith("&money=60.5&expiredays=5")


@pytest.mark.parametrize("login", ["testuser3", "testuser5"])
async def test_setcredit_frozen_is_refused_before_asking(
    database: Database, clock: FixedClock, login: str
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.state.users[login].cash = Decimal(-10)
        outcome = await rig.client.set_credit(login=login, source=CALL)
        assert (outcome.result, outcome.reason) == (CreditResult.DENIED, CreditReason.FROZEN)
        assert rig.sent("setcredit") == []
        assert await rig.audit_rows() == []


async def test_setcredit_unknown_login(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        outcome = await rig.client.set_credit(login="nosuchuser", source=CALL)
        assert outcome.result == CreditResult.NOTFOUND
        assert rig.sent("setcredit") == []
        outcome = await rig.client.set_credit(number="0509999999", source=CALL)
        assert outcome.result == CreditResult.NOTFOUND


async def test_setcredit_with_stargazer_down_is_an_error(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.stop_stargazer()
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert outcome.result == CreditResult.ERROR
        assert outcome.error is not None
        assert "nothing changed" in outcome.error
        assert "Stargazer" in outcome.error
        assert len(rig.alerts) == 1
        assert "testuser2" in rig.alerts[0]
        [row] = await rig.audit_rows()
        assert (row.outcome, row.before, row.after) == ("unverified", Decimal(0), Decimal(0))
        # Ubilling itself believed it: its log says the credit was changed
        assert any("ASTERISK CHANGE Credit (testuser2)" in w for w in rig.fake.state.weblogs)


async def test_setcredit_without_verification(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock, verify_money_moves=False) as rig:
        rig.fake.stop_stargazer()
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert (outcome.result, outcome.amount, outcome.expire) == (
            CreditResult.OK,
            Decimal("100.00"),
            date(2026, 11, 27),
        )
        assert len(rig.sent("getuserdatabylogin")) == 1  # the read before, none after
        [row] = await rig.audit_rows()
        assert row.outcome == "ok"


@pytest.mark.parametrize(
    ("fault", "outcome", "words"),
    [
        (Fault(body="", when={"param": "setcredit"}), "error", "empty body"),
        (Fault(body="ERROR:API_DISABLED", when={"param": "setcredit"}), "error", "REMOTEAPI"),
        (Fault(body="<!DOCTYPE html><html><head><title>Ubilling</title></head></html>",
               when={"param": "setcredit"}), "error", "HTML login page"),
        (Fault(body="ASTERISK CREDIT MAYBE", when={"param": "setcredit"}), "unknown",
         "fate unknown"),
        (Fault(status=500, when={"param": "setcredit"}), "unknown", "fate unknown"),
        (Fault(drop=True, when={"param": "setcredit"}), "unknown", "fate unknown"),
        (Fault(body=PHP_FATAL_ERROR, when={"param": "setcredit"}), "unknown", "PHP error"),
    ],
    ids=["empty", "api-disabled", "html-page", "odd-sentence", "http-500", "dropped",
         "php-error"],
)  # fmt: skip
async def test_setcredit_odd_answers(
    database: Database, clock: FixedClock, fault: Fault, outcome: str, words: str
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(fault)
        result = await rig.client.set_credit(login="testuser2", source=CALL)
        assert result.result == CreditResult.ERROR
        assert result.error is not None
        assert words in result.error
        assert len(rig.sent("setcredit")) == 1  # never retried, not even by aiohttp
        [row] = await rig.audit_rows()
        assert row.outcome == outcome
        assert len(rig.alerts) == (outcome == "unknown")  # staff must check those


async def test_setcredit_success_that_cannot_be_read_back(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        broken_read = Fault(status=500, when={"param": "getuserdatabylogin"})
        rig.fake.add_fault(
            Fault(when={"param": "setcredit"}, before=lambda f: f.add_fault(broken_read))
        )
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert outcome.result == CreditResult.ERROR
        assert outcome.error is not None
        assert "reading it back failed" in outcome.error
        assert rig.fake.state.users["testuser2"].credit == Decimal(100)  # it did happen
        [row] = await rig.audit_rows()
        assert (row.outcome, row.before, row.after) == ("unverified", Decimal(0), None)


async def test_money_move_fate_unknown_after_money_timeout(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock, money_timeout=0.2) as rig:
        rig.fake.add_fault(Fault(delay=0.4, when={"param": "setcredit"}))
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert outcome.result == CreditResult.ERROR
        assert outcome.error is not None
        assert "fate unknown" in outcome.error
        [row] = await rig.audit_rows()
        assert row.outcome == "unknown"
        assert len(rig.sent("setcredit")) == 1
        assert len(rig.alerts) == 1


async def test_money_move_not_sent_when_the_pre_read_fails(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock, key="UB00000000000000000000000000000000") as rig:
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert outcome.result == CreditResult.ERROR
        assert outcome.error is not None
        assert "refused the key" in outcome.error
        [row] = await rig.audit_rows()
        assert row.outcome == "error"
        assert row.detail.startswith("not sent")
        assert rig.fake.state.weblogs == []


# ------------------------------------------------------------------ paycardpay


@pytest.mark.parametrize(
    ("card", "setup", "result", "sentence"),
    [
        ("0000000000000000", None, PaycardResult.INVALID, "ASTERISK PAYCARD NOT EXISTS"),
        ("9999000011112222", None, PaycardResult.INVALID, "ASTERISK PAYCARD NOT EXISTS"),
        ("1111222233334444",
         lambda f: setattr(f.state.cards["1111222233334444"], "used", 1),
         PaycardResult.INVALID, "ASTERISK PAYCARD NOT EXISTS"),
        ("1111222233334444", _vanishes("testuser1", "paycardpay"), PaycardResult.NOTFOUND,
         "ASTERISK PAYCARD PAYMENT UNSUCCESSFUL: EMPTY USERDATA"),
    ],
    ids=["unknown-card", "inactive-card", "used-card", "empty-userdata"],
)  # fmt: skip
async def test_paycard_refusals(
    *,
    database: Database,
    clock: FixedClock,
    card: str,
    setup: Any,
    result: PaycardResult,
    sentence: str,
) -> None:
    async with ubilling_rig(database, clock) as rig:
        if setup is not None:
            setup(rig.fake)
        outcome = await rig.client.pay_card(card, login="testuser1", source=CALL)
        assert (outcome.result, outcome.login) == (result, "testuser1")
        [row] = await rig.audit_rows()
        assert (row.kind, row.field, row.outcome) == ("paycard", "balance", "denied")
        assert row.detail == f"{sentence} (card …{card[-4:]})"
        assert card not in row.detail


async def test_paycard_empty_number_sentence(database: Database, clock: FixedClock) -> None:
    """BillingClient refuses an empty card itself; the backend maps Ubilling's sentence too."""
    async with ubilling_rig(database, clock) as rig:
        assert (await rig.client.pay_card("", login="testuser1", source=CALL)).result == (
            PaycardResult.INVALID
        )
        assert rig.sent("paycardpay") == []
        outcome = await rig.backend.pay_card("testuser1", "", source=CALL)
        assert outcome.result == PaycardResult.INVALID
        [row] = await rig.audit_rows()
        assert row.detail.startswith("ASTERISK PAYCARD NUMBER IS EMPTY")


async def test_paycard_ok_is_verified(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        outcome = await rig.client.pay_card("1111-2222-3333-4444", number="0501110001", source=CALL)
        assert (outcome.result, outcome.amount, outcome.balance, outcome.login) == (
            PaycardResult.OK,
            Decimal("50.00"),
            Decimal("200.00"),
            "testuser1",
        )
        assert rig.sent("paycardpay") == [
            f"module=remoteapi&key={SERIAL}&action=asterisk&param=paycardpay&login=testuser1"
            "&paycardnum=1111222233334444"
        ]
        [row] = await rig.audit_rows()
        assert (row.outcome, row.before, row.after) == ("ok", Decimal(150), Decimal(200))
        assert "1111222233334444" not in row.detail
        again = await rig.client.pay_card("1111222233334444", login="testuser1", source=CALL)
        assert again.result == PaycardResult.INVALID


async def test_paycard_with_stargazer_down_is_an_error(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.stop_stargazer()
        outcome = await rig.client.pay_card("1111222233334444", login="testuser1", source=CALL)
        assert outcome.result == PaycardResult.ERROR
        assert outcome.error is not None
        assert "nothing changed" in outcome.error
        assert len(rig.alerts) == 1
        [row] = await rig.audit_rows()
        assert (row.outcome, row.before, row.after) == ("unverified", Decimal(150), Decimal(150))
        # …while Ubilling did burn the card (reference §5b)
        card = rig.fake.state.cards["1111222233334444"]
        assert (card.used, card.usedlogin) == (1, "testuser1")


# ------------------------------------------------------------------ Ubilling's caches (issue 9)
#
# The fake keeps Ubilling's caches as it ships (PBXUSERDATA an hour, userbynum's users data a
# day): every answer below must still be Ubilling's state at the moment of the call.


async def test_after_a_self_service_credit_the_next_call_says_active(
    database: Database, clock: FixedClock
) -> None:
    """Field report: the call after a credit still said debtor (userstatus from its cache)."""
    async with ubilling_rig(database, clock) as rig:
        before = await rig.client.lookup_call("+380501110002")
        assert before.subscriber is not None
        assert (before.subscriber.status, before.subscriber.credit) == (Status.DEBTOR, Decimal(0))
        credit = await rig.client.set_credit(number="+380501110002", source=CALL)
        assert credit.result == CreditResult.OK
        after = await rig.client.lookup_call("+380501110002")
        assert after.subscriber is not None
        assert (after.subscriber.status, after.subscriber.balance, after.subscriber.credit) == (
            Status.ACTIVE,
            Decimal("-50.00"),
            Decimal("100.00"),
        )
        assert after.subscriber.credit_expire == date(2026, 11, 27)
        assert after.subscriber.unknown == frozenset()


async def test_after_a_pay_card_the_balance_is_the_new_one(
    database: Database, clock: FixedClock
) -> None:
    """Field report: after a 50 pay card the balance said 150 while Ubilling held 200."""
    async with ubilling_rig(database, clock) as rig:
        before = await rig.client.lookup_call("0501110001")
        assert before.subscriber is not None
        assert before.subscriber.balance == Decimal("150.00")
        paid = await rig.client.pay_card("1111222233334444", number="0501110001", source=CALL)
        assert (paid.result, paid.balance) == (PaycardResult.OK, Decimal("200.00"))
        after = await rig.client.lookup_call("0501110001")
        assert after.subscriber is not None
        assert (after.subscriber.balance, after.subscriber.days_left) == (Decimal("200.00"), 71)


@sqlite_only
async def test_tariff_and_credit_changes_show_although_userbynum_is_a_day_old(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        first = await rig.client.lookup_call("0501110001")
        assert first.subscriber is not None
        assert (first.subscriber.tariff, first.subscriber.credit) == ("Test100", Decimal(0))
        user = rig.fake.state.users["testuser1"]  # changed by staff / Stargazer, no cache drop
        user.tariff, user.credit, user.passive = "Test200", Decimal(30), 1
        clock.instant += timedelta(hours=23)
        warm = rig.fake.respond(
            {"module": "remoteapi", "key": SERIAL, "action": "userbynum", "number": "0501110001"}
        ).body
        assert '"Tariff":"Test100"' in warm  # userbynum still answers from its day cache
        second = await rig.client.lookup_call("0501110001")
        assert second.subscriber is not None
        assert (
            second.subscriber.status,
            second.subscriber.tariff,
            second.subscriber.fee,
            second.subscriber.credit,
            second.subscriber.frozen,
            second.subscriber.days_left,
        ) == (Status.FROZEN, "Test200", Decimal("200.00"), Decimal("30.00"), True, 8)
        assert second.subscriber.name == "Петренко Іван Петрович"


@sqlite_only
@pytest.mark.parametrize(
    ("login", "tariff", "days"),
    [("testuser2", "Test100", 0), ("testuser1", "Free", None), ("testuser5", "Test100", 9)],
    ids=["debt-is-0", "free-tariff-has-no-end", "to-the-end-of-the-month"],
)
async def test_days_left_is_ubillings_own_count(
    database: Database, clock: FixedClock, login: str, tariff: str, days: int | None
) -> None:
    """getonlinedaysleft asked with login=: -1 (a debt) becomes 0; -2 (free tariff) no end."""
    async with ubilling_rig(database, clock) as rig:
        rig.fake.state.tariffs["Free"] = Tariff("Free", Decimal(0))
        rig.fake.state.users[login].tariff = tariff
        user = rig.fake.state.users[login]
        number = next(p.mobile for p in rig.fake.state.phones if p.login == user.login)
        call = await rig.client.lookup_call(number)
        found = await rig.client.find(login)
        for lookup in (call, found):
            assert lookup.subscriber is not None
            assert lookup.subscriber.days_left == days
            assert lookup.subscriber.known("days_left")
        assert (
            rig.sent("getonlinedaysleft")
            == [
                f"module=remoteapi&key={SERIAL}&action=asterisk&param=getonlinedaysleft&login={login}"
            ]
            * 2
        )


@sqlite_only
async def test_the_details_of_a_call_are_asked_at_once(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(delay=0.4, when={"param": "userstatus"}))
        rig.fake.add_fault(Fault(delay=0.15, when={"param": "getuserdatabylogin"}))
        rig.fake.add_fault(Fault(delay=0.15, when={"param": "getonlinedaysleft"}))
        lookup = await rig.client.lookup_call("0501110001")
        assert lookup.subscriber is not None
        assert lookup.subscriber.unknown == frozenset()
        # userstatus, then the record and the days while userstatus is still out
        assert rig.fake.max_in_flight == 3


@sqlite_only
@pytest.mark.parametrize(
    ("fault", "unknown"),
    [
        (Fault(status=500, when={"param": "getuserdatabylogin"}),
         {"credit", "credit_expire", "tariff", "frozen", "disabled", "phones"}),
        (Fault(body="ERROR: MISTAKE PARAMETR", when={"param": "getonlinedaysleft"}),
         {"days_left"}),
        (Fault(body="ERROR: USERBYNUM DISABLED", when={"action": "userbynum"}),
         {"login", "name", "credit", "credit_expire", "tariff", "frozen", "disabled", "phones",
          "days_left"}),
        (Fault(body='{"result":0}', when={"action": "userbynum"}),
         {"login", "name", "credit", "credit_expire", "tariff", "frozen", "disabled", "phones",
          "days_left"}),
    ],
    ids=["record-fails", "days-fail", "userbynum-disabled", "userbynum-knows-no-one"],
)  # fmt: skip
async def test_failed_details_leave_the_status_as_ubilling_said_it(
    database: Database,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    unknown: set[str],
) -> None:
    async with ubilling_rig(database, clock, breaker_failures=50) as rig:
        rig.fake.add_fault(fault)
        lookup = await rig.client.lookup_call("0501110002")
        assert (lookup.result, lookup.source) == (BillingResult.OK, "live")
        info = lookup.subscriber
        assert info is not None
        assert (info.status, info.balance, info.fee) == (Status.DEBTOR, Decimal(-50), Decimal(100))
        assert info.unknown == unknown
        assert info.known("login") == (info.login == "testuser2")
        assert "details for +380501110002 incomplete" in caplog.text


@sqlite_only
@pytest.mark.parametrize(
    ("slow", "unknown"),
    [
        ({"action": "userbynum"},
         {"login", "name", "credit", "credit_expire", "tariff", "frozen", "disabled", "phones",
          "days_left"}),
        ({"param": "getuserdatabylogin"},
         {"credit", "credit_expire", "tariff", "frozen", "disabled", "phones"}),
    ],
    ids=["owner-slow", "record-slow"],
)  # fmt: skip
async def test_details_cut_off_at_the_deadline_leave_the_status(
    database: Database, clock: FixedClock, slow: dict[str, str], unknown: set[str]
) -> None:
    async with ubilling_rig(database, clock, lookup_timeout=1.0) as rig:
        rig.fake.add_fault(Fault(delay=5.0, when=slow))
        loop = asyncio.get_running_loop()
        started = loop.time()
        lookup = await rig.client.lookup_call("0501110002")
        took = loop.time() - started
        assert (lookup.result, lookup.source) == (BillingResult.OK, "live")
        assert lookup.subscriber is not None
        assert (lookup.subscriber.status, lookup.subscriber.balance) == (
            Status.DEBTOR,
            Decimal("-50.00"),
        )
        assert lookup.subscriber.unknown == unknown
        assert took < 1.0


@sqlite_only
async def test_a_slow_status_is_still_an_error(database: Database, clock: FixedClock) -> None:
    """Only details may be left out: without userstatus there is no answer."""
    async with ubilling_rig(database, clock, lookup_timeout=0.5) as rig:
        rig.fake.add_fault(Fault(delay=2.0, when={"param": "userstatus"}))
        lookup = await rig.client.lookup_call("0501110002")
        assert lookup.result == BillingResult.ERROR


@sqlite_only
async def test_details_of_another_subscriber_are_left_out(
    database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """realname matches the last 10 stored characters, userstatus the digits: when they name
    different subscribers, the status stands and nobody else's details are shown."""
    async with ubilling_rig(database, clock, use_userbynum=False) as rig:
        rig.fake.state.users["later"] = User(
            "later", "secret", Decimal(5), "Test100", "Later", "19999", "172.16.9.9"
        )
        rig.fake.state.phones.append(PhoneRow("later", "", "050-111-00-02"))
        lookup = await rig.client.lookup_call("0501110002")
        info = lookup.subscriber
        assert info is not None
        assert (info.status, info.balance) == (Status.ACTIVE, Decimal("5.00"))  # later's
        assert "login" in info.unknown
        assert info.login == ""  # not testuser2, whom realname named
        assert "disagree with userstatus" in caplog.text


@sqlite_only
async def test_lookups_that_are_not_calls_answer_without_days_when_they_fail(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(status=500, when={"param": "getonlinedaysleft"}))
        for who in ("0501110001", "testuser1"):
            lookup = await rig.client.find(who)
            assert lookup.subscriber is not None
            assert (lookup.subscriber.balance, lookup.subscriber.tariff) == (
                Decimal(150),
                "Test100",
            )
            assert lookup.subscriber.days_left is None
            assert lookup.subscriber.unknown == {"days_left"}
