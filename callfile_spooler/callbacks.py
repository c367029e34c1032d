"""Callback requests: "call me back" from the CLI, the staff bot or the web form.

A request is recorded first, whatever happens next (`spool_callbacks`). It is then checked:
at most `callback.max_per_hour` callbacks per number within an hour, none to a number on
the campaigns' do-not-call list, and none while one to that number is still under way.
An accepted request becomes a campaign of kind `callback` (named `callback-<id>`) with
one number and one queued attempt, all in the request's own transaction: the spooler
dials it like any campaign call (pacing, time window, retries by reason, outcomes from
the `failed` extension, UserEvents and archived files), and its outcome is that number's.

After the commit, two things are asked at once and neither can lose the request: who
the number belongs to (`BillingClient.find`, for staff), and, with the Ubilling backend,
Ubilling's own CallMeBack list (`action=callmeback`), so staff working in Ubilling see
the request too. Their results, failures included, are written back to the request.

How the call is made depends on `callback.mode` at the time of the request (recorded in
the number's variables): see `calls.CallDialer`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Row,
    Select,
    String,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from billing_client.client import BillingClient
from billing_client.outcomes import BillingResult
from callfile_spooler.calls import (
    VAR_CALLBACK_ID,
    VAR_CALLBACK_MODE,
    VAR_CALLBACK_NAME,
    VAR_CALLBACK_QUEUE,
    clean_name,
)
from callfile_spooler.campaigns import RESERVED_PREFIX
from callfile_spooler.errors import CallbackError
from callfile_spooler.models import Attempt, Campaign, CampaignNumber, DoNotCall
from callfile_spooler.outcomes import IN_ASTERISK, AttemptStatus, CampaignState, NumberStatus
from callfile_spooler.settings import CallbackSettings
from primitives.clock import Clock, as_utc
from primitives.phones import PhoneNormaliser
from storage import Base

log = logging.getLogger("pbxbridge.callback")

CallMeBack = Callable[[str], Awaitable[None]]
"""Ubilling's callmeback action: takes the number's digits, raises BillingError."""
Wake = Callable[[], None]


@runtime_checkable
class HasCallMeBack(Protocol):
    """A billing backend with Ubilling's CallMeBack list (`UbillingBackend`)."""

    async def callmeback(self, number_digits: str) -> None: ...


def callmeback_of(backend: object) -> CallMeBack | None:
    """`backend.callmeback` when the billing backend has one (Ubilling), else None."""
    return backend.callmeback if isinstance(backend, HasCallMeBack) else None


KIND = "callback"
NAME_PREFIX = RESERVED_PREFIX
LOOKUP_TIMEOUT = 5.0
"""Seconds the subscriber lookup and the Ubilling request may take after the commit."""
WINDOW = timedelta(hours=1)
MAX_NAME = 80
MAX_COMMENT = 500
MAX_SOURCE = 64
MAX_CLIENT_IP = 45
"""The longest textual IPv6 address (an IPv4-mapped one: ffff:ffff:…:255.255.255.255)."""


class CallbackRequest(Base):
    """One request, accepted (`queued`) or `refused` (why in `reason`)."""

    __tablename__ = "spool_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)
    comment: Mapped[str | None] = mapped_column(String(MAX_COMMENT), nullable=True)
    source: Mapped[str] = mapped_column(String(MAX_SOURCE))
    client_ip: Mapped[str | None] = mapped_column(String(MAX_CLIENT_IP), nullable=True)
    """Who asked, for requests from the web (the form; the address behind trusted proxies)."""
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(255), default="")
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("spool_campaigns.id", ondelete="SET NULL"), nullable=True
    )
    login: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subscriber_name: Mapped[str | None] = mapped_column(String(160), nullable=True)
    billing_error: Mapped[str] = mapped_column(String(255), default="")
    ubilling: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ubilling_error: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (Index("ix_spool_callbacks_number_requested_at", "number", "requested_at"),)


