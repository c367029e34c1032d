"""A failing Ubilling: the breaker, stale answers, deadlines, check(), and no leaked secrets."""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from decimal import Decimal

import pytest
from pydantic import SecretStr

from billing_client.audit import AuditJournal
from billing_client.breaker import BreakerState, CircuitBreaker
from billing_client.errors import BillingError, BillingUnavailable
from billing_client.outcomes import (
    BillingResult,
    CreditOutcome,
    CreditResult,
    Lookup,
    PaycardOutcome,
    PaycardResult,
)
from billing_client.settings import BillingSettings
from billing_client.ubilling import UbillingBackend
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.billing_client.test_ubilling_backend import CALL, FakeMonotonic, ubilling_rig
from tests.conftest import Database
from tests.fakes.ubilling import SERIAL, Fault

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state now (a call, so the type checker does not pin it down)."""
    return breaker.state


def closed_port_url() -> str:
    """A localhost URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/billing"


# ------------------------------------------------------------------ the breaker


def test_breaker_opens_waits_and_lets_one_trial_through() -> None:
    clock = FakeMonotonic()
    breaker = CircuitBreaker(2, 10.0, monotonic=clock)
    assert breaker.acquire() is False
    breaker.failure()
    assert state(breaker) == BreakerState.CLOSED
    breaker.failure()
    assert state(breaker) == BreakerState.OPEN
    with pytest.raises(BillingUnavailable, match="breaker open"):
        breaker.acquire()
    clock.advance(10.0)
    assert state(breaker) == BreakerState.HALF_OPEN
    assert breaker.acquire() is True  # the one trial
    with pytest.raises(BillingUnavailable, match="trial running"):
        breaker.acquire()
    breaker.failure(trial=True)
    assert state(breaker) == BreakerState.OPEN  # a failed trial: another full wait
    clock.advance(9.9)
    assert state(breaker) == BreakerState.OPEN
    clock.advance(0.1)
    trial = breaker.acquire()
    breaker.success(trial)
    assert state(breaker) == BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


@sqlite_only
async def test_dead_billing_costs_no_request_once_the_breaker_opens(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(status=500))
        lookup = await rig.client.lookup_call("0501110001")  # two requests, two failures
        assert lookup.result == BillingResult.ERROR
        assert state(rig.backend.breaker) == BreakerState.CLOSED
        assert (await rig.client.find("0501110001")).result == BillingResult.ERROR
        assert state(rig.backend.breaker) == BreakerState.OPEN
        seen = len(rig.fake.requests)
        lookup = await rig.client.lookup_call("0501110001")
        assert lookup.result == BillingResult.ERROR
        assert lookup.error is not None
        assert "circuit breaker open" in lookup.error
        assert len(rig.fake.requests) == seen  # refused without a request
        # a money move is not sent either, and the journal says so
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert outcome.result == CreditResult.ERROR
        assert len(rig.fake.requests) == seen
        [row] = await rig.audit_rows()
        assert (row.outcome, row.kind) == ("error", "credit")
        assert row.detail.startswith("not sent")
        # after breaker_reset one trial goes through; the billing is back
        rig.fake.faults.clear()
        rig.monotonic.advance(rig.settings.breaker_reset)
        assert state(rig.backend.breaker) == BreakerState.HALF_OPEN
        assert (await rig.client.find("testuser1")).result == BillingResult.OK
        assert state(rig.backend.breaker) == BreakerState.CLOSED


@sqlite_only
async def test_refused_connection_opens_the_breaker(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock, url=closed_port_url()) as rig:
        for _ in range(3):
            assert (await rig.client.find("testuser1")).result == BillingResult.ERROR
        assert state(rig.backend.breaker) == BreakerState.OPEN
        with pytest.raises(BillingUnavailable, match="circuit breaker open"):
            await rig.backend.lookup_login("testuser1")


@sqlite_only
async def test_lookups_abandoned_at_the_deadline_count_as_failures(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock, lookup_timeout=0.1) as rig:
        rig.fake.add_fault(Fault(delay=0.3, when={"param": "userstatus"}))
        lookup = await rig.client.lookup_call("0501110001")
        assert lookup.result == BillingResult.ERROR
        assert rig.backend.breaker.consecutive_failures >= 1


# ------------------------------------------------------------------ stale answers


@sqlite_only
async def test_stale_answers_while_the_billing_fails(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock, stale_ttl=60.0) as rig:
        live = await rig.client.lookup_call("0501110002")
        assert (live.source, live.result) == ("live", BillingResult.OK)
        rig.fake.add_fault(Fault(status=500))
        stale = await rig.client.lookup_call("0501110002")
        assert (stale.source, stale.result) == ("stale", BillingResult.OK)
        assert stale.subscriber == live.subscriber
        assert stale.error is not None
        rig.monotonic.advance(61.0)
        assert (await rig.client.lookup_call("0501110002")).result == BillingResult.ERROR


@pytest.mark.parametrize("move", ["credit", "paycard"])
async def test_stale_answer_dropped_after_a_money_move(
    database: Database, clock: FixedClock, move: str
) -> None:
    async with ubilling_rig(database, clock, stale_ttl=60.0) as rig:
        number, login = (
            ("0501110002", "testuser2") if move == "credit" else ("0501110001", "testuser1")
        )
        assert (await rig.client.lookup_call(number)).source == "live"
        if move == "credit":
            done = await rig.client.set_credit(login=login, source=CALL)
            assert done.result == CreditResult.OK
        else:
            paid = await rig.client.pay_card("5555666677778888", login=login, source=CALL)
            assert paid.result == PaycardResult.OK
        rig.fake.add_fault(Fault(status=500))
        assert (await rig.client.lookup_call(number)).result == BillingResult.ERROR


