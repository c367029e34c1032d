"""The live feed wired as `pbxbridge run` wires it: a fake Asterisk's AMI events and FastAGI
calls in, the events a staff page would get out (read from the hub, as the page's socket
reads them; tests/web/test_feed.py covers the socket)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.imports import parse_numbers
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.ami_listener.conftest import connected, until
from tests.callfile_spooler.fake_asterisk import FakeAsterisk as FakeSpool
from tests.callfile_spooler.fake_asterisk import Fate
from tests.conftest import Database
from tests.fakes.agi_asterisk import FakeAsterisk
from tests.fakes.ami_asterisk import FakeAmi, dongle_sms_events, newchannel, success
from web.feed import Subscriber

OLENA = "+380501112233"
CALL_ID = "1795311600.21"


@asynccontextmanager
async def service(
    database: Database, clock: FixedClock, ami: FakeAmi, folder: Path
) -> AsyncIterator[Service]:
    settings = Settings(
        database={"url": database.url},
        spool={
            "dir": folder / "spool",
            "sounds_dir": folder / "sounds",
            "fsync": False,
            "poll_interval": 0.05,
        },
        agi={"port": 0},
        http={"port": 0},
        ami={"port": ami.port, "secret": SecretStr(ami.secret), "backoff_initial": 0.05},
        missed_calls={"flush_delay": 0.05},
        sms={"poll_interval": 0.05},
        scheduler={"enabled": False},
    )
    async with open_core(settings, clock=clock) as core:
        assert core.local is not None
        await core.local.add(
            "olena", name="Олена", phones=(OLENA,), balance=Decimal("-12.50"), actor="test"
        )
        await core.local.add_payment("olena", Decimal("300"), note="cash", actor="test")
        running = Service(core)
        await running.start()
        try:
            assert running.ami is not None
            await connected(running.ami)
            yield running
        finally:
            await running.stop()


async def next_event(page: Subscriber, kind: str, within: float = 5.0) -> dict[str, Any]:
    """The data of the next `kind` event the page gets (others before it are skipped)."""
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await page.queue.get())
            if message["kind"] == kind:
                data: dict[str, Any] = message["data"]
                return data


async def test_a_call_rings_and_the_ivr_lookup_becomes_the_screen_pop(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with FakeAmi() as ami, service(database, clock, ami, tmp_path) as running:
        with running.feed.subscribe("anna") as page:
            await ami.send_event(newchannel(CALL_ID, "0501112233"))
            call = await next_event(page, "call")
            assert call == {
                "id": CALL_ID,
                "number": OLENA,
                "channel": "PJSIP/trunk-00000021",
                "exten": "0800300300",
            }
            # the dialplan's askozianum on that channel: its answer is the card
            env: dict[str, str | None] = {
                "agi_network_script": "askozianum",
                "agi_request": f"agi://127.0.0.1:{running.agi.port}/askozianum",
                "agi_callerid": "0501112233",
                "agi_uniqueid": CALL_ID,
                "agi_arg_1": None,
                "agi_arg_2": None,
            }
            done = await FakeAsterisk(running.agi.port, env=env).call()
            assert done.set_variables["SUBSCRIBER_LOGIN"] == "olena"
            card = await next_event(page, "card", within=1.0)  # before the 2 s fallback
            assert card["id"] == CALL_ID
            assert (card["login"], card["name"], card["status"]) == ("olena", "Олена", 1)
            assert card["balance"] == "287.50"
            assert [p["amount"] for p in card["payments"]] == ["300.00"]

            await ami.send_event({"Event": "Hangup", "Uniqueid": CALL_ID, "Linkedid": CALL_ID})
            assert await next_event(page, "hangup") == {"id": CALL_ID}


async def test_a_call_without_the_ivr_gets_its_card_from_the_billing(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with FakeAmi() as ami, service(database, clock, ami, tmp_path) as running:
        running.screen_pop.wait = 0.05
        with running.feed.subscribe("anna") as page:
            await ami.send_event(newchannel("1795311700.1", "0671234567", context="x"))
            card = await next_event(page, "card")
            assert (card["number"], card["found"], card["result"]) == (
                "+380671234567",
                False,
                "NOTFOUND",
            )


async def test_calls_pbxbridge_places_and_internal_legs_pop_nothing(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with FakeAmi() as ami, service(database, clock, ami, tmp_path) as running:
        with running.feed.subscribe("anna") as page:
            # a campaign's call file, the second leg of a call, an extension calling
            await ami.send_event(newchannel("9.1", "0501112233", context="pbxbridge-campaign"))
            await ami.send_event(newchannel("9.3", "0501112233", linkedid="9.2"))
            await ami.send_event(newchannel("9.4", "101", context="from-internal"))
            # then a real one: the first event the page gets is that one
            await ami.send_event(newchannel("9.5", "0939876543"))
            message = json.loads(await asyncio.wait_for(page.queue.get(), 5))
            assert (message["kind"], message["data"]["id"]) == ("call", "9.5")


async def test_missed_calls_sms_and_alerts_reach_the_pages(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with FakeAmi(dongle=True) as ami, service(database, clock, ami, tmp_path) as running:
        ami.on_action("DongleSendSMS", lambda a: success(Message="[dongle0] SMS queued for send"))
        with running.feed.subscribe("anna") as page:
            await ami.replay("queue")  # the captured session: two missed calls
            first = await next_event(page, "missed")
            second = await next_event(page, "missed")
            numbers = {first["number"], second["number"]}
            assert OLENA in numbers, numbers

            await ami.send_raw(dongle_sms_events("баланс", sender=OLENA))
            sms = await next_event(page, "sms")
            assert (sms["sender"], sms["login"], sms["text"]) == (OLENA, "olena", "баланс")

            await running.core.alerts("the billing does not answer")
            assert await next_event(page, "alert") == {"text": "the billing does not answer"}


async def test_campaign_progress_follows_the_outcomes(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    for folder in ("outgoing", "outgoing_done"):
        (tmp_path / "spool" / folder).mkdir(parents=True)
    pbx = FakeSpool(
        tmp_path / "spool",
        lambda call: Fate(0, reason=3 if call.variables["CAMPAIGN_NUMBER"].endswith("2") else None),
    )
    async with FakeAmi() as ami, service(database, clock, ami, tmp_path) as running:
        campaigns = running.spooler.campaigns
        await campaigns.create("promo", CampaignSettings(max_concurrent=5, cps=100, max_attempts=1))
        numbers = "number\n0501110001\n0501110002\n"
        await campaigns.import_numbers("promo", parse_numbers(numbers, running.core.phones))
        with running.feed.subscribe("anna") as page:
            await campaigns.start("promo")
            running.spooler.wake()
            await until(lambda: len(pbx.pick_up(clock.now())) == 2 or len(pbx.running) == 2)
            pbx.finish(clock.now())  # one answered, one not (its UserEvent below)
            for event in pbx.take_events():
                await ami.send_event(dict(event.items()))
            # the spooler reads the archived files once a poll interval passed on its clock
            clock.instant += timedelta(seconds=5)
            running.spooler.wake()
            progress = await next_event(page, "campaign")
            while progress["done"] < 2:
                progress = await next_event(page, "campaign")
    assert progress["name"] == "promo"
    assert progress["numbers"] == 2
    assert progress["by_status"] == {"answered": 1, "given_up": 1}
