"""A subscriber's pause on Ubilling (setpause / setunpause) and swstatus, through the real
BillingClient against the fake Ubilling, audit rows in the `database` fixture.

Expected values are the reference's (§4 test data, §1.2 bodies), written out here.
"""

from __future__ import annotations

import pytest

from billing_client.errors import UnexpectedReply
from billing_client.outcomes import MoneySource
from billing_client.pause import (
    EquipmentReason,
    EquipmentStatus,
    PauseReason,
    PauseResult,
)
from billing_client.ubilling import replies
from primitives.clock import FixedClock
from tests.billing_client.test_ubilling_backend import ubilling_rig
from tests.conftest import Database
from tests.fakes.ubilling import PHP_FATAL_ERROR, FakeUbilling, Fault, FreezeDays, PhoneRow

CALL = MoneySource(kind="call", number="+380501110001", uniqueid="1795860000.21")
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


async def test_pause_then_resume_by_phone(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        paused = await rig.client.set_paused(True, number="0501110001", source=CALL)
        assert (paused.result, paused.login) == (PauseResult.OK, "testuser1")
        assert rig.fake.state.users["testuser1"].passive == 1
        again = await rig.client.set_paused(True, number="0501110001", source=CALL)
        resumed = await rig.client.set_paused(False, number="0501110001", source=CALL)
        assert resumed.result == PauseResult.OK
        assert rig.fake.state.users["testuser1"].passive == 0
        not_paused = await rig.client.set_paused(False, number="0501110001", source=CALL)
        rows = await rig.audit_rows("testuser1")
    assert (again.result, again.reason) == (PauseResult.DENIED, PauseReason.ALREADY_PAUSED)
    assert (not_paused.result, not_paused.reason) == (PauseResult.DENIED, PauseReason.NOT_PAUSED)
    # the refusals were decided on the fresh read: never sent
    assert len(rig.sent("setpause")) == 1
    [unpause] = rig.sent("setunpause")
    assert "login=testuser1" in unpause
    assert "number=0501110001" in unpause  # echoed back by Ubilling
    assert [(r.kind, r.field, r.outcome, r.source) for r in reversed(rows)] == [
        ("freeze", "frozen", "ok", "call from +380501110001 uniqueid 1795860000.21"),
        ("unfreeze", "frozen", "ok", "call from +380501110001 uniqueid 1795860000.21"),
    ]
    assert rows[0].detail == "paused -> not paused"
    # Ubilling's own log says what it did
    assert any("ASTERISK SET PAUSE SUCCESSFUL FOR  testuser1" in w for w in rig.fake.state.weblogs)


async def test_no_freeze_days_left(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.config.freeze_days_charge_enabled = True
        rig.fake.state.frozen_charge_days["testuser1"] = FreezeDays(amount=30, used=30)
        rig.fake.state.frozen_charge_days["testuser2"] = FreezeDays(amount=30, used=12)
        refused = await rig.client.set_paused(True, login="testuser1", source=CALL)
        allowed = await rig.client.set_paused(True, login="testuser2", source=CALL)
        [row] = await rig.audit_rows("testuser1")
    assert (refused.result, refused.reason) == (PauseResult.DENIED, PauseReason.NO_FREEZE_DAYS)
    assert rig.fake.state.users["testuser1"].passive == 0
    assert (row.outcome, row.detail) == (
        "denied",
        "ASTERISK SET PAUSE UNSUCCESSFUL: NO AVAILABLE FREEZE DAYS LEFT",
    )
    assert allowed.result == PauseResult.OK


async def test_pause_claimed_but_not_made_is_an_error_and_an_alert(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.stop_stargazer()  # reference row 92: success said, Passive stayed 0
        outcome = await rig.client.set_paused(True, login="testuser1", source=CALL)
        [row] = await rig.audit_rows()
    assert outcome.result == PauseResult.ERROR
    assert outcome.error is not None
    assert "still not paused" in outcome.error
    assert row.outcome == "unverified"
    assert len(rig.alerts) == 1
    assert "testuser1" in rig.alerts[0]


async def test_unpause_claimed_but_not_made_is_an_error(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.stop_stargazer()  # §5b: UNPAUSE SUCCESSFUL, Passive stayed 1
        outcome = await rig.client.set_paused(
            False, number="0501110003", login="testuser3", source=CALL
        )
    assert outcome.result == PauseResult.ERROR
    assert rig.fake.state.users["testuser3"].passive == 1
    assert len(rig.alerts) == 1


async def test_unknown_login_is_never_sent(database: Database, clock: FixedClock) -> None:
    """Ubilling would answer `SET PAUSE SUCCESSFUL FOR  nosuchuser` and change nothing."""
    async with ubilling_rig(database, clock) as rig:
        by_login = await rig.client.set_paused(True, login="nosuchuser", source=CALL)
        by_number = await rig.client.set_paused(True, number="0509999999", source=CALL)
        async with FakeUbilling(clock=clock) as other:
            assert other.respond(
                {"module": "remoteapi", "key": other.serial or "", "action": "asterisk",
                 "param": "setpause", "login": "nosuchuser"}
            ).body == "ASTERISK SET PAUSE SUCCESSFUL FOR  nosuchuser"  # fmt: skip
    assert by_login.result == PauseResult.NOTFOUND
    assert by_number.result == PauseResult.NOTFOUND
    assert rig.sent("setpause") == []
    assert await rig.audit_rows() == []


async def test_a_number_shared_by_two_logins_is_refused(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.state.phones.append(PhoneRow("testuser2", "", "0501110001"))
        outcome = await rig.client.set_paused(True, number="0501110001", source=CALL)
    assert (outcome.result, outcome.reason) == (PauseResult.DENIED, PauseReason.AMBIGUOUS_NUMBER)
    assert rig.sent("setpause") == []


async def test_paused_meanwhile_is_denied_by_ubilling(
    database: Database, clock: FixedClock
) -> None:
    """The read said not paused; by the time setpause arrives staff had paused it."""

    def staff_pause(fake: FakeUbilling) -> None:
        fake.state.users["testuser1"].passive = 1

    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(before=staff_pause, when={"param": "setpause"}))
        outcome = await rig.client.set_paused(True, login="testuser1", source=CALL)
        [row] = await rig.audit_rows()
    assert (outcome.result, outcome.reason) == (PauseResult.DENIED, PauseReason.ALREADY_PAUSED)
    assert row.outcome == "denied"


@pytest.mark.parametrize(
    ("fault", "outcome", "words"),
    [
        (Fault(body="", when={"param": "setpause"}), "error", "empty body"),
        (Fault(body="ERROR: ASTERISK DISABLED", when={"param": "setpause"}), "error",
         "ASTERISK_ENABLED"),
        (Fault(body="ASTERISK SET PAUSE SUCCESSFUL FOR  testuser2", when={"param": "setpause"}),
         "unknown", "fate unknown"),
        (Fault(body=PHP_FATAL_ERROR, when={"param": "setpause"}), "unknown", "PHP error"),
        (Fault(status=500, when={"param": "setpause"}), "unknown", "fate unknown"),
    ],
    ids=["empty", "asterisk-disabled", "other-login", "php-error", "http-500"],
)  # fmt: skip
async def test_odd_answers_to_setpause(
    database: Database, clock: FixedClock, fault: Fault, outcome: str, words: str
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(fault)
        result = await rig.client.set_paused(True, login="testuser1", source=CALL)
        [row] = await rig.audit_rows()
    assert result.result == PauseResult.ERROR
    assert result.error is not None
    assert words in result.error
    assert row.outcome == outcome
    assert (len(rig.alerts) == 1) == (outcome == "unknown")


def test_unpause_bodies_must_echo_what_was_sent() -> None:
    ok = "ASTERISK UNPAUSE SUCCESSFUL FOR  testuser1 FROM MOBILE: 0501110001"
    off = ok.replace("UNPAUSE SUCCESSFUL", "UNPAUSE UNSUCCESSFUL") + ": PAUSE IS NOT ACTIVE"
    assert replies.parse_setunpause(ok, "testuser1", "0501110001") is None
    assert replies.parse_setunpause(off, "testuser1", "0501110001") == PauseReason.NOT_PAUSED
    for body, login, number in [
        (ok, "testuser2", "0501110001"),
        (ok, "testuser1", "0501110002"),
        (ok + ": PAUSE IS NOT ACTIVE", "testuser1", "0501110001"),
        ("ASTERISK UNPAUSE SUCCESSFUL", "testuser1", "0501110001"),
    ]:
        with pytest.raises(UnexpectedReply):
            replies.parse_setunpause(body, login, number)
    assert replies.parse_setpause("ASTERISK SET PAUSE SUCCESSFUL FOR  a.b", "a.b") is None
    with pytest.raises(UnexpectedReply):  # one space: not what Ubilling writes
        replies.parse_setpause("ASTERISK SET PAUSE SUCCESSFUL FOR a.b", "a.b")


# ------------------------------------------------------------------ swstatus


@sqlite_only
async def test_switch_status(database: Database, clock: FixedClock) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.state.switch_ports["testuser1"] = "10.0.0.2"
        rig.fake.state.switch_ports["testuser2"] = "10.0.0.3"
        rig.fake.state.dead_switches.add("10.0.0.3")
        up = await rig.client.equipment_status("0501110001")
        down = await rig.client.equipment_status("+380501110002")
        no_switch = await rig.client.equipment_status("0501110003")
        stranger = await rig.client.equipment_status("0509999999")
        not_a_number = await rig.client.equipment_status("anonymous")
    assert (up.status, up.reason) == (EquipmentStatus.OK, None)
    assert (down.status, down.reason) == (EquipmentStatus.DOWN, None)
    assert (no_switch.status, no_switch.reason) == (
        EquipmentStatus.UNKNOWN,
        EquipmentReason.NO_SWITCH,
    )
    assert (stranger.status, stranger.reason) == (EquipmentStatus.UNKNOWN, EquipmentReason.NOTFOUND)
    assert not_a_number.reason == EquipmentReason.NOTFOUND
    assert len(rig.sent("swstatus")) == 4
    assert rig.fake.state.callshist == []  # swstatus logs no call


@sqlite_only
@pytest.mark.parametrize(
    "fault",
    [
        Fault(body="MAYBE", when={"param": "swstatus"}),
        Fault(body="ERROR:GET_WRONG_KEY", when={"param": "swstatus"}),
        Fault(status=502, when={"param": "swstatus"}),
        Fault(delay=5.0, when={"param": "swstatus"}),
    ],
    ids=["odd", "wrong-key", "http-502", "slow"],
)
async def test_switch_status_fails_open(
    database: Database, clock: FixedClock, fault: Fault
) -> None:
    async with ubilling_rig(database, clock, lookup_timeout=0.3) as rig:
        rig.fake.add_fault(fault)
        check = await rig.client.equipment_status("0501110001")
    assert (check.status, check.reason) == (EquipmentStatus.UNKNOWN, EquipmentReason.ERROR)
    assert check.error
