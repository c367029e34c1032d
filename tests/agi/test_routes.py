"""The IVR routes through the real server and wiring, against a fake Asterisk and real billing."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from agi.escape import quote
from agi.request import AgiRequest
from agi.routes import build_handlers
from agi.session import AgiSession
from billing_client.models import AuditEntry, Subscriber
from primitives.clock import FixedClock
from tests.agi.routes_rig import RouteRig, route_rig
from tests.conftest import Database
from tests.fakes.agi_asterisk import GetDataInput
from tests.fakes.ubilling import SERIAL, FakeUbilling, Fault

STATUS_KEYS = {"SUBSCRIBER_STATUS", "SUBSCRIBER_LOGIN", "BILLING_RESULT", "BILLING_SOURCE"}


async def seed(rig: RouteRig) -> None:
    today = rig.core.clock.today()
    await rig.add("active", "0501110001", name="Петренко Іван", balance=Decimal("150"))
    await rig.add("debtor", "+380501110002", balance=Decimal("-50.25"))
    await rig.add("frozen", "0501110003", balance=Decimal("200"), frozen=True)
    await rig.add(
        "covered",
        "380501110004",
        balance=Decimal("-20"),
        credit=Decimal("50"),
        credit_expire=date(today.year, today.month, today.day),
        fee=Decimal("200"),
    )
    await rig.add("down", "0501110005", balance=Decimal("10"), disabled=True)


@pytest.mark.parametrize(
    ("callerid", "status", "login", "result", "source"),
    [
        ("0501110001", "1", "active", "OK", "live"),
        ("+38 (050) 111-00-02", "2", "debtor", "OK", "live"),
        ("380501110003", "3", "frozen", "OK", "live"),
        ("0501110004", "1", "covered", "OK", "live"),
        ("0501110005", "3", "down", "OK", "live"),
        ("0509999999", "0", "", "NOTFOUND", "live"),
        ("unknown", "0", "", "NOTFOUND", "none"),  # no phone number: the billing not asked
        ("0501110001;EXEC", "0", "", "NOTFOUND", "none"),
    ],
)
async def test_askozianum_status_of_each_kind_of_caller(
    database: Database,
    clock: FixedClock,
    callerid: str,
    status: str,
    login: str,
    result: str,
    source: str,
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        call = await rig.call("askozianum", callerid=callerid)
    assert call.set_variables == {
        "SUBSCRIBER_STATUS": status,
        "SUBSCRIBER_LOGIN": login,
        "BILLING_RESULT": result,
        "BILLING_SOURCE": source,
    }
    assert call.server_closed


async def test_number_comes_from_query_then_first_argument_then_callerid(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        by_query = await rig.call(
            "askozianum?number=0501110003", args=("0501110002",), callerid="0501110001"
        )
        by_arg = await rig.call("askozianum", args=("0501110002",), callerid="0501110001")
        by_callerid = await rig.call("askozianum", callerid="0501110001")
    assert by_query.set_variables["SUBSCRIBER_LOGIN"] == "frozen"
    assert by_arg.set_variables["SUBSCRIBER_LOGIN"] == "debtor"
    assert by_callerid.set_variables["SUBSCRIBER_LOGIN"] == "active"


async def test_a_newline_smuggled_into_the_number_is_not_found(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        call = await rig.call("askozianum?number=0501110001%0AEXEC%20System", callerid="")
    assert call.set_variables["BILLING_RESULT"] == "NOTFOUND"
    assert not any(argv[0] == "EXEC" for argv in call.argv)


async def test_userstatus_gives_money_tariff_and_days_left(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        active = await rig.call("userstatus", callerid="0501110001")
        covered = await rig.call("userstatus", callerid="0501110004")
        nobody = await rig.call("userstatus", callerid="0509999999")
    assert active.set_variables == {
        "SUBSCRIBER_STATUS": "1",
        "SUBSCRIBER_LOGIN": "active",
        "BILLING_RESULT": "OK",
        "BILLING_SOURCE": "live",
        "SUBSCRIBER_NAME": "Петренко Іван",
        "SUBSCRIBER_BALANCE": "150.00",
        "SUBSCRIBER_CREDIT": "0.00",
        "SUBSCRIBER_FEE": "100.00",
        "SUBSCRIBER_TARIFF": "Test100",
        # November has 30 days: 150 / (100 / 30) = 45
        "SUBSCRIBER_DAYS_LEFT": "45",
    }
    # -20 + 50 credit = 30 at 200/30 a day = 4.5 days
    assert covered.set_variables["SUBSCRIBER_DAYS_LEFT"] == "4"
    assert covered.set_variables["SUBSCRIBER_CREDIT"] == "50.00"
    assert nobody.set_variables["BILLING_RESULT"] == "NOTFOUND"
    assert nobody.set_variables["SUBSCRIBER_NAME"] == ""


async def test_userstatus_says_a_negative_balance_with_core_prompts(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        call = await rig.call("userstatus?say=1", callerid="0501110002", language="ru")
    said = [argv for argv in call.argv if argv[0] in ("STREAM", "SAY")]
    assert said == [
        ["STREAM", "FILE", "pbxbridge/your-balance", ""],
        ["STREAM", "FILE", "digits/minus", ""],
        ["SAY", "NUMBER", "50", ""],
        ["STREAM", "FILE", "vm-and", ""],
        ["SAY", "NUMBER", "25", ""],
    ]
    # the channel spoke "ru"; prompts are played in agi.language
    assert call.set_variables["CHANNEL(language)"] == "en"


async def test_a_name_built_to_inject_a_command_stays_one_value(
    database: Database, clock: FixedClock
) -> None:
    evil = 'x" \nEXEC System "rm -rf /"\n\\'
    async with route_rig(database.url, clock) as rig:
        await rig.add("evil", "0501110009")
        # The admin refuses control characters; a billing (Ubilling) may still hold them.
        async with database.sessions.begin() as s:
            await s.execute(update(Subscriber).where(Subscriber.login == "evil").values(name=evil))
        call = await rig.call("realname?set_callerid=1", callerid="0501110009")
    assert not any(argv[0] == "EXEC" for argv in call.argv)
    expected = evil.replace("\n", " ")
    assert call.set_variables["SUBSCRIBER_NAME"] == expected
    assert call.set_variables["CALLERID(name)"] == expected
    sent = [line for line in call.received if line.startswith(b"SET VARIABLE SUBSCRIBER_NAME")]
    assert sent == [f"SET VARIABLE SUBSCRIBER_NAME {quote(evil)}\n".encode()]


async def test_setcredit_for_a_debtor_then_denied_while_active(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        first = await rig.call("setcredit", callerid="0501110002", uniqueid="111.1")
        second = await rig.call("setcredit", callerid="0501110002", uniqueid="111.2")
        status = await rig.call("askozianum", callerid="0501110002")
        records = await rig.core.audit.records(login="debtor")
    assert first.set_variables == {
        "CREDIT_RESULT": "OK",
        "CREDIT_REASON": "",
        "CREDIT_AMOUNT": "100.00",
        "CREDIT_EXPIRE": "2026-11-27",
    }
    assert second.set_variables["CREDIT_RESULT"] == "DENIED"
    assert second.set_variables["CREDIT_REASON"] == "ALREADY_IN_CREDIT"
    assert status.set_variables["SUBSCRIBER_STATUS"] == "1"
    credit = [r for r in records if r.kind == "credit"]
    assert len(credit) == 1
    assert credit[0].amount == Decimal("100.00")
    assert credit[0].source == "call from +380501110002 uniqueid 111.1"


@pytest.mark.parametrize(
    ("callerid", "result", "reason"),
    [
        ("0501110003", "DENIED", "FROZEN"),
        ("0501110001", "DENIED", "NOT_NEEDED"),
        ("0501110004", "DENIED", "ALREADY_IN_CREDIT"),
        ("0509999999", "NOTFOUND", ""),
    ],
)
async def test_setcredit_refusals(
    database: Database, clock: FixedClock, callerid: str, result: str, reason: str
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        call = await rig.call("setcredit", callerid=callerid)
    assert call.set_variables["CREDIT_RESULT"] == result
    assert call.set_variables["CREDIT_REASON"] == reason


async def test_money_moves_act_on_the_caller_unless_args_are_trusted(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        # the caller is "active" (no credit needed); ?number= names the debtor
        untrusted = await rig.call("setcredit?number=0501110002", callerid="0501110001")
    assert untrusted.set_variables["CREDIT_REASON"] == "NOT_NEEDED"
    async with route_rig(database.url, clock, agi={"trust_args": True}) as rig:
        trusted = await rig.call("setcredit?number=0501110002", callerid="0501110001")
    assert trusted.set_variables["CREDIT_RESULT"] == "OK"


async def test_paycard_by_query_argument_and_keypad(database: Database, clock: FixedClock) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        cards = [await rig.card("50"), await rig.card("25.50"), await rig.card("10")]
        by_query = await rig.call(f"paycardpay?card={cards[0]}", callerid="0501110002")
        by_arg = await rig.call("paycardpay", args=(cards[1],), callerid="0501110002")
        by_keypad = await rig.call(
            "paycardpay", callerid="0501110002", get_data=(GetDataInput(digits=cards[2]),)
        )
    assert by_query.set_variables == {
        "PAYCARD_RESULT": "OK",
        "PAYCARD_REASON": "",
        "PAYCARD_AMOUNT": "50.00",
        "SUBSCRIBER_BALANCE": "-0.25",
    }
    assert by_arg.set_variables["SUBSCRIBER_BALANCE"] == "25.25"
    assert by_keypad.set_variables["SUBSCRIBER_BALANCE"] == "35.25"
    assert ["GET", "DATA", "pbxbridge/enter-card", "6000", "16"] in by_keypad.argv


async def test_five_bad_cards_lock_the_number_and_the_login(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        await rig.core.local.add(  # type: ignore[union-attr]
            "debtor2", phones=("0671110002",), actor="test"
        )
        good = await rig.card("50")
        used = await rig.card("10")
        assert (await rig.call(f"paycardpay?card={used}", callerid="0501110002")).set_variables[
            "PAYCARD_RESULT"
        ] == "OK"
        results = [
            (await rig.call(f"paycardpay?card={card}", callerid="0501110002")).set_variables[
                "PAYCARD_RESULT"
            ]
            for card in ["1234567812345678", used, "9999", "0000111122223333", used]
        ]
        locked = await rig.call(f"paycardpay?card={good}", callerid="0501110002")
        other_number_same_login = await rig.call(f"paycardpay?card={good}", callerid="0501110002")
        unrelated = await rig.call(f"paycardpay?card={good}", callerid="0671110002")
    assert results == ["INVALID", "USED", "INVALID", "INVALID", "USED"]
    assert locked.set_variables["PAYCARD_RESULT"] == "LOCKED"
    assert other_number_same_login.set_variables["PAYCARD_RESULT"] == "LOCKED"
    assert unrelated.set_variables["PAYCARD_RESULT"] == "OK"


async def test_lock_ends_after_the_window(database: Database, clock: FixedClock) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        good = await rig.card("50")
        for _ in range(5):
            await rig.call("paycardpay?card=1111222233334444", callerid="0501110002")
        locked = await rig.call(f"paycardpay?card={good}", callerid="0501110002")
        clock.instant = clock.instant.replace(hour=clock.instant.hour + 1, second=1)
        later = await rig.call(f"paycardpay?card={good}", callerid="0501110002")
    assert locked.set_variables["PAYCARD_RESULT"] == "LOCKED"
    assert later.set_variables["PAYCARD_RESULT"] == "OK"


async def test_pin_guards_money_moves(database: Database, clock: FixedClock) -> None:
    async with route_rig(database.url, clock, agi={"require_pin": True}) as rig:
        await rig.add("debtor", "0501110002", balance=Decimal("-50"), pin="4321")
        await rig.add("nopin", "0501110007", balance=Decimal("-50"))
        card = await rig.card("50")
        wrong = await rig.call(
            f"paycardpay?card={card}", callerid="0501110002", get_data=(GetDataInput("1111"),)
        )
        right = await rig.call(
            f"paycardpay?card={card}", callerid="0501110002", get_data=(GetDataInput("4321"),)
        )
        no_pin = await rig.call("setcredit", callerid="0501110007", get_data=(GetDataInput("1"),))
        credit_wrong = await rig.call(
            "setcredit", callerid="0501110002", get_data=(GetDataInput("0000"),)
        )
    assert wrong.set_variables["PAYCARD_RESULT"] == "INVALID"
    assert wrong.set_variables["PAYCARD_REASON"] == "WRONG_PIN"
    assert ["GET", "DATA", "pbxbridge/enter-pin", "6000", "4"] in wrong.argv
    assert right.set_variables["PAYCARD_RESULT"] == "OK"
    assert no_pin.set_variables["CREDIT_RESULT"] == "DENIED"
    assert no_pin.set_variables["CREDIT_REASON"] == "PIN_NOT_SET"
    assert credit_wrong.set_variables["CREDIT_REASON"] == "WRONG_PIN"


async def test_realname_and_ping(database: Database, clock: FixedClock) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        name = await rig.call("realname", callerid="0501110001")
        ping = await rig.call("ping")
    assert name.set_variables["SUBSCRIBER_NAME"] == "Петренко Іван"
    assert "CALLERID(name)" not in name.set_variables
    assert ping.set_variables == {"PBXBRIDGE_OK": "1"}


async def test_unknown_route_says_so_and_the_call_goes_on(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        call = await rig.call("nosuchroute")
    assert call.set_variables == {}
    assert call.verbose == ["pbxbridge: no AGI route 'nosuchroute'"]


async def test_the_service_serves_routes_other_rooms_bring(
    database: Database, clock: FixedClock
) -> None:
    """sms_in lives in sms/ and is registered by the root, next to agi's own routes."""
    async with route_rig(database.url, clock) as rig:
        call = await rig.call("sms_in")  # a channel with no SMS on it
        assert call.set_variables == {"SMS_RESULT": "ERROR", "SMS_ID": ""}

        async def other(request: AgiRequest, session: AgiSession) -> None:
            raise AssertionError("never served")

        with pytest.raises(ValueError, match="'ping' registered twice"):
            build_handlers(rig.service.routes, extra={"ping": other})


