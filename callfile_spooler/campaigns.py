"""Managing campaigns: create, edit, import numbers, start, pause, status, report, DNC.

What the CLI (and later the web admin) calls. Everything here is database work; the
spooler's scheduler notices the changes at its next tick (a pause takes the campaign's
not-yet-started files back out of `outgoing/` then).

A *run* calls every number of the campaign once (plus retries): `start` on a campaign that
is idle or done begins one (run_no + 1), on a paused one resumes it. The weekly schedule
begins a run at the day's start time, once a day (`last_run_on`); a run begun by hand
counts for that day too, so the schedule does not call everyone again the same day.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfile_spooler import escape
from callfile_spooler.errors import CampaignError
from callfile_spooler.imports import ParsedNumbers, Progress, read_numbers_file
from callfile_spooler.models import Attempt, Campaign, CampaignNumber, DoNotCall
from callfile_spooler.outcomes import IN_ASTERISK, AttemptStatus, CampaignState, NumberStatus
from callfile_spooler.pacing import Limits
from callfile_spooler.schedule import TimeWindow, WeeklySchedule
from callfile_spooler.settings import CAMPAIGN_NAME
from primitives.clock import Clock, as_utc
from primitives.phones import PhoneNormaliser

NAME = CAMPAIGN_NAME
DEFAULT_CONTEXT = "pbxbridge-campaign"
DEFAULT_EXTENSION = "s"
BATCH = 1000
KIND = "campaign"
RESERVED_PREFIX = "callback-"
"""Each callback request's one-number campaign is `callback-<request id>`."""


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """A campaign's own settings (what `create`/`edit` take)."""

    context: str = DEFAULT_CONTEXT
    extension: str = DEFAULT_EXTENSION
    callerid: str | None = None
    bundle_size: int = 0
    bundle_delay: float = 0.0
    max_concurrent: int = 5
    cps: float = 1.0
    window: str | None = None
    schedule: WeeklySchedule | None = None
    max_attempts: int | None = None

    def checked(self) -> CampaignSettings:
        """Self, or CampaignError naming the first value that cannot be used."""
        try:
            escape.context(self.context)
            escape.extension(self.extension)
            if self.callerid is not None:
                escape.callerid(self.callerid)
            Limits(self.max_concurrent, self.cps, self.bundle_size, self.bundle_delay)
            if self.window is not None:
                TimeWindow.parse(self.window)
        except ValueError as exc:  # ScheduleError and CallFileValueError are ValueErrors
            raise CampaignError(str(exc)) from None
        if self.max_attempts is not None and not 1 <= self.max_attempts <= 20:
            raise CampaignError("max_attempts must be 1-20")
        return self


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: int
    name: str
    kind: str
    state: CampaignState
    settings: CampaignSettings
    run_no: int
    last_run_on: date | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime | None = None

    @property
    def limits(self) -> Limits:
        s = self.settings
        return Limits(s.max_concurrent, s.cps, s.bundle_size, s.bundle_delay)

    @property
    def time_window(self) -> TimeWindow | None:
        return TimeWindow.parse(self.settings.window) if self.settings.window else None

    @classmethod
    def of(cls, row: Campaign) -> CampaignInfo:
        schedule = WeeklySchedule.from_json(row.schedule) if row.schedule else None
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            state=CampaignState(row.state),
            settings=CampaignSettings(
                context=row.context,
                extension=row.extension,
                callerid=row.callerid,
                bundle_size=row.bundle_size,
                bundle_delay=row.bundle_delay,
                max_concurrent=row.max_concurrent,
                cps=row.cps,
                window=row.window,
                schedule=schedule,
                max_attempts=row.max_attempts,
            ),
            run_no=row.run_no,
            last_run_on=row.last_run_on,
            started_at=as_utc(row.started_at) if row.started_at else None,
            finished_at=as_utc(row.finished_at) if row.finished_at else None,
            created_at=as_utc(row.created_at) if row.created_at else None,
        )


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    queued: int = 0
    """Numbers added to a campaign whose run is under way, queued into that run."""
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"added {self.added}, updated {self.updated}, skipped {len(self.skipped)}"
        return text + (f", queued into the current run {self.queued}" if self.queued else "")


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    info: CampaignInfo
    numbers: int
    by_number_status: dict[str, int]
    by_attempt_status: dict[str, int]
    """Attempts of the current run, by status."""

    @property
    def done_numbers(self) -> int:
        s = self.by_number_status
        return sum(s.get(k, 0) for k in ("answered", "given_up", "dnc"))


