"""The spooler service: runs campaigns, paces their call files, records every outcome.

One task ticks: it reads what Asterisk did (files in `outgoing/` that it started, files
archived in `outgoing_done/`), begins scheduled runs, and spools as many call files per
running campaign as its limits allow (see `pacing`). AMI events (`handle`) record
outcomes as they happen and free lines at once; the archived files are the fallback and
the last word on "the call is over" (Asterisk archives a call file only when the call has
ended: `AST_OUTGOING_WAIT_COMPLETE`).

Nothing is lost and nobody is called twice across a crash at any moment because of the
order of the steps:

1. a call file is written in tmp/ and fsynced;
2. its attempt becomes `spooled` and that commits;
3. the file is renamed into outgoing/.

At start-up (`recover`) every `spooled`/`dialing` attempt is looked for: in
outgoing_done/ its outcome is read; in outgoing/ it is Asterisk's; still in tmp/ it never
reached Asterisk and goes back to `queued`; nowhere, Asterisk had it and lost the
archive, so it is failed and not retried (it may have been called). Files in tmp/ whose
attempt is still `queued` (crash between 1 and 2) are deleted. Taking files back on pause
follows the same order: park in tmp/, commit `queued`, delete.

Counting lines: a call holds one from the moment its file is spooled until its end is
known (a Hangup or failure event, or its archived file); Asterisk's own state is never
asked.

Every database read and write is the ledger's (`ledger.py`); this module keeps the order
of the steps, the files and the pacing, and its decisions are pure functions
(`plan_spool`: what becomes of each due attempt; `_observed`: what the spool folder says).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfile_spooler.callfile import ArchivedCallFile, CallFile
from callfile_spooler.campaigns import CampaignInfo, CampaignManager
from callfile_spooler.dialing import Callee, Dialer, Target
from callfile_spooler.errors import CallFileValueError, CampaignError, SpoolError, SpoolMissing
from callfile_spooler.events import EVENTS, Signal, interpret
from callfile_spooler.ledger import AttemptState, Ledger
from callfile_spooler.outcomes import (
    FINAL,
    REASON_ANSWERED,
    AttemptStatus,
    CampaignState,
)
from callfile_spooler.pacing import Limits, Pacer
from callfile_spooler.settings import SpoolSettings
from callfile_spooler.writer import SpoolFolder, SpoolScan, file_name
from primitives.ami import AmiEvent
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser
from primitives.worker import Worker

if TYPE_CHECKING:
    from callfile_spooler.ledger import DueAttempt

log = logging.getLogger("pbxbridge.spool")

Alert = Callable[[str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Answered:
    """An attempt whose callee answered (a campaign or callback call), for `on_answered`."""

    attempt_id: int
    campaign_id: int
    number: str  # E.164
    at: datetime


OnAnswered = Callable[[Answered], Awaitable[None]]
OnFinished = Callable[[CampaignInfo], Awaitable[None]]
"""A campaign's run (a callback's call: a campaign of kind `callback`) ended, committed:
every number answered, given up or not to be called. The campaign as it is now (done)."""
OnProgress = Callable[[int], None]
"""Told a campaign's id when one of its attempts changed state (the live feed's campaign
progress); must return at once: it is called under the spooler's lock."""

INCOMPLETE_GRACE = timedelta(seconds=60)
"""An archived file still without `Status:` this long after it was first seen: Asterisk
died between archiving it and appending the status."""
MIN_SLEEP = 0.005
STOP_TIMEOUT = 10.0


@dataclass
class LiveCall:
    """An attempt in Asterisk's hands (or answered and not over yet)."""

    attempt_id: int
    campaign_id: int
    number_id: int
    number: str
    status: AttemptStatus
    ended: bool = False
    uniqueid: str | None = None
    incomplete_since: datetime | None = None

    @property
    def name(self) -> str:
        return file_name(self.campaign_id, self.attempt_id)


@dataclass(frozen=True, slots=True)
class TickResult:
    spooled: int
    outcomes: int
    next_in: float
    """Seconds until the next tick is worth running."""


def _signal_for_archive(attempt_id: int, archived: ArchivedCallFile) -> Signal:
    if archived.status == "Completed":
        return Signal(
            attempt_id=attempt_id,
            status=AttemptStatus.ANSWERED,
            reason=REASON_ANSWERED,
            ended=True,
        )
    if archived.status == "Expired":
        return Signal(attempt_id=attempt_id, status=AttemptStatus.EXPIRED, ended=True)
    return Signal(
        attempt_id=attempt_id,
        status=AttemptStatus.FAILED,
        ended=True,
        detail=f"Asterisk archived it with Status: {archived.status} (unreadable call file)",
        retry=False,
    )


