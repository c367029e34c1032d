"""The whole service wired as `pbxbridge run` wires it: a fake Asterisk (AMI) and a fake
Telegram around the real components, on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from ami_listener import AmiHealth
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.ami_listener.conftest import until
from tests.conftest import Database
from tests.fakes.ami_asterisk import FakeAmi, dongle_sms_events, success
from tests.fakes.telegram import FakeTelegram

STAFF = 111


@asynccontextmanager
async def service(
    database: Database, clock: FixedClock, ami: FakeAmi, telegram: FakeTelegram, folder: Path
) -> AsyncIterator[Service]:
    settings = Settings(
        database={"url": database.url},
        # never the machine's /var/spool/asterisk or campaign sounds (pruned at start)
        spool={"dir": folder / "spool", "sounds_dir": folder / "sounds"},
        agi={"port": 0},
        http={"port": 0},
        ami={
            "port": ami.port,
            "secret": SecretStr(ami.secret),
            "backoff_initial": 0.05,
            "backoff_max": 0.1,
        },
        missed_calls={"flush_delay": 0.05},
        sms={"poll_interval": 0.05},
        telegram={
            "enabled": True,
            "token": SecretStr(telegram.token),
            "api_server": telegram.url,
            "staff_chats": [STAFF],
            "poll_timeout": 1,
        },
    )
    async with open_core(settings, clock=clock) as core:
        assert core.local is not None
        await core.local.add(
            "olena",
            name="Олена",
            phones=("+380501112233",),
            balance=Decimal("-12.50"),
            fee=Decimal(100),
            actor="test",
        )
        running = Service(core)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


async def test_missed_call_and_inbound_sms_reach_staff_and_the_bot_answers(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with FakeAmi(dongle=True) as ami, FakeTelegram() as telegram:
        ami.on_action("DongleSendSMS", lambda a: success(Message="[dongle0] SMS queued for send"))
        async with service(database, clock, ami, telegram, tmp_path) as running:
            assert running.ami is not None
            await until(
                lambda: running.ami is not None and running.ami.health is AmiHealth.CONNECTED
            )

            # the captured session: two missed calls, one of them a subscriber's
            await ami.replay("queue")
            sent = await telegram.wait_sent(2)
            texts = [m["text"] for m in sent]
            assert any("0671234567" in t or "+380671234567" in t for t in texts), texts
            assert any("+380501112233" in t and "olena" in t for t in texts), texts
            # staff read the service's local time (Kyiv, UTC+2 in November), as the CLI shows
            assert running.missed is not None
            calls = await running.missed.list()
            shown = {f"At {clock.local(c.at):%Y-%m-%d %H:%M:%S}" for c in calls}
            assert shown == {f"At {(c.at + timedelta(hours=2)):%Y-%m-%d %H:%M:%S}" for c in calls}
            assert all(any(line in t.splitlines() for t in texts) for line in shown), texts

            # an SMS from the subscriber asking for the balance
            await ami.send_raw(dongle_sms_events("баланс", sender="+380501112233"))
            await telegram.wait_sent(3)
            assert "баланс" in telegram.sent[-1]["text"]
            reply = await ami.wait_for_action("DongleSendSMS")
            assert reply["Device"] == "dongle0"
            assert reply["Number"] in ("+380501112233", "0501112233")
            assert "-12.50" in reply["Message"]

            # the staff bot
            telegram.add_message(STAFF, "/whois 0501112233")
            await telegram.wait_sent(4)
            assert "olena" in telegram.sent[-1]["text"]
            telegram.add_message(333, "/whois 0501112233")  # not staff: nothing
            telegram.add_message(STAFF, "/missed")
            await telegram.wait_sent(5)
            assert "Missed today: 2" in telegram.sent[-1]["text"]
            for call in calls:
                assert f"{clock.local(call.at):%H:%M} {call.number}" in telegram.sent[-1]["text"]

            # the AMI link goes down and comes back: staff hear both
            await ami.restart(down_for=0.3)
            await telegram.wait_sent(7)
            link = [m["text"] for m in telegram.sent[-2:]]
            assert any("AMI" in t for t in link), link
    assert all(m["chat_id"] in (STAFF, str(STAFF)) for m in telegram.sent)