@dataclass
class RemovalReport:
    """What `remove_numbers` did: numbers `removed`, `missing` (not in the campaign) and
    `busy` (a call to them is in Asterisk's hands now: kept, remove them once it ended)."""

    removed: int = 0
    missing: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NumberReport:
    number: str
    extension: str | None
    status: str
    attempts: int
    last_outcome: str | None
    last_reason: int | None
    digit: str | None
    last_attempt_at: datetime | None
    id: int = 0
    """The number's row id (pages of a report continue after it)."""


def _number_report(n: CampaignNumber) -> NumberReport:
    return NumberReport(
        number=n.number,
        extension=n.extension,
        status=n.status,
        attempts=n.attempts,
        last_outcome=n.last_outcome,
        last_reason=n.last_reason,
        digit=n.digit,
        last_attempt_at=as_utc(n.last_attempt_at) if n.last_attempt_at else None,
        id=n.id,
    )


def check_name(name: str) -> str:
    """`name` when a new campaign may be called so, else CampaignError saying why."""
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise CampaignError(f"campaign name {name!r}: letters, digits, _ . - (1-64)")
    if name.lower().startswith(RESERVED_PREFIX):
        raise CampaignError(
            f"campaign name {name!r}: names beginning {RESERVED_PREFIX!r} are the "
            "callback requests' own"
        )
    return name