@dataclass(frozen=True, slots=True)
class SpoolPlan:
    """What becomes of a campaign's due attempts: the verdict of `plan_spool`."""

    campaign: str
    files: tuple[tuple[str, CallFile], ...]
    """(file name, call file) to write, in the order the attempts fell due."""
    calls: dict[str, LiveCall]
    """File name → the call it places."""
    cancelled: tuple[tuple[int, int], ...]
    """(attempt id, number id): the number is on the do-not-call list."""
    refused: dict[int, tuple[int, str]]
    """Attempt id → (number id, why): no valid call file can be written for it."""


def plan_spool(info: CampaignInfo, due: Sequence[DueAttempt], dialer: Dialer) -> SpoolPlan:
    """Decide each due attempt (pure: nothing is read or written): a call file, or cancelled
    (do-not-call list), or refused (a value no call file can carry)."""
    target = Target(info.id, info.settings.context, info.settings.extension, info.settings.callerid)
    files: list[tuple[str, CallFile]] = []
    calls: dict[str, LiveCall] = {}
    cancelled: list[tuple[int, int]] = []
    refused: dict[int, tuple[int, str]] = {}
    for aid, nid, number, extension, variables, barred in due:
        if barred:
            cancelled.append((aid, nid))
            continue
        try:
            callee = Callee(aid, number, extension, tuple(json.loads(variables).items()))
            call = dialer.call_file(target, callee)
        except CallFileValueError as exc:
            refused[aid] = (nid, str(exc))
            continue
        name = file_name(info.id, aid)
        files.append((name, call))
        calls[name] = LiveCall(aid, info.id, nid, number, AttemptStatus.SPOOLED)
    return SpoolPlan(info.name, tuple(files), calls, tuple(cancelled), refused)


def _observed(call: LiveCall, scan: SpoolScan, now: datetime) -> tuple[Signal | None, bool]:
    """What the spool folder says about a call Asterisk holds: a signal (None: nothing new
    yet), and whether its archived file was read (and may be removed)."""
    archived = scan.done.get(call.name)
    if archived is not None:
        signal = _archived(call, archived, now)
        return signal, signal is not None
    if call.name in scan.outgoing:
        if scan.outgoing[call.name] and call.status == AttemptStatus.SPOOLED:
            return Signal(attempt_id=call.attempt_id, status=AttemptStatus.DIALING), False
        return None, False
    if call.name not in scan.tmp:
        gone = "call file gone from the spool without an archived copy"
        return _failed(call.attempt_id, gone), False
    return None, False


def _archived(call: LiveCall, archived: ArchivedCallFile, now: datetime) -> Signal | None:
    """The outcome an archived file tells; None while its Status line may still come."""
    if archived.status is not None:
        return _signal_for_archive(call.attempt_id, archived)
    call.incomplete_since = call.incomplete_since or now
    if now - call.incomplete_since < INCOMPLETE_GRACE:
        return None
    return _failed(call.attempt_id, "archived by Asterisk without a Status line")


def _failed(attempt_id: int, detail: str) -> Signal:
    """The call is over and failed, and is not tried again (it may have been made)."""
    return Signal(
        attempt_id=attempt_id, status=AttemptStatus.FAILED, ended=True, detail=detail, retry=False
    )


