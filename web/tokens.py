"""API tokens: bearer tokens for /api/v1/, stored hashed, with scopes, revocable.

A token is `pbx_` and 43 URL-safe characters (`secrets.token_urlsafe(32)`: 256 random
bits), so it is recognisable in a config file or a leaked paste, and long enough that a
plain SHA-256 of it is a safe thing to keep: nobody can search 2^256 tokens, so the slow
password hashes (argon2, for staff passwords) would only cost time on every request. The
token itself is printed once, by `pbxbridge tokens create`, and never stored or logged.

Scopes: a token created with `--scope` may use only the routes of those scopes; one
created without any may use every route, those added by later versions included (`*`).
`last_used_at` is written at most once a minute per token, not on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import DateTime, Integer, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from billing_client.audit import AuditJournal
from billing_client.outcomes import MoneySource
from primitives.clock import Clock, as_utc
from storage import Base
from web.errors import TokenError

PREFIX = "pbx_"
TOKEN_SHAPE = re.compile(r"pbx_[A-Za-z0-9_-]{43}")
NAME_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
ALL_SCOPES = "*"
LAST_USED_EVERY = timedelta(minutes=1)


class Scope(StrEnum):
    """What a token may do. A route declares the one scope it needs (web/api/routing.py)."""

    SUBSCRIBERS_READ = "subscribers:read"
    """Look subscribers up."""
    CALLBACKS = "callbacks"
    """Request, list and cancel callbacks."""
    CAMPAIGNS = "campaigns"
    """Create, edit, run and report call campaigns."""
    SMS = "sms"
    """Send SMS and read the inbox and outbox."""
    CALLS_READ = "calls:read"
    """Read the call log and missed calls."""


class ApiTokenRow(Base):
    __tablename__ = "web_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the token, hex."""
    scopes: Mapped[str] = mapped_column(String(512))
    """Space-separated scope names, or `*` for every scope."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as the API and the CLI see it: never the token itself."""

    id: int
    name: str
    scopes: frozenset[Scope] | None
    """None: every scope."""
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, scope: Scope) -> bool:
        return self.scopes is None or scope in self.scopes

    def describe_scopes(self) -> str:
        if self.scopes is None:
            return "all"
        return " ".join(sorted(self.scopes))


@dataclass(frozen=True, slots=True)
class NewToken:
    token: str
    """Shown once to whoever created it; only its hash is kept."""
    info: ApiToken


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _scopes_of(stored: str) -> frozenset[Scope] | None:
    if stored == ALL_SCOPES:
        return None
    # A scope a newer version wrote and this one does not know grants nothing here.
    known = {s.value for s in Scope}
    return frozenset(Scope(s) for s in stored.split() if s in known)


def _view(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        scopes=_scopes_of(row.scopes),
        created_at=as_utc(row.created_at),
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
    )


class TokenStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        audit: AuditJournal | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._audit = audit

    async def create(
        self, name: str, scopes: frozenset[Scope] | None = None, *, actor: str
    ) -> NewToken:
        """A new token called `name` (unique) with `scopes` (None or empty: every scope)."""
        if not NAME_SHAPE.fullmatch(name):
            raise TokenError(
                f"token name {name!r}: use 1-64 letters, digits and . _ @ - (starting with a "
                "letter or digit)"
            )
        token = PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now()
        stored = " ".join(sorted(scopes)) if scopes else ALL_SCOPES
        row = ApiTokenRow(name=name, hash=digest(token), scopes=stored, created_at=now)
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                self._journal(session, name, actor, f"API token {name} created, scopes {stored}")
                info = _view(row)
        except IntegrityError:
            raise TokenError(f"a token named {name!r} exists already") from None
        return NewToken(token, info)

    async def list(self) -> list[ApiToken]:
        async with self._sessions() as session:
            rows = await session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))
            return [_view(row) for row in rows]

    async def revoke(self, name: str, *, actor: str) -> ApiToken:
        """Revoke the token `name`: from now on it gets 401. Raises TokenError when there is
        no such token or it is revoked already."""
        async with self._sessions.begin() as session:
            row = await session.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name))
            if row is None:
                raise TokenError(f"no token named {name!r}")
            if row.revoked_at is not None:
                raise TokenError(f"token {name!r} is revoked already")
            row.revoked_at = self._clock.now()
            self._journal(session, name, actor, f"API token {name} revoked")
            return _view(row)

    async def authenticate(self, token: str) -> ApiToken | None:
        """The live token `token` is, or None (malformed, unknown or revoked)."""
        if not TOKEN_SHAPE.fullmatch(token):
            return None
        wanted = digest(token)
        async with self._sessions() as session:
            row = await session.scalar(
                select(ApiTokenRow).where(
                    ApiTokenRow.hash == wanted, ApiTokenRow.revoked_at.is_(None)
                )
            )
            if row is None or not hmac.compare_digest(row.hash, wanted):
                return None
            info = _view(row)
            now = self._clock.now()
            if info.last_used_at is None or now - info.last_used_at >= LAST_USED_EVERY:
                await session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=now)
                )
                await session.commit()
        return info

    def _journal(self, session: AsyncSession, name: str, actor: str, detail: str) -> None:
        if self._audit is None:
            return
        session.add(
            self._audit.entry(
                login="",
                kind="api_token",
                field="token",
                amount=Decimal(0),
                source=MoneySource.of_actor(actor),
                outcome="ok",
                detail=detail,
            )
        )