QUEUED = "queued"
REFUSED = "refused"
CANCELLED = "cancelled"
COUNTED = (QUEUED, CANCELLED)
"""Requests the hourly limit counts: every one that was accepted, cancelled ones too (a
request cancelled after its call was placed still made that call)."""
UBILLING_SENT = "sent"
UBILLING_FAILED = "failed"


class Refusal(StrEnum):
    """Why a request was refused, for callers that answer each case in their own words
    (the web form in the visitor's language); `CallbackResult.reason` says it in English."""

    DO_NOT_CALL = "do_not_call"
    UNDER_WAY = "under_way"
    """A callback to the number is still being dialled (or paused)."""
    TOO_MANY = "too_many"
    """callback.max_per_hour reached for the number."""


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """What became of a request (the bot and the web form show `describe()`)."""

    id: int
    number: str  # E.164
    accepted: bool
    reason: str
    """Why it was refused ("" when accepted)."""
    campaign: str | None
    login: str | None = None
    subscriber_name: str | None = None
    billing_error: str = ""
    ubilling: str | None = None
    """`sent`, `failed`, or None when not sent (no Ubilling, or refused)."""
    ubilling_error: str = ""
    not_before: datetime | None = None
    refusal: Refusal | None = None
    """Why it was refused, as a code (None when accepted)."""
    retry_after: int | None = None
    """For TOO_MANY: seconds until one more request to the number would pass."""

    def describe(self) -> str:
        if not self.accepted:
            return f"Callback to {self.number} not queued: {self.reason}."
        who = ""
        if self.login:
            who = f" ({self.login}{', ' + self.subscriber_name if self.subscriber_name else ''})"
        elif self.billing_error:
            who = " (billing lookup failed)"
        else:
            who = " (not a subscriber)"
        text = f"Callback #{self.id} to {self.number}{who} queued."
        if self.ubilling == UBILLING_SENT:
            text += " Also in Ubilling's CallMeBack list."
        elif self.ubilling == UBILLING_FAILED:
            text += f" Not sent to Ubilling: {self.ubilling_error}"
        return text


@dataclass(frozen=True, slots=True)
class CallbackInfo:
    """A recorded request with the state of its call (for `callback list`)."""

    id: int
    requested_at: datetime
    number: str
    name: str | None
    comment: str | None
    source: str
    status: str
    reason: str
    login: str | None
    subscriber_name: str | None
    ubilling: str | None
    call: str | None
    """The number's status in its callback: pending, calling, answered, given_up, dnc."""
    attempts: int
    last_outcome: str | None
    client_ip: str | None = None
    not_before: datetime | None = None

    @property
    def state(self) -> str:
        """One word for where the request stands: `refused`, `cancelled`, or its call's
        status (`pending`, `calling`, `answered`, `given_up`, `dnc`)."""
        if self.status in (REFUSED, CANCELLED):
            return self.status
        return self.call or NumberStatus.PENDING.value


STATES = (REFUSED, CANCELLED, *(s.value for s in NumberStatus if s != NumberStatus.IDLE))
"""Every `CallbackInfo.state` (what the API filters by)."""


@dataclass(frozen=True, slots=True)
class Refused:
    """Why `_refusal` refuses a request: the code, the words, and for TOO_MANY when one
    more would pass."""

    kind: Refusal
    reason: str
    retry_after: int | None = None


def _text(value: str | None, limit: int) -> str | None:
    """Free text from a form: control characters dropped, blanks folded, cut to `limit`."""
    if value is None:
        return None
    folded = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return folded[:limit] or None