# --- a slow or dead billing (Ubilling backend against the fake Ubilling)


def ubilling_settings(url: str, **extra: object) -> dict[str, object]:
    return {"backend": "ubilling", "url": url, "key": SERIAL, **extra}


async def test_slow_billing_gives_error_within_the_deadline_and_the_call_goes_on(
    database: Database, clock: FixedClock
) -> None:
    async with FakeUbilling(clock=clock) as ubilling:
        ubilling.add_fault(Fault(delay=3.0, when={"param": "userstatus"}))
        async with route_rig(
            database.url,
            clock,
            agi={"lookup_timeout": 0.2},
            billing=ubilling_settings(ubilling.url, stale_ttl=0),
        ) as rig:
            call = await rig.call("userstatus", callerid="0501110001")
    assert call.set_variables["BILLING_RESULT"] == "ERROR"
    assert call.set_variables["SUBSCRIBER_STATUS"] == "0"


async def test_dead_billing_fails_ping(database: Database, clock: FixedClock) -> None:
    async with route_rig(
        database.url, clock, billing=ubilling_settings("http://127.0.0.1:9/", stale_ttl=0)
    ) as rig:
        ping = await rig.call("ping")
        lookup = await rig.call("askozianum")
    assert ping.set_variables == {"PBXBRIDGE_OK": "0"}
    assert lookup.set_variables["BILLING_RESULT"] == "ERROR"


