"""Each event from where it really happens, through the service as `pbxbridge run` wires it:
a fake Asterisk's AMI (an SMS in, the captured queue session's missed calls), the spooler's
fake PBX (a campaign's and a callback's outcomes), a real receiver; /healthz and /metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from ami_listener import AmiHealth
from callfile_spooler.callfile import ArchivedCallFile
from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.imports import parse_numbers
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.ami_listener.conftest import until
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate
from tests.conftest import Database
from tests.fakes.ami_asterisk import FakeAmi, dongle_sms_events, success
from tests.webhooks.receiver import SECRET, Receiver
from webhooks.events import (
    CALL_ANSWERED,
    CALL_MISSED,
    CALLBACK_FINISHED,
    CAMPAIGN_FINISHED,
    SMS_RECEIVED,
)

OLENA = "+380501112233"


def settings_for(database: Database, folder: Path, receiver: Receiver, **more: Any) -> Settings:
    values: dict[str, Any] = {
        "database": {"url": database.url},
        "spool": {
            "dir": folder / "spool",
            "sounds_dir": folder / "sounds",
            "fsync": False,
            "poll_interval": 0.05,
        },
        "agi": {"port": 0},
        "http": {"port": 0},
        "ami": {"enabled": False},
        "missed_calls": {"flush_delay": 0.05},
        "scheduler": {"enabled": False},
        "webhooks": [
            {
                "name": "billing",
                "url": receiver.url,
                "secret": SECRET,
                "events": [SMS_RECEIVED, CALL_MISSED, CALLBACK_FINISHED, CAMPAIGN_FINISHED],
            }
        ],
        "webhook_delivery": {"retry_initial": 3600, "retry_max": 3600},
    }
    return Settings(**(values | more))


@asynccontextmanager
async def running(settings: Settings, clock: FixedClock) -> AsyncIterator[Service]:
    async with open_core(settings, clock=clock) as core:
        assert core.local is not None
        if not await core.local.list():
            await core.local.add(
                "olena", name="Олена", phones=(OLENA,), balance=Decimal(10), actor="test"
            )
        service = Service(core)
        await service.start()
        try:
            yield service
        finally:
            await service.stop()


async def get(port: int, path: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as answer,
    ):
        return await answer.text()


async def test_sms_and_missed_calls_from_ami_reach_the_billing_across_a_restart(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with (
        Receiver(now=lambda: clock.now().timestamp()).serving() as receiver,
        FakeAmi(dongle=True) as ami,
    ):
        ami.on_action("DongleSendSMS", lambda a: success(Message="[dongle0] SMS queued for send"))
        amid = {"enabled": True, "port": ami.port, "secret": SecretStr(ami.secret)}
        settings = settings_for(sqlite_database, tmp_path, receiver, ami=amid)
        (tmp_path / "spool" / "outgoing").mkdir(parents=True)
        receiver.answers = [503]  # the first delivery: the billing's server is down
        async with running(settings, clock) as service:
            await until(
                lambda: service.ami is not None and service.ami.health is AmiHealth.CONNECTED
            )
            await ami.send_raw(dongle_sms_events("баланс", sender=OLENA))
            await until(lambda: len(receiver.received) == 1)
            await ami.replay("queue")  # the captured session: two missed calls
            await receiver.wait_for(2)
            web = service.web
            assert web is not None
            health = json.loads(await get(web.port, "/healthz"))["components"]["webhooks"]
            assert health["status"] == "degraded"
            assert health["reason"].startswith("billing sms.received failing since")
            metrics = await get(web.port, "/metrics")
            for outcome, count in (("queued", 3), ("delivered", 2), ("retried", 1)):
                labels = f'outcome="{outcome}",webhook="billing"'
                assert f"pbxbridge_webhook_deliveries_total{{{labels}}} {count}.0" in metrics
        # stopped with the SMS pending (its retry an hour away); the next start sends it
        clock.instant += timedelta(hours=1)
        async with running(settings, clock):
            await receiver.wait_for(3)

    missed = receiver.events(CALL_MISSED)
    assert {m.body["payload"]["number"] for m in missed} == {"+380671234567", OLENA}
    olena = next(m.body["payload"] for m in missed if m.body["payload"]["number"] == OLENA)
    assert olena["login"] == "olena"
    assert olena["name"] == "Олена"
    [sms] = receiver.events(SMS_RECEIVED)
    assert sms.body["payload"]["text"] == "баланс"
    assert sms.body["payload"]["login"] == "olena"
    assert sms.delivery_id == receiver.received[0].delivery_id  # the 503'd one, same id
    assert [r.delivery_id for r in receiver.received].count(sms.delivery_id) == 2
    assert all(r.verified for r in receiver.received)


async def test_a_campaign_and_a_callback_finishing_reach_the_billing(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    for sub in ("outgoing", "outgoing_done", "tmp"):
        (spool / sub).mkdir(parents=True)

    def fate(call: ArchivedCallFile) -> Fate:
        busy = call.variables.get("CAMPAIGN_NUMBER", "").endswith("2")
        return Fate(seconds=0, reason=5 if busy else None)

    pbx = FakeAsterisk(spool, decide=fate)
    async with Receiver(now=lambda: clock.now().timestamp()).serving() as receiver:
        settings = settings_for(sqlite_database, tmp_path, receiver)
        async with running(settings, clock) as service:
            campaigns = service.spooler.campaigns
            await campaigns.create("promo", CampaignSettings(max_attempts=1, cps=100))
            numbers = "number\n0501110001\n0501110002\n"
            await campaigns.import_numbers("promo", parse_numbers(numbers, service.core.phones))
            await campaigns.start("promo")
            request = await service.callbacks.request("0501110003", source="test", name="Ivan")
            service.spooler.wake()
            async with asyncio.timeout(10):
                while len(receiver.accepted) < 2:
                    pbx.step(clock.now())
                    for event in pbx.take_events():
                        await service.spooler.on_ami_event(event)
                    # the spooler reads outgoing_done/ once per poll_interval of its clock
                    clock.instant += timedelta(seconds=1)
                    service.spooler.wake()
                    await asyncio.sleep(0.02)

    [campaign] = receiver.events(CAMPAIGN_FINISHED)
    payload = campaign.body["payload"]
    assert payload["name"] == "promo"
    assert payload["numbers"] == 2
    assert payload["by_number_status"] == {"answered": 1, "given_up": 1}
    assert payload["attempts_by_status"] == {"answered": 1, "busy": 1}
    [callback] = receiver.events(CALLBACK_FINISHED)
    assert callback.body["payload"] | {"requested_at": None, "finished_at": None} == {
        "id": request.id,
        "number": "+380501110003",
        "name": "Ivan",
        "comment": None,
        "source": "test",
        "requested_at": None,
        "login": None,
        "subscriber_name": None,
        "outcome": "answered",
        "attempts": 1,
        "last_outcome": "answered",
        "finished_at": None,
    }
    assert callback.body["occurred_at"] == callback.body["payload"]["finished_at"]


async def test_an_answered_call_from_ami_reaches_the_billing(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with (
        Receiver(now=lambda: clock.now().timestamp()).serving() as receiver,
        FakeAmi() as ami,
    ):
        amid = {"enabled": True, "port": ami.port, "secret": SecretStr(ami.secret)}
        settings = settings_for(sqlite_database, tmp_path, receiver, ami=amid)
        settings.webhooks[0].events = [CALL_ANSWERED]
        (tmp_path / "spool" / "outgoing").mkdir(parents=True)
        async with running(settings, clock) as service:
            await until(
                lambda: service.ami is not None and service.ami.health is AmiHealth.CONNECTED
            )
            await ami.replay("queue")  # the captured session: one call answered by an agent
            await receiver.wait_for(1)

    [answered] = receiver.events(CALL_ANSWERED)
    payload = answered.body["payload"]
    assert payload["disposition"] == "ANSWERED"
    assert payload["billsec"] > 0
    assert payload["answered_by"]
    assert answered.verified
    assert all(r.event == CALL_ANSWERED for r in receiver.received)
