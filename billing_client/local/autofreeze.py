"""Job `autofreeze`: freeze debtors, and unfreeze the ones it froze once they have paid.

Ubilling's `autofreeze` remoteapi action freezes every user who is not frozen, has no
credit and whose cash is at or below `AUTOFREEZE_CASH_LIMIT`, at each call. Here:

* *in debt* means: no credit in force and a balance below `billing.autofreeze_limit`
  (strictly: a balance of exactly the limit is no debt); disabled subscribers (status 3
  already) are left alone;
* a subscriber is frozen once the job has seen them in debt for
  `billing.autofreeze_after_days` local days (0: at the first run that sees it). The first
  sighting is kept in `billing_autofreeze_watch`; the debt paid, or a freeze by anyone,
  drops it;
* with `billing.autofreeze_unfreeze_on_payment`, a frozen subscriber no longer in debt
  (whatever paid it: a card by phone, a payment at the CLI, an import) is unfrozen, but
  only when the last freeze was this job's: a subscriber frozen by staff or at their own
  request stays frozen. The journal tells whose each freeze was.

Both go through `LocalAdmin.set_frozen`, the path of `pbxbridge subscribers freeze`, so
they are journalled the same way and whatever follows a freeze there (voice lines
suspended) follows here too. The rule is checked again on the locked row, so a payment
that lands between the read and the freeze wins.

Detecting payments at the job's next run, rather than hooking every payment path, keeps
one place that decides; run the job as often as unfreezing should be prompt (it reads
one row per subscriber and is cheap).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client import rules
from billing_client.errors import AdminError
from billing_client.local.admin import FlagCondition, LocalAdmin
from billing_client.models import AuditEntry, AutofreezeWatch, Subscriber
from billing_client.money import from_cents
from billing_client.outcomes import MoneySource
from billing_client.settings import BillingSettings
from billing_client.subscriber import SubscriberInfo
from primitives.clock import Clock
from primitives.job_result import JobResult
from storage.upsert import insert_for

log = logging.getLogger("pbxbridge.billing.autofreeze")

JOB = "autofreeze"
SOURCE = MoneySource(kind="job", user=JOB)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class _Row:
    login: str
    balance_cents: int
    credit_cents: int
    credit_expire: date | None
    frozen: bool
    disabled: bool


def in_debt(*, balance: Decimal, credit_in_force: Decimal, limit: Decimal) -> bool:
    """The debt rule of autofreeze: no credit in force and a balance below the limit."""
    return credit_in_force <= 0 and balance < limit


def _row_in_debt(row: _Row, limit: Decimal, today: date) -> bool:
    credit = rules.active_credit(from_cents(row.credit_cents), row.credit_expire, today)
    return in_debt(balance=from_cents(row.balance_cents), credit_in_force=credit, limit=limit)


def _info_in_debt(info: SubscriberInfo, limit: Decimal) -> bool:
    return in_debt(balance=info.balance, credit_in_force=info.credit, limit=limit)


def _may_freeze(info: SubscriberInfo, limit: Decimal) -> bool:
    return not info.disabled and _info_in_debt(info, limit)


def _may_unfreeze(info: SubscriberInfo, limit: Decimal) -> bool:
    return not _info_in_debt(info, limit)


async def autofreeze(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: BillingSettings,
    admin: LocalAdmin,
) -> JobResult:
    """Freeze who has been below the limit long enough; unfreeze who paid (if configured)."""
    today = clock.today()
    limit = settings.autofreeze_limit
    rows = await _subscribers(sessions)
    below = {
        r.login for r in rows if not r.frozen and not r.disabled and _row_in_debt(r, limit, today)
    }
    since = await _watch(sessions, below, today)
    cutoff = today - timedelta(days=settings.autofreeze_after_days)
    due = sorted(login for login in below if since[login] <= cutoff)
    frozen = await _freeze(admin, due, since, limit)
    unfrozen = 0
    if settings.autofreeze_unfreeze_on_payment:
        paid = [r.login for r in rows if r.frozen and not _row_in_debt(r, limit, today)]
        unfrozen = await _unfreeze(admin, await _frozen_by_us(sessions, paid), limit)
    waiting = len(below) - frozen
    summary = (
        f"froze {frozen} below {limit} (after {settings.autofreeze_after_days} day(s)), "
        f"unfroze {unfrozen} who paid; {waiting} below the limit not frozen yet"
    )
    return JobResult(summary, {"frozen": frozen, "unfrozen": unfrozen, "waiting": waiting})


async def _subscribers(sessions: async_sessionmaker[AsyncSession]) -> list[_Row]:
    async with sessions() as session:
        result = await session.execute(
            select(
                Subscriber.login,
                Subscriber.balance_cents,
                Subscriber.credit_cents,
                Subscriber.credit_expire,
                Subscriber.frozen,
                Subscriber.disabled,
            )
        )
        return [_Row(*r) for r in result]


async def _watch(
    sessions: async_sessionmaker[AsyncSession], below: set[str], today: date
) -> dict[str, date]:
    """Bring the watch list to `below` (new ones since today); each login's first sighting."""
    async with sessions.begin() as session:
        result = await session.execute(select(AutofreezeWatch.login, AutofreezeWatch.below_since))
        known: dict[str, date] = dict(result.all())
        gone = sorted(set(known) - below)
        for start in range(0, len(gone), _CHUNK):
            await session.execute(
                delete(AutofreezeWatch).where(
                    AutofreezeWatch.login.in_(gone[start : start + _CHUNK])
                )
            )
        new = sorted(below - set(known))
        for start in range(0, len(new), _CHUNK):
            await session.execute(
                insert_for(session, AutofreezeWatch)
                .values(
                    [
                        {"login": login, "below_since": today}
                        for login in new[start : start + _CHUNK]
                    ]
                )
                .on_conflict_do_nothing(index_elements=["login"])
            )
    return {login: known.get(login, today) for login in below}


