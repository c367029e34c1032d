"""Lockout of pay-card and PIN guessing, kept in the database so every process shares it.

Each failure (an invalid or used card, a wrong PIN; never a billing error) counts against
the calling number and against the login. When either reaches `failures` within the
rolling `window`, both are locked for `window` from that failure.

Calls race: fifty calls may try one card at once. A failure is a plain insert and a lock
is set with the database's upsert (`storage.upsert`), so every racing call counts its
failure exactly once and none dies on a duplicate key. A lock in force is not extended by
a racing failure; the upsert says which subjects it newly locked, and `on_lock` (the
root's staff notice) hears of each new lock once, after it is committed.

Staff lift a lock with `clear()`: the named number or login and the subjects its recent
failures were counted with (a number and its login are locked together, and either lock
alone still refuses the caller), recorded in the audit journal.

Rows stay few: failures are counted only for numbers that belong to a login, each
subject's failures older than the window go when it fails again or is cleared, and a
subject has one lock row, overwritten when it is locked again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agi.models import Lockout, LockoutFailure
from billing_client.audit import AuditJournal
from billing_client.models import AuditEntry
from billing_client.outcomes import MoneySource
from primitives.clock import Clock
from storage.upsert import insert_for

log = logging.getLogger(__name__)

NUMBER = "number:"
LOGIN = "login:"

SubjectKind = Literal["number", "login"]


@dataclass(frozen=True, slots=True)
class LockEvent:
    """A number and/or login that just got locked (each None when it was not newly locked)."""

    number: str | None
    login: str | None
    failures: int
    until: datetime
    """When the lock ends, in the clock's timezone."""
    reason: str
    """The failure that locked it: INVALID, USED, pin."""


