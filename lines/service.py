"""Voice lines: open, suspend, resume, close and change them; follow their subscribers.

Every change runs alone (`ExclusiveLock`) and in this order:

1. read every line (a short read; nothing is held open meanwhile);
2. work out the change on those copies (a bad value or an unknown line: LineRefused,
   nothing touched);
3. render the whole PJSIP file, write it atomically (unless it would not change);
4. reload res_pjsip over AMI: refused by Asterisk → the previous file goes back and the
   change fails (ReloadRejected); AMI unreachable → the file stays, the reload is marked
   pending, and the change is kept with a warning;
5. commit the change in one short transaction (so no database lock is held while
   Asterisk is asked). Should that fail, the previous file goes back (and is reloaded).

A line is blocked when BILLmanager suspended it or when the subscriber it is linked to
(`login`) is frozen or disabled in the embedded billing (`held`); the two are kept apart,
so resuming in BILLmanager does not unblock a frozen subscriber's line, nor unfreezing
the subscriber a line BILLmanager suspended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lines import files, values
from lines.errors import LineNotFound, LinesUnavailable, ReloadRejected
from lines.models import LineRow, ReloadState
from lines.pjsip import LineConfig, render
from lines.reload import Reloader, ReloadOutcome, ReloadResult
from lines.settings import LinesSettings
from primitives.clock import Clock

log = logging.getLogger("pbxbridge.lines")

BlockedOf = Callable[[str], Awaitable[bool | None]]
"""Whether the subscriber with this login is frozen or disabled (None: unknown, or no
such subscriber: the line is left as it is)."""


@dataclass(slots=True)
class LineState:
    """One line as read, changed in memory before anything is written."""

    name: str
    number: int
    account: str
    login: str | None
    password: str
    callerid: str
    max_channels: int
    codecs: tuple[str, ...]
    suspended: bool
    held: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @property
    def blocked(self) -> bool:
        return self.suspended or self.held

    @classmethod
    def of(cls, row: LineRow) -> LineState:
        return cls(
            name=row.name,
            number=row.number,
            account=row.account,
            login=row.login,
            password=row.password,
            callerid=row.callerid,
            max_channels=row.max_channels,
            codecs=tuple(c for c in row.codecs.split(",") if c),
            suspended=row.suspended,
            held=row.held,
            created_at=row.created_at,
            updated_at=row.updated_at,
            closed_at=row.closed_at,
        )

    def columns(self) -> dict[str, object]:
        return {
            "account": self.account,
            "login": self.login,
            "password": self.password,
            "callerid": self.callerid,
            "max_channels": self.max_channels,
            "codecs": ",".join(self.codecs),
            "suspended": self.suspended,
            "held": self.held,
            "updated_at": self.updated_at,
            "closed_at": self.closed_at,
        }


@dataclass(frozen=True, slots=True)
class LineView:
    """A line as `line list` shows it: everything but the password."""

    name: str
    account: str
    login: str | None
    callerid: str
    max_channels: int
    codecs: tuple[str, ...]
    suspended: bool
    held: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @property
    def state(self) -> str:
        if self.closed_at is not None:
            return "closed"
        reasons = [w for w, on in (("suspended", self.suspended), ("held", self.held)) if on]
        return "+".join(reasons) if reasons else "active"

    @classmethod
    def of(cls, line: LineState) -> LineView:
        return cls(
            line.name,
            line.account,
            line.login,
            line.callerid,
            line.max_channels,
            line.codecs,
            line.suspended,
            line.held,
            line.created_at,
            line.updated_at,
            line.closed_at,
        )


@dataclass(frozen=True, slots=True)
class Done:
    """A line command carried out. `reload` None: the file did not change."""

    line: LineView | None
    changed: bool
    reload: ReloadResult | None
    warnings: tuple[str, ...] = ()
    password: str | None = field(default=None, repr=False)
    """`open` only: the SIP password, for BILLmanager's OK line (never logged)."""

    @property
    def reload_pending(self) -> bool:
        return self.reload is not None and self.reload.outcome == ReloadOutcome.UNREACHABLE


