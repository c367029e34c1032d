"""Reading the inbox and the outbox a page at a time, with date bounds (the REST API's lists).

`Inbox.list` and `Outbox.list` give the newest N (the CLI, the bot); these continue below a
row id, so a client can walk every message without missing or repeating one while new ones
arrive, and bound them by time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sms.inbox import stored_view
from sms.models import InboxRow, OutboxRow
from sms.outbox import view
from sms.types import OutboxMessage, OutboxState, StoredSms


class SmsHistory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def inbox_page(
        self,
        limit: int,
        *,
        before: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StoredSms]:
        """Received messages newest first: ids below `before`, received in [since, until)."""
        query = select(InboxRow).order_by(InboxRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(InboxRow.id < before)
        if since is not None:
            query = query.where(InboxRow.received_at >= since)
        if until is not None:
            query = query.where(InboxRow.received_at < until)
        async with self._sessions() as session:
            return [stored_view(r) for r in await session.scalars(query)]

    async def outbox_page(
        self,
        limit: int,
        *,
        before: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        state: OutboxState | None = None,
    ) -> list[OutboxMessage]:
        """Queued messages (one row per part) newest first: ids below `before`, queued in
        [since, until), in `state` when given."""
        query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(OutboxRow.id < before)
        if since is not None:
            query = query.where(OutboxRow.created_at >= since)
        if until is not None:
            query = query.where(OutboxRow.created_at < until)
        if state is not None:
            query = query.where(OutboxRow.state == state.value)
        async with self._sessions() as session:
            return [view(r) for r in await session.scalars(query)]
