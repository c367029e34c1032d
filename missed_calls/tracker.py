"""MissedCallTracker: AMI events in, every call recorded in the call log, missed calls
decided, recalls marked, subscribers named.

The root registers `handle` with the AMI client for `EVENTS`. `handle` only folds the event
into the calls in memory (no I/O, so the AMI reader is never held up). When a call is
complete (see `missed_calls.calls`) its outcome goes to one worker task that writes in
arrival order: the call (`Outcome.entry`, missed or not) is committed to the call log at
once, before the billing is asked anything, so neither a slow billing nor a `kill -9` right
after loses it. The subscriber of its outside number is looked up afterwards
(BillingClient.find, a non-call lookup); when the billing fails the row keeps
`lookup = "pending"` and the next `list()`, or the next lookup the billing answers after
that failure, asks again.
`on_missed` is called once per recorded missed call, `on_answered` once per recorded
answered call (disposition ANSWERED), each after that lookup. A missed call the database refused
WRITE_RETRIES times is lost: that is logged and told to `alert` (staff), which the root
wires to its alerts. `sleep` waits out the pauses between the attempts (tests pass their
own, so they need not wait 4.2 s).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.client import BillingClient
from billing_client.outcomes import BillingResult
from call_log.errors import BadEvent
from call_log.events import EVENTS, parse_event
from call_log.models import ID_MAX
from call_log.records import Call, CallEntry
from missed_calls.calls import CallBook, Outcome, decide, number_key
from missed_calls.records import DailyStats, MissedCall
from missed_calls.settings import MissedCallSettings
from missed_calls.store import MissedCallStore, to_record
from primitives.ami import AmiEvent
from primitives.clock import Clock
from storage.errors import brief

__all__ = ["EVENTS", "MissedCallTracker", "OnAnsweredCall", "OnMissed"]

log = logging.getLogger("pbxbridge.missed_calls")

OnMissed = Callable[[MissedCall], Awaitable[None]]
OnAnsweredCall = Callable[[Call], Awaitable[None]]
Alert = Callable[[str], Awaitable[None]]

LOOKUP_CONCURRENCY = 4
PENDING_BATCH = 20
WRITE_RETRIES = (0.2, 1.0, 3.0)
"""Pauses (seconds) between the attempts to write a missed call: 4 attempts in 4.2 s."""


class MissedCallTracker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        billing: BillingClient,
        settings: MissedCallSettings,
        on_missed: OnMissed | None = None,
        *,
        alert: Alert | None = None,
        on_answered: OnAnsweredCall | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._alert = alert
        self._sleep = sleep
        self._billing = billing
        self._settings = settings
        self._on_missed = on_missed
        self._on_answered = on_answered
        self._store = MissedCallStore(sessions, clock)
        self._log = self._store.log
        self._book = CallBook(settings)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._outcomes: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lookup_slots = asyncio.Semaphore(LOOKUP_CONCURRENCY)
        self._lookups_failed = False
        """A lookup failed since the pending ones were last asked again: the next one the
        billing answers asks them (not every answer: each call is looked up)."""
        self._closed = False

    async def __aenter__(self) -> MissedCallTracker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def calls_in_progress(self) -> int:
        return len(self._book)

    # -- events --------------------------------------------------------------------------

    ami_events: tuple[str, ...] = EVENTS
    """The AMI events it consumes (`primitives.ami`): calls, queues, CDRs."""

    async def on_ami_event(self, event: AmiEvent) -> None:
        """Fold one AMI event in. Never raises: a bad event is logged and ignored."""
        if self._closed or not self._settings.enabled:
            return
        try:
            parsed = parse_event(event)
        except BadEvent as exc:
            log.warning("missed calls: ignored a %r event: %s", event.name[:40], exc)
            return
        except Exception:
            log.exception("missed calls: could not read %r", event)
            return
        if parsed is None:
            return
        try:
            key = self._book.apply(parsed, parsed.instant or self._clock.now())
            if key is not None:
                self._arm(key)
            for early in self._book.over_limit():
                log.warning(
                    "missed calls: over %d calls open; deciding the oldest early",
                    self._settings.max_open_calls,
                )
                self._complete(early)
        except Exception:
            log.exception("missed calls: failed on %r", event)

    def _arm(self, key: str) -> None:
        """(Re)start the call's timer: flush_delay once no channel is up, else stale_after."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        quiet = self._book.is_quiet(key)
        delay = self._settings.flush_delay if quiet else self._settings.stale_after
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._complete, key)

    def _complete(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        call = self._book.pop(key)
        if call is None:
            return
        try:
            outcome = decide(call, self._settings, self._billing.phones)
        except Exception:
            log.exception("missed calls: could not decide call %s", key)
            return
        log.debug("missed calls: call %s complete: %s", key, outcome.why)
        if outcome.entry is None and not outcome.recall_numbers and not outcome.dialled_numbers:
            return
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="missed-calls-writer"
            )
        self._outcomes.put_nowait(outcome)

    # -- the writer ----------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            outcome = await self._outcomes.get()
            try:
                if outcome is None:
                    return
                await self._write(outcome)
            except Exception:
                log.exception("missed calls: could not store the outcome of %s", outcome)
            finally:
                self._outcomes.task_done()

    async def _write(self, outcome: Outcome) -> None:
        if outcome.entry is not None:
            record = await self._insert(outcome, outcome.entry)
            if record is None:
                log.info("call log: call %s is already recorded", outcome.key)
            else:
                self._recorded(record)
        window = timedelta(days=self._settings.recall_window_days)
        if outcome.recall_numbers:
            count = await self._store.mark_recalled(
                outcome.recall_numbers, at=outcome.started, by=outcome.key, window=window
            )
            if count:
                log.info("missed calls: %d recalled by call %s", count, outcome.key)
        if outcome.dialled_numbers:
            count = await self._store.record_attempts(
                outcome.dialled_numbers, at=outcome.started, by=outcome.key, window=window
            )
            if count:
                log.info("missed calls: unanswered recall attempt by call %s", outcome.key)

    async def _insert(self, outcome: Outcome, entry: CallEntry) -> Call | None:
        """The call written to the log, retried while the database fails; raises once
        the retries are spent (a lost missed call is told to staff first)."""
        for attempt, pause in enumerate((*WRITE_RETRIES, None), start=1):
            try:
                return await self._log.insert(entry)
            except (DBAPIError, OSError) as exc:
                if pause is None:
                    await self._lost(outcome, entry, attempt, exc)
                    raise
                log.warning("call log: database write failed (%s); retrying", exc)
                await self._sleep(pause)
        return None  # not reached: the last attempt returns or raises

    async def _lost(
        self, outcome: Outcome, entry: CallEntry, attempts: int, exc: Exception
    ) -> None:
        missed = outcome.missed
        if missed is None:
            log.error(
                "call log: LOST call %s (%s, %s -> %s) at %s: database failed %d times: %s",
                outcome.key,
                entry.direction,
                entry.caller,
                entry.callee,
                outcome.started.isoformat(),
                attempts,
                exc,
            )
            return
        log.error(
            "missed calls: LOST missed call %s from %s at %s (queue %s): "
            "database failed %d times: %s",
            outcome.key,
            missed.number,
            outcome.started.isoformat(),
            missed.queue or "-",
            attempts,
            exc,
        )
        await self._tell_staff(
            f"missed calls: LOST the missed call from {missed.number} at "
            f"{self._clock.local(outcome.started):%Y-%m-%d %H:%M %Z} (queue "
            f"{missed.queue or '-'}, linkedid {outcome.key}): the database "
            f"failed {attempts} times: "
            f"{brief(exc)}"
        )

    def _recorded(self, call: Call) -> None:
        if call.missed:
            log.info(
                "missed call from %s%s (queue %s, waited %ds), linkedid %s",
                call.number,
                "" if call.number_valid else " (unparsed)",
                call.queue or "-",
                call.waited_seconds,
                call.linkedid,
            )
        else:
            log.debug(
                "call log: %s call %s -> %s %s, linkedid %s",
                call.direction,
                call.caller,
                call.callee,
                call.disposition,
                call.linkedid,
            )
        self._spawn(self._after_insert(call))

    async def _tell_staff(self, message: str) -> None:
        """Alert staff (when wired); an alert that fails is logged, never ours."""
        if self._alert is None:
            return
        try:
            await self._alert(message)
        except Exception:
            log.exception("missed calls: alert failed")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _after_insert(self, call: Call) -> None:
        """The subscriber looked up, then the hooks: `on_missed` for a missed call,
        `on_answered` for an answered one."""
        answered = False
        if call.lookup == "pending" and call.number is not None:
            async with self._lookup_slots:
                found, answered = await self._lookup(call.id, call.number)
            call = found or call
        if call.missed and self._on_missed is not None:
            try:
                await self._on_missed(to_record(call))
            except Exception:
                log.exception("missed calls: on_missed failed for %s", call.number)
        if call.answered and self._on_answered is not None:
            try:
                await self._on_answered(call)
            except Exception:
                log.exception("call log: on_answered failed for call %s", call.linkedid)
        if answered and self._lookups_failed:
            self._lookups_failed = False
            await self.resolve_pending(PENDING_BATCH)

    # -- subscribers ---------------------------------------------------------------------

    async def _lookup(self, call_id: int, number: str) -> tuple[Call | None, bool]:
        """The call with its subscriber (None: not stored), and whether the billing answered."""
        try:
            async with asyncio.timeout(self._settings.lookup_timeout):
                lookup = await self._billing.find(number)
        except Exception as exc:  # a timeout, or anything the backend let through
            lookup_error = str(exc) or type(exc).__name__
        else:
            if lookup.result != BillingResult.ERROR:
                try:
                    updated = await self._log.set_subscriber(call_id, lookup.subscriber)
                except Exception:
                    log.exception("call log: could not store the subscriber of call %s", call_id)
                    return None, True
                return updated, True
            lookup_error = lookup.error or "billing error"
        self._lookups_failed = True
        log.warning(
            "call log: subscriber of %s not known yet (%s); asked again later",
            number,
            lookup_error,
        )
        return None, False

    async def resolve_pending(self, limit: int = PENDING_BATCH) -> int:
        """Ask the billing again for calls it failed to answer for; returns how many got
        an answer. Never raises."""
        try:
            pending = await self._log.pending_lookups(limit)
        except Exception:
            log.exception("call log: could not read pending lookups")
            return 0
        if not pending:
            return 0

        async def one(call_id: int, number: str) -> bool:
            async with self._lookup_slots:
                _, answered = await self._lookup(call_id, number)
            return answered

        results = await asyncio.gather(*(one(i, n) for i, n in pending))
        return sum(results)

    async def mark_recalled(self, number: str, *, by: str, at: datetime | None = None) -> int:
        """Close the open misses of `number`: a call pbxbridge knows was answered by it some
        other way (the root connects the spooler's answered campaign and callback calls).
        `by` names that call. Returns how many misses were closed."""
        key = number_key(number, self._billing.phones, self._settings.min_number_digits)
        if key is None:
            return 0
        window = timedelta(days=self._settings.recall_window_days)
        return await self._store.mark_recalled(
            [key[0]], at=at or self._clock.now(), by=by[:ID_MAX], window=window
        )

    # -- the public reads ----------------------------------------------------------------

    async def list(
        self, day: date | None = None, *, only_open: bool = False
    ) -> builtins.list[MissedCall]:
        """Missed calls of `day` (today in the clock's timezone), oldest first. Subscribers
        the billing could not name before are asked for again first (bounded in time)."""
        await self.resolve_pending(PENDING_BATCH)
        return await self._store.list(day or self._clock.today(), only_open=only_open)

    async def stats(self, days: int) -> builtins.list[DailyStats]:
        """The last `days` days, today included, oldest first."""
        return await self._store.stats(days)

    # -- lifecycle -----------------------------------------------------------------------

    async def flush(self, *, force: bool = False) -> None:
        """Decide now every call whose channels are all down (`force`: every call), and
        wait until the outcomes are written and the subscribers looked up. For shutdown,
        tests and replays, which cannot wait out flush_delay."""
        for key in self._book.open_keys():
            if force or self._book.is_quiet(key):
                self._complete(key)
        await self._drain()

    async def _drain(self) -> None:
        if self._worker is not None and not self._worker.done():
            await self._outcomes.join()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop taking events, decide the calls that are over, write what is due."""
        if self._closed:
            return
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self.flush()
        if len(self._book):
            log.info("missed calls: %d call(s) still in progress at shutdown", len(self._book))
        if self._worker is not None:
            self._outcomes.put_nowait(None)
            await self._worker
            self._worker = None
