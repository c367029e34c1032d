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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callfile_spooler.events import Signal
from callfile_spooler.models import Attempt, Campaign, CampaignNumber
from callfile_spooler.outcomes import (
    IN_ASTERISK,
    NOT_ANSWERED,
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


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


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
        status = attempt.status
        new = signal.status
        became_final = False
        if new is not None and status in IN_ASTERISK:
            if new == AttemptStatus.DIALING:
                attempt.status = AttemptStatus.DIALING
            else:
                if new == AttemptStatus.EXPIRED and attempt.cause is not None:
                    new = status_for_cause(attempt.cause) or AttemptStatus.EXPIRED
                attempt.status = new
                if signal.reason is not None:
                    attempt.reason = signal.reason
                if new == AttemptStatus.ANSWERED:
                    attempt.answered_at = now
                    attempt.just_answered = True
                became_final = True
        elif (
            new is not None
            and status == AttemptStatus.EXPIRED
            and new in NOT_ANSWERED
            and new != AttemptStatus.EXPIRED
        ):
            await self._refine(session, attempt, number, new, signal.reason, now)
        if signal.ended and attempt.ended_at is None and status != AttemptStatus.QUEUED:
            attempt.ended_at = now
        attempt.dirty = attempt.dirty or attempt.values() != before
        campaign = batch.campaigns.get(attempt.campaign_id)
        if became_final and number is not None and campaign is not None:
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