@dataclass(frozen=True, slots=True)
class Pending:
    pending: bool
    since: datetime | None
    detail: str


@dataclass(slots=True)
class _Plan:
    """A change worked out on the copies: a new line, lines changed, what to answer."""

    subject: LineState | None = None
    new: LineState | None = None
    changed: list[LineState] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rewrite: bool = False
    """Write and reload even when the file would stay the same (`line sync`)."""


class Lines:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: LinesSettings,
        reloader: Reloader,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.settings = settings
        self._reloader = reloader
        self._lock = files.ExclusiveLock(settings.pjsip_file, settings.lock_timeout)

    def use_reloader(self, reloader: Reloader) -> None:
        """Reload through another AMI connection (the service's own link, once it has one)."""
        self._reloader = reloader

    # ------------------------------------------------------------------ BILLmanager's commands

    async def open(
        self,
        *,
        account: str | None,
        login: str | None,
        password: str | None,
        params: Mapping[str, str],
    ) -> Done:
        """A new line for `account` (BILLmanager's --user), following the subscriber
        `login` when given (the caller found that the billing has one). `password` is used
        when it is safe to write, else a new one is made (and said in the OK line)."""
        checked, warnings = values.check_params(dict(params))
        account = values.check_account(account) if account else ""
        login = values.check_account(login) if login else None
        secret = password or ""
        if password and not values.usable_password(password):
            warnings.append(
                "the given password is not 8-64 characters of A-Z a-z 0-9 !@%^*_+=.,:?~- "
                "(what the PJSIP file holds safely): a new one was generated"
            )
            secret = ""
        secret = secret or values.password()
        now = self._clock.now()

        def plan(lines: Sequence[LineState]) -> _Plan:
            taken = {line.name for line in lines}
            number = max((line.number for line in lines), default=0) + 1
            while f"{self.settings.username_prefix}{number}" in taken:
                number += 1
            new = LineState(
                name=f"{self.settings.username_prefix}{number}",
                number=number,
                account=account,
                login=login,
                password=secret,
                callerid=checked.callerid.render() if checked.callerid else "",
                max_channels=checked.max_channels or self.settings.default_max_channels,
                codecs=checked.codecs or tuple(self.settings.default_codecs),
                suspended=False,
                held=False,
                created_at=now,
                updated_at=now,
                closed_at=None,
            )
            return _Plan(subject=new, new=new, warnings=warnings)

        done = await self._run(plan)
        assert done.line is not None
        log.info(
            "line %s opened for %s%s",
            done.line.name,
            account or "(no user)",
            f" (follows subscriber {login})" if login else "",
        )
        return replace(done, password=secret)

    async def suspend(self, name: str) -> Done:
        return await self._set(name, suspended=True)

    async def resume(self, name: str) -> Done:
        return await self._set(name, suspended=False)

    async def close(self, name: str) -> Done:
        values.check_name(name)
        now = self._clock.now()

        def plan(lines: Sequence[LineState]) -> _Plan:
            line = _find(lines, name, closed_ok=True)
            if line.closed_at is not None:
                return _Plan(subject=line, warnings=[f"line {name} was already closed"])
            line.closed_at = line.updated_at = now
            return _Plan(subject=line, changed=[line])

        done = await self._run(plan)
        if done.changed:
            log.info("line %s closed", name)
        return done

    async def setparam(self, name: str, params: Mapping[str, str]) -> Done:
        values.check_name(name)
        checked, warnings = values.check_params(dict(params))
        now = self._clock.now()

        def plan(lines: Sequence[LineState]) -> _Plan:
            line = _find(lines, name)
            before = (line.callerid, line.max_channels, line.codecs)
            if checked.callerid is not None:
                line.callerid = checked.callerid.render()
            elif checked.clear_callerid:
                line.callerid = ""
            if checked.max_channels is not None:
                line.max_channels = checked.max_channels
            if checked.codecs is not None:
                line.codecs = checked.codecs
            if (line.callerid, line.max_channels, line.codecs) == before:
                return _Plan(subject=line, warnings=warnings)
            line.updated_at = now
            return _Plan(subject=line, changed=[line], warnings=warnings)

        done = await self._run(plan)
        if done.changed:
            log.info("line %s changed", name)
        return done

    async def _set(self, name: str, *, suspended: bool) -> Done:
        values.check_name(name)
        now = self._clock.now()

        def plan(lines: Sequence[LineState]) -> _Plan:
            line = _find(lines, name)
            warnings: list[str] = []
            if not suspended and line.held:
                warnings.append(
                    f"line {name} stays blocked: its subscriber {line.login} is frozen or "
                    "disabled in the billing"
                )
            if line.suspended == suspended:
                return _Plan(subject=line, warnings=warnings)
            line.suspended = suspended
            line.updated_at = now
            return _Plan(subject=line, changed=[line], warnings=warnings)

        done = await self._run(plan)
        if done.changed:
            log.info("line %s %s", name, "suspended" if suspended else "resumed")
        return done

    # ------------------------------------------------------------------ following subscribers

    async def follow(self, login: str, blocked: bool) -> Done | None:
        """The subscriber `login` was frozen, disabled or given back service: hold or
        release their open lines. None when they have none to change (nothing touched)."""
        if not await self._linked([login], blocked):
            return None
        now = self._clock.now()

        def plan(lines: Sequence[LineState]) -> _Plan:
            changed = [
                line
                for line in lines
                if line.login == login and line.closed_at is None and line.held != blocked
            ]
            for line in changed:
                line.held, line.updated_at = blocked, now
            return _Plan(changed=changed)

        done = await self._run(plan)
        if done.changed:
            log.info(
                "lines of %s %s (subscriber %s)",
                login,
                "held" if blocked else "released",
                "frozen or disabled" if blocked else "back in service",
            )
        return done

    async def sync(self, blocked_of: BlockedOf, *, rewrite: bool = False) -> Done:
        """Every linked line follows its subscriber as the billing says now; with `rewrite`
        the file is written and reloaded even when nothing changed (`line sync`)."""
        logins = sorted({v.login for v in await self.views() if v.login})
        states: dict[str, bool] = {}
        for login in logins:
            state = await blocked_of(login)
            if state is not None:
                states[login] = state
        now = self._clock.now()

        def plan(lines: Sequence[LineState]) -> _Plan:
            changed = []
            for line in lines:
                blocked = states.get(line.login or "")
                if line.closed_at is None and blocked is not None and line.held != blocked:
                    line.held, line.updated_at = blocked, now
                    changed.append(line)
            return _Plan(changed=changed, rewrite=rewrite)

        return await self._run(plan)

    async def apply_pending(self) -> ReloadResult | None:
        """Send the reload a change could not (the service calls this when its AMI link
        comes up). None when none is pending."""
        async with self._lock.held():
            if not (await self.pending()).pending:
                return None
            result = await self._reloader()
            if result.outcome == ReloadOutcome.APPLIED:
                await self._store_reload(result)
                log.info("pending res_pjsip reload done: %s", result.detail)
            elif result.outcome == ReloadOutcome.REJECTED:
                log.error(
                    "Asterisk refused the pending res_pjsip reload (%s): %s stays as written; "
                    "check it with `asterisk -rx 'pjsip show endpoints'`",
                    result.detail,
                    self.settings.pjsip_file,
                )
            return result

    # ------------------------------------------------------------------ reading

    async def views(self, *, include_closed: bool = False) -> list[LineView]:
        stmt = select(LineRow).order_by(LineRow.number)
        if not include_closed:
            stmt = stmt.where(LineRow.closed_at.is_(None))
        async with self._sessions() as session:
            rows = (await session.scalars(stmt)).all()
            return [LineView.of(LineState.of(row)) for row in rows]

    async def pending(self) -> Pending:
        async with self._sessions() as session:
            row = await session.get(ReloadState, 1)
        if row is None:
            return Pending(False, None, "")
        return Pending(row.pending, row.since, row.detail)

    # ------------------------------------------------------------------ the one way to change

    async def _linked(self, logins: Sequence[str], blocked: bool) -> bool:
        """Whether any open line of `logins` is not yet `blocked`-held (a quick read)."""
        stmt = (
            select(LineRow.id)
            .where(LineRow.login.in_(logins), LineRow.closed_at.is_(None))
            .where(LineRow.held != blocked)
            .limit(1)
        )
        async with self._sessions() as session:
            return await session.scalar(stmt) is not None

    async def _load(self) -> list[LineState]:
        """Every line, closed ones too (their names stay taken). A database error goes to
        the caller as it is (the CLI explains a database not migrated yet)."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(LineRow).order_by(LineRow.number))).all()
            return [LineState.of(row) for row in rows]

    async def _run(self, work: Callable[[Sequence[LineState]], _Plan]) -> Done:
        path = self.settings.pjsip_file
        async with self._lock.held():
            lines = await self._load()
            plan = work(lines)
            if plan.new is not None:
                lines.append(plan.new)
            subject = LineView.of(plan.subject) if plan.subject is not None else None
            changed = plan.new is not None or bool(plan.changed)
            if not changed and not plan.rewrite:
                return Done(subject, False, None, tuple(plan.warnings))
            text = render(_configs(lines), self.settings).encode()
            previous = await asyncio.to_thread(files.read, path)
            reload: ReloadResult | None = None
            if text != previous or plan.rewrite:
                await asyncio.to_thread(files.write_atomic, path, text)
                reload = await self._reloader()
                if reload.outcome == ReloadOutcome.REJECTED:
                    await asyncio.to_thread(files.restore, path, previous)
                    raise ReloadRejected(
                        f"Asterisk refused `module reload res_pjsip.so` ({reload.detail}); "
                        f"{path} is back as it was and nothing changed"
                    )
            try:
                await self._store(plan, reload)
            except SQLAlchemyError as exc:
                if reload is not None:
                    await asyncio.to_thread(files.restore, path, previous)
                    if reload.outcome == ReloadOutcome.APPLIED:
                        await self._reloader()
                raise LinesUnavailable(
                    f"database: {type(exc).__name__}: the change was not kept and {path} "
                    "is back as it was"
                ) from None
            warnings = list(plan.warnings)
            if reload is not None and reload.outcome == ReloadOutcome.UNREACHABLE:
                warnings.append(
                    f"{path.name} written, reload pending ({reload.detail}): the service "
                    "sends it when AMI is back"
                )
            return Done(subject, True, reload, tuple(warnings))

    async def _store(self, plan: _Plan, reload: ReloadResult | None) -> None:
        async with self._sessions.begin() as session:
            if plan.new is not None:
                line = plan.new
                session.add(
                    LineRow(
                        name=line.name,
                        number=line.number,
                        created_at=line.created_at,
                        **line.columns(),
                    )
                )
            for line in plan.changed:
                await session.execute(
                    update(LineRow).where(LineRow.name == line.name).values(**line.columns())
                )
            if reload is not None:
                await self._reload_state(session, reload)

    async def _store_reload(self, reload: ReloadResult) -> None:
        async with self._sessions.begin() as session:
            await self._reload_state(session, reload)

    async def _reload_state(self, session: AsyncSession, reload: ReloadResult) -> None:
        if reload.outcome == ReloadOutcome.APPLIED:
            state: dict[str, object] = {"pending": False, "since": None, "detail": ""}
        else:
            current = await session.get(ReloadState, 1)
            since = current.since if current is not None and current.pending else None
            state = {
                "pending": True,
                "since": since or self._clock.now(),
                "detail": reload.detail[:1000],
            }
        await session.execute(update(ReloadState).where(ReloadState.id == 1).values(**state))


def _find(lines: Sequence[LineState], name: str, *, closed_ok: bool = False) -> LineState:
    for line in lines:
        if line.name == name and (closed_ok or line.closed_at is None):
            return line
    raise LineNotFound(f"no open line {name}")


def _configs(lines: Sequence[LineState]) -> list[LineConfig]:
    return [
        LineConfig(
            name=line.name,
            password=line.password,
            callerid=line.callerid,
            max_channels=line.max_channels,
            codecs=line.codecs,
            blocked=line.blocked,
        )
        for line in lines
        if line.closed_at is None
    ]
