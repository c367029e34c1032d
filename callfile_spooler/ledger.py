"""Writing outcomes down: the attempt state machine, number summaries, the next attempt.

A batch of signals (from AMI events or the spool folder) becomes one transaction: three
selects to read the attempts, numbers and campaigns concerned, then one executemany per
table. The rules, per attempt:

* `spooled → dialing` when Asterisk started the file;
* `spooled|dialing → <outcome>` once; a later, different outcome is ignored, except that
  `expired` (the archived file says only that) gives way to the reason a late
  `failed`-extension event brings, and the queued retry is re-timed by that reason;
* `expired` with a Hangup cause known becomes the status that cause means;
* `ended_at` is set once (the line is free);
* an outcome other than `answered` queues the next attempt after the delay for its reason,
  while the run is the campaign's current one and attempts are left; else the number is
  given up. A signal with `retry=False` (the call may have been made) never queues one.

Every other read and write the spooler makes is here too (the attempts Asterisk may hold,
the campaigns to tick, the attempts due, `spooled`/`cancelled`/`failed` marks, the end of
a run): the spooler keeps the order of the steps, the files and the pacing, and each of
its transactions calls these in the session it opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callfile_spooler.campaigns import CampaignInfo
from callfile_spooler.events import Signal
from callfile_spooler.models import Attempt, Campaign, CampaignNumber, DoNotCall
from callfile_spooler.outcomes import (
    IN_ASTERISK,
    NOT_ANSWERED,
    UNFINISHED,
    AttemptStatus,
    CampaignState,
    NumberStatus,
    retry_delay,
    status_for_cause,
)
from callfile_spooler.settings import SpoolSettings
from primitives.clock import as_utc

CHUNK = 500


@dataclass
class AttemptState:
    id: int
    campaign_id: int
    number_id: int
    run_no: int
    attempt_no: int
    status: AttemptStatus
    reason: int | None
    cause: int | None
    uniqueid: str | None
    digit: str | None
    detail: str
    answered_at: datetime | None
    ended_at: datetime | None
    dirty: bool = False
    just_answered: bool = False
    """It became `answered` in this batch."""

    def values(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "reason": self.reason,
            "cause": self.cause,
            "uniqueid": self.uniqueid,
            "digit": self.digit,
            "detail": self.detail,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
        }


@dataclass
class NumberState:
    id: int
    status: str
    last_outcome: str | None
    last_reason: int | None
    digit: str | None
    dirty: bool = False

    def values(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "last_outcome": self.last_outcome,
            "last_reason": self.last_reason,
            "digit": self.digit,
        }


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    run_no: int
    state: str
    max_attempts: int | None


@dataclass
class Batch:
    attempts: dict[int, AttemptState] = field(default_factory=dict)
    numbers: dict[int, NumberState] = field(default_factory=dict)
    campaigns: dict[int, CampaignFacts] = field(default_factory=dict)
    retries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class InAsterisk:
    """An attempt whose call Asterisk may hold: spooled or dialing, or answered and not
    over yet (what the spooler matches to the files in the spool at start-up)."""

    attempt_id: int
    campaign_id: int
    number_id: int
    number: str
    status: AttemptStatus
    ended: bool
    uniqueid: str | None


if TYPE_CHECKING:  # Row takes its column types this way from SQLAlchemy 2.1 on
    from sqlalchemy import Row

    DueAttempt = Row[int, int, str, str | None, str, bool]
    """(attempt id, number id, number, its extension, its variables as JSON, whether the
    number is on the do-not-call list) of a queued attempt whose time has come."""


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


@dataclass(frozen=True, slots=True)
class Step:
    """The verdict of `step`: the attempt's status after a signal, and what kind of change
    that is."""

    status: AttemptStatus
    final: bool = False
    """The attempt just got its outcome: the number is settled and a retry may be queued."""
    refines: bool = False
    """An `expired` outcome gives way to the reason a late event brings (see `_refine`)."""


def step(status: AttemptStatus, new: AttemptStatus | None, cause: int | None) -> Step:
    """The attempt state machine (the rules at the top), as a pure function: the attempt's
    `status`, the status a signal brings (`new`, None: none) and the Hangup cause known."""
    if new is None:
        return Step(status)
    if status in IN_ASTERISK:
        if new == AttemptStatus.DIALING:
            return Step(new)
        if new == AttemptStatus.EXPIRED and cause is not None:
            new = status_for_cause(cause) or AttemptStatus.EXPIRED
        return Step(new, final=True)
    if status == AttemptStatus.EXPIRED and new in NOT_ANSWERED and new != AttemptStatus.EXPIRED:
        return Step(new, refines=True)
    return Step(status)  # a later, different outcome is ignored


def _learn(attempt: AttemptState, number: NumberState | None, signal: Signal) -> None:
    """What a signal tells about an attempt besides its status: the channel's Uniqueid,
    the Hangup cause, a detail, the digit pressed (the number's summary keeps it too)."""
    if signal.uniqueid and signal.learn_uniqueid and not attempt.uniqueid:
        attempt.uniqueid = signal.uniqueid[:64]
    if signal.cause is not None:
        attempt.cause = signal.cause
    if signal.detail:
        attempt.detail = signal.detail[:255]
    if signal.digit:
        attempt.digit = signal.digit
        if number is not None and number.digit != signal.digit:
            number.digit = signal.digit
            number.dirty = True


def _record_outcome(
    attempt: AttemptState, outcome: AttemptStatus, reason: int | None, now: datetime
) -> None:
    attempt.status = outcome
    if reason is not None:
        attempt.reason = reason
    if outcome == AttemptStatus.ANSWERED:
        attempt.answered_at = now
        attempt.just_answered = True


class Ledger:
    def __init__(self, settings: SpoolSettings) -> None:
        self.settings = settings

    async def lookup(self, session: AsyncSession, signal: Signal) -> int | None:
        """The latest attempt of `signal`'s campaign and number that an event may concern."""
        return await session.scalar(
            select(Attempt.id)
            .join(CampaignNumber, CampaignNumber.id == Attempt.number_id)
            .where(
                Attempt.campaign_id == signal.campaign_id,
                CampaignNumber.number == signal.number,
                Attempt.status.in_([*IN_ASTERISK, AttemptStatus.EXPIRED, AttemptStatus.ANSWERED]),
            )
            .order_by(Attempt.id.desc())
            .limit(1)
        )

    async def apply(
        self, session: AsyncSession, work: Sequence[tuple[int, Signal]], now: datetime
    ) -> dict[int, AttemptState]:
        """Apply `(attempt id, signal)` pairs in `session`; the attempts' states after."""
        batch = await self._read(session, sorted({aid for aid, _ in work}))
        for attempt_id, signal in work:
            attempt = batch.attempts.get(attempt_id)
            if attempt is not None:
                await self._one(session, batch, attempt, signal, now)
        dirty = [a.values() for a in batch.attempts.values() if a.dirty]
        if dirty:
            await session.execute(update(Attempt), dirty)
        numbers = [n.values() for n in batch.numbers.values() if n.dirty]
        if numbers:
            await session.execute(update(CampaignNumber), numbers)
        if batch.retries:
            await session.execute(insert(Attempt), batch.retries)
        return batch.attempts

    async def _read(self, session: AsyncSession, ids: list[int]) -> Batch:
        batch = Batch()
        for chunk in _chunks(ids):
            for (
                aid,
                cid,
                nid,
                run_no,
                attempt_no,
                status,
                reason,
                cause,
                uniqueid,
                digit,
                detail,
                answered_at,
                ended_at,
            ) in await session.execute(
                select(
                    Attempt.id,
                    Attempt.campaign_id,
                    Attempt.number_id,
                    Attempt.run_no,
                    Attempt.attempt_no,
                    Attempt.status,
                    Attempt.reason,
                    Attempt.cause,
                    Attempt.uniqueid,
                    Attempt.digit,
                    Attempt.detail,
                    Attempt.answered_at,
                    Attempt.ended_at,
                ).where(Attempt.id.in_(chunk))
            ):
                batch.attempts[aid] = AttemptState(
                    aid,
                    cid,
                    nid,
                    run_no,
                    attempt_no,
                    AttemptStatus(status),
                    reason,
                    cause,
                    uniqueid,
                    digit,
                    detail,
                    as_utc(answered_at) if answered_at is not None else None,
                    as_utc(ended_at) if ended_at is not None else None,
                )
        number_ids = sorted({a.number_id for a in batch.attempts.values()})
        for chunk in _chunks(number_ids):
            for nid, status, outcome, reason, digit in await session.execute(
                select(
                    CampaignNumber.id,
                    CampaignNumber.status,
                    CampaignNumber.last_outcome,
                    CampaignNumber.last_reason,
                    CampaignNumber.digit,
                ).where(CampaignNumber.id.in_(chunk))
            ):
                batch.numbers[nid] = NumberState(nid, status, outcome, reason, digit)
        campaign_ids = sorted({a.campaign_id for a in batch.attempts.values()})
        if campaign_ids:
            for cid, run_no, state, max_attempts in await session.execute(
                select(Campaign.id, Campaign.run_no, Campaign.state, Campaign.max_attempts).where(
                    Campaign.id.in_(campaign_ids)
                )
            ):
                batch.campaigns[cid] = CampaignFacts(run_no, state, max_attempts)
        return batch

    async def _one(
        self,
        session: AsyncSession,
        batch: Batch,
        attempt: AttemptState,
        signal: Signal,
        now: datetime,
    ) -> None:
        number = batch.numbers.get(attempt.number_id)
        before = attempt.values()
        _learn(attempt, number, signal)
        status = attempt.status
        verdict = step(status, signal.status, attempt.cause)
        if verdict.refines:
            await self._refine(session, attempt, number, verdict.status, signal.reason, now)
        elif verdict.final:
            _record_outcome(attempt, verdict.status, signal.reason, now)
        else:
            attempt.status = verdict.status
        if signal.ended and attempt.ended_at is None and status != AttemptStatus.QUEUED:
            attempt.ended_at = now
        attempt.dirty = attempt.dirty or attempt.values() != before
        campaign = batch.campaigns.get(attempt.campaign_id)
        if verdict.final and number is not None and campaign is not None:
            self._settle(batch, attempt, number, campaign, signal, now)

    def _settle(
        self,
        batch: Batch,
        attempt: AttemptState,
        number: NumberState,
        campaign: CampaignFacts,
        signal: Signal,
        now: datetime,
    ) -> None:
        """An attempt just got its outcome: the number's summary, and the next attempt."""
        final = attempt.status
        number.last_outcome = final.value
        number.last_reason = attempt.reason
        number.dirty = True
        if final == AttemptStatus.ANSWERED:
            number.status = NumberStatus.ANSWERED.value
            return
        limit = campaign.max_attempts or self.settings.max_attempts
        if (
            signal.retry
            and attempt.run_no == campaign.run_no
            and attempt.attempt_no < limit
            and campaign.state in (CampaignState.RUNNING, CampaignState.PAUSED)
        ):
            delay = retry_delay(final, self.settings.retry_delays)
            batch.retries.append(
                {
                    "campaign_id": attempt.campaign_id,
                    "number_id": attempt.number_id,
                    "run_no": attempt.run_no,
                    "attempt_no": attempt.attempt_no + 1,
                    "status": AttemptStatus.QUEUED.value,
                    "not_before": now + timedelta(seconds=delay),
                    "detail": "",
                }
            )
            number.status = NumberStatus.PENDING.value
        else:
            number.status = NumberStatus.GIVEN_UP.value

    async def _refine(
        self,
        session: AsyncSession,
        attempt: AttemptState,
        number: NumberState | None,
        new: AttemptStatus,
        reason: int | None,
        now: datetime,
    ) -> None:
        """`Expired` (archived file) came before the event with the reason: use the reason,
        and time the queued retry by it."""
        attempt.status = new
        attempt.reason = reason
        if number is not None and number.last_outcome == AttemptStatus.EXPIRED:
            number.last_outcome = new.value
            number.last_reason = reason
            number.dirty = True
        ended = attempt.ended_at or now
        await session.execute(
            update(Attempt)
            .where(
                Attempt.number_id == attempt.number_id,
                Attempt.run_no == attempt.run_no,
                Attempt.attempt_no == attempt.attempt_no + 1,
                Attempt.status == AttemptStatus.QUEUED,
            )
            .values(
                not_before=ended + timedelta(seconds=retry_delay(new, self.settings.retry_delays))
            )
        )

    # --- around the tick ------------------------------------------------------------

    @staticmethod
    async def in_asterisk(session: AsyncSession) -> list[InAsterisk]:
        """Every attempt Asterisk may hold (see `InAsterisk`)."""
        rows = await session.execute(
            select(
                Attempt.id,
                Attempt.campaign_id,
                Attempt.number_id,
                CampaignNumber.number,
                Attempt.status,
                Attempt.ended_at,
                Attempt.uniqueid,
            )
            .join(CampaignNumber, CampaignNumber.id == Attempt.number_id)
            .where(
                or_(
                    Attempt.status.in_(list(IN_ASTERISK)),
                    and_(Attempt.status == AttemptStatus.ANSWERED, Attempt.ended_at.is_(None)),
                )
            )
        )
        return [
            InAsterisk(aid, cid, nid, number, AttemptStatus(status), ended_at is not None, uid)
            for aid, cid, nid, number, status, ended_at, uid in rows
        ]

    @staticmethod
    async def back_to_queue(
        session: AsyncSession, attempt_ids: Sequence[int], number_ids: Sequence[int]
    ) -> None:
        """Spooled attempts whose file never reached (or was taken back from) Asterisk:
        queued again, their numbers pending, the attempt not counted."""
        await session.execute(
            update(Attempt)
            .where(Attempt.id.in_(attempt_ids), Attempt.status == AttemptStatus.SPOOLED)
            .values(status=AttemptStatus.QUEUED.value, spooled_at=None)
        )
        await session.execute(
            update(CampaignNumber)
            .where(CampaignNumber.id.in_(number_ids))
            .values(
                status=NumberStatus.PENDING.value,
                attempts=case((CampaignNumber.attempts > 0, CampaignNumber.attempts - 1), else_=0),
            )
        )

    @staticmethod
    async def campaigns_to_tick(session: AsyncSession) -> list[CampaignInfo]:
        """Running and paused campaigns, and those with a weekly schedule, by id."""
        rows = await session.scalars(
            select(Campaign)
            .where(
                or_(
                    Campaign.state.in_([CampaignState.RUNNING, CampaignState.PAUSED]),
                    Campaign.schedule.is_not(None),
                )
            )
            .order_by(Campaign.id)
        )
        return [CampaignInfo.of(r) for r in rows]

    @staticmethod
    async def campaign_to_begin(session: AsyncSession, campaign_id: int) -> Campaign | None:
        """The campaign's row while a run may begin (idle or done), else None."""
        row = await session.get(Campaign, campaign_id)
        if row is None or row.state not in (CampaignState.IDLE, CampaignState.DONE):
            return None
        return row

    @staticmethod
    async def skip_scheduled_day(session: AsyncSession, campaign_id: int, day: date) -> None:
        """The scheduled run of `day` could not begin: not tried again that day."""
        row = await session.get(Campaign, campaign_id)
        if row is not None:
            row.last_run_on = day

    @staticmethod
    async def spool_history(
        session: AsyncSession, campaign_id: int, *, since: datetime, limit: int
    ) -> tuple[list[datetime], datetime | None]:
        """When the campaign's latest files were spooled (at most `limit`, after `since`,
        newest first), and when its last one was."""
        recent = await session.scalars(
            select(Attempt.spooled_at)
            .where(Attempt.campaign_id == campaign_id, Attempt.spooled_at > since)
            .order_by(Attempt.spooled_at.desc())
            .limit(limit)
        )
        times = [as_utc(t) for t in recent if t is not None]
        last = await session.scalar(
            select(func.max(Attempt.spooled_at)).where(Attempt.campaign_id == campaign_id)
        )
        return times, as_utc(last) if last is not None else None

    @staticmethod
    async def due(
        session: AsyncSession, campaign_id: int, run_no: int, now: datetime, limit: int
    ) -> Sequence[DueAttempt]:
        """The run's queued attempts whose time has come, oldest first, at most `limit`."""
        rows = await session.execute(
            select(
                Attempt.id,
                Attempt.number_id,
                CampaignNumber.number,
                CampaignNumber.extension,
                CampaignNumber.variables,
                DoNotCall.number.is_not(None),
            )
            .join(CampaignNumber, CampaignNumber.id == Attempt.number_id)
            .outerjoin(DoNotCall, DoNotCall.number == CampaignNumber.number)
            .where(
                Attempt.campaign_id == campaign_id,
                Attempt.run_no == run_no,
                Attempt.status == AttemptStatus.QUEUED,
                Attempt.not_before <= now,
            )
            .order_by(Attempt.not_before, Attempt.id)
            .limit(limit)
        )
        return rows.all()

    @staticmethod
    async def mark_spooled(
        session: AsyncSession, attempt_ids: Sequence[int], number_ids: Sequence[int], now: datetime
    ) -> None:
        """Attempts whose call file is written (and about to be renamed into outgoing/)."""
        await session.execute(
            update(Attempt)
            .where(Attempt.id.in_(attempt_ids), Attempt.status == AttemptStatus.QUEUED)
            .values(status=AttemptStatus.SPOOLED.value, spooled_at=now)
        )
        await session.execute(
            update(CampaignNumber)
            .where(CampaignNumber.id.in_(number_ids))
            .values(
                status=NumberStatus.CALLING.value,
                attempts=CampaignNumber.attempts + 1,
                last_attempt_at=now,
            )
        )

    @staticmethod
    async def mark_cancelled(
        session: AsyncSession, cancelled: Sequence[tuple[int, int]], now: datetime
    ) -> None:
        """(attempt id, number id) of numbers found on the do-not-call list when due."""
        await session.execute(
            update(Attempt)
            .where(Attempt.id.in_([aid for aid, _ in cancelled]))
            .values(
                status=AttemptStatus.CANCELLED.value, ended_at=now, detail="on the do-not-call list"
            )
        )
        await session.execute(
            update(CampaignNumber)
            .where(CampaignNumber.id.in_([nid for _, nid in cancelled]))
            .values(status=NumberStatus.DNC.value)
        )

    @staticmethod
    async def mark_refused(
        session: AsyncSession, refused: Mapping[int, tuple[int, str]], now: datetime
    ) -> None:
        """attempt id → (number id, why) of calls no valid call file can be written for:
        failed, and their numbers given up (a value refused now is refused later too)."""
        for aid, (nid, why) in refused.items():
            await session.execute(
                update(Attempt)
                .where(Attempt.id == aid)
                .values(status=AttemptStatus.FAILED.value, ended_at=now, detail=why[:255])
            )
            await session.execute(
                update(CampaignNumber)
                .where(CampaignNumber.id == nid)
                .values(
                    status=NumberStatus.GIVEN_UP.value,
                    last_outcome=AttemptStatus.FAILED.value,
                    last_attempt_at=now,
                )
            )

    @staticmethod
    async def finish_run(
        session: AsyncSession, campaign_id: int, run_no: int, now: datetime
    ) -> bool:
        """Mark the run done when none of its attempts is unfinished and it is still the
        campaign's running one; whether it was."""
        unfinished = await session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.campaign_id == campaign_id,
                Attempt.run_no == run_no,
                Attempt.status.in_(list(UNFINISHED)),
            )
        )
        if unfinished:
            return False
        row = await session.get(Campaign, campaign_id)
        if row is None or row.state != CampaignState.RUNNING or row.run_no != run_no:
            return False
        row.state = CampaignState.DONE.value
        row.finished_at = now
        return True
