"""Job `charge_fee`: the embedded billing's tariff fee, charged once per subscriber and day.

The rules (README, "The embedded billing's periodic work"):

* `daily` (default): each local day costs fee ÷ days of that month, rounded half up to the
  kopeck (but never so high that the month's other days would pass the fee); the month's
  last day takes the remainder, so a 28-, 29-, 30- or 31-day month sums exactly to the fee.
* `monthly`: the whole fee is charged for the 1st.
* Frozen and disabled subscribers, and tariffs costing 0, are not charged. A subscriber is
  charged from the local day they were added on.
* Each charge is an audit journal entry written in the transaction that moves the balance.
* Never twice for one subscriber and one day: `billing_fee_charges` has the key (login,
  day), and the charge row is inserted with ON CONFLICT DO NOTHING in the same transaction
  as the balance move; only the rows that went in move a balance. A rerun, a restart in the
  middle, a manual run while the scheduled one runs or a second instance charge nothing more.
* After downtime the days missed since the last finished day are charged (each once), up to
  `billing.fee_catch_up_days`; older ones are logged and left.

Subscribers are worked through in batches of `batch`, one transaction each, their rows
locked first (SELECT … FOR UPDATE on PostgreSQL, SQLite's write lock), so a payment or a
freeze racing the job lands either before (and counts) or after (and sees the charge).
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.audit import AuditJournal
from billing_client.local.admin import take_write_lock
from billing_client.models import AuditEntry, FeeCharge, FeeDay, Subscriber
from billing_client.money import from_cents
from billing_client.outcomes import MoneySource
from billing_client.settings import BillingSettings
from primitives.clock import Clock
from primitives.job_result import JobResult
from storage.upsert import insert_for

log = logging.getLogger("pbxbridge.billing.fees")

JOB = "charge_fee"
SOURCE = MoneySource(kind="job", user=JOB)
BATCH = 500
FeeMode = Literal["daily", "monthly"]

_SUBSCRIBERS = cast(Table, Subscriber.__table__)
_MOVE = (
    update(_SUBSCRIBERS)
    .where(_SUBSCRIBERS.c.id == bindparam("b_id"))
    .values(
        balance_cents=_SUBSCRIBERS.c.balance_cents - bindparam("b_amount"),
        updated_at=bindparam("b_now"),
    )
)


def month_days(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def day_fee_cents(fee_cents: int, day: date, mode: FeeMode) -> int:
    """What `day` costs of a monthly fee of `fee_cents` (see the module's rules)."""
    if fee_cents <= 0:
        return 0
    if mode == "monthly":
        return fee_cents if day.day == 1 else 0
    days = month_days(day)
    # Half up, capped so that the first days-1 days never pass the fee (a fee of 0.47
    # would round to 0.02 a day: 30 of those are 0.60).
    daily = min((2 * fee_cents + days) // (2 * days), fee_cents // (days - 1))
    return fee_cents - (days - 1) * daily if day.day == days else daily


def days_to_charge(today: date, last_done: date | None, catch_up: int) -> tuple[list[date], int]:
    """(the days to go through, oldest first; how many missed days are beyond catch_up)."""
    if last_done is None or last_done >= today:
        return [today], 0
    first = last_done + timedelta(days=1)
    earliest = today - timedelta(days=catch_up)
    beyond = max((earliest - first).days, 0)
    first = max(first, earliest)
    return [first + timedelta(days=n) for n in range((today - first).days + 1)], beyond


@dataclass
class _Tally:
    charged: int = 0
    already: int = 0
    cents: int = 0


@dataclass(frozen=True, slots=True)
class _Due:
    id: int
    login: str
    amount: int


async def charge_fee(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: BillingSettings,
    audit: AuditJournal,
    *,
    batch: int = BATCH,
) -> JobResult:
    """Charge today's fee (and missed days' within the catch-up window) to every subscriber
    who owes it and has not been charged for that day yet."""
    today = clock.today()
    async with sessions() as session:
        last_done = await session.scalar(select(func.max(FeeDay.day)))
    days, beyond = days_to_charge(today, last_done, settings.fee_catch_up_days)
    if beyond:
        log.warning(
            "charge_fee: %d day(s) before %s were missed and are older than "
            "billing.fee_catch_up_days = %d: not charged",
            beyond,
            days[0],
            settings.fee_catch_up_days,
        )
    tally = _Tally()
    for day in days:
        await _charge_day(sessions, clock, settings.fee_mode, audit, day, batch, tally)
    span = str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]}"
    summary = (
        f"{settings.fee_mode} fee for {span}: charged {tally.charged} subscriber-day(s), "
        f"{from_cents(tally.cents)} in all; {tally.already} already charged"
    )
    if beyond:
        summary += f"; {beyond} older missed day(s) left uncharged"
    return JobResult(
        summary,
        {
            "charged": tally.charged,
            "already_charged": tally.already,
            "kopecks": tally.cents,
            "days": len(days),
            "days_missed": beyond,
        },
    )