class CallbackService:
    """Records, checks and queues callback requests (see the module notes).

    `billing` resolves the number to a subscriber; `callmeback` (the Ubilling backend's)
    copies the request into Ubilling; `wake` tells the running spooler to look now.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        phones: PhoneNormaliser,
        settings: CallbackSettings,
        *,
        billing: BillingClient | None = None,
        callmeback: CallMeBack | None = None,
        wake: Wake | None = None,
        lookup_timeout: float = LOOKUP_TIMEOUT,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.phones = phones
        self.settings = settings
        self.billing = billing
        self.callmeback = callmeback
        self.wake = wake
        self.lookup_timeout = lookup_timeout
        # One request at a time through the checks, so two at once cannot both pass the
        # hourly limit. This holds within the service (bot, web form); a CLI request in
        # the same instant could still slip past it: one extra call at worst.
        self._lock = asyncio.Lock()

    async def request(
        self,
        number: str,
        *,
        name: str | None = None,
        comment: str | None = None,
        source: str,
        at: datetime | None = None,
        client_ip: str | None = None,
    ) -> CallbackResult:
        """Record a request and, when it passes the checks, queue its call (at `at`, an
        aware datetime, or now). `client_ip`: the address a web request came from.
        Raises CallbackError only when nothing can be recorded."""
        if at is not None and at.tzinfo is None:
            raise CallbackError("the time of a callback must carry its timezone")
        if not self.settings.enabled:
            raise CallbackError("callbacks are off (callback.enabled = false)")
        e164 = self.phones.normalise(number)
        if e164 is None:
            raise CallbackError(f"{number!r} is not a valid phone number")
        now = self.clock.now()
        not_before = max(at.astimezone(UTC), now) if at is not None else now
        async with self._lock, self.sessions.begin() as session:
            refused = await self._refusal(session, e164, now)
            refusal = refused.reason if refused is not None else ""
            row = CallbackRequest(
                number=e164,
                name=_text(name, MAX_NAME),
                comment=_text(comment, MAX_COMMENT),
                source=(_text(source, MAX_SOURCE) or "unknown"),
                client_ip=_text(client_ip, MAX_CLIENT_IP),
                status=REFUSED if refusal else QUEUED,
                reason=refusal,
                requested_at=now,
                not_before=not_before,
                billing_error="",
                ubilling_error="",
            )
            session.add(row)
            await session.flush()
            campaign_name = None
            if not refusal:
                campaign_name = f"{NAME_PREFIX}{row.id}"
                row.campaign_id = await self._queue(session, row, campaign_name, now)
            request_id = row.id
        if refusal:
            log.info("callback to %s refused: %s", e164, refusal)
            assert refused is not None
            return CallbackResult(
                request_id,
                e164,
                False,
                refusal,
                None,
                not_before=not_before,
                refusal=refused.kind,
                retry_after=refused.retry_after,
            )
        log.info("callback #%d to %s queued (%s)", request_id, e164, self.settings.mode)
        if self.wake is not None:
            self.wake()
        return await self._follow_up(request_id, e164, campaign_name, not_before)

    async def _refusal(self, session: AsyncSession, number: str, now: datetime) -> Refused | None:
        if await session.get(DoNotCall, number) is not None:
            return Refused(Refusal.DO_NOT_CALL, "the number is on the do-not-call list")
        waiting = await session.scalar(
            select(CallbackRequest.id)
            .join(Campaign, Campaign.id == CallbackRequest.campaign_id)
            .where(
                CallbackRequest.number == number,
                Campaign.state.in_([CampaignState.RUNNING, CampaignState.PAUSED]),
            )
            .limit(1)
        )
        if waiting is not None:
            return Refused(
                Refusal.UNDER_WAY, f"callback #{waiting} to this number is still under way"
            )
        recent = (
            await session.scalars(
                select(CallbackRequest.requested_at)
                .where(
                    CallbackRequest.number == number,
                    CallbackRequest.status.in_(COUNTED),
                    CallbackRequest.requested_at > now - WINDOW,
                )
                .order_by(CallbackRequest.requested_at.desc())
            )
        ).all()
        limit = self.settings.max_per_hour
        if len(recent) >= limit:
            # One more passes once the limit-th newest leaves the hour.
            frees_at = as_utc(recent[limit - 1]) + WINDOW
            return Refused(
                Refusal.TOO_MANY,
                f"{len(recent)} callback(s) to this number within the hour already "
                f"(callback.max_per_hour = {limit})",
                max(1, math.ceil((frees_at - now).total_seconds())),
            )
        return None

    async def _queue(
        self, session: AsyncSession, request: CallbackRequest, name: str, now: datetime
    ) -> int:
        """The request's campaign, number and first attempt; the campaign's id."""
        s = self.settings
        operator_first = s.mode == "operator_first"
        campaign = Campaign(
            name=name,
            kind=KIND,
            state=CampaignState.RUNNING.value,
            context=s.connect_context if operator_first else s.context,
            extension="s",
            callerid=None if operator_first else s.callerid,
            bundle_size=0,
            bundle_delay=0.0,
            max_concurrent=1,
            cps=1.0,
            window=s.window,
            schedule=None,
            max_attempts=s.max_attempts,
            run_no=1,
            last_run_on=self.clock.local(now).date(),
            created_at=now,
            started_at=now,
        )
        session.add(campaign)
        await session.flush()
        variables = {
            VAR_CALLBACK_ID: str(request.id),
            VAR_CALLBACK_MODE: s.mode,
            VAR_CALLBACK_QUEUE: s.queue,
        }
        shown = clean_name(request.name)
        if shown:
            variables[VAR_CALLBACK_NAME] = shown
        number = CampaignNumber(
            campaign_id=campaign.id,
            number=request.number,
            extension=None,
            variables=json.dumps(variables, ensure_ascii=False),
            status=NumberStatus.PENDING.value,
            attempts=0,
        )
        session.add(number)
        await session.flush()
        session.add(
            Attempt(
                campaign_id=campaign.id,
                number_id=number.id,
                run_no=1,
                attempt_no=1,
                status=AttemptStatus.QUEUED.value,
                not_before=request.not_before,
                detail="",
            )
        )
        return campaign.id

    async def _follow_up(
        self, request_id: int, number: str, campaign: str | None, not_before: datetime
    ) -> CallbackResult:
        """Who the number is, and Ubilling's copy: both at once, failures recorded."""
        lookup, sent = await asyncio.gather(self._lookup(number), self._send_to_ubilling(number))
        login, subscriber_name, billing_error = lookup
        ubilling, ubilling_error = sent
        async with self.sessions.begin() as session:
            row = await session.get(CallbackRequest, request_id)
            if row is not None:
                row.login = login
                row.subscriber_name = subscriber_name
                row.billing_error = billing_error[:255]
                row.ubilling = ubilling
                row.ubilling_error = ubilling_error[:255]
        return CallbackResult(
            request_id,
            number,
            True,
            "",
            campaign,
            login,
            subscriber_name,
            billing_error,
            ubilling,
            ubilling_error,
            not_before,
        )

    async def _lookup(self, number: str) -> tuple[str | None, str | None, str]:
        if self.billing is None:
            return None, None, ""
        try:
            async with asyncio.timeout(self.lookup_timeout):
                found = await self.billing.find(number)
        except TimeoutError:
            return None, None, "the billing did not answer in time"
        except Exception as exc:  # informational only: never lose the request over it
            log.warning("callback: subscriber lookup for %s failed", number, exc_info=True)
            return None, None, f"{type(exc).__name__}: {exc}"
        if found.result == BillingResult.ERROR:
            return None, None, found.error or "billing error"
        if found.subscriber is None:
            return None, None, ""
        return found.subscriber.login[:64] or None, found.subscriber.name[:160] or None, ""

    async def _send_to_ubilling(self, number: str) -> tuple[str | None, str]:
        if self.callmeback is None:
            return None, ""
        digits = "".join(c for c in self.phones.national(number) if c in "0123456789")
        try:
            async with asyncio.timeout(self.lookup_timeout):
                await self.callmeback(digits)
        except TimeoutError:
            error = "Ubilling did not answer in time"
        except Exception as exc:  # the local request stands whatever Ubilling does
            error = str(exc) or type(exc).__name__
        else:
            return UBILLING_SENT, ""
        log.warning("callback: Ubilling callmeback for %s failed: %s", number, error)
        return UBILLING_FAILED, error

    async def list_requests(self, limit: int = 50) -> list[CallbackInfo]:
        """The latest requests, newest first, with the state of their calls."""
        return await self.page(limit)

    async def page(
        self,
        limit: int,
        *,
        before: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        state: str | None = None,
    ) -> list[CallbackInfo]:
        """Requests newest first: ids below `before`, requested in [since, until) (UTC),
        in `state` (a `CallbackInfo.state`)."""
        query = _info_query().order_by(CallbackRequest.id.desc()).limit(limit)
        if before is not None:
            query = query.where(CallbackRequest.id < before)
        if since is not None:
            query = query.where(CallbackRequest.requested_at >= since)
        if until is not None:
            query = query.where(CallbackRequest.requested_at < until)
        if state in (REFUSED, CANCELLED):
            query = query.where(CallbackRequest.status == state)
        elif state is not None:
            query = query.where(CallbackRequest.status == QUEUED, CampaignNumber.status == state)
        async with self.sessions() as session:
            return [_info(row) for row in await session.execute(query)]

    async def get(self, request_id: int) -> CallbackInfo | None:
        async with self.sessions() as session:
            row = (
                await session.execute(_info_query().where(CallbackRequest.id == request_id))
            ).first()
            return _info(row) if row is not None else None

    async def cancel(self, request_id: int, *, actor: str) -> CallbackInfo | None:
        """No further call for request `request_id` (None when there is no such request).

        Its queued attempts are cancelled and its campaign is done, so nothing is retried; a
        call already in Asterisk's hands is not stopped (its outcome is still recorded).
        Who cancelled is kept in the request's reason. Raises CallbackError when there is
        nothing to cancel: refused, cancelled already, or its call is over.
        """
        now = self.clock.now()
        async with self.sessions.begin() as session:
            request = await session.get(CallbackRequest, request_id)
            if request is None:
                return None
            if request.status == REFUSED:
                raise CallbackError(f"callback #{request_id} was refused: it has no call")
            if request.status == CANCELLED:
                raise CallbackError(f"callback #{request_id} is cancelled already")
            campaign = (
                await session.get(Campaign, request.campaign_id)
                if request.campaign_id is not None
                else None
            )
            if campaign is None or campaign.state not in (
                CampaignState.RUNNING,
                CampaignState.PAUSED,
            ):
                raise CallbackError(f"callback #{request_id} is over: nothing left to cancel")
            who = _text(actor, MAX_SOURCE) or "unknown"
            await session.execute(
                update(Attempt)
                .where(Attempt.campaign_id == campaign.id, Attempt.status == AttemptStatus.QUEUED)
                .values(
                    status=AttemptStatus.CANCELLED.value, ended_at=now, detail=f"cancelled by {who}"
                )
            )
            live = await session.scalar(
                select(func.count())
                .select_from(Attempt)
                .where(Attempt.campaign_id == campaign.id, Attempt.status.in_(list(IN_ASTERISK)))
            )
            if not live:
                await session.execute(
                    update(CampaignNumber)
                    .where(CampaignNumber.campaign_id == campaign.id)
                    .values(status=NumberStatus.GIVEN_UP.value)
                )
            campaign.state = CampaignState.DONE.value
            campaign.finished_at = now
            request.status = CANCELLED
            request.reason = f"cancelled by {who}" + (
                "; the call under way then was not stopped" if live else ""
            )
        log.info("callback #%d to %s cancelled by %s", request_id, request.number, who)
        return await self.get(request_id)


def _info_query() -> Select[CallbackRequest, str, int, str | None]:
    return select(
        CallbackRequest,
        CampaignNumber.status,
        CampaignNumber.attempts,
        CampaignNumber.last_outcome,
    ).outerjoin(CampaignNumber, CampaignNumber.campaign_id == CallbackRequest.campaign_id)


def _info(row: Row[CallbackRequest, str, int, str | None]) -> CallbackInfo:
    """A request with its call (None for a refused one: the outer join found no number)."""
    r, call, attempts, outcome = row
    return CallbackInfo(
        id=r.id,
        requested_at=as_utc(r.requested_at),
        number=r.number,
        name=r.name,
        comment=r.comment,
        source=r.source,
        status=r.status,
        reason=r.reason,
        login=r.login,
        subscriber_name=r.subscriber_name,
        ubilling=r.ubilling,
        call=call,
        attempts=attempts or 0,
        last_outcome=outcome,
        client_ip=r.client_ip,
        not_before=as_utc(r.not_before),
    )