async def test_ubilling_lookup_through_the_ivr(database: Database, clock: FixedClock) -> None:
    async with FakeUbilling(clock=clock) as ubilling:
        async with route_rig(database.url, clock, billing=ubilling_settings(ubilling.url)) as rig:
            call = await rig.call("userstatus", callerid="+380501110002")
        history = ubilling.calls_for("testuser2")
    assert call.set_variables["SUBSCRIBER_STATUS"] == "2"
    assert call.set_variables["SUBSCRIBER_LOGIN"] == "testuser2"
    assert call.set_variables["SUBSCRIBER_BALANCE"] == "-50.00"
    assert call.set_variables["SUBSCRIBER_NAME"] == "Debtor Dmytro"
    assert len(history) >= 1


async def test_a_money_move_finishes_even_when_the_session_is_cut_off(
    database: Database, clock: FixedClock
) -> None:
    """The session deadline closes the call; the credit already sent still lands and is audited."""
    async with FakeUbilling(clock=clock) as ubilling:
        ubilling.add_fault(Fault(delay=1.5, when={"param": "setcredit"}))
        async with route_rig(
            database.url,
            clock,
            agi={"session_timeout": 0.5},
            billing=ubilling_settings(ubilling.url),
        ) as rig:
            call = await rig.call("setcredit", callerid="0501110002")
            assert "CREDIT_RESULT" not in call.set_variables
        # leaving the rig stopped the service, which waited for the move
        user = ubilling.state.users["testuser2"]
        async with database.sessions() as s:
            outcomes = (
                await s.execute(
                    select(AuditEntry.outcome, func.count()).group_by(AuditEntry.outcome)
                )
            ).all()
    assert user.credit == Decimal(100)
    assert dict(outcomes) == {"ok": 1}


async def test_concurrent_calls_do_not_mix_answers(database: Database, clock: FixedClock) -> None:
    async with route_rig(database.url, clock) as rig:
        await seed(rig)
        numbers = ["0501110001", "0501110002", "0501110003", "0501110005", "0509999999"] * 8
        calls = await asyncio.gather(*(rig.call("askozianum", callerid=n) for n in numbers))
    expected = {"0501110001": "1", "0501110002": "2", "0501110003": "3", "0501110005": "3"}
    for number, call in zip(numbers, calls, strict=True):
        assert call.set_variables["SUBSCRIBER_STATUS"] == expected.get(number, "0")