async def _charge_day(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    mode: FeeMode,
    audit: AuditJournal,
    day: date,
    batch: int,
    tally: _Tally,
) -> None:
    after = 0
    while True:
        async with sessions.begin() as session:
            rows = await _locked_batch(session, after, batch)
            if not rows:
                break
            after = rows[-1].id
            due = [
                _Due(r.id, r.login, amount)
                for r in rows
                if clock.local(r.created_at).date() <= day
                and (amount := day_fee_cents(r.fee_cents, day, mode)) > 0
            ]
            if due:
                await _charge(session, clock.now(), audit, day, mode, due, tally)
    async with sessions.begin() as session:
        await session.execute(
            insert_for(session, FeeDay)
            .values(day=day, finished_at=clock.now())
            .on_conflict_do_nothing(index_elements=["day"])
        )


async def _locked_batch(session: AsyncSession, after: int, batch: int) -> list[Any]:
    """The next subscribers who may owe a fee, their rows locked for this transaction."""
    await take_write_lock(session)  # SQLite: the reads below happen under the write lock
    result = await session.execute(
        select(Subscriber.id, Subscriber.login, Subscriber.fee_cents, Subscriber.created_at)
        .where(
            Subscriber.id > after,
            Subscriber.fee_cents > 0,
            Subscriber.frozen.is_(False),
            Subscriber.disabled.is_(False),
        )
        .order_by(Subscriber.id)
        .limit(batch)
        .with_for_update()
    )
    return list(result.all())


async def _charge(
    session: AsyncSession,
    now: datetime,
    audit: AuditJournal,
    day: date,
    mode: FeeMode,
    due: list[_Due],
    tally: _Tally,
) -> None:
    inserted = await session.execute(
        insert_for(session, FeeCharge)
        .values(
            [
                {"login": d.login, "day": day, "amount_cents": d.amount, "charged_at": now}
                for d in due
            ]
        )
        .on_conflict_do_nothing(index_elements=["login", "day"])
        .returning(FeeCharge.login)
    )
    new = set(inserted.scalars())
    tally.already += len(due) - len(new)
    charged = [d for d in due if d.login in new]
    if not charged:
        return
    await session.execute(
        _MOVE, [{"b_id": d.id, "b_amount": d.amount, "b_now": now} for d in charged]
    )
    rows = await session.execute(
        select(Subscriber.id, Subscriber.balance_cents).where(
            Subscriber.id.in_([d.id for d in charged])
        )
    )
    after: dict[int, int] = dict(rows.all())
    detail = _detail(day, mode)
    entries = [
        audit.values(
            login=d.login,
            kind="fee",
            amount=from_cents(-d.amount),
            before=from_cents(after[d.id] + d.amount),
            after=from_cents(after[d.id]),
            source=SOURCE,
            outcome="ok",
            detail=detail,
        )
        for d in charged
    ]
    await session.execute(insert(AuditEntry), entries)
    tally.charged += len(charged)
    tally.cents += sum(d.amount for d in charged)


def _detail(day: date, mode: FeeMode) -> str:
    if mode == "monthly":
        return f"monthly fee for {day:%Y-%m}"
    days = month_days(day)
    last = " (the month's last day: the remainder)" if day.day == days else ""
    return f"daily fee for {day.isoformat()}, day {day.day} of {days}{last}"
