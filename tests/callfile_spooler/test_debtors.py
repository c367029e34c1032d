"""Job debtors_campaign: the embedded billing's debtors become a campaign the spooler calls."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from callfile_spooler.debtors import debtors_campaign
from callfile_spooler.settings import DebtorsCampaignSettings, SpoolSettings
from primitives.clock import FixedClock
from primitives.job_result import JobResult
from tests.billing_client.jobs_rig import Rig, make_rig
from tests.callfile_spooler.conftest import make_spooler
from tests.conftest import Database

D = Decimal
# Monday 1 February 2027, 12:00 Kyiv
NOON = datetime(2027, 2, 1, 10, 0, tzinfo=UTC)


async def billing(database: Database) -> Rig:
    rig = make_rig(database, NOON)
    await rig.add("debtor", phones=["0501110001", "0671110001"], balance=D("-10"), fee=D("280"))
    await rig.add("nophone", balance=D("-10"))
    await rig.add("two_days", phones=["0501110002"], balance=D("20"), fee=D("280"))
    await rig.add("rich", phones=["0501110003"], balance=D("1000"), fee=D("280"))
    await rig.add("frozen", phones=["0501110004"], balance=D("-10"), frozen=True)
    await rig.add("off", phones=["0501110005"], balance=D("-10"), disabled=True)
    await rig.add("landline", phones=["0441234567"], balance=D("-0.01"))
    return rig


async def run(rig: Rig, spool: SpoolSettings, **settings: object) -> JobResult:
    spooler = make_spooler(rig.database, rig.clock, spool)
    return await debtors_campaign(
        spooler.campaigns,
        rig.admin.list,
        DebtorsCampaignSettings(**settings),
    )


async def test_debtors_become_a_running_campaign_and_are_called(
    db: Database, settings: SpoolSettings, spool_dir: Path
) -> None:
    rig = await billing(db)
    result = await run(rig, settings, days_left_threshold=2, cps=100, window="09:00-18:00")
    assert result.summary == (
        "campaign debtors: 3 number(s) (3 new, 0 removed, 1 without a phone); "
        "run 1 began, 3 number(s) queued"
    )
    assert result.counts == {
        "numbers": 3, "added": 3, "removed": 0, "no_phone": 1, "queued": 3
    }  # fmt: skip
    spooler = make_spooler(db, rig.clock, settings)
    report = await spooler.campaigns.report("debtors")
    assert sorted(n.number for n in report) == ["+380441234567", "+380501110001", "+380501110002"]
    info = await spooler.campaigns.get("debtors")
    assert (info.settings.cps, info.settings.window, info.settings.context) == (
        100,
        "09:00-18:00",
        "pbxbridge-campaign",
    )
    assert (await spooler.tick()).spooled == 3
    files = {
        name: (spool_dir / "outgoing" / name).read_text()
        for name in os.listdir(spool_dir / "outgoing")
    }
    debtor_file = next(text for text in files.values() if "SUBSCRIBER_LOGIN=debtor" in text)
    assert "Setvar: SUBSCRIBER_BALANCE=-10.00" in debtor_file
    assert "Setvar: SUBSCRIBER_DAYS_LEFT=0" in debtor_file
    # paid while the call is in Asterisk's hands: the number stays until the call is over
    await rig.admin.add_payment("debtor", D("100"), actor="kasa")
    again = await run(rig, settings, days_left_threshold=2, cps=100, window="09:00-18:00")
    assert (again.counts["numbers"], again.counts["removed"]) == (2, 0)
    assert len(await spooler.campaigns.report("debtors")) == 3


async def test_same_day_refresh_then_next_days_run(db: Database, settings: SpoolSettings) -> None:
    rig = await billing(db)
    first = await run(rig, settings)
    assert first.counts["numbers"] == 2  # debtors only: debtor, landline
    await rig.admin.add_payment("debtor", D("100"), actor="kasa")
    await rig.add("newcomer", phones=["0501110009"], balance=D("-1"))
    rig.clock.instant = NOON + timedelta(hours=3)
    again = await run(rig, settings)
    assert again.summary == (
        "campaign debtors: 2 number(s) (1 new, 1 removed, 1 without a phone); "
        "run 1 already began today: numbers refreshed"
    )
    assert again.counts["queued"] == 1  # the newcomer joined the run under way
    spooler = make_spooler(db, rig.clock, settings)
    assert sorted(n.number for n in await spooler.campaigns.report("debtors")) == [
        "+380441234567",
        "+380501110009",
    ]
    rig.clock.instant = NOON + timedelta(hours=11, minutes=59)  # 23:59 Kyiv
    assert "already began today" in (await run(rig, settings)).summary
    rig.clock.instant = NOON + timedelta(hours=12)  # 00:00 Tuesday in Kyiv
    tomorrow = await run(rig, settings)
    assert tomorrow.summary.endswith("run 2 began, 2 number(s) queued")


async def test_a_paused_campaign_stays_paused_and_config_changes_apply(
    db: Database, settings: SpoolSettings
) -> None:
    rig = await billing(db)
    await run(rig, settings)
    spooler = make_spooler(db, rig.clock, settings)
    await spooler.campaigns.pause("debtors")
    rig.clock.instant = NOON + timedelta(days=1)
    result = await run(rig, settings, cps=0.5, callerid='"ISP" <0441234567>')
    assert result.summary.endswith("paused (by staff): not started; run 1 waits")
    info = await spooler.campaigns.get("debtors")
    assert (info.state, info.settings.cps, info.settings.callerid) == (
        "paused",
        0.5,
        '"ISP" <0441234567>',
    )


async def test_nobody_owes_anything(db: Database, settings: SpoolSettings) -> None:
    rig = make_rig(db, NOON)
    await rig.add("rich", phones=["0501110003"], balance=D("1000"), fee=D("280"))
    result = await run(rig, settings)
    assert result.summary == (
        "campaign debtors: 0 number(s) (0 new, 0 removed, 0 without a phone); "
        "nobody to call: not started"
    )
    spooler = make_spooler(db, FixedClock(NOON), settings)
    assert (await spooler.campaigns.get("debtors")).state == "idle"
