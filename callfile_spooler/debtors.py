"""Job `debtors_campaign`: a call campaign built from the billing, on a schedule.

The rules (README, "The embedded billing's periodic work"; settings `[spool.debtors]`):

* who: subscribers in debt (status 2), and with `days_left_threshold` also those with that
  many days left or fewer; never frozen or disabled ones (status 3). Each is called on
  their first phone; one with no phone is counted and skipped. Each call carries
  SUBSCRIBER_LOGIN, SUBSCRIBER_BALANCE and SUBSCRIBER_DAYS_LEFT for the dialplan.
* one campaign (`name`, default `debtors`), not one per day: its recorded message
  (`pbxbridge campaign audio debtors FILE`) is kept from run to run. Each job run sets its
  settings from the config, replaces its numbers with today's list (a subscriber who paid
  leaves it, unless their call is already in Asterisk's hands) and begins a run, at most
  one a local day: run again the same day, it only adds the newcomers (who join the run
  under way) and removes who paid. A campaign staff paused stays paused (numbers refreshed).

The spooler then calls them with the campaign's pacing, window and retries, like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields

from sqlalchemy import select

from billing_client.subscriber import Status, SubscriberInfo
from callfile_spooler.campaigns import CampaignManager, CampaignSettings
from callfile_spooler.errors import CampaignError
from callfile_spooler.imports import NumberRow, ParsedNumbers
from callfile_spooler.models import Campaign
from callfile_spooler.outcomes import CampaignState
from callfile_spooler.settings import DebtorsCampaignSettings
from primitives.job_result import JobResult

JOB = "debtors_campaign"

SubscriberList = Callable[[], Awaitable[Sequence[SubscriberInfo]]]
"""Every subscriber of the billing (LocalAdmin.list is one)."""


def wanted(info: SubscriberInfo, settings: DebtorsCampaignSettings) -> bool:
    if info.status == Status.DEBTOR:
        return True
    if info.status != Status.ACTIVE or settings.days_left_threshold is None:
        return False
    return info.days_left is not None and info.days_left <= settings.days_left_threshold


def number_row(line: int, info: SubscriberInfo) -> NumberRow:
    variables = (
        ("SUBSCRIBER_LOGIN", info.login),
        ("SUBSCRIBER_BALANCE", f"{info.balance:.2f}"),
        ("SUBSCRIBER_DAYS_LEFT", str(info.days_left or 0)),
    )
    return NumberRow(line, info.phones[0], None, variables)


def campaign_settings(settings: DebtorsCampaignSettings) -> CampaignSettings:
    return CampaignSettings(
        context=settings.context,
        extension=settings.extension,
        callerid=settings.callerid,
        max_concurrent=settings.max_concurrent,
        cps=settings.cps,
        window=settings.window,
        max_attempts=settings.max_attempts,
    )


@dataclass(frozen=True, slots=True)
class _List:
    rows: list[NumberRow]
    no_phone: int


def _debtors(infos: Sequence[SubscriberInfo], settings: DebtorsCampaignSettings) -> _List:
    chosen = [i for i in infos if wanted(i, settings)]
    with_phone = [i for i in chosen if i.phones]
    rows = [number_row(n, i) for n, i in enumerate(sorted(with_phone, key=lambda i: i.login), 1)]
    return _List(rows, len(chosen) - len(with_phone))


async def debtors_campaign(
    campaigns: CampaignManager,
    subscribers: SubscriberList,
    settings: DebtorsCampaignSettings,
) -> JobResult:
    """Refresh the debtors' campaign from the billing and begin today's run (job
    `debtors_campaign`)."""
    found = _debtors(await subscribers(), settings)
    await _ensure(campaigns, settings)
    report, removed = await campaigns.replace_numbers(settings.name, ParsedNumbers(rows=found.rows))
    started = await _begin_today(campaigns, settings.name)
    counts = {
        "numbers": len(found.rows),
        "added": report.added,
        "removed": removed,
        "no_phone": found.no_phone,
        "queued": report.queued + started.queued,
    }
    summary = (
        f"campaign {settings.name}: {len(found.rows)} number(s) ({report.added} new, "
        f"{removed} removed, {found.no_phone} without a phone); {started.said}"
    )
    return JobResult(summary, counts)


async def _ensure(campaigns: CampaignManager, settings: DebtorsCampaignSettings) -> None:
    """The campaign exists and has the config's settings (the config is where they live)."""
    wanted_settings = campaign_settings(settings)
    try:
        current = await campaigns.get(settings.name)
    except CampaignError:
        await campaigns.create(settings.name, wanted_settings)
        return
    if current.settings != wanted_settings:
        changes = {f.name: getattr(wanted_settings, f.name) for f in fields(wanted_settings)}
        await campaigns.edit(settings.name, **changes)


@dataclass(frozen=True, slots=True)
class _Started:
    said: str
    queued: int = 0


async def _begin_today(campaigns: CampaignManager, name: str) -> _Started:
    now = campaigns.clock.now()
    today = campaigns.clock.local(now).date()
    async with campaigns.sessions.begin() as session:
        row = await session.scalar(select(Campaign).where(Campaign.name == name))
        if row is None:  # deleted between the refresh and now
            return _Started("the campaign was deleted meanwhile: not started")
        if row.state == CampaignState.PAUSED:
            return _Started(f"paused (by staff): not started; run {row.run_no} waits")
        if row.last_run_on == today and row.state != CampaignState.IDLE:
            return _Started(f"run {row.run_no} already began today: numbers refreshed")
        try:
            queued = await campaigns.begin_run(session, row, now)
        except CampaignError:  # no numbers: nobody owes anything
            return _Started("nobody to call: not started")
        return _Started(f"run {row.run_no} began, {queued} number(s) queued", queued)
