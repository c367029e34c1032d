"""Alerts reach staff: the service's alerts go to Telegram as well as the log, told once
per interval, a flood summarised by the notifier; the CLI's stay in the log."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from billing_client.outcomes import BillingResult, CreditResult, MoneySource
from missed_calls import tracker as tracker_module
from pbxbridge.alerts import Alerts
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.ami_listener.conftest import until
from tests.conftest import Database
from tests.fakes.agi_asterisk import FakeAsterisk
from tests.fakes.telegram import FakeTelegram
from tests.fakes.ubilling import FakeUbilling, Fault
from tests.missed_calls.conftest import capture_messages

STAFF = 111
RESET = 0.05  # breaker_reset of the outage test: seconds until a trial request
CALL = MoneySource(kind="call", number="+380501110002", uniqueid="1795860000.17")


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ Alerts alone


async def test_the_same_text_is_told_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="pbxbridge")
    monotonic = Monotonic()
    alerts = Alerts(repeat_after=600, monotonic=monotonic)
    told: list[str] = []

    async def sink(text: str) -> None:
        told.append(text)

    alerts.attach(sink)
    for _ in range(50):
        await alerts("spool stopped")
    await alerts("billing down")
    assert told == ["spool stopped", "billing down"]
    monotonic.now += 599
    await alerts("spool stopped")
    assert len(told) == 2
    monotonic.now += 1  # 600 s after it was told: told again, with what was held back
    await alerts("spool stopped")
    assert told[2] == "spool stopped (and 50 more time(s) in the 600 s before)"
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [f"ALERT: {t}" for t in told]


async def test_a_failing_sink_neither_raises_nor_stops_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alerts = Alerts()
    told: list[str] = []

    async def broken(text: str) -> None:
        raise RuntimeError("notifier gone")

    async def sink(text: str) -> None:
        told.append(text)

    alerts.attach(broken)
    alerts.attach(sink)
    await alerts("x")
    assert told == ["x"]
    assert "could not be passed on" in caplog.text
    alerts.detach(sink)
    await alerts("y")
    assert told == ["x"]


# ------------------------------------------------------------------ in a running service


@asynccontextmanager
async def running(
    database: Database,
    clock: FixedClock,
    tmp_path: Path,
    telegram: FakeTelegram,
    ubilling: FakeUbilling,
    **billing: Any,
) -> AsyncIterator[Service]:
    (tmp_path / "spool" / "outgoing").mkdir(parents=True)
    settings = Settings(
        database={"url": database.url},
        agi={"port": 0},
        http={"port": 0},
        ami={"enabled": False},
        billing={
            "backend": "ubilling",
            "url": ubilling.url,
            "key": SecretStr(ubilling.serial or ""),
            "stale_ttl": 0.0,
            "breaker_failures": 3,
            **billing,
        },
        spool={"dir": tmp_path / "spool", "fsync": False},
        telegram={
            "enabled": True,
            "token": SecretStr(telegram.token),
            "api_server": telegram.url,
            "staff_chats": [STAFF],
            "poll_timeout": 1,
            "batch_window": 0.2,
        },
    )
    async with open_core(settings, clock=clock) as core:
        service = Service(core)
        await service.start()
        try:
            yield service
        finally:
            await service.stop()


async def told_before_the_marker(service: Service, telegram: FakeTelegram) -> list[str]:
    """Every message sent before a marker alert raised now: the notifier sends in order,
    so once the marker is out, nothing raised earlier is still to come."""
    await service.core.alerts("marker")
    await until(lambda: any(m["text"] == "ALERT: marker" for m in telegram.sent))
    texts = [str(m["text"]) for m in telegram.sent]
    return texts[: texts.index("ALERT: marker")]


async def test_a_money_move_ubilling_did_not_apply_reaches_staff_once(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as telegram,
        FakeUbilling(clock=clock) as ubilling,
        running(sqlite_database, clock, tmp_path, telegram, ubilling) as service,
    ):
        ubilling.stop_stargazer()  # Ubilling answers success and changes nothing
        outcome = await service.core.billing.set_credit(login="testuser2", source=CALL)
        assert outcome.result == CreditResult.ERROR
        [told] = await told_before_the_marker(service, telegram)
    assert told.startswith("ALERT: Ubilling: audit ")
    assert "testuser2" in told
    assert "nothing changed" in told
    assert ubilling.serial is not None
    assert ubilling.serial not in told


async def test_a_billing_outage_reaches_staff_once_and_its_end_once(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as telegram,
        FakeUbilling(clock=clock) as ubilling,
        running(
            sqlite_database, clock, tmp_path, telegram, ubilling, breaker_reset=RESET
        ) as service,
    ):
        billing = service.core.billing
        ubilling.add_fault(Fault(status=500))  # every request, until cleared
        for _ in range(30):  # the breaker opens at the third failure
            assert (await billing.lookup_call("0501110001")).result == BillingResult.ERROR
        # the breaker tells of the outage from inside a request: the alert follows on a task
        await until(lambda: any("does not answer" in m["text"] for m in telegram.sent))
        down = await told_before_the_marker(service, telegram)
        assert len(down) == 1, down
        assert "Ubilling does not answer (3 failures in a row" in down[0]
        assert "HTTP 500" in down[0]

        ubilling.faults.clear()

        # breaker_reset has passed for sure: the next request is the trial, it succeeds
        # and ends the outage
        await asyncio.sleep(RESET)
        for _ in range(5):
            assert (await billing.lookup_call("0501110001")).result == BillingResult.OK
        await until(lambda: any("answers again" in m["text"] for m in telegram.sent))
        await service.core.alerts("marker 2")
        await until(lambda: any(m["text"] == "ALERT: marker 2" for m in telegram.sent))
    texts = [str(m["text"]) for m in telegram.sent]
    after = texts[texts.index("ALERT: marker") + 1 : texts.index("ALERT: marker 2")]
    assert after == ["ALERT: Ubilling answers again"]


async def test_fifty_identical_alerts_are_one_message_and_a_flood_one_summary(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with (
        FakeTelegram() as telegram,
        FakeUbilling(clock=clock) as ubilling,
        running(sqlite_database, clock, tmp_path, telegram, ubilling) as service,
    ):
        for _ in range(50):
            await service.core.alerts("call-file spooler stopped working")
        told = await told_before_the_marker(service, telegram)
        assert told == ["ALERT: call-file spooler stopped working"]

        seen = len(telegram.sent)
        for n in range(50):  # 50 different ones: more than 20 a minute allows
            await service.core.alerts(f"audit {n}: fate unknown")
        await until(lambda: "alerts in the last" in telegram.sent[-1]["text"])
        flood = [str(m["text"]) for m in telegram.sent[seen:]]
    assert len(flood) <= 2, flood
    summary = flood[-1]
    counted = re.match(r"(\d+) alerts in the last \d+ s: ", summary)
    assert counted is not None, summary
    assert int(counted.group(1)) + len(flood) - 1 == 50
    assert "audit 49: fate unknown" in summary


async def test_the_cli_core_keeps_alerts_in_the_log(
    sqlite_database: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeUbilling(clock=clock) as ubilling:
        settings = Settings(
            database={"url": sqlite_database.url},
            billing={
                "backend": "ubilling",
                "url": ubilling.url,
                "key": SecretStr(ubilling.serial or ""),
            },
        )
        async with open_core(settings, clock=clock) as core:
            ubilling.stop_stargazer()
            outcome = await core.billing.set_credit(login="testuser2", source=CALL)
            assert outcome.result == CreditResult.ERROR
    alerts = [r for r in caplog.records if r.getMessage().startswith("ALERT: Ubilling: audit")]
    assert len(alerts) == 1
    assert alerts[0].levelno == logging.ERROR


async def test_a_lost_missed_call_reaches_staff(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service wires the missed-calls tracker to its alerts (the tracker's own tests
    cover the retries; here one attempt is enough)."""
    monkeypatch.setattr(tracker_module, "WRITE_RETRIES", ())
    async with (
        FakeTelegram() as telegram,
        FakeUbilling(clock=clock) as ubilling,
        running(sqlite_database, clock, tmp_path, telegram, ubilling) as service,
    ):
        assert service.missed is not None
        async with sqlite_database.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE calls RENAME TO away"))
        for message in capture_messages():
            await service.missed.on_ami_event(message)
        await service.missed.flush()
        told = await told_before_the_marker(service, telegram)
    lost = [t for t in told if "LOST" in t]
    assert len(lost) == 2, told
    assert lost[0].startswith("ALERT: missed calls: LOST the missed call from +380671234567 ")


async def test_an_sms_the_service_cannot_store_reaches_staff(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    """sms_in tells staff of an SMS it could not store (tests/sms/test_sms_in_route.py):
    through the running service's FastAGI server and the one Alerts of the process."""
    async with (
        FakeTelegram() as telegram,
        FakeUbilling(clock=clock) as ubilling,
        running(sqlite_database, clock, tmp_path, telegram, ubilling) as service,
    ):
        async with sqlite_database.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE sms_inbox RENAME TO sms_inbox_away"))
        port = service.agi.port
        env = {
            "agi_network_script": "sms_in",
            "agi_request": f"agi://127.0.0.1:{port}/sms_in",
            "agi_callerid": "+380501110001",
            "agi_calleridname": "dongle0",
            "agi_channel": "Local/sms@dongle-incoming-00000001;2",
        }
        text_b64 = base64.b64encode("Баланс?".encode()).decode("ascii")
        call = await FakeAsterisk(port, env=env, variables={"SMS_BASE64": text_b64}).call()
        assert call.set_variables["SMS_RESULT"] == "ERROR"
        [told] = await told_before_the_marker(service, telegram)
    assert told.startswith("ALERT: an SMS from +380501110001 on dongle0 could not be stored")
