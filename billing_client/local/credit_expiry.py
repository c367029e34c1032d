"""Job `end_credits`: a credit whose last day has passed is cleared and journalled.

A credit is in force to the end of its expiry day (`rules.credit_active`), so the status
and days left never count an expired credit even before this job runs. The job makes the
stored values say the same (credit 0, no expiry date, as Stargazer clears an expired
credit), so exports, reports and the journal agree with what the subscriber was told: one
`credit` entry per credit ended (amount −credit, detail "expired after <date>"). The
month-limit bookkeeping (`last_credit_on`) is left as it is.

Exactly once: each batch reads its rows under the write lock (SELECT … FOR UPDATE on
PostgreSQL, SQLite's write lock) and clears only rows still carrying an expired credit, so
two runs at once end each credit once and journal it once.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.audit import AuditJournal
from billing_client.local.admin import take_write_lock
from billing_client.models import AuditEntry, Subscriber
from billing_client.money import from_cents
from billing_client.outcomes import MoneySource
from primitives.clock import Clock
from primitives.job_result import JobResult

JOB = "end_credits"
SOURCE = MoneySource(kind="job", user=JOB)
BATCH = 500


async def end_credits(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    audit: AuditJournal,
    *,
    batch: int = BATCH,
) -> JobResult:
    """Clear every credit whose expiry day is before today (local), journalling each."""
    today = clock.today()
    ended = 0
    cents = 0
    while True:
        async with sessions.begin() as session:
            done = await _end_batch(session, clock, audit, today, batch)
        if not done:
            break
        ended += len(done)
        cents += sum(done)
    return JobResult(
        f"ended {ended} expired credit(s), {from_cents(cents)} in all",
        {"ended": ended, "kopecks": cents},
    )


async def _end_batch(
    session: AsyncSession, clock: Clock, audit: AuditJournal, today: date, batch: int
) -> list[int]:
    """End up to `batch` expired credits in this transaction; their amounts."""
    await take_write_lock(session)
    expired = (
        Subscriber.credit_cents > 0,
        Subscriber.credit_expire.is_not(None),
        Subscriber.credit_expire < today,
    )
    rows = (
        await session.execute(
            select(
                Subscriber.id, Subscriber.login, Subscriber.credit_cents, Subscriber.credit_expire
            )
            .where(*expired)
            .order_by(Subscriber.id)
            .limit(batch)
            .with_for_update()
        )
    ).all()
    if not rows:
        return []
    await session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_([r.id for r in rows]), *expired)
        .values(credit_cents=0, credit_expire=None, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        insert(AuditEntry),
        [
            audit.values(
                login=r.login,
                kind="credit",
                field="credit",
                amount=from_cents(-r.credit_cents),
                before=from_cents(r.credit_cents),
                after=from_cents(0),
                source=SOURCE,
                outcome="ok",
                detail=f"expired after {r.credit_expire.isoformat()}",
            )
            for r in rows
        ],
    )
    return [r.credit_cents for r in rows]
