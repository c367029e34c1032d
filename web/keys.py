"""Keys the web room makes once and keeps in the database (table `web_keys`): the admin
session cookies' signing key. Kept there, not in a file or the settings, so a restart
logs nobody out and every instance on the same database signs and reads the same cookies.

The first instance to ask inserts a random key (`INSERT … ON CONFLICT DO NOTHING`), and
every instance then reads the one that stands: two starting at once still agree.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from primitives.clock import Clock
from storage import Base
from storage.upsert import insert_for

KEY_BYTES = 32


class KeyRow(Base):
    __tablename__ = "web_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    """URL-safe base64 of KEY_BYTES random bytes."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Keys:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def get(self, name: str) -> str:
        """The key called `name`, made now if it was never made."""
        async with self._sessions.begin() as session:
            made = (
                insert_for(session, KeyRow)
                .values(
                    name=name,
                    value=secrets.token_urlsafe(KEY_BYTES),
                    created_at=self._clock.now(),
                )
                .on_conflict_do_nothing(index_elements=[KeyRow.name])
            )
            await session.execute(made)
            value = await session.scalar(select(KeyRow.value).where(KeyRow.name == name))
        assert value is not None
        return value
