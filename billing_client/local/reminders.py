"""Job `reminders`: an SMS to subscribers whose money runs out, queued in the SMS outbox.

The rules (README, "The embedded billing's periodic work"; settings `[billing.reminders]`):

* who: not frozen, not disabled, and in debt (status 2: their days left are 0) or with
  days left at most `days_left_threshold` (a tariff costing nothing, paid up, has no end);
* to: the subscriber's first mobile number (their phones in order); a subscriber with no
  mobile number is skipped and counted;
* what: `template` filled with name, login, balance, days left, fee, credit, tariff;
* when: never inside `quiet_hours` (local time): the job then defers, sending nothing, and
  the next run outside them sends;
* how often: at most once per subscriber per period (`once_per`: the local day, or the ISO
  week). `billing_reminders_sent` has the key (login, period); the row and the outbox
  message are written in one transaction, so a crash leaves both or neither, and a rerun,
  a manual run or a second instance queues nothing more.

The job never sends: it queues through the outbox (any object with the outbox's `add` and
`wake`), whose worker sends with its own at-most-once rules.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.local.admin import take_write_lock
from billing_client.local.views import StoredSubscriber, info_from_stored
from billing_client.models import ReminderSent, Subscriber, SubscriberPhone
from billing_client.reminder_settings import ReminderSettings
from billing_client.subscriber import Status, SubscriberInfo
from primitives.clock import Clock
from primitives.job_result import JobResult
from primitives.phones import PhoneNormaliser
from storage.upsert import insert_for

log = logging.getLogger("pbxbridge.billing.reminders")

JOB = "reminders"
BATCH = 200
_CHUNK = 500


class SmsQueue(Protocol):
    """What the job needs of the SMS outbox (sms.outbox.Outbox is one)."""

    async def add(
        self, session: AsyncSession, number: str, text: str, *, actor: str
    ) -> list[int]: ...

    def wake(self) -> None: ...


def period_of(day: date, once_per: str) -> str:
    """`2027-03-28` (once a day) or the ISO week `2026-W53` (once a week)."""
    if once_per == "day":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def wanted(info: SubscriberInfo, settings: ReminderSettings) -> bool:
    """Whether the subscriber is one the reminder is for (see the module's rules)."""
    if info.status == Status.FROZEN:
        return False
    if info.status == Status.DEBTOR:
        return True
    return info.days_left is not None and info.days_left <= settings.days_left_threshold


def reminder_text(info: SubscriberInfo, template: str) -> str:
    return template.format(
        name=info.name or info.login,
        login=info.login,
        balance=f"{info.balance:.2f}",
        days_left=str(info.days_left or 0),
        fee=f"{info.fee:.2f}",
        credit=f"{info.credit:.2f}",
        tariff=info.tariff,
    )


@dataclass(frozen=True, slots=True)
class _Reminder:
    login: str
    number: str
    text: str


@dataclass
class _Tally:
    queued: int = 0
    already: int = 0
    refused: int = 0
    first_refusal: str = ""


async def send_reminders(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: ReminderSettings,
    outbox: SmsQueue,
    phones: PhoneNormaliser,
    *,
    batch: int = BATCH,
) -> JobResult:
    """Queue this period's reminders (job `reminders`)."""
    if not settings.enabled:
        return JobResult("reminders are off (billing.reminders.enabled)", skipped=True)
    local = clock.local(clock.now())
    hours = settings.hours()
    if hours is not None and hours.contains(local.time()):
        return JobResult(f"quiet hours {hours}: deferred, nothing sent", skipped=True)
    period = period_of(local.date(), settings.once_per)
    infos = await _candidates(sessions, local.date(), settings, period)
    numbers = await _mobiles(sessions, [i.login for i in infos], phones)
    todo = [
        _Reminder(i.login, numbers[i.login], reminder_text(i, settings.template))
        for i in infos
        if i.login in numbers
    ]
    tally = _Tally()
    for start in range(0, len(todo), batch):
        async with sessions.begin() as session:
            await _queue(session, clock, outbox, period, todo[start : start + batch], tally)
        outbox.wake()
    if tally.refused:  # once per run, not once per subscriber (a bad template refuses all)
        log.warning(
            "%d reminder(s) refused by the outbox, e.g. %s", tally.refused, tally.first_refusal
        )
    no_mobile = len(infos) - len(todo)
    summary = (
        f"queued {tally.queued} reminder(s) for {period}; {no_mobile} without a mobile "
        f"number; {tally.already} reminded already; {tally.refused} refused by the outbox"
    )
    counts = {
        "queued": tally.queued,
        "no_mobile": no_mobile,
        "already": tally.already,
        "refused": tally.refused,
    }
    return JobResult(summary, counts)


async def _candidates(
    sessions: async_sessionmaker[AsyncSession],
    today: date,
    settings: ReminderSettings,
    period: str,
) -> list[SubscriberInfo]:
    """Who the reminder is for and has not had it this period, by login."""
    async with sessions() as session:
        sent = set(
            await session.scalars(select(ReminderSent.login).where(ReminderSent.period == period))
        )
        rows = await session.execute(
            select(
                Subscriber.login,
                Subscriber.name,
                Subscriber.balance_cents,
                Subscriber.credit_cents,
                Subscriber.credit_expire,
                Subscriber.tariff,
                Subscriber.fee_cents,
                Subscriber.frozen,
                Subscriber.disabled,
                Subscriber.pin_hash.is_not(None),
            )
            .where(Subscriber.frozen.is_(False), Subscriber.disabled.is_(False))
            .order_by(Subscriber.login)
        )
        infos = [info_from_stored(StoredSubscriber._make(r), today) for r in rows]
    return [i for i in infos if i.login not in sent and wanted(i, settings)]


async def _mobiles(
    sessions: async_sessionmaker[AsyncSession], logins: Sequence[str], phones: PhoneNormaliser
) -> dict[str, str]:
    """Each login's first mobile number (phones in their order); logins with none absent."""
    found: dict[str, str] = {}
    async with sessions() as session:
        for start in range(0, len(logins), _CHUNK):
            rows = await session.execute(
                select(Subscriber.login, SubscriberPhone.phone)
                .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
                .where(Subscriber.login.in_(logins[start : start + _CHUNK]))
                .order_by(Subscriber.login, SubscriberPhone.position)
            )
            for login, number in rows:
                if login not in found and phones.is_mobile(number):
                    found[login] = number
    return found


async def _queue(
    session: AsyncSession,
    clock: Clock,
    outbox: SmsQueue,
    period: str,
    todo: Sequence[_Reminder],
    tally: _Tally,
) -> None:
    """Claim (login, period) for `todo` and queue the messages of the claims that went in."""
    await take_write_lock(session)
    now = clock.now()
    claimed = set(
        (
            await session.execute(
                insert_for(session, ReminderSent)
                .values(
                    [
                        {"login": r.login, "period": period, "sent_at": now, "number": r.number}
                        for r in todo
                    ]
                )
                .on_conflict_do_nothing(index_elements=["login", "period"])
                .returning(ReminderSent.login)
            )
        ).scalars()
    )
    tally.already += len(todo) - len(claimed)
    for reminder in todo:
        if reminder.login not in claimed:
            continue
        where = (ReminderSent.login == reminder.login, ReminderSent.period == period)
        try:
            ids = await outbox.add(session, reminder.number, reminder.text, actor=JOB)
        except ValueError as exc:  # the outbox refused it (SmsRefused): nothing was queued
            await session.execute(delete(ReminderSent).where(*where))
            tally.refused += 1
            tally.first_refusal = tally.first_refusal or f"{reminder.login}: {exc}"
            continue
        await session.execute(update(ReminderSent).where(*where).values(outbox_id=ids[0]))
        tally.queued += 1
