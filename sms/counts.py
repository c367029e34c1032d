"""How many messages the inbox and the outbox hold in each state (for /metrics).

Read-only, one grouped query per table; every known state is present (0 when none), and
a state this version does not know (written by a newer one) is counted as `other`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sms.models import InboxRow, OutboxRow
from sms.types import OutboxState

INBOX_STAGES = ("stored", "done")
"""`stored`: received, the sender's lookup and auto-reply not settled yet; `done`: settled."""
OTHER = "other"


@dataclass(frozen=True, slots=True)
class SmsCounts:
    outbox: dict[str, int]
    """Outbox messages by state (queued, sending, sent, delivered, failed, unknown)."""
    inbox: dict[str, int]
    """Inbox messages by stage (stored, done)."""


def _fold(known: tuple[str, ...], rows: list[tuple[str, int]]) -> dict[str, int]:
    counts = dict.fromkeys(known, 0)
    for state, count in rows:
        key = state if state in counts else OTHER
        counts[key] = counts.get(key, 0) + count
    return counts


async def sms_counts(sessions: async_sessionmaker[AsyncSession]) -> SmsCounts:
    async with sessions() as session:
        outbox = await session.execute(
            select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
        )
        inbox = await session.execute(select(InboxRow.stage, func.count()).group_by(InboxRow.stage))
        return SmsCounts(
            outbox=_fold(tuple(s.value for s in OutboxState), [(s, n) for s, n in outbox]),
            inbox=_fold(INBOX_STAGES, [(s, n) for s, n in inbox]),
        )
