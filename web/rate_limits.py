"""Request limits kept in the database, so every pbxbridge instance behind one balancer
counts the same requests (the callback form: per client address, per number).

One row per (limit, subject, window number): `hits` in that fixed window, raised by an atomic
upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), so two instances at once cannot
both take the last place. A fixed window alone would let 2×limit through around its edge,
so the verdict weighs the previous window in, as a sliding window would (the count of
the previous window times the share of it still inside the sliding one, plus this
window's). Every attempt counts, refused ones too: a client that keeps hammering stays
refused until it stops.

Bounded: a row lives for two windows of its limit; rows older than that are deleted at
most once per `prune_every` per process. The table holds at most the subjects seen in the
last two windows.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from primitives.clock import Clock
from storage import Base
from storage.upsert import insert_for

MAX_SUBJECT = 64
IPV6_PREFIX = 64
"""An IPv6 client is counted by its /64: one subscriber line gets a whole /64 or more."""


class RateLimitRow(Base):
    __tablename__ = "web_rate_limits"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    """The limit's name (`Limit.name`)."""
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    """The window's number: seconds since the epoch // the limit's period."""
    hits: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    """The limit's name in the table (`form-ip`): at most 16 characters."""
    count: int
    per: timedelta

    @property
    def seconds(self) -> int:
        return max(1, int(self.per.total_seconds()))


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    hits: float
    """The sliding-window estimate this attempt included."""
    retry_after: int
    """Seconds until an attempt may pass again (0 when allowed)."""


def ip_subject(address: str) -> str:
    """What a client address is counted as: itself (IPv4), its /64 (IPv6), or the text
    when it is not an address (a Unix socket's peer)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:MAX_SUBJECT]
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class RateLimits:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        prune_every: timedelta = timedelta(minutes=10),
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._prune_every = prune_every
        self._pruned: dict[str, datetime] = {}

    async def hit(self, limit: Limit, subject: str) -> Verdict:
        """Count one attempt of `subject` against `limit`; whether it may pass."""
        subject = subject[:MAX_SUBJECT]
        now = self._clock.now()
        epoch = now.timestamp()
        period = limit.seconds
        window = int(epoch // period)
        into = (epoch - window * period) / period  # share of this window gone by, 0 … 1
        async with self._sessions.begin() as session:
            upsert = insert_for(session, RateLimitRow).values(
                name=limit.name, subject=subject, bucket=window, hits=1
            )
            counted = upsert.on_conflict_do_update(
                index_elements=[RateLimitRow.name, RateLimitRow.subject, RateLimitRow.bucket],
                set_={"hits": RateLimitRow.hits + 1},
            ).returning(RateLimitRow.hits)
            current = (await session.execute(counted)).scalar_one()
            previous = await session.scalar(
                select(RateLimitRow.hits).where(
                    RateLimitRow.name == limit.name,
                    RateLimitRow.subject == subject,
                    RateLimitRow.bucket == window - 1,
                )
            )
            await self._prune(session, limit, window, now)
        estimate = (previous or 0) * (1 - into) + current
        if estimate <= limit.count:
            return Verdict(True, estimate, 0)
        return Verdict(False, estimate, self._retry_after(limit, previous or 0, current, into))

    @staticmethod
    def _retry_after(limit: Limit, previous: int, current: int, into: float) -> int:
        """Seconds until one more attempt would pass, if no other comes meanwhile."""
        period = limit.seconds
        if current + 1 > limit.count:
            # Not in this window: in the next one this window's count is the previous one.
            into_next = 1 - (limit.count - 1) / current
            wait = (1 - into) + max(0.0, into_next)
        elif previous:
            # This window's own count leaves room once enough of the previous one slides out.
            share = (limit.count - current - 1) / previous  # the weight that would fit
            wait = max(0.0, (1 - share) - into)
        else:
            wait = 0.0
        return max(1, math.ceil(wait * period))

    async def _prune(self, session: AsyncSession, limit: Limit, window: int, now: datetime) -> None:
        last = self._pruned.get(limit.name)
        if last is not None and now - last < self._prune_every:
            return
        self._pruned[limit.name] = now
        await session.execute(
            delete(RateLimitRow).where(
                RateLimitRow.name == limit.name, RateLimitRow.bucket < window - 1
            )
        )