class Spooler:
    """Campaigns → paced call files → outcomes. The root builds one, adds it to the AMI
    client as a consumer (`ami_events`, `on_ami_event`), and calls `start_when_ready()`
    (or `start()`) and `stop()`; the CLI uses `campaigns`.

    Two workers: the ticker, and before it (while Asterisk's outgoing/ cannot be used) the
    watcher that looks for the folder every `poll_interval` on the injected `sleep`."""

    ami_events: tuple[str, ...] = EVENTS

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        phones: PhoneNormaliser,
        settings: SpoolSettings,
        *,
        alert: Alert | None = None,
        dialer: Dialer | None = None,
        on_answered: OnAnswered | None = None,
        on_finished: OnFinished | None = None,
        on_progress: OnProgress | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.sessions = sessions
        self.on_answered = on_answered
        self.on_finished = on_finished
        self.on_progress = on_progress
        self.clock = clock
        self.phones = phones
        self.settings = settings
        self.alert = alert
        self.campaigns = CampaignManager(sessions, clock, phones)
        self.folder = SpoolFolder(settings)
        self.dialer = dialer or Dialer(settings, phones)
        self.ledger = Ledger(settings)
        self._calls: dict[int, LiveCall] = {}
        self._by_number: dict[tuple[int, str], int] = {}
        self._by_uniqueid: dict[str, int] = {}
        self._pacers: dict[int, Pacer] = {}
        self._broken: dict[int, str] = {}
        self._trunk = (
            Pacer(Limits(max_concurrent=1_000_000, cps=settings.max_cps))
            if settings.max_cps is not None
            else None
        )
        """All campaigns and callbacks together (spool.max_cps)."""
        self._lock = asyncio.Lock()
        self._ticker = Worker(
            "spooler tick",
            self._tick,
            log=log,
            retry=settings.poll_interval,
            on_error=self._stopped_working,
            on_recovered=self._works_again,
        )
        self._watcher = Worker("spool folder watch", self._look, log=log, sleep=sleep)
        self._waiting_for = ""
        """Why the folder cannot be used yet, as last warned about."""
        self.started = asyncio.Event()
        """Set once the spooler ticks (at `start()`, or when the folder it waited for came)."""
        self._recovered = False
        self._last_poll: datetime | None = None
        self._warned_done = False

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Check the spool folder (SpoolError says what to fix), recover, start ticking."""
        await asyncio.to_thread(self.folder.prepare)
        await self.recover()
        self._ticker.start()
        self.started.set()

    async def start_when_ready(self) -> bool:
        """`start()`; or, while the spool folder cannot be used (Asterisk starts after us,
        or is installed later), one warning, a look every `poll_interval` seconds, and a
        start by itself once it can (`started` is set then). True: started at once.

        Campaigns and callbacks only wait meanwhile: their attempts stay queued."""
        try:
            await self.start()
        except SpoolError as exc:
            self._warn_waiting(exc)
            self._waiting_for = str(exc)
            self._watcher.start(delay=self.settings.poll_interval)
            return False
        return True

    def _warn_waiting(self, exc: SpoolError | OSError) -> None:
        what = (
            exc.waiting
            if isinstance(exc, SpoolMissing)
            else f"cannot use {self.settings.dir} yet (campaigns and callbacks wait)"
        )
        log.warning(
            "spool: %s; looking again every %g s (%s)", what, self.settings.poll_interval, exc
        )

    async def _look(self) -> float | None:
        """The watcher's pass: can the folder be used now? Then start ticking (and wait for
        nothing more); else look again in poll_interval. One warning per reason: not one
        per look (a service started at boot before Asterisk may wait minutes)."""
        try:
            await asyncio.to_thread(self.folder.prepare)
        except (SpoolError, OSError) as exc:
            if str(exc) != self._waiting_for:
                self._waiting_for = str(exc)
                self._warn_waiting(exc)
            return self.settings.poll_interval
        # The first tick recovers (`_recovered` is still False); a failure there is a
        # failed tick: alerted once, retried.
        log.info("spool: %s is there: call-file spooler started", self.folder.outgoing)
        self.started.set()
        self._ticker.start()
        return None

    async def stop(self) -> None:
        """Finish the tick under way (up to STOP_TIMEOUT) and stop. Calls in Asterisk's
        hands go on; their outcomes are read at the next start."""
        self.started.clear()
        await self._watcher.stop(STOP_TIMEOUT)
        await self._ticker.stop(STOP_TIMEOUT)

    def wake(self) -> None:
        """Tick now (a campaign was started or paused through this process)."""
        self._ticker.wake()

    async def _tick(self) -> float:
        return (await self.tick()).next_in

    async def _stopped_working(self, exc: BaseException) -> None:
        await self._alert(
            f"call-file spooler stopped working (retrying every "
            f"{self.settings.poll_interval:g} s): {type(exc).__name__}: {exc}"
        )

    async def _works_again(self) -> None:
        await self._alert("call-file spooler works again")

    # --- state in memory ----------------------------------------------------------------

    def _remember(self, call: LiveCall) -> None:
        self._calls[call.attempt_id] = call
        self._by_number[(call.campaign_id, call.number)] = call.attempt_id
        if call.uniqueid:
            self._by_uniqueid[call.uniqueid] = call.attempt_id

    def _forget(self, attempt_id: int) -> None:
        call = self._calls.pop(attempt_id, None)
        if call is None:
            return
        if self._by_number.get((call.campaign_id, call.number)) == attempt_id:
            del self._by_number[(call.campaign_id, call.number)]
        if call.uniqueid and self._by_uniqueid.get(call.uniqueid) == attempt_id:
            del self._by_uniqueid[call.uniqueid]

    def alive(self, campaign_id: int | None = None) -> int:
        """Calls holding a line (of one campaign, or all)."""
        return sum(
            1
            for c in self._calls.values()
            if not c.ended and (campaign_id is None or c.campaign_id == campaign_id)
        )

    # --- recovery -----------------------------------------------------------------------

    async def recover(self) -> None:
        """Match the database's unfinished attempts to the files in the spool (see above)."""
        async with self._lock:
            await self._recover()

    async def _recover(self) -> None:
        now = self.clock.now()
        self._calls.clear()
        self._by_number.clear()
        self._by_uniqueid.clear()
        self._pacers.clear()
        async with self.sessions() as session:
            held = await self.ledger.in_asterisk(session)
        for a in held:
            self._remember(
                LiveCall(
                    a.attempt_id,
                    a.campaign_id,
                    a.number_id,
                    a.number,
                    a.status,
                    ended=a.ended,
                    uniqueid=a.uniqueid,
                )
            )
        # Only names are needed here; the files are read by `_poll` below.
        scan = await asyncio.to_thread(self.folder.scan, set())
        done = set(scan.other_done)
        never_sent = [
            c
            for c in self._calls.values()
            if c.name in scan.tmp
            and c.name not in scan.outgoing
            and c.name not in done
            and c.status == AttemptStatus.SPOOLED
        ]
        if never_sent:
            await self._back_to_queue(never_sent)
        await asyncio.to_thread(self.folder.discard_tmp, scan.tmp)
        known = {c.name for c in self._calls.values()}
        strays = [n for n in scan.outgoing if n not in known]
        if strays:  # e.g. the database was restored from an older backup
            log.warning(
                "%d call file(s) of ours in %s match no attempt in Asterisk's hands "
                "(left to Asterisk; their outcomes are not recorded): %s",
                len(strays),
                self.folder.outgoing,
                ", ".join(sorted(strays)[:5]),
            )
        self._recovered = True
        self._last_poll = now
        outcomes = await self._poll(now)
        log.info(
            "spooler recovered: %d call(s) in Asterisk's hands, %d back in the queue, "
            "%d outcome(s) read, %d stray file(s) in tmp/ removed",
            len(self._calls),
            len(never_sent),
            outcomes,
            len(scan.tmp) - len(never_sent),
        )

    async def _back_to_queue(self, calls: Sequence[LiveCall]) -> None:
        """Attempts whose file never reached (or was taken back from) Asterisk: queued again."""
        async with self.sessions.begin() as session:
            await self.ledger.back_to_queue(
                session, [c.attempt_id for c in calls], [c.number_id for c in calls]
            )
        for call in calls:
            self._forget(call.attempt_id)

    # --- the tick -----------------------------------------------------------------------

    async def tick(self) -> TickResult:
        """One pass: read outcomes, begin scheduled runs, spool what the limits allow."""
        async with self._lock:
            if not self._recovered:
                await self._recover()
            now = self.clock.now()
            outcomes = 0
            poll = timedelta(seconds=self.settings.poll_interval)
            if self._last_poll is None or now - self._last_poll >= poll:
                outcomes = await self._poll(now)
                self._last_poll = now
            wake_at = [(self._last_poll or now) + poll]
            spooled = 0
            for info in await self._campaigns(now):
                try:
                    if info.state == CampaignState.PAUSED:
                        await self._take_back(info)
                    elif info.state == CampaignState.RUNNING:
                        count, more_at = await self._spool(info, now)
                        spooled += count
                        if more_at is not None:
                            wake_at.append(more_at)
                except (SQLAlchemyError, OSError):
                    raise  # the database or the spool folder: every campaign is stuck
                except Exception as exc:
                    await self._campaign_failed(info, exc)
                else:
                    self._broken.pop(info.id, None)
            next_in = max(MIN_SLEEP, (min(wake_at) - now).total_seconds())
            return TickResult(spooled, outcomes, next_in)

    async def _campaign_failed(self, info: CampaignInfo, exc: Exception) -> None:
        """One campaign's fault (a value nothing should have let in) holds back that
        campaign only; logged and alerted when it first shows and when it changes, not at
        every tick."""
        what = f"{type(exc).__name__}: {exc}"
        if self._broken.get(info.id) != what:
            self._broken[info.id] = what
            log.error("campaign %s skipped until it is fixed: %s", info.name, what, exc_info=exc)
            await self._alert(f"campaign {info.name} skipped until it is fixed: {what}")

    async def _alert(self, message: str) -> None:
        """Tell staff (when an alert is wired); its failure is logged, never ours."""
        if self.alert is None:
            return
        try:
            await self.alert(message)
        except Exception:
            log.exception("alert failed")

    async def _campaigns(self, now: datetime) -> list[CampaignInfo]:
        """Running and paused campaigns, after beginning the runs the schedule calls for."""
        async with self.sessions() as session:
            infos = await self.ledger.campaigns_to_tick(session)
        local = self.clock.local(now)
        out = []
        for row_info in infos:
            info = row_info
            schedule = info.settings.schedule
            if schedule is not None and info.state in (CampaignState.IDLE, CampaignState.DONE):
                start = schedule.start_on(local)
                if start is not None and local.time() >= start and info.last_run_on != local.date():
                    info = await self._scheduled_run(info, now)
            if info.state in (CampaignState.RUNNING, CampaignState.PAUSED):
                out.append(info)
        return out

    async def _scheduled_run(self, info: CampaignInfo, now: datetime) -> CampaignInfo:
        try:
            async with self.sessions.begin() as session:
                row = await self.ledger.campaign_to_begin(session, info.id)
                if row is None:
                    return info
                queued = await self.campaigns.begin_run(session, row, now)
                log.info(
                    "campaign %s: scheduled run %d began, %d queued", row.name, row.run_no, queued
                )
                return CampaignInfo.of(row)
        except CampaignError as exc:
            log.warning("campaign %s: scheduled run not begun: %s", info.name, exc)
            async with self.sessions.begin() as session:  # once a day, not at every tick
                await self.ledger.skip_scheduled_day(session, info.id, self.clock.local(now).date())
            return info

    async def _pacer(self, info: CampaignInfo, now: datetime) -> Pacer:
        limits = info.limits
        pacer = self._pacers.get(info.id)
        if pacer is not None:
            if pacer.limits != limits:
                pacer.set_limits(limits)
            return pacer
        # After a restart: `spooled_at` is taken before a batch is written, so its files
        # reached outgoing/ somewhat later; count them one window later to be safe.
        async with self.sessions() as session:
            recent, last = await self.ledger.spool_history(
                session, info.id, since=now - 2 * limits.window, limit=limits.per_window
            )
        pacer = Pacer(limits, [t + limits.window for t in recent], last)
        self._pacers[info.id] = pacer
        return pacer

    async def _spool(self, info: CampaignInfo, now: datetime) -> tuple[int, datetime | None]:
        """Spool this campaign's due attempts up to its allowance: (count, wake-up time)."""
        window = info.time_window
        if window is not None and not window.contains(self.clock.local(now).time()):
            return 0, None
        pacer = await self._pacer(info, now)
        alive = self.alive(info.id)
        allowance = self._allowance(pacer, now, alive)
        if allowance <= 0:
            return 0, self._next_opening(pacer, now)
        async with self.sessions() as session:
            due = await self.ledger.due(session, info.id, info.run_no, now, allowance)
        if not due:
            if alive == 0:
                await self._maybe_finish(info, now)
            return 0, None
        plan = plan_spool(info, due, self.dialer)
        published = await self._hand_over(plan, now)
        # The files became visible to Asterisk just now, not at `now` (writing a batch
        # takes a while): the cps window counts from here.
        pacer.record(self.clock.now(), len(published))
        if self._trunk is not None:
            self._trunk.record(self.clock.now(), len(published))
        more = now if len(due) == allowance else None
        return len(published), min(
            (t for t in (more, self._next_opening(pacer, now)) if t is not None), default=None
        )

    def _allowance(self, pacer: Pacer, now: datetime, alive: int) -> int:
        """Calls the campaign may start now: its own pacing, spool.max_concurrent over all
        campaigns, and spool.max_cps over all of them (the trunk)."""
        allowance = pacer.allowance(now, alive)
        if self.settings.max_concurrent is not None:
            allowance = min(allowance, self.settings.max_concurrent - self.alive())
        if self._trunk is not None:
            allowance = min(allowance, self._trunk.allowance(now, 0))
        return allowance

    def _next_opening(self, pacer: Pacer, now: datetime) -> datetime | None:
        """When the campaign's pacing and the trunk's next let a call start."""
        openings = [pacer.next_opening(now)]
        if self._trunk is not None:
            openings.append(self._trunk.next_opening(now))
        return min((t for t in openings if t is not None), default=None)

    async def _hand_over(self, plan: SpoolPlan, now: datetime) -> list[str]:
        """Write the plan's files in tmp/, commit them `spooled` (and the cancelled and
        refused attempts), rename them into outgoing/; the names Asterisk now has."""
        written = await asyncio.to_thread(self.folder.write, plan.files)
        refused = dict(plan.refused)
        for name, why in written.refused.items():
            gone = plan.calls[name]
            refused[gone.attempt_id] = (gone.number_id, why)
        spooled = [plan.calls[n] for n in written.written]
        try:
            async with self.sessions.begin() as session:
                if spooled:
                    await self.ledger.mark_spooled(
                        session,
                        [c.attempt_id for c in spooled],
                        [c.number_id for c in spooled],
                        now,
                    )
                if plan.cancelled:
                    await self.ledger.mark_cancelled(session, plan.cancelled, now)
                await self.ledger.mark_refused(session, refused, now)
        except BaseException:
            await asyncio.to_thread(self.folder.discard_tmp, written.written)
            raise
        published = await self._publish(spooled)
        for name in published:
            self._remember(plan.calls[name])
        if refused:
            log.warning(
                "campaign %s: %d call file(s) refused: %s",
                plan.campaign,
                len(refused),
                next(iter(refused.values()))[1],
            )
        return published

    async def _publish(self, calls: Sequence[LiveCall]) -> list[str]:
        """Rename into outgoing/; a file that cannot be is put back in the queue."""
        names = [c.name for c in calls]
        if not names:
            return []
        try:
            await asyncio.to_thread(self.folder.publish, names)
            return names
        except OSError as exc:
            failure = exc
        scan = await asyncio.to_thread(self.folder.scan, set())
        published = [n for n in names if n in scan.outgoing]
        stuck = [c for c in calls if c.name not in scan.outgoing]
        await self._back_to_queue(stuck)
        await asyncio.to_thread(self.folder.discard_tmp, [c.name for c in stuck])
        if not published:
            # outgoing/ cannot be used at all (gone, no access): the tick fails, so staff
            # are told once and the log does not repeat it every poll_interval.
            raise failure
        log.warning(
            "%d call file(s) could not be renamed into %s (%s): queued again",
            len(stuck),
            self.folder.outgoing,
            failure,
        )
        return published

    async def _maybe_finish(self, info: CampaignInfo, now: datetime) -> None:
        async with self.sessions.begin() as session:
            done = await self.ledger.finish_run(session, info.id, info.run_no, now)
        if not done:
            return
        log.info("campaign %s: run %d done", info.name, info.run_no)
        if self.on_finished is None:
            return
        try:
            await self.on_finished(replace(info, state=CampaignState.DONE, finished_at=now))
        except Exception:
            log.exception("on_finished failed for campaign %s", info.name)

    async def _take_back(self, info: CampaignInfo) -> None:
        """A paused campaign: its files Asterisk has not started leave outgoing/."""
        waiting = [
            c
            for c in self._calls.values()
            if c.campaign_id == info.id and c.status == AttemptStatus.SPOOLED and not c.ended
        ]
        if not waiting:
            return
        parked = set(await asyncio.to_thread(self.folder.withdraw, [c.name for c in waiting]))
        if not parked:
            return
        await self._back_to_queue([c for c in waiting if c.name in parked])
        await asyncio.to_thread(self.folder.discard_tmp, parked)
        log.info("campaign %s paused: %d call file(s) taken back", info.name, len(parked))

    # --- outcomes -----------------------------------------------------------------------

    async def _poll(self, now: datetime) -> int:
        """Read what Asterisk did with the files of the calls in its hands."""
        watched = {c.name for c in self._calls.values()}
        unstarted = {c.name for c in self._calls.values() if c.status == AttemptStatus.SPOOLED}
        scan = await asyncio.to_thread(self.folder.scan, watched, unstarted)
        signals: list[Signal] = []
        archived_names: list[str] = []
        for call in list(self._calls.values()):
            signal, archived = _observed(call, scan, now)
            if signal is not None:
                signals.append(signal)
            if archived:
                archived_names.append(call.name)
        if signals:
            await self._apply(signals, now)
        if not self.settings.keep_done_files:
            await self._remove_done(archived_names + scan.other_done)
        return len(archived_names)

    async def _remove_done(self, names: list[str]) -> None:
        """Delete archived files whose outcome is recorded; a failure is warned of once."""
        if not names:
            return
        try:
            await asyncio.to_thread(self.folder.remove_done, names)
        except OSError as exc:  # recorded already; only the clean-up failed
            if not self._warned_done:
                log.warning("cannot delete archived call files (%s): keeping them", exc)
                self._warned_done = True

    async def on_ami_event(self, event: AmiEvent) -> None:
        """An AMI event (one of `EVENTS`): record what it says about a campaign call.

        Events about other channels return at once; one about a campaign call waits for the
        tick under way (tens of milliseconds) and is written in its own transaction."""
        signal = interpret(event, self.phones)
        if signal is None:
            return
        if self._find(signal) is None and (signal.campaign_id is None or signal.number is None):
            return  # e.g. the Hangup of a channel that is no campaign call: no lock, no I/O
        async with self._lock:
            freed = await self._apply([signal], self.clock.now())
        if freed:
            self._ticker.wake()

    def _find(self, signal: Signal) -> int | None:
        if signal.attempt_id is not None:
            return signal.attempt_id
        if signal.campaign_id is not None and signal.number is not None:
            found = self._by_number.get((signal.campaign_id, signal.number))
            if found is not None:
                return found
        if signal.uniqueid:
            return self._by_uniqueid.get(signal.uniqueid)
        return None

    async def _report_answer(self, answered: Answered) -> None:
        """Tell `on_answered` (after the commit); its failure is logged, never ours."""
        if self.on_answered is None:
            return
        try:
            await self.on_answered(answered)
        except Exception:
            log.exception("on_answered failed for attempt %d", answered.attempt_id)

    async def _apply(self, signals: Iterable[Signal], now: datetime) -> int:
        """Apply signals in one transaction; the number of lines freed."""
        resolved: list[tuple[int | None, Signal]] = []
        for signal in signals:
            attempt_id = self._find(signal)
            if attempt_id is None and (signal.campaign_id is None or signal.number is None):
                continue  # e.g. the Hangup of a channel that is no campaign call
            resolved.append((attempt_id, signal))
        if not resolved:
            return 0
        async with self.sessions.begin() as session:
            work: list[tuple[int, Signal]] = []
            for known_id, signal in resolved:
                attempt_id = known_id
                if attempt_id is None:
                    attempt_id = await self.ledger.lookup(session, signal)
                if attempt_id is not None:
                    work.append((attempt_id, signal))
            states = await self.ledger.apply(session, work, now) if work else {}
        numbers = {aid: s.number for aid, s in work if s.number}
        freed = 0
        for attempt_id, state in states.items():
            freed += await self._recorded(attempt_id, state, numbers.get(attempt_id), now)
        self._report_progress({state.campaign_id for state in states.values()})
        return freed

    def _report_progress(self, campaign_ids: Iterable[int]) -> None:
        if self.on_progress is None:
            return
        for campaign_id in campaign_ids:
            try:
                self.on_progress(campaign_id)
            except Exception:
                log.exception("on_progress failed for campaign %d", campaign_id)

    async def _recorded(
        self, attempt_id: int, state: AttemptState, number: str | None, now: datetime
    ) -> int:
        """Follow an attempt's new state in memory (and tell `on_answered` of an answer);
        1 when this frees its line."""
        call = self._calls.get(attempt_id)
        if state.just_answered:
            number = call.number if call is not None else number
            if number:
                await self._report_answer(Answered(attempt_id, state.campaign_id, number, now))
        if call is None:
            return 0
        call.status = state.status
        if state.uniqueid and call.uniqueid != state.uniqueid:
            call.uniqueid = state.uniqueid
            self._by_uniqueid[state.uniqueid] = attempt_id
        freed = 0
        if state.ended_at is not None and not call.ended:
            call.ended = True
            freed = 1
        if call.ended and call.status in FINAL:
            self._forget(attempt_id)
        return freed