class CampaignManager:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        phones: PhoneNormaliser,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.phones = phones

    # --- campaigns --------------------------------------------------------------------

    async def create(
        self, name: str, settings: CampaignSettings | None = None, *, kind: str = KIND
    ) -> CampaignInfo:
        if not isinstance(name, str) or NAME.fullmatch(name) is None:
            raise CampaignError(f"campaign name {name!r}: letters, digits, _ . - (1-64)")
        if kind == KIND:
            check_name(name)
        settings = (settings or CampaignSettings()).checked()
        async with self.sessions.begin() as session:
            if await session.scalar(select(Campaign.id).where(Campaign.name == name)):
                raise CampaignError(f"campaign {name!r} exists")
            row = Campaign(
                name=name,
                kind=kind,
                state=CampaignState.IDLE.value,
                run_no=0,
                created_at=self.clock.now(),
                **_columns(settings),
            )
            session.add(row)
            await session.flush()
            return CampaignInfo.of(row)

    async def edit(self, name: str, **changes: Any) -> CampaignInfo:
        """Change some of a campaign's settings (keyword names of CampaignSettings)."""
        async with self.sessions.begin() as session:
            row = await self._own_row(session, name)
            current = CampaignInfo.of(row).settings
            try:
                merged = CampaignSettings(**{**_as_dict(current), **changes})
            except TypeError as exc:
                raise CampaignError(str(exc)) from None
            for key, value in _columns(merged.checked()).items():
                setattr(row, key, value)
            await session.flush()
            return CampaignInfo.of(row)

    async def rename(self, name: str, new_name: str) -> CampaignInfo:
        """Call campaign `name` `new_name` from now on (its id, numbers and history stay)."""
        check_name(new_name)
        async with self.sessions.begin() as session:
            row = await self._own_row(session, name)
            if new_name != name:
                if await session.scalar(select(Campaign.id).where(Campaign.name == new_name)):
                    raise CampaignError(f"campaign {new_name!r} exists")
                row.name = new_name
                await session.flush()
            return CampaignInfo.of(row)

    async def get(self, name: str) -> CampaignInfo:
        async with self.sessions() as session:
            return CampaignInfo.of(await self._row(session, name))

    async def get_by_id(self, campaign_id: int) -> CampaignInfo | None:
        """Any campaign by id, callback requests' own included (see `kind`)."""
        async with self.sessions() as session:
            row = await session.get(Campaign, campaign_id)
            return CampaignInfo.of(row) if row is not None else None

    async def page(
        self,
        limit: int,
        *,
        before: int | None = None,
        name: str | None = None,
        state: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CampaignInfo]:
        """Campaigns (not callback requests) newest first: ids below `before`, called `name`,
        in `state`, created in [since, until) (UTC)."""
        query = (
            select(Campaign).where(Campaign.kind == KIND).order_by(Campaign.id.desc()).limit(limit)
        )
        if before is not None:
            query = query.where(Campaign.id < before)
        if name is not None:
            query = query.where(Campaign.name == name)
        if state is not None:
            query = query.where(Campaign.state == state)
        if since is not None:
            query = query.where(Campaign.created_at >= since)
        if until is not None:
            query = query.where(Campaign.created_at < until)
        async with self.sessions() as session:
            return [CampaignInfo.of(r) for r in await session.scalars(query)]

    async def list_campaigns(self, *, with_callbacks: bool = False) -> list[CampaignInfo]:
        """Campaigns by name; the one-number campaigns behind callback requests only when
        asked (there is one per request, and `callback list` is where they are read)."""
        query = select(Campaign).order_by(Campaign.name)
        if not with_callbacks:
            query = query.where(Campaign.kind == KIND)
        async with self.sessions() as session:
            return [CampaignInfo.of(r) for r in await session.scalars(query)]

    async def delete(self, name: str) -> None:
        async with self.sessions.begin() as session:
            row = await self._own_row(session, name)
            if row.state == CampaignState.RUNNING:
                raise CampaignError(f"campaign {name!r} is running: pause it first")
            live = await session.scalar(
                select(func.count())
                .select_from(Attempt)
                .where(
                    Attempt.campaign_id == row.id,
                    Attempt.status.in_([AttemptStatus.SPOOLED, AttemptStatus.DIALING]),
                )
            )
            if live:
                raise CampaignError(f"campaign {name!r} has {live} call(s) in Asterisk's hands")
            await session.execute(delete(Attempt).where(Attempt.campaign_id == row.id))
            await session.execute(
                delete(CampaignNumber).where(CampaignNumber.campaign_id == row.id)
            )
            await session.delete(row)

    async def _row(self, session: AsyncSession, name: str) -> Campaign:
        row = await session.scalar(select(Campaign).where(Campaign.name == name))
        if row is None:
            raise CampaignError(f"no campaign {name!r}")
        return row

    async def _own_row(self, session: AsyncSession, name: str) -> Campaign:
        """A campaign to change: the ones behind callback requests are the callback
        service's own (their context, pacing and single number are not staff's to edit)."""
        row = await self._row(session, name)
        if row.kind != KIND:
            raise CampaignError(
                f"{name!r} is a {row.kind} request, not a campaign: see `pbxbridge callback list`"
            )
        return row

    # --- numbers ----------------------------------------------------------------------

    async def import_file(
        self, name: str, path: Path, progress: Progress | None = None
    ) -> ImportReport:
        """Read `path` (CSV or JSON; `progress` hears how far the reading is, from a worker
        thread) and import its rows."""
        parsed = await asyncio.to_thread(read_numbers_file, path, self.phones, progress)
        return await self.import_numbers(name, parsed)

    async def import_numbers(self, name: str, parsed: ParsedNumbers) -> ImportReport:
        """Add the parsed rows to the campaign (an existing number gets the row's extension
        and variables). Numbers added while a run is under way join that run."""
        report = ImportReport(skipped=list(parsed.problems))
        now = self.clock.now()
        async with self.sessions.begin() as session:
            campaign = await self._own_row(session, name)
            joining = campaign.state in (CampaignState.RUNNING, CampaignState.PAUSED)
            existing = {
                number: number_id
                for number_id, number in await session.execute(
                    select(CampaignNumber.id, CampaignNumber.number).where(
                        CampaignNumber.campaign_id == campaign.id
                    )
                )
            }
            new_rows: list[dict[str, Any]] = []
            changed: list[dict[str, Any]] = []
            for row in parsed.rows:
                values = {
                    "extension": row.extension,
                    "variables": json.dumps(dict(row.variables), ensure_ascii=False),
                }
                if row.number in existing:
                    changed.append({"id": existing[row.number], **values})
                else:
                    new_rows.append(
                        {
                            "campaign_id": campaign.id,
                            "number": row.number,
                            "status": NumberStatus.IDLE.value,
                            "attempts": 0,
                            **values,
                        }
                    )
            for start in range(0, len(new_rows), BATCH):
                await session.execute(insert(CampaignNumber), new_rows[start : start + BATCH])
            if changed:
                await session.execute(update(CampaignNumber), changed)
            report.added, report.updated = len(new_rows), len(changed)
            if joining and new_rows:
                report.queued = await self._queue_run(session, campaign, now, only_idle=True)
        report.skipped.sort()
        return report

    async def replace_numbers(self, name: str, parsed: ParsedNumbers) -> tuple[ImportReport, int]:
        """Make the campaign's numbers `parsed`'s rows: import them (`import_numbers`), then
        remove every other number, with its attempts, unless a call to it is in Asterisk's
        hands (then it goes at the next replace). The report, and how many were removed."""
        report = await self.import_numbers(name, parsed)
        keep = {row.number for row in parsed.rows}
        async with self.sessions.begin() as session:
            campaign = await self._own_row(session, name)
            live = select(Attempt.number_id).where(
                Attempt.campaign_id == campaign.id, Attempt.status.in_(list(IN_ASTERISK))
            )
            rows = await session.execute(
                select(CampaignNumber.id, CampaignNumber.number).where(
                    CampaignNumber.campaign_id == campaign.id, CampaignNumber.id.not_in(live)
                )
            )
            gone = [number_id for number_id, number in rows if number not in keep]
            await _delete_numbers(session, gone)
        return report, len(gone)

    async def remove_numbers(self, name: str, numbers: Sequence[str]) -> RemovalReport:
        """Take `numbers` (E.164) out of the campaign, with their call history. A number
        whose call is in Asterisk's hands now stays (`busy`): the call's outcome has to land
        somewhere."""
        wanted = list(dict.fromkeys(numbers))
        report = RemovalReport()
        async with self.sessions.begin() as session:
            campaign = await self._own_row(session, name)
            found: dict[str, int] = {}
            for start in range(0, len(wanted), BATCH):
                chunk = wanted[start : start + BATCH]
                for number_id, number in await session.execute(
                    select(CampaignNumber.id, CampaignNumber.number).where(
                        CampaignNumber.campaign_id == campaign.id,
                        CampaignNumber.number.in_(chunk),
                    )
                ):
                    found[number] = number_id
            busy: set[int] = set()
            ids = list(found.values())
            for start in range(0, len(ids), BATCH):
                busy.update(
                    await session.scalars(
                        select(Attempt.number_id).where(
                            Attempt.number_id.in_(ids[start : start + BATCH]),
                            Attempt.status.in_(list(IN_ASTERISK)),
                        )
                    )
                )
            gone = [i for i in ids if i not in busy]
            await _delete_numbers(session, gone)
            report.removed = len(gone)
            report.missing = [n for n in wanted if n not in found]
            report.busy = [n for n in wanted if found.get(n) in busy]
        return report

    async def _queue_run(
        self, session: AsyncSession, campaign: Campaign, now: datetime, *, only_idle: bool
    ) -> int:
        """Queue the first attempt of the current run for the campaign's numbers (those not
        yet in the run when `only_idle`); numbers on the DNC list are marked, not queued."""
        scope = [CampaignNumber.campaign_id == campaign.id]
        if only_idle:
            scope.append(CampaignNumber.status == NumberStatus.IDLE)
        dnc = select(DoNotCall.number)
        await session.execute(
            update(CampaignNumber)
            .where(*scope, CampaignNumber.number.in_(dnc))
            .values(status=NumberStatus.DNC.value)
        )
        await session.execute(
            update(CampaignNumber)
            .where(*scope, CampaignNumber.number.not_in(dnc))
            .values(
                status=NumberStatus.PENDING.value,
                attempts=0,
                last_outcome=None,
                last_reason=None,
                last_attempt_at=None,
                digit=None,
            )
        )
        pending = select(
            literal(campaign.id),
            CampaignNumber.id,
            literal(campaign.run_no),
            literal(1),
            literal(AttemptStatus.QUEUED.value),
            literal(now, Attempt.not_before.type),
            literal(""),
        ).where(
            CampaignNumber.campaign_id == campaign.id,
            CampaignNumber.status == NumberStatus.PENDING,
            ~select(Attempt.id)
            .where(Attempt.number_id == CampaignNumber.id, Attempt.run_no == campaign.run_no)
            .exists(),
        )
        result = await session.execute(
            insert(Attempt).from_select(
                [
                    "campaign_id",
                    "number_id",
                    "run_no",
                    "attempt_no",
                    "status",
                    "not_before",
                    "detail",
                ],
                pending,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- runs -------------------------------------------------------------------------

    async def start(self, name: str) -> str:
        """Run now, whatever the schedule says: resume a paused run, or begin a new one."""
        async with self.sessions.begin() as session:
            campaign = await self._own_row(session, name)
            if campaign.state == CampaignState.RUNNING:
                return f"{name}: already running (run {campaign.run_no})"
            if campaign.state == CampaignState.PAUSED:
                campaign.state = CampaignState.RUNNING.value
                return f"{name}: run {campaign.run_no} resumed"
            queued = await self.begin_run(session, campaign, self.clock.now())
            return f"{name}: run {campaign.run_no} started, {queued} number(s) queued"

    async def begin_run(self, session: AsyncSession, campaign: Campaign, now: datetime) -> int:
        """A new run of `campaign` in `session`: every number not on the DNC list queued."""
        numbers = await session.scalar(
            select(func.count())
            .select_from(CampaignNumber)
            .where(CampaignNumber.campaign_id == campaign.id)
        )
        if not numbers:
            raise CampaignError(f"campaign {campaign.name!r} has no numbers: import some first")
        # Anything still queued from an earlier run is not called any more.
        await session.execute(
            update(Attempt)
            .where(Attempt.campaign_id == campaign.id, Attempt.status == AttemptStatus.QUEUED)
            .values(status=AttemptStatus.CANCELLED.value, detail="a new run began")
        )
        campaign.run_no += 1
        campaign.state = CampaignState.RUNNING.value
        campaign.started_at = now
        campaign.finished_at = None
        campaign.last_run_on = self.clock.local(now).date()
        return await self._queue_run(session, campaign, now, only_idle=False)

    async def pause(self, name: str) -> str:
        async with self.sessions.begin() as session:
            campaign = await self._own_row(session, name)
            if campaign.state != CampaignState.RUNNING:
                raise CampaignError(f"campaign {name!r} is {campaign.state}, not running")
            campaign.state = CampaignState.PAUSED.value
            return (
                f"{name}: paused; files Asterisk has not started yet are taken back "
                "out of outgoing/ by the running service"
            )

    # --- reading ----------------------------------------------------------------------

    async def status(self, name: str) -> CampaignStatus:
        async with self.sessions() as session:
            row = await self._row(session, name)
            by_number = Counter[str]()
            for status, count in await session.execute(
                select(CampaignNumber.status, func.count())
                .where(CampaignNumber.campaign_id == row.id)
                .group_by(CampaignNumber.status)
            ):
                by_number[status] = count
            by_attempt = Counter[str]()
            for status, count in await session.execute(
                select(Attempt.status, func.count())
                .where(Attempt.campaign_id == row.id, Attempt.run_no == row.run_no)
                .group_by(Attempt.status)
            ):
                by_attempt[status] = count
            return CampaignStatus(
                CampaignInfo.of(row), sum(by_number.values()), dict(by_number), dict(by_attempt)
            )

    async def report(self, name: str) -> list[NumberReport]:
        """One line per number: its status in the current run, attempts, last outcome."""
        async with self.sessions() as session:
            row = await self._row(session, name)
            numbers = await session.scalars(
                select(CampaignNumber)
                .where(CampaignNumber.campaign_id == row.id)
                .order_by(CampaignNumber.id)
            )
            return [_number_report(n) for n in numbers]

    async def report_page(
        self, name: str, limit: int, *, after: int | None = None, status: str | None = None
    ) -> list[NumberReport]:
        """`report`, a page at a time: numbers in the order they were added, ids above
        `after`, in `status` only when given."""
        async with self.sessions() as session:
            row = await self._row(session, name)
            query = (
                select(CampaignNumber)
                .where(CampaignNumber.campaign_id == row.id)
                .order_by(CampaignNumber.id)
                .limit(limit)
            )
            if after is not None:
                query = query.where(CampaignNumber.id > after)
            if status is not None:
                query = query.where(CampaignNumber.status == status)
            return [_number_report(n) for n in await session.scalars(query)]

    # --- do-not-call ------------------------------------------------------------------

    def _dnc_number(self, raw: str) -> str:
        number = self.phones.normalise(raw)
        if number is None:
            raise CampaignError(f"{raw!r} is not a valid phone number")
        return number

    async def dnc_add(self, raw: str, note: str = "") -> str:
        number = self._dnc_number(raw)
        async with self.sessions.begin() as session:
            if await session.get(DoNotCall, number) is None:
                session.add(DoNotCall(number=number, added_at=self.clock.now(), note=note[:255]))
        return number

    async def dnc_remove(self, raw: str) -> bool:
        number = self._dnc_number(raw)
        async with self.sessions.begin() as session:
            result = await session.execute(delete(DoNotCall).where(DoNotCall.number == number))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def dnc_list(self) -> list[tuple[str, datetime, str]]:
        async with self.sessions() as session:
            rows = await session.scalars(select(DoNotCall).order_by(DoNotCall.number))
            return [(r.number, as_utc(r.added_at), r.note) for r in rows]


def _as_dict(settings: CampaignSettings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in fields(settings)}


def _columns(settings: CampaignSettings) -> dict[str, Any]:
    values = _as_dict(settings)
    schedule: WeeklySchedule | None = values.pop("schedule")
    values["schedule"] = schedule.to_json() if schedule is not None else None
    return values


async def _delete_numbers(session: AsyncSession, ids: Sequence[int]) -> None:
    """Delete campaign numbers and their attempts (call history), in batches."""
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        await session.execute(delete(Attempt).where(Attempt.number_id.in_(batch)))
        await session.execute(delete(CampaignNumber).where(CampaignNumber.id.in_(batch)))