async def _set(admin: LocalAdmin, login: str, freeze: bool, note: str, rule: FlagCondition) -> bool:
    """Freeze or unfreeze through the admin's one path; whether this call made the change
    (`when` is asked only when the flag would change, so its True is ours)."""
    changed = False

    def check(info: SubscriberInfo) -> bool:
        nonlocal changed
        changed = rule(info)
        return changed

    try:
        info = await admin.set_frozen(
            login, freeze, actor=JOB, note=note, when=check, source=SOURCE
        )
    except AdminError as exc:  # deleted meanwhile
        log.info("autofreeze: %s left as is: %s", login, exc)
        return False
    if changed:
        what = "froze" if freeze else "unfroze"
        log.info("autofreeze: %s %s (balance %s)", what, login, info.balance)
    return changed


async def _freeze(
    admin: LocalAdmin, due: Sequence[str], since: dict[str, date], limit: Decimal
) -> int:
    count = 0
    for login in due:
        note = f"balance below {limit} since {since[login].isoformat()}"
        count += await _set(admin, login, True, note, lambda i: _may_freeze(i, limit))
    return count


async def _frozen_by_us(
    sessions: async_sessionmaker[AsyncSession], logins: Sequence[str]
) -> builtins.list[str]:
    """Those of `logins` whose last freeze or unfreeze in the journal is this job's freeze."""
    ours: builtins.list[str] = []
    async with sessions() as session:
        for start in range(0, len(logins), _CHUNK):
            chunk = logins[start : start + _CHUNK]
            last = (
                select(func.max(AuditEntry.id))
                .where(AuditEntry.field == "frozen", AuditEntry.login.in_(chunk))
                .group_by(AuditEntry.login)
            )
            rows = await session.execute(
                select(
                    AuditEntry.login, AuditEntry.kind, AuditEntry.source, AuditEntry.actor
                ).where(AuditEntry.id.in_(last))
            )
            ours += [
                login
                for login, kind, source, actor in rows
                if (kind, source, actor) == ("freeze", SOURCE.kind, SOURCE.user)
            ]
    return sorted(ours)


async def _unfreeze(admin: LocalAdmin, logins: Sequence[str], limit: Decimal) -> int:
    count = 0
    for login in logins:
        note = f"balance back at or above {limit}"
        count += await _set(admin, login, False, note, lambda i: _may_unfreeze(i, limit))
    return count