OnLock = Callable[[LockEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LockoutEntry:
    """A subject with a lock in force or failures within the window (`list`)."""

    kind: SubjectKind
    value: str
    failures: int
    locked_until: datetime | None
    last_failure: datetime | None


@dataclass(frozen=True, slots=True)
class Cleared:
    """What `clear` lifted: subjects as (kind, value), locks in force, failures forgotten."""

    subjects: tuple[tuple[SubjectKind, str], ...]
    locks: int
    failures: int

    def describe(self) -> str:
        if not self.subjects:
            return "nothing was locked or counted"
        names = " and ".join(f"{kind} {value}" for kind, value in self.subjects)
        return f"{names}: {self.locks} lock(s) lifted, {self.failures} failure(s) forgotten"


def _subjects(number: str | None, login: str | None) -> list[str]:
    subjects = []
    if number:
        subjects.append(f"{NUMBER}{number}")
    if login:
        subjects.append(f"{LOGIN}{login}")
    return subjects


def split_subject(subject: str) -> tuple[SubjectKind, str]:
    if subject.startswith(NUMBER):
        return "number", subject.removeprefix(NUMBER)
    return "login", subject.removeprefix(LOGIN)


class LockoutGuard:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        failures: int = 5,
        window: float = 3600.0,
        on_lock: OnLock | None = None,
        audit: AuditJournal | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._failures = failures
        self._window = timedelta(seconds=window)
        self._on_lock = on_lock
        self._audit = audit

    async def locked_until(self, number: str | None, login: str | None) -> datetime | None:
        subjects = _subjects(number, login)
        if not subjects:
            return None
        now = self._clock.now()
        async with self._sessions() as session:
            until = await session.scalar(
                select(func.max(Lockout.until)).where(
                    Lockout.subject.in_(subjects), Lockout.until > now
                )
            )
        return None if until is None else self._clock.local(until)

    async def record_failure(self, number: str | None, login: str | None, reason: str) -> bool:
        """Count one failure; True when the number and login are locked after it."""
        subjects = _subjects(number, login)
        if not subjects:
            return False
        now = self._clock.now()
        since = now - self._window
        partner = dict(zip(subjects, reversed(subjects), strict=True)) if len(subjects) == 2 else {}
        async with self._sessions.begin() as session:
            session.add_all(
                LockoutFailure(subject=s, at=now, reason=reason, partner=partner.get(s))
                for s in subjects
            )
            await session.flush()
            await session.execute(
                delete(LockoutFailure).where(
                    LockoutFailure.subject.in_(subjects), LockoutFailure.at < since
                )
            )
            counts = await session.execute(
                select(func.count())
                .where(LockoutFailure.subject.in_(subjects), LockoutFailure.at >= since)
                .group_by(LockoutFailure.subject)
            )
            failures = max(counts.scalars())
            if failures < self._failures:
                return False
            until = now + self._window
            upsert = insert_for(session, Lockout).values(
                [{"subject": s, "until": until} for s in sorted(subjects)]
            )
            # Only an expired lock is renewed: one in force stays as it is, and is not
            # returned, so a lock is announced once however many calls race into it.
            renew = upsert.on_conflict_do_update(
                index_elements=[Lockout.subject],
                set_={"until": upsert.excluded.until},
                where=Lockout.until <= now,
            ).returning(Lockout.subject)
            newly = set((await session.execute(renew)).scalars())
        if newly:
            await self._locked(
                LockEvent(
                    number=number if f"{NUMBER}{number}" in newly else None,
                    login=login if f"{LOGIN}{login}" in newly else None,
                    failures=failures,
                    until=self._clock.local(until),
                    reason=reason,
                )
            )
        return True

    async def _locked(self, event: LockEvent) -> None:
        who = " and ".join(
            f"{kind} {value}"
            for kind, value in (("number", event.number), ("login", event.login))
            if value
        )
        log.warning(
            "lockout: %s locked until %s after %d failures (last: %s)",
            who,
            event.until.isoformat(timespec="seconds"),
            event.failures,
            event.reason,
        )
        if self._on_lock is None:
            return
        try:
            await self._on_lock(event)
        except Exception:
            log.exception("lockout: telling staff about the lock of %s failed", who)

    async def entries(self) -> list[LockoutEntry]:
        """Subjects locked now or with failures in the window: locked first, numbers first."""
        now = self._clock.now()
        since = now - self._window
        async with self._sessions() as session:
            locked = await session.execute(
                select(Lockout.subject, Lockout.until).where(Lockout.until > now)
            )
            locks = dict(locked.all())
            counted = await session.execute(
                select(LockoutFailure.subject, func.count(), func.max(LockoutFailure.at))
                .where(LockoutFailure.at >= since)
                .group_by(LockoutFailure.subject)
            )
            failures = {subject: (count, last) for subject, count, last in counted}
        entries = []
        for subject in locks.keys() | failures.keys():
            kind, value = split_subject(subject)
            count, last = failures.get(subject, (0, None))
            until = locks.get(subject)
            entries.append(
                LockoutEntry(
                    kind=kind,
                    value=value,
                    failures=count,
                    locked_until=None if until is None else self._clock.local(until),
                    last_failure=None if last is None else self._clock.local(last),
                )
            )
        entries.sort(key=lambda e: (e.locked_until is None, e.kind != "number", e.value))
        return entries

    async def clear(self, number: str | None, login: str | None, *, source: MoneySource) -> Cleared:
        """Lift the locks of `number` and/or `login` by hand, and of the subjects their
        failures were counted with; their failures are forgotten too. Audited."""
        named = _subjects(number, login)
        if not named:
            return Cleared((), 0, 0)
        now = self._clock.now()
        since = now - self._window
        async with self._sessions.begin() as session:
            partners = await session.scalars(
                select(LockoutFailure.partner)
                .where(
                    LockoutFailure.subject.in_(named),
                    LockoutFailure.at >= since,
                    LockoutFailure.partner.is_not(None),
                )
                .distinct()
            )
            subjects = sorted({*named, *(p for p in partners if p)})
            locked = set(
                await session.scalars(
                    select(Lockout.subject).where(
                        Lockout.subject.in_(subjects), Lockout.until > now
                    )
                )
            )
            counts = await session.execute(
                select(LockoutFailure.subject, func.count())
                .where(LockoutFailure.subject.in_(subjects), LockoutFailure.at >= since)
                .group_by(LockoutFailure.subject)
            )
            counted = dict(counts.all())
            await session.execute(delete(Lockout).where(Lockout.subject.in_(subjects)))
            await session.execute(
                delete(LockoutFailure).where(LockoutFailure.subject.in_(subjects))
            )
            touched = [s for s in subjects if s in locked or s in counted]
            cleared = Cleared(
                subjects=tuple(_ordered(split_subject(s) for s in touched)),
                locks=len(locked),
                failures=max(counted.values(), default=0),
            )
            if touched and self._audit is not None:
                session.add(self._audit_entry(cleared, source))
        if touched:
            log.info("lockout: %s by %s", cleared.describe(), source.describe())
        return cleared

    def _audit_entry(self, cleared: Cleared, source: MoneySource) -> AuditEntry:
        assert self._audit is not None
        logins = [value for kind, value in cleared.subjects if kind == "login"]
        numbers = [value for kind, value in cleared.subjects if kind == "number"]
        return self._audit.entry(
            login=logins[0] if logins else "",
            kind="unlock",
            field="lockout",
            amount=Decimal(0),
            source=replace(source, number=numbers[0] if numbers else source.number),
            outcome="ok",
            detail=f"lockout lifted: {cleared.describe()}",
        )


def _ordered(
    subjects: Iterable[tuple[SubjectKind, str]],
) -> list[tuple[SubjectKind, str]]:
    """Numbers first, then logins, each sorted: how staff read "number X and login Y"."""
    return sorted(subjects, key=lambda s: (s[0] != "number", s[1]))