# ------------------------------------------------------------------ deadlines


async def test_lookup_deadline_does_not_cut_a_money_move(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock, lookup_timeout=0.1) as rig:
        rig.fake.add_fault(Fault(delay=0.3, when={"param": "userstatus"}))
        assert (await rig.client.lookup_call("0501110002")).result == BillingResult.ERROR
        rig.fake.add_fault(Fault(delay=0.3, when={"param": "setcredit"}))
        outcome = await rig.client.set_credit(login="testuser2", source=CALL)
        assert outcome.result == CreditResult.OK
        assert rig.fake.state.users["testuser2"].credit == Decimal(100)


async def test_money_move_finishes_even_if_its_caller_is_cancelled(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(delay=0.3, when={"param": "setcredit"}))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await rig.client.set_credit(login="testuser2", source=CALL)
        await rig.backend.aclose()  # waits for the move in flight
        [row] = await rig.audit_rows()
        assert (row.outcome, row.after) == ("ok", Decimal(100))


# ------------------------------------------------------------------ check()


@sqlite_only
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("key", "refused the key"),
        ("remoteapi_enabled", "REMOTEAPI_ENABLED=1"),
        ("asterisk_enabled", "ASTERISK_ENABLED=1"),
        ("disabled_calls", "HTML login page"),
        ("stargazer", "Stargazer is not running"),
        ("unreachable", "cannot connect"),
        ("dns", "cannot connect"),
    ],
)
async def test_check_explains_in_one_line(
    database: Database, clock: FixedClock, change: str, words: str
) -> None:
    url = {"unreachable": closed_port_url(), "dns": "http://billing.invalid/"}.get(change)
    key = SERIAL.lower() if change == "key" else SERIAL
    async with ubilling_rig(database, clock, url=url, key=key) as rig:
        if change in {"remoteapi_enabled", "asterisk_enabled"}:
            setattr(rig.fake.config, change, False)
        if change == "disabled_calls":
            rig.fake.config.disabled_calls = frozenset({"asterisk"})
        if change == "stargazer":
            rig.fake.config.nostgcheckpid = False
            rig.fake.stop_stargazer()
        with pytest.raises(BillingError) as caught:
            await rig.client.check()
        assert words in str(caught.value)
        assert "\n" not in str(caught.value)
        assert await rig.client.healthy() is False


@sqlite_only
async def test_check_passes_without_logging_a_call(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        await rig.client.check()
        assert await rig.client.healthy() is True
        assert rig.fake.state.callshist == []


# ------------------------------------------------------------------ secrets


def _texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter()
    texts: list[str] = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), str(record.msg)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        if record.exc_text:
            texts.append(record.exc_text)
    return texts


@sqlite_only
@pytest.mark.parametrize("failure", ["timeout", "http-500", "refused", "dns", "dropped"])
async def test_no_key_or_password_in_logs_or_exceptions(
    database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    caplog.set_level(logging.DEBUG)
    url = {"refused": closed_port_url(), "dns": "http://billing.invalid/"}.get(failure)
    async with ubilling_rig(database, clock, url=url, read_timeout=0.1, breaker_failures=50) as rig:
        # first a healthy round, so passwords pass through the client
        if url is None:
            assert (await rig.client.find("testuser1")).result == BillingResult.OK
            assert (await rig.client.lookup_call("0501110002")).result == BillingResult.OK
            assert (await rig.client.set_credit(login="testuser2", source=CALL)).result == (
                CreditResult.OK
            )
            fault = {
                "timeout": Fault(delay=0.25),
                "http-500": Fault(status=500),
                "dropped": Fault(drop=True),
            }[failure]
            rig.fake.add_fault(fault)
        texts = _texts(caplog)
        outcomes: list[Lookup | CreditOutcome | PaycardOutcome] = [
            await rig.client.lookup_call("0501110001"),
            await rig.client.find("0501110001"),
            await rig.client.find("testuser1"),
            await rig.client.set_credit(login="testuser2", source=CALL),
            await rig.client.pay_card("1111222233334444", login="testuser1", source=CALL),
        ]
        texts += [repr(o) for o in outcomes]
        assert all(o.error for o in outcomes)
        calls = [
            rig.backend.lookup_call("+380501110001"),
            rig.backend.lookup_number("+380501110001"),
            rig.backend.lookup_login("testuser1"),
            rig.backend.login_for_money("+380501110001"),
            rig.backend.check(),
        ]
        for call in calls:
            with pytest.raises(BillingError) as caught:
                await call
            texts += [str(caught.value), repr(caught.value)]
            texts += traceback.format_exception(caught.value)
        texts += [r.detail for r in await rig.audit_rows()]
        texts += _texts(caplog)
        texts.append(repr(rig.backend))
        texts.append(repr(rig.settings))
    assert any("key=***" in t for t in texts)  # URLs were logged, redacted
    for text in texts:
        assert SERIAL not in text
        assert SERIAL[2:] not in text
        assert "pass000" not in text
        assert "1111222233334444" not in text


async def test_transport_errors_drop_the_original_exception(
    database: Database, clock: FixedClock
) -> None:
    """aiohttp's exceptions hold the request (URL and key): none may ride along as a cause."""
    settings = BillingSettings(backend="ubilling", url=closed_port_url(), key=SecretStr(SERIAL))
    backend = UbillingBackend(
        settings, AuditJournal(database.sessions, "ubilling", clock), clock, PhoneNormaliser()
    )
    try:
        with pytest.raises(BillingError) as caught:
            await backend.check()
        text = "".join(traceback.format_exception(caught.value))
        assert SERIAL not in text
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__
    finally:
        await backend.aclose()
