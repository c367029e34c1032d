"""pause, unpause and swstatus through the real server and wiring, against a fake Asterisk,
the embedded billing and the fake Ubilling."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from billing_client.models import AuditEntry, Subscriber
from primitives.clock import FixedClock
from tests.agi.routes_rig import route_rig
from tests.conftest import Database
from tests.fakes.agi_asterisk import GetDataInput
from tests.fakes.ubilling import SERIAL, FakeUbilling, Fault

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def ubilling(url: str) -> dict[str, object]:
    return {"backend": "ubilling", "url": url, "key": SERIAL, "breaker_failures": 50}


async def test_a_subscriber_pauses_and_resumes_their_service(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await rig.add("ivan", "0501110001", balance=Decimal("150"))
        paused = await rig.call("pause", callerid="+380501110001", uniqueid="1795311406.9")
        status = await rig.call("askozianum", callerid="0501110001")
        again = await rig.call("pause", callerid="0501110001")
        resumed = await rig.call("unpause", callerid="0501110001")
        not_paused = await rig.call("unpause", callerid="0501110001")
        stranger = await rig.call("pause", callerid="0509999999")
        async with database.sessions() as session:
            rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert paused.set_variables == {"PAUSE_RESULT": "OK", "PAUSE_REASON": ""}
    assert status.set_variables["SUBSCRIBER_STATUS"] == "3"
    assert again.set_variables == {"PAUSE_RESULT": "DENIED", "PAUSE_REASON": "ALREADY_PAUSED"}
    assert resumed.set_variables == {"PAUSE_RESULT": "OK", "PAUSE_REASON": ""}
    assert not_paused.set_variables == {"PAUSE_RESULT": "DENIED", "PAUSE_REASON": "NOT_PAUSED"}
    assert stranger.set_variables == {"PAUSE_RESULT": "NOTFOUND", "PAUSE_REASON": ""}
    pauses = [r for r in rows if r.field == "frozen"]
    assert [(r.login, r.kind, r.source, r.number, r.uniqueid, r.outcome) for r in pauses] == [
        ("ivan", "freeze", "call", "+380501110001", "1795311406.9", "ok"),
        ("ivan", "unfreeze", "call", "+380501110001", "1795311406.5", "ok"),
    ]
    assert pauses[0].detail == "paused by the subscriber: frozen no -> yes"


async def test_the_cli_freeze_is_journalled_the_same_way(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await rig.add("ivan", "0501110001")
        assert rig.core.local is not None
        await rig.core.local.set_frozen("ivan", True, actor="cli:anna")
        await rig.core.local.set_frozen("ivan", True, actor="cli:anna")  # no change
        await rig.core.local.set_disabled("ivan", True, actor="cli:anna")
        denied = await rig.call("pause", callerid="0501110001")
        records = await rig.core.audit.records("ivan")
    assert denied.set_variables["PAUSE_REASON"] == "ALREADY_PAUSED"
    assert [(r.kind, r.field, r.source) for r in reversed(records)] == [
        ("freeze", "frozen", "cli user cli:anna"),
        ("disable", "disabled", "cli user cli:anna"),
    ]


async def test_pause_acts_on_the_caller_unless_args_are_trusted(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await rig.add("caller", "0501110001")
        await rig.add("other", "0501110002")
        await rig.call("pause?number=0501110002", callerid="0501110001")
        async with database.sessions() as session:
            rows = await session.execute(select(Subscriber.login, Subscriber.frozen))
            frozen = dict(rows.all())
    assert frozen == {"caller": True, "other": False}


async def test_pin_guards_the_pause(database: Database, clock: FixedClock) -> None:
    async with route_rig(
        database.url, clock, agi={"require_pin": True, "lockout_failures": 2}
    ) as rig:
        await rig.add("ivan", "0501110001", pin="4321")
        await rig.add("nopin", "0501110007")
        wrong = await rig.call("pause", callerid="0501110001", get_data=(GetDataInput("1111"),))
        no_pin = await rig.call("pause", callerid="0501110007", get_data=(GetDataInput("1"),))
        locking = await rig.call("pause", callerid="0501110001", get_data=(GetDataInput("2"),))
        locked = await rig.call("pause", callerid="0501110001", get_data=(GetDataInput("4321"),))
        async with database.sessions() as session:
            frozen = await session.scalar(
                select(Subscriber.frozen).where(Subscriber.login == "ivan")
            )
    assert wrong.set_variables == {"PAUSE_RESULT": "DENIED", "PAUSE_REASON": "WRONG_PIN"}
    assert ["GET", "DATA", "pbxbridge/enter-pin", "6000", "4"] in wrong.argv
    assert no_pin.set_variables["PAUSE_REASON"] == "PIN_NOT_SET"
    assert locking.set_variables["PAUSE_REASON"] == "LOCKED"  # the second wrong PIN locks
    assert locked.set_variables == {"PAUSE_RESULT": "DENIED", "PAUSE_REASON": "LOCKED"}
    assert not any("GET" in argv for argv in locked.argv)  # not even asked
    assert frozen is False


async def test_swstatus_with_the_embedded_billing_is_unknown(
    database: Database, clock: FixedClock
) -> None:
    async with route_rig(database.url, clock) as rig:
        await rig.add("ivan", "0501110001")
        call = await rig.call("swstatus", callerid="0501110001")
    assert call.set_variables == {
        "EQUIPMENT_STATUS": "UNKNOWN",
        "EQUIPMENT_REASON": "NOT_SUPPORTED",
    }


async def test_pause_and_swstatus_on_ubilling(database: Database, clock: FixedClock) -> None:
    async with FakeUbilling(clock=clock) as fake:
        fake.state.switch_ports["testuser1"] = "10.0.0.2"
        fake.state.switch_ports["testuser2"] = "10.0.0.3"
        fake.state.dead_switches.add("10.0.0.3")
        async with route_rig(database.url, clock, billing=ubilling(fake.url)) as rig:
            paused = await rig.call("pause", callerid="0501110001")
            status = await rig.call("askozianum", callerid="0501110001")
            resumed = await rig.call("unpause", callerid="0501110001")
            up = await rig.call("swstatus", callerid="0501110001")
            down = await rig.call("swstatus", callerid="0501110002")
            no_switch = await rig.call("swstatus", callerid="0501110003")
            fake.add_fault(Fault(body="Warning: mysqli", when={"param": "swstatus"}))
            broken = await rig.call("swstatus", callerid="0501110001")
    assert paused.set_variables == {"PAUSE_RESULT": "OK", "PAUSE_REASON": ""}
    assert status.set_variables["SUBSCRIBER_STATUS"] == "3"
    assert resumed.set_variables == {"PAUSE_RESULT": "OK", "PAUSE_REASON": ""}
    assert up.set_variables == {"EQUIPMENT_STATUS": "OK", "EQUIPMENT_REASON": ""}
    assert down.set_variables == {"EQUIPMENT_STATUS": "DOWN", "EQUIPMENT_REASON": ""}
    assert no_switch.set_variables == {
        "EQUIPMENT_STATUS": "UNKNOWN",
        "EQUIPMENT_REASON": "NO_SWITCH",
    }
    assert broken.set_variables == {"EQUIPMENT_STATUS": "UNKNOWN", "EQUIPMENT_REASON": "ERROR"}
    assert any("param=setunpause" in q and "number=0501110001" in q for q in fake.requests)


@sqlite_only
async def test_a_billing_outage_leaves_pause_error(database: Database, clock: FixedClock) -> None:
    async with FakeUbilling(clock=clock) as fake:
        fake.add_fault(Fault(status=503, when={"param": "loginuniq"}))
        async with route_rig(database.url, clock, billing=ubilling(fake.url)) as rig:
            call = await rig.call("unpause", callerid="0501110003")
    assert call.set_variables == {"PAUSE_RESULT": "ERROR", "PAUSE_REASON": ""}
    assert fake.state.users["testuser3"].passive == 1
