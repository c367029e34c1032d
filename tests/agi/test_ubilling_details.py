"""The IVR on the Ubilling backend: fresh answers, details left unset, no password anywhere.

Real server and wiring (`route_rig`), the fake Asterisk, and the fake Ubilling with its
caches on as Ubilling ships them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import parse_qs

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection

from primitives.clock import FixedClock
from tests.agi.routes_rig import route_rig
from tests.conftest import Database
from tests.fakes.agi_asterisk import FakeCall
from tests.fakes.ubilling import SERIAL, FakeUbilling, Fault

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

DETAILS = {"SUBSCRIBER_NAME", "SUBSCRIBER_CREDIT", "SUBSCRIBER_TARIFF", "SUBSCRIBER_DAYS_LEFT"}


def ubilling(url: str, **extra: object) -> dict[str, object]:
    return {"backend": "ubilling", "url": url, "key": SERIAL, "breaker_failures": 50, **extra}


async def test_the_call_after_a_credit_or_a_pay_card_hears_the_new_state(
    database: Database, clock: FixedClock
) -> None:
    """Both field reports through the IVR: userstatus, money move, userstatus again."""
    async with (
        FakeUbilling(clock=clock) as fake,
        route_rig(database.url, clock, billing=ubilling(fake.url)) as rig,
    ):
        debtor = await rig.call("userstatus", callerid="0501110002")
        credit = await rig.call("setcredit", callerid="0501110002")
        covered = await rig.call("userstatus", callerid="0501110002")
        before = await rig.call("userstatus", callerid="0501110001")
        card = await rig.call("paycardpay?card=1111222233334444", callerid="0501110001")
        after = await rig.call("userstatus", callerid="0501110001")
    assert debtor.set_variables["SUBSCRIBER_STATUS"] == "2"
    assert credit.set_variables["CREDIT_RESULT"] == "OK"
    assert (
        covered.set_variables["SUBSCRIBER_STATUS"],
        covered.set_variables["SUBSCRIBER_CREDIT"],
    ) == (
        "1",
        "100.00",
    )
    assert before.set_variables["SUBSCRIBER_BALANCE"] == "150.00"
    assert card.set_variables["PAYCARD_RESULT"] == "OK"
    assert (
        after.set_variables["SUBSCRIBER_BALANCE"],
        after.set_variables["SUBSCRIBER_DAYS_LEFT"],
    ) == (
        "200.00",
        "71",  # Ubilling's getonlinedaysleft: 200 at 100 a month from 22 November
    )


@sqlite_only
async def test_failed_details_are_left_unset(database: Database, clock: FixedClock) -> None:
    async with FakeUbilling(clock=clock) as fake:
        fake.add_fault(Fault(status=500, when={"param": "getuserdatabylogin"}))
        fake.add_fault(Fault(body="", when={"param": "getonlinedaysleft"}))
        async with route_rig(database.url, clock, billing=ubilling(fake.url)) as rig:
            call = await rig.call("userstatus", callerid="0501110002")
    assert call.set_variables == {
        "SUBSCRIBER_STATUS": "2",
        "SUBSCRIBER_LOGIN": "testuser2",
        "BILLING_RESULT": "OK",
        "BILLING_SOURCE": "live",
        "SUBSCRIBER_NAME": "Debtor Dmytro",
        "SUBSCRIBER_BALANCE": "-50.00",
        "SUBSCRIBER_FEE": "100.00",
    }


@sqlite_only
async def test_details_missing_the_deadline_are_left_unset(
    database: Database, clock: FixedClock
) -> None:
    async with FakeUbilling(clock=clock) as fake:
        fake.add_fault(Fault(delay=5.0, when={"action": "userbynum"}))
        async with route_rig(
            database.url, clock, agi={"lookup_timeout": 1.0}, billing=ubilling(fake.url)
        ) as rig:
            status = await rig.call("userstatus", callerid="0501110002")
            name = await rig.call("realname?set_callerid=1", callerid="0501110002")
    assert status.set_variables["SUBSCRIBER_STATUS"] == "2"
    assert (status.set_variables["BILLING_RESULT"], status.set_variables["BILLING_SOURCE"]) == (
        "OK",
        "live",
    )
    assert status.set_variables["SUBSCRIBER_BALANCE"] == "-50.00"
    assert DETAILS.isdisjoint(status.set_variables)
    assert name.set_variables["SUBSCRIBER_STATUS"] == "2"
    assert "SUBSCRIBER_NAME" not in name.set_variables
    assert "CALLERID(name)" not in name.set_variables


# ------------------------------------------------------------------ what each route asks


def asked(fake: FakeUbilling) -> list[tuple[str, dict[str, str]]]:
    """Each request the fake got: (action, its query without the key)."""
    out = []
    for raw in fake.requests:
        query = {k: v[-1] for k, v in parse_qs(raw).items() if k not in {"key", "module"}}
        out.append((query.pop("action", ""), query))
    return out


@sqlite_only
async def test_askozianum_asks_ubilling_once_and_logs_what_it_knows(
    database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """askozianum sets the status only: one `userstatus` (which logs the call in Ubilling's
    history), no detail request. The login is then not known: SUBSCRIBER_LOGIN is empty
    and the log line says `login ?`."""
    caplog.set_level(logging.INFO, logger="pbxbridge")
    async with FakeUbilling(clock=clock) as fake:
        async with route_rig(database.url, clock, billing=ubilling(fake.url)) as rig:
            fake.requests.clear()
            call = await rig.call("askozianum", callerid="0501110002")
            unknown = await rig.call("askozianum", callerid="0509999999")
        assert asked(fake) == [
            ("asterisk", {"number": n, "param": "userstatus", "getmoney": "1", "ignorecache": "1"})
            for n in ("0501110002", "0509999999")
        ]
        assert [c.login for c in fake.state.callshist] == ["testuser2", ""]
    assert call.set_variables == {
        "SUBSCRIBER_STATUS": "2",
        "SUBSCRIBER_LOGIN": "",
        "BILLING_RESULT": "OK",
        "BILLING_SOURCE": "live",
    }
    assert unknown.set_variables["BILLING_RESULT"] == "NOTFOUND"
    lines = [r.getMessage() for r in caplog.records if " askozianum: " in r.getMessage()]
    assert [line.split(": ", 1)[1] for line in lines] == [
        "number '0501110002' -> OK status 2 login ? (live)",
        "number '0509999999' -> NOTFOUND status 0 login - (live)",
    ]
    assert not any("incomplete" in r.getMessage() for r in caplog.records)


@sqlite_only
@pytest.mark.parametrize("route", ["userstatus", "realname"])
async def test_userstatus_and_realname_ask_for_the_details(
    database: Database, clock: FixedClock, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pbxbridge")
    async with FakeUbilling(clock=clock) as fake:
        async with route_rig(database.url, clock, billing=ubilling(fake.url)) as rig:
            fake.requests.clear()
            call = await rig.call(route, callerid="0501110002")
        requests = asked(fake)
    assert requests[0] == (
        "asterisk",
        {"number": "0501110002", "param": "userstatus", "getmoney": "1", "ignorecache": "1"},
    )  # sent first, the details concurrently
    assert sorted((a, q.get("param", "")) for a, q in requests[1:]) == [
        ("asterisk", "getonlinedaysleft"),
        ("asterisk", "getuserdatabylogin"),
        ("userbynum", ""),
    ]
    assert call.set_variables["SUBSCRIBER_LOGIN"] == "testuser2"
    assert call.set_variables["SUBSCRIBER_NAME"] == "Debtor Dmytro"
    assert f"{route}: number '0501110002' -> OK status 2 login testuser2 (live)" in caplog.text


# ------------------------------------------------------------------ the subscriber's password


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter()
    texts: list[str] = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
    return texts


async def _all_rows(database: Database) -> list[str]:
    """Every row of every table pbxbridge created, as text."""
    tables = MetaData()

    def reflect(conn: Connection) -> None:
        tables.reflect(conn)

    rows: list[str] = []
    async with database.engine.connect() as conn:
        await conn.run_sync(reflect)
        for table in tables.sorted_tables:
            rows += [f"{table.name}: {row!r}" for row in await conn.execute(select(table))]
    return rows


def _channel_texts(calls: Iterable[FakeCall]) -> list[str]:
    texts: list[str] = []
    for call in calls:
        texts += [repr(call.set_variables), repr(call.verbose)]
        texts += [line.decode("utf-8", "replace") for line in call.received]
    return texts


async def test_the_subscribers_password_reaches_no_log_row_or_channel(
    database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """getuserdata* and userbynum carry the password in clear, even in malformed answers."""
    caplog.set_level(logging.DEBUG)
    broken_record = (
        '{"testuser1":{"login":"testuser1","Password":"pass0001","Cash":"lots","Credit":"0",'
        '"CreditExpire":"0","Passive":"0","Down":"0","AlwaysOnline":"1","Tariff":"Test100"}}'
    )
    broken_owner = '{"result":1,"userdata":{"login":"testuser1","Password":"pass0001"}}'
    calls: list[FakeCall] = []
    async with (
        FakeUbilling(clock=clock) as fake,
        route_rig(database.url, clock, billing=ubilling(fake.url)) as rig,
    ):
        for script, number in [
            ("userstatus?say=1", "0501110001"),
            ("realname?set_callerid=1", "0501110003"),
            ("askozianum", "0501110004"),
            ("setcredit", "0501110002"),
            ("paycardpay?card=1111222233334444", "0501110001"),
        ]:
            calls.append(await rig.call(script, callerid=number))
        fake.add_fault(Fault(body=broken_record, when={"param": "getuserdatabylogin"}))
        calls.append(await rig.call("userstatus", callerid="0501110001"))
        fake.faults.clear()
        fake.add_fault(Fault(body=broken_owner, when={"action": "userbynum"}))
        calls.append(await rig.call("userstatus", callerid="0501110001"))
        assert rig.core.billing.backend_name == "ubilling"
    # every route ran and the passwords went through the parsers: the money moves and the
    # broken answers (logged, quoted) included
    assert [c.set_variables.get("BILLING_RESULT") for c in calls] == [
        "OK", "OK", "OK", None, None, "OK", "OK"
    ]  # fmt: skip
    assert calls[0].set_variables["SUBSCRIBER_NAME"] == "Петренко Іван Петрович"
    assert calls[3].set_variables["CREDIT_RESULT"] == "OK"
    assert calls[4].set_variables["PAYCARD_RESULT"] == "OK"
    assert "SUBSCRIBER_CREDIT" not in calls[5].set_variables
    assert "SUBSCRIBER_NAME" not in calls[6].set_variables
    logged = "\n".join(_log_texts(caplog))
    assert "getuserdata: field Cash missing or malformed" in logged
    assert "userbynum: field Cash missing or malformed" in logged
    rows = await _all_rows(database)
    assert len([r for r in rows if r.startswith("billing_audit:")]) == 2  # credit, card
    texts = _log_texts(caplog) + rows + _channel_texts(calls)
    for password in ("pass0001", "pass0002", "pass0003", "pass0004", "pass0005"):
        assert not [t for t in texts if password in t], password
