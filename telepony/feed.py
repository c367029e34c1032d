"""The TelePony feed: every AMI `Cdr` leg, queued in pbxbridge's database, then written to
the MySQL cdr table in batches by one worker.

    Cdr event ──on_ami_event──> telepony_outbox (pbxbridge's database, committed)
                                     │ worker: a full batch at once, a partial one after
                                     │ flush_interval; stamps the batch's rows with a key
                                     v
                         MySQL: the rows + the key's marker, one transaction
                                     │
                                     v
                         the batch's rows deleted from the outbox

One row per `Cdr` event, as cdr_mysql writes one per CDR: TelePony groups the legs of a
call by uniqueid itself. Nothing is lost while MySQL is away: the rows wait in the outbox,
the worker retries with a growing delay (1 s doubling to `retry_max`), the first failure
of a streak is logged with its traceback and alerted once, the first success after it is
told too. Nothing is written twice: see telepony.mysql.

Bounded: past `max_queued` rows in the outbox a new leg is refused (the oldest are kept:
they are the ones WhyDoYouCall reads in order), counted in `stats.rejected`, logged and
alerted once a minute with how many went meanwhile. A leg that cannot be queued because
pbxbridge's own database fails is counted in `stats.lost`, an event that cannot be a row
(no UniqueID) in `stats.bad_events`; each said once a minute as well.

One running feed per pbxbridge database (as the SMS outbox): batches are claimed without
a lock between processes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.ami import AmiEvent
from primitives.backoff import Backoff
from primitives.clock import Clock, as_utc
from primitives.health import Health
from primitives.worker import Monotonic, Sleep, Worker
from storage.errors import brief
from telepony.cdr import CDR_EVENTS, CdrLeg, leg_of
from telepony.errors import BadCdr
from telepony.models import OutboxRow
from telepony.mysql import CdrTable
from telepony.settings import TeleponySettings

log = logging.getLogger("pbxbridge.telepony")

Alert = Callable[[str], Awaitable[None]]
SAY_EVERY = 60.0
"""Seconds between two log lines (and alerts) about refused or lost legs."""
STOP_DEADLINE = 5.0
"""Seconds a batch in flight gets at shutdown; one cut off is written after the restart,
once (its marker tells)."""
STOP_MARGIN = 5.0
_LEG_FIELDS = tuple(f.name for f in fields(CdrLeg))
_MYSQL, _OUTBOX = "mysql", "outbox"
"""Where the worker's step is: what a failure's alert names."""


@dataclass
class FeedStats:
    """Counters since the process started (read by the metrics and /healthz)."""

    written: int = 0
    """Legs inserted into MySQL."""
    batches: int = 0
    """Transactions that inserted legs."""
    already_written: int = 0
    """Batches found in MySQL on a retry (committed before pbxbridge knew): dropped, not
    written again."""
    failures: int = 0
    """Tries that failed (MySQL away, a timeout, pbxbridge's database failing)."""
    rejected: int = 0
    """Legs refused because the outbox was full."""
    lost: int = 0
    """Legs that could not be queued (pbxbridge's database failing)."""
    bad_events: int = 0
    """Cdr events that could not become a row (no UniqueID)."""


@dataclass(frozen=True, slots=True)
class Batch:
    key: str
    ids: tuple[int, ...]
    legs: tuple[CdrLeg, ...]


@dataclass
class _Tally:
    """Says a recurring trouble at most once per SAY_EVERY seconds, with the count."""

    monotonic: Monotonic
    said_at: float | None = None
    unsaid: int = 0
    total: int = field(default=0)

    def count(self) -> int | None:
        """Count one; the number to say now (this one and those not said), or None."""
        self.total += 1
        self.unsaid += 1
        now = self.monotonic()
        if self.said_at is not None and now - self.said_at < SAY_EVERY:
            return None
        self.said_at, unsaid, self.unsaid = now, self.unsaid, 0
        return unsaid


class TeleponyFeed:
    """An AMI consumer (`Cdr`), a running part (`start`/`stop`) and a health check."""

    name = "telepony"
    ami_events: tuple[str, ...] = CDR_EVENTS

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: TeleponySettings,
        *,
        table: CdrTable | None = None,
        alert: Alert | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.settings = settings
        self.table = table or CdrTable(settings)
        self._alert = alert
        self.stats = FeedStats()
        self._queued = 0
        self._started = False
        self._progress = asyncio.Condition()
        self._stage = _OUTBOX
        self._refused = _Tally(monotonic)
        self._unqueued = _Tally(monotonic)
        self._unreadable = _Tally(monotonic)
        password = settings.password()
        self._worker = Worker(
            "TelePony feed",
            self._step,
            log=log,
            retry=Backoff(1.0, settings.retry_max, jitter=0.1),
            on_error=self._failing,
            on_recovered=self._recovered,
            redact=(lambda text: text.replace(password, "***")) if password else None,
            monotonic=monotonic,
            sleep=sleep,
        )

    # ------------------------------------------------------------------ running part

    @property
    def queued(self) -> int:
        """Legs in the outbox (as this process counts them)."""
        return self._queued

    @property
    def stop_within(self) -> float:
        """Seconds `stop()` may take: a batch in flight, then closing the MySQL pool."""
        return STOP_DEADLINE + STOP_MARGIN

    async def start(self) -> None:
        async with self._sessions() as session:
            self._queued = int(await session.scalar(select(func.count(OutboxRow.id))) or 0)
        self._started = True
        log.info(
            "TelePony feed to %s table %s: %d leg(s) queued",
            self.settings.safe_url(),
            self.settings.table,
            self._queued,
        )
        self._worker.start()

    async def stop(self) -> None:
        try:
            await self._worker.stop(STOP_DEADLINE)
        finally:
            await self.table.close()

    def wake(self) -> None:
        self._worker.wake()

    # ------------------------------------------------------------------ AMI side

    async def on_ami_event(self, event: AmiEvent) -> None:
        try:
            leg = leg_of(event, self._clock.local(self._clock.now()))
        except BadCdr as exc:
            self.stats.bad_events += 1
            unsaid = self._unreadable.count()
            if unsaid is not None:
                log.warning("TelePony: %d Cdr event(s) not written: %s", unsaid, exc)
            return
        await self.enqueue(leg)

    async def enqueue(self, leg: CdrLeg) -> bool:
        """Queue one leg for MySQL; False when it was refused (outbox full) or could not
        be stored (pbxbridge's database failing), which is counted and said."""
        if self._queued >= self.settings.max_queued:
            self.stats.rejected += 1
            await self._say_refused()
            return False
        try:
            async with self._sessions.begin() as session:
                session.add(OutboxRow(queued_at=self._clock.now(), batch=None, **leg.as_dict()))
        except SQLAlchemyError as exc:
            self.stats.lost += 1
            unsaid = self._unqueued.count()
            if unsaid is not None:
                log.error(
                    "TelePony: %d Cdr leg(s) not queued, pbxbridge's database fails: %s",
                    unsaid,
                    brief(exc),
                )
            return False
        self._queued += 1
        if not self._worker.status().failures:
            # While MySQL fails the retry delay stands: a busy PBX must not turn the
            # backoff into a connection attempt per call.
            self._worker.wake()
        return True

    async def _say_refused(self) -> None:
        unsaid = self._refused.count()
        if unsaid is None:
            return
        message = (
            f"TelePony outbox full ({self._queued} legs, telepony.max_queued): "
            f"{unsaid} new Cdr leg(s) refused (the oldest are kept) until MySQL at "
            f"{self.settings.safe_url()} takes rows again"
        )
        await self._tell(message)

    # ------------------------------------------------------------------ the worker

    async def _step(self) -> float | None:
        self._stage = _OUTBOX
        wait = await self.due_in()
        if wait is None or wait > 0:
            return wait
        batch = await self.claim()
        if batch is None:
            return None
        await self.write(batch)
        return 0 if self._queued else None

    async def due_in(self) -> float | None:
        """Seconds until the next batch is due (0: now), None when nothing waits."""
        async with self._sessions() as session:
            stamped = await session.scalar(
                select(OutboxRow.id).where(OutboxRow.batch.is_not(None)).limit(1)
            )
            if stamped is not None:
                return 0.0
            waiting, oldest = (
                await session.execute(
                    select(func.count(OutboxRow.id), func.min(OutboxRow.queued_at)).where(
                        OutboxRow.batch.is_(None)
                    )
                )
            ).one()
        if not waiting or oldest is None:
            return None
        if waiting >= self.settings.batch_size:
            return 0.0
        age = (self._clock.now() - as_utc(oldest)).total_seconds()
        return max(0.0, self.settings.flush_interval - age)

    async def claim(self) -> Batch | None:
        """The batch to write next: one stamped before (its fate in MySQL unknown), else
        up to batch_size waiting legs, oldest first, stamped with a new key (committed)."""
        async with self._sessions.begin() as session:
            key = await session.scalar(
                select(OutboxRow.batch)
                .where(OutboxRow.batch.is_not(None))
                .order_by(OutboxRow.id)
                .limit(1)
            )
            if key is None:
                ids = (
                    await session.scalars(
                        select(OutboxRow.id)
                        .where(OutboxRow.batch.is_(None))
                        .order_by(OutboxRow.id)
                        .limit(self.settings.batch_size)
                    )
                ).all()
                if not ids:
                    return None
                key = uuid.uuid4().hex
                await session.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(ids)).values(batch=key)
                )
            rows = (
                await session.scalars(
                    select(OutboxRow).where(OutboxRow.batch == key).order_by(OutboxRow.id)
                )
            ).all()
        legs = tuple(CdrLeg(**{name: getattr(row, name) for name in _LEG_FIELDS}) for row in rows)
        return Batch(key, tuple(row.id for row in rows), legs)

    async def write(self, batch: Batch) -> bool:
        """Write a claimed batch to MySQL, then drop it from the outbox. True when its legs
        went in now, False when MySQL had them already (an earlier try committed)."""
        self._stage = _MYSQL
        try:
            fresh = await self.table.write(batch.key, batch.legs, self._clock.now())
        except BaseException:
            self.stats.failures += 1
            await self.table.forget()
            raise
        self._stage = _OUTBOX
        try:
            async with self._sessions.begin() as session:
                await session.execute(delete(OutboxRow).where(OutboxRow.batch == batch.key))
        except BaseException:
            self.stats.failures += 1
            raise
        self._queued = max(0, self._queued - len(batch.ids))
        if fresh:
            self.stats.written += len(batch.legs)
            self.stats.batches += 1
        else:
            self.stats.already_written += 1
            log.info(
                "TelePony: batch %s (%d leg(s)) was already in MySQL: dropped from the outbox",
                batch.key,
                len(batch.legs),
            )
        async with self._progress:
            self._progress.notify_all()
        return fresh

    async def _failing(self, exc: BaseException) -> None:
        if self._stage == _MYSQL:
            what = f"cannot write to MySQL at {self.settings.safe_url()}"
        else:
            what = "cannot read or update its outbox in pbxbridge's database"
        await self._tell(
            f"TelePony feed {what} ({brief(exc)}); {self._queued} Cdr leg(s) kept in "
            f"pbxbridge's database, retrying up to every {self.settings.retry_max:g} s"
        )

    async def _recovered(self) -> None:
        await self._tell(
            f"TelePony feed writes to MySQL again ({self._queued} leg(s) still queued)"
        )

    async def _tell(self, message: str) -> None:
        if self._alert is None:
            log.error("%s", message)
            return
        try:
            await self._alert(message)
        except Exception:
            log.exception("alert failed")

    # ------------------------------------------------------------------ state

    async def health(self) -> Health:
        if not self._started:
            return Health.ok("not started")
        status = self._worker.status()
        queued = f"{self._queued} leg(s) queued"
        if not status.running:
            return Health.down(f"the feed's worker is not running; {queued}")
        if self._queued >= self.settings.max_queued:
            return Health.down(
                f"outbox full: new Cdr legs refused; {queued}; {status.last_error or ''}".rstrip(
                    "; "
                )
            )
        if status.failures:
            return Health.degraded(
                f"MySQL at {self.settings.safe_url()} failing ({status.last_error}); {queued}"
            )
        return Health.ok(f"{queued}, {self.stats.written} written")

    async def wait_until(self, done: Callable[[], bool], within: float) -> None:
        """Until `done()` holds, checked after each batch leaves the outbox; TimeoutError
        after `within` seconds (a shutdown that wants the outbox drained first)."""
        async with asyncio.timeout(within), self._progress:
            await self._progress.wait_for(done)

    def worker_failures(self) -> int:
        """Failed tries in a row of the current streak (0: the last one worked)."""
        return self._worker.status().failures
