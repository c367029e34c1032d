"""Lockout of pay-card and PIN guessing, kept in the database so every process shares it.

Each failure (an invalid or used card, a wrong PIN; never a billing error) counts against
the calling number and against the login. When either reaches `failures` within the
rolling `window`, both are locked for `window` from that failure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agi.models import Lockout, LockoutFailure
from billing_client.clock import Clock


def _subjects(number: str | None, login: str | None) -> list[str]:
    subjects = []
    if number:
        subjects.append(f"number:{number}")
    if login:
        subjects.append(f"login:{login}")
    return subjects


class LockoutGuard:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        failures: int = 5,
        window: float = 3600.0,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._failures = failures
        self._window = timedelta(seconds=window)

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
        """Count one failure; True when it locked the number and login."""
        subjects = _subjects(number, login)
        if not subjects:
            return False
        now = self._clock.now()
        since = now - self._window
        async with self._sessions.begin() as session:
            session.add_all(LockoutFailure(subject=s, at=now, reason=reason) for s in subjects)
            await session.flush()
            await session.execute(delete(LockoutFailure).where(LockoutFailure.at < since))
            await session.execute(delete(Lockout).where(Lockout.until < now))
            counts = await session.execute(
                select(LockoutFailure.subject, func.count())
                .where(LockoutFailure.subject.in_(subjects), LockoutFailure.at >= since)
                .group_by(LockoutFailure.subject)
            )
            if max(n for _, n in counts.all()) < self._failures:
                return False
            until = now + self._window
            for subject in subjects:
                existing = await session.get(Lockout, subject)
                if existing is None:
                    session.add(Lockout(subject=subject, until=until))
                else:
                    existing.until = until
        return True

    async def clear(self, number: str | None, login: str | None) -> None:
        """Lift a lock by hand (staff); failures are forgotten too."""
        subjects = _subjects(number, login)
        async with self._sessions.begin() as session:
            await session.execute(delete(Lockout).where(Lockout.subject.in_(subjects)))
            await session.execute(
                delete(LockoutFailure).where(LockoutFailure.subject.in_(subjects))
            )
