"""Staff accounts of the admin pages: names, roles, argon2 password hashes (table
`web_staff_users`), made with `pbxbridge users …` or on the admin's users page.

A password is kept only as its argon2id hash (argon2-cffi's defaults, RFC 9106's
low-memory profile); a hash made with older parameters is replaced at the next login.
`authenticate` spends the same time on an unknown name as on a known one (it verifies
against a dummy hash), so the login form does not tell which names exist.

`epoch` counts the sessions' generations of an account: a new password, a disable or a
logout raise it, and every session cookie made before is dead (web/admin/sessions.py).
Every change is written to the audit journal with who made it (`staff:<name>` from the
pages, `cli:<user>` from the shell).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import DateTime, Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from billing_client.audit import AuditJournal
from billing_client.outcomes import MoneySource
from primitives.clock import Clock, as_utc
from storage import Base
from web.errors import StaffError

NAME_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
"""Longer passwords are refused (argon2 takes them, but nobody types a megabyte)."""


class Role(StrEnum):
    """What an account may do: web/admin/roles.py says which role may do what."""

    ADMIN = "admin"
    OPERATOR = "operator"


class StaffRow(Base):
    __tablename__ = "web_staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    """Raised by a new password, a disable or a logout: older sessions are dead."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True, slots=True)
class StaffUser:
    """An account as the pages and the CLI see it: never its hash."""

    id: int
    name: str
    role: Role
    epoch: int
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def actor(self) -> str:
        """Who makes a change, as every room records it."""
        return f"staff:{self.name}"


def _view(row: StaffRow) -> StaffUser:
    return StaffUser(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        epoch=row.epoch,
        created_at=as_utc(row.created_at),
        last_login_at=as_utc(row.last_login_at) if row.last_login_at else None,
        disabled_at=as_utc(row.disabled_at) if row.disabled_at else None,
    )


def check_password(password: str) -> str:
    """`password` when it may be one; StaffError saying why not."""
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise StaffError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


class StaffStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        audit: AuditJournal | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._audit = audit
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    async def _hash(self, password: str) -> str:
        # argon2 takes tens of milliseconds of CPU: off the event loop.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def add(self, name: str, role: Role, password: str, *, actor: str) -> StaffUser:
        if not NAME_SHAPE.fullmatch(name):
            raise StaffError(
                f"user name {name!r}: use 1-64 letters, digits and . _ @ - (starting with a "
                "letter or digit)"
            )
        hashed = await self._hash(check_password(password))
        row = StaffRow(
            name=name, role=role.value, password_hash=hashed, epoch=0, created_at=self._clock.now()
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                self._journal(session, actor, f"staff user {name} added, role {role.value}")
                return _view(row)
        except IntegrityError:
            raise StaffError(f"a user named {name!r} exists already") from None

    async def set_password(self, name: str, password: str, *, actor: str) -> StaffUser:
        hashed = await self._hash(check_password(password))
        async with self._sessions.begin() as session:
            row = await self._row(session, name)
            row.password_hash = hashed
            row.epoch += 1
            self._journal(session, actor, f"staff user {name}: password changed")
            return _view(row)

    async def set_role(self, name: str, role: Role, *, actor: str) -> StaffUser:
        async with self._sessions.begin() as session:
            row = await self._row(session, name)
            if row.role != role.value:
                row.role = role.value
                row.epoch += 1
                self._journal(session, actor, f"staff user {name}: role {role.value}")
            return _view(row)

    async def disable(self, name: str, *, actor: str) -> StaffUser:
        """Disable `name`: it cannot log in and its sessions end at their next request."""
        async with self._sessions.begin() as session:
            row = await self._row(session, name)
            if row.disabled_at is not None:
                raise StaffError(f"user {name!r} is disabled already")
            row.disabled_at = self._clock.now()
            row.epoch += 1
            self._journal(session, actor, f"staff user {name} disabled")
            return _view(row)

    async def enable(self, name: str, *, actor: str) -> StaffUser:
        async with self._sessions.begin() as session:
            row = await self._row(session, name)
            if row.disabled_at is None:
                raise StaffError(f"user {name!r} is not disabled")
            row.disabled_at = None
            self._journal(session, actor, f"staff user {name} enabled")
            return _view(row)

    async def end_sessions(self, user_id: int) -> None:
        """Log the account out everywhere (logout): every cookie made so far is dead."""
        async with self._sessions.begin() as session:
            row = await session.get(StaffRow, user_id)
            if row is not None:
                row.epoch += 1

    async def list(self) -> list[StaffUser]:
        async with self._sessions() as session:
            rows = await session.scalars(select(StaffRow).order_by(StaffRow.name))
            return [_view(row) for row in rows]

    async def count_active_admins(self) -> int:
        async with self._sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(StaffRow)
                .where(StaffRow.role == Role.ADMIN.value, StaffRow.disabled_at.is_(None))
            )
            return int(found or 0)

    async def get(self, user_id: int) -> StaffUser | None:
        async with self._sessions() as session:
            row = await session.get(StaffRow, user_id)
            return None if row is None else _view(row)

    async def authenticate(self, name: str, password: str) -> StaffUser | None:
        """The active account `name` whose password is `password`, or None. The last login
        is noted; an old-parameter hash is replaced."""
        async with self._sessions() as session:
            row = await session.scalar(select(StaffRow).where(StaffRow.name == name))
            stored = row.password_hash if row is not None else await self._dummy_hash()
        ok = await asyncio.to_thread(self._verify, stored, password[:MAX_PASSWORD])
        if row is None or not ok or row.disabled_at is not None:
            return None
        rehash = self._hasher.check_needs_rehash(stored)
        new_hash = await self._hash(password) if rehash else None
        async with self._sessions.begin() as session:
            fresh = await session.get(StaffRow, row.id)
            if fresh is None:
                return None
            fresh.last_login_at = self._clock.now()
            if new_hash is not None:
                fresh.password_hash = new_hash
            return _view(fresh)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self._hash("not-a-password-of-anyone")
        return self._dummy

    @staticmethod
    async def _row(session: AsyncSession, name: str) -> StaffRow:
        row = await session.scalar(select(StaffRow).where(StaffRow.name == name))
        if row is None:
            raise StaffError(f"no user named {name!r}")
        return row

    def _journal(self, session: AsyncSession, actor: str, detail: str) -> None:
        if self._audit is None:
            return
        session.add(
            self._audit.entry(
                login="",
                kind="staff_user",
                field="user",
                amount=Decimal(0),
                source=MoneySource.of_actor(actor),
                outcome="ok",
                detail=detail,
            )
        )
