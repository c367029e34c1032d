"""The persistent outbox: `queued → sending → sent | failed | unknown`, at most one
transmission per message, even across a crash.

How "at most once" holds:

* A worker claims a message with a conditional UPDATE (`queued` → `sending`, attempt + 1,
  ActionID `pbxbridge-sms-<id>-<attempt>`) and commits **before** the action is written.
* The action carries that key as ActionID and, for chan_dongle/chan_quectel, as `Payload`
  (echoed back in `*Report`), so whoever looks at Asterisk's side can tell which attempt
  of which message a transmission was.
* Only an outcome that proves nothing went out (the link was down before the action was
  written; `Response: Error`, since chan_dongle and MessageSend queue nothing when they
  refuse) puts the message back to `queued` for a later retry, with backoff. A timeout,
  a link lost while waiting, or anything unexpected makes it `unknown`.
* At start-up every message still `sending` (the process died between the commit and
  the answer) becomes `unknown` and is reported through `on_final`; nothing `unknown` is
  ever sent again automatically. Staff who judge it lost send a copy (`requeue`).

Delivery reports (`*Report`, bg111 `DongleSMSStatus`) move `sending`/`sent`/`unknown` to
`sent`, `delivered` or `failed`. Every transition is one conditional UPDATE, so a report
handled while the worker records the response can never be overwritten by a stale state.

One running outbox (worker) per database: two would each turn the other's `sending`
messages into `unknown` at start-up.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.ami import AmiEvent
from primitives.backoff import Backoff
from primitives.clock import Clock, as_utc
from primitives.phones import PhoneNormaliser
from primitives.worker import Worker
from sms import text as sms_text
from sms.errors import SmsRefused
from sms.events import REPORT_EVENTS, DeliveryReport, report_from_event
from sms.models import OutboxRow, OutboxWorkerRow
from sms.settings import PJSIP_MAX_BODY, SmsSettings, Transport
from sms.transports import (
    Ready,
    SendOutcome,
    SmsTransport,
    action_key,
    dongle_message,
    header_line_fits,
    pjsip_body_limit,
)
from sms.types import DRIVERS, FINAL_STATES, OnFinal, OutboxMessage, OutboxState, WorkerStatus
from storage.errors import brief

log = logging.getLogger("pbxbridge.sms")

MAX_TEXT = 4000
"""Characters one queued text may have (before splitting)."""
MAX_PARTS = 20
"""Separate messages a long text may become on a single-PDU modem."""
ACTOR_MAX = 64
_SHORT_NUMBER = re.compile(r"\+?[0-9*#]{2,20}")
_SIP_USER = re.compile(r"[A-Za-z0-9_.+*#\-]{1,64}")
_ORPHAN_REPORTS = 200
_WORKER_ROW = 1

_REPORT_FROM: dict[str, tuple[OutboxState, ...]] = {
    "sent": (OutboxState.SENDING, OutboxState.UNKNOWN),
    "delivered": (OutboxState.SENDING, OutboxState.SENT, OutboxState.UNKNOWN),
    "failed": (OutboxState.SENDING, OutboxState.SENT, OutboxState.UNKNOWN),
}


def view(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        actor=row.actor,
        number=row.number,
        text=row.text,
        transport=row.transport,
        device=row.device,
        state=OutboxState(row.state),
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at) if row.next_attempt_at else None,
        last_error=row.last_error,
        action_id=row.action_id,
        modem_id=row.modem_id,
        group_id=row.group_id if row.group_id is not None else row.id,
        part_no=row.part_no,
        part_count=row.part_count,
        transliterated=row.transliterated,
        reply_to=row.reply_to,
    )


@dataclass(frozen=True, slots=True)
class Draft:
    """A message before it is judged: where it goes and what it says."""

    number: str
    """As given."""
    target: str
    """E.164 when the number parses, else the number without separators."""
    transport: Transport
    device: str
    body: str
    transliterated: bool


def route(
    device: str | None, transport: Transport | None, settings: SmsSettings
) -> tuple[Transport, str]:
    """(transport, device) a message goes by: `transport` or `[sms] transport`, MessageSend
    for a device starting with 'pjsip', and `[sms] device` for a modem when none is given."""
    device = (device or "").strip() or None
    if device is not None and (len(device) > 64 or re.search(r"[\x00-\x1f]", device)):
        raise SmsRefused(f"invalid device {device[:64]!r}")
    if transport is not None and transport not in DRIVERS:
        raise SmsRefused(f"unknown transport {str(transport)[:16]!r}")
    transport = transport or settings.transport
    if device is not None and device.lower().startswith("pjsip"):
        transport = "pjsip"
    if device is None:
        device = "pjsip" if transport == "pjsip" else settings.device
    return transport, device


def pjsip_texts(draft: Draft) -> list[str]:
    """The one text MessageSend carries, or SmsRefused: a number or SIP user, and a body
    Asterisk's manager does not cut."""
    if not _SIP_USER.fullmatch(draft.target):
        raise SmsRefused(f"not a number or SIP user: {draft.number[:40]!r}")
    size = len(draft.body.encode("utf-8"))
    limit = pjsip_body_limit()
    if size > limit:
        raise SmsRefused(
            f"the text is {size} bytes of UTF-8; MessageSend over AMI carries at most "
            f"{limit} (Asterisk cuts Base64Body at {PJSIP_MAX_BODY} bytes, and its "
            "manager drops lines over 1024 bytes): shorten it"
        )
    return [draft.body]


def modem_texts(draft: Draft, split: bool, c_escapes: bool) -> list[str]:
    """The texts a chan_dongle/chan_quectel modem sends (split for a single-PDU modem when
    `split`), or SmsRefused: a phone number, at most MAX_PARTS parts, each fitting one AMI
    header line."""
    if not _SHORT_NUMBER.fullmatch(draft.target):
        raise SmsRefused(f"not a phone number: {draft.number[:40]!r}")
    pieces = sms_text.split(draft.body) if split else [draft.body]
    if len(pieces) > MAX_PARTS:
        raise SmsRefused(
            f"the text would be {len(pieces)} separate messages on a single-PDU modem; "
            f"at most {MAX_PARTS}"
        )
    for piece in pieces:
        if not header_line_fits("Message", dongle_message(piece, c_escapes)):
            raise SmsRefused(
                f"the text is {len(piece.encode())} bytes of UTF-8, more than one AMI "
                "header line carries (1024 bytes): shorten it or split it"
            )
    return pieces


class Outbox:
    """Queue messages; a worker task sends them through `transport`.

    `transport` may be None for a process that only queues and lists (the CLI): the
    running service sends. While `ready()` says the AMI link is down the worker claims
    nothing, so an outage of any length costs no message an attempt. `on_final` is
    awaited for every change into sent, delivered, failed or unknown (errors it raises are
    logged).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        transport: SmsTransport | None,
        settings: SmsSettings,
        on_final: OnFinal | None = None,
        *,
        phones: PhoneNormaliser | None = None,
        ready: Ready | None = None,
        alert: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._alert = alert
        self._clock = clock
        self._transport = transport
        self._settings = settings
        self._on_final = on_final
        self._phones = phones or PhoneNormaliser()
        self._ready = ready
        self._retry_backoff = Backoff(settings.retry_backoff, settings.retry_backoff_max)
        """A refused send waits retry_backoff, doubling per attempt, up to retry_backoff_max."""
        self._worker = Worker(
            "SMS outbox worker",
            self._step,
            log=log,
            retry=settings.poll_interval,
            on_error=self._stopped_sending,
            on_recovered=self._sends_again,
        )
        self._orphans: deque[DeliveryReport] = deque(maxlen=_ORPHAN_REPORTS)
        self._beat_at: datetime | None = None
        self._beat_ready: bool | None = None
        self._ready_since: datetime | None = None

    # Queueing

    def prepare(
        self,
        number: str,
        text: str,
        *,
        device: str | None,
        transliterate: bool | None,
        transport: Transport | None = None,
    ) -> tuple[str, str, str, list[str], bool]:
        """(number, transport, device, texts, transliterated) for a message, or SmsRefused.

        Checks everything that can be checked before sending: the number's form for the
        transport, the device, the text's size; splits it for a single-PDU modem.
        `transport` overrides `[sms] transport` (a reply goes by the driver its SMS came in
        on); a device starting with 'pjsip' still means MessageSend.
        """
        draft = self._draft(number, text, device, transliterate, transport)
        if draft.transport == "pjsip":
            texts = pjsip_texts(draft)
        else:
            texts = modem_texts(draft, self._settings.split_single_pdu, self._settings.c_escapes)
        return draft.target, draft.transport, draft.device, texts, draft.transliterated

    def _draft(
        self,
        number: str,
        text: str,
        device: str | None,
        transliterate: bool | None,
        transport: Transport | None,
    ) -> Draft:
        """The facts of a message: its route, its target, its text (normalised and, when
        asked, transliterated). Refuses a bad device or transport and an empty or huge text."""
        transport, device = route(device, transport, self._settings)
        body = sms_text.normalise(text)
        if not body.strip():
            raise SmsRefused("the text is empty")
        if len(body) > MAX_TEXT:
            raise SmsRefused(f"the text is {len(body)} characters long; at most {MAX_TEXT}")
        translit = self._settings.transliterate if transliterate is None else transliterate
        if translit:
            body = sms_text.transliterate(body)
        cleaned = re.sub(r"[\s().\-]", "", number or "")
        return Draft(
            number=number,
            target=self._phones.normalise(number) or cleaned,
            transport=transport,
            device=device,
            body=body,
            transliterated=translit,
        )

    async def add(
        self,
        session: AsyncSession,
        number: str,
        text: str,
        *,
        device: str | None = None,
        transliterate: bool | None = None,
        actor: str,
        reply_to: int | None = None,
        transport: Transport | None = None,
    ) -> builtins.list[int]:
        """Add a message inside the caller's transaction; its row ids (several when split).

        The caller commits, then calls `wake()`. Raises SmsRefused.
        """
        actor = (actor or "").strip()[:ACTOR_MAX]
        if not actor:
            raise SmsRefused("actor is required (who sends the message)")
        target, chosen, dev, pieces, translit = self.prepare(
            number, text, device=device, transliterate=transliterate, transport=transport
        )
        now = self._clock.now()
        ids: builtins.list[int] = []
        group_id: int | None = None
        for part_no, piece in enumerate(pieces, start=1):
            row = OutboxRow(
                created_at=now,
                updated_at=now,
                actor=actor,
                number=target,
                text=piece,
                transport=chosen,
                device=dev,
                state=OutboxState.QUEUED.value,
                attempts=0,
                next_attempt_at=None,
                last_error="",
                group_id=group_id,
                part_no=part_no,
                part_count=len(pieces),
                transliterated=translit,
                reply_to=reply_to,
            )
            session.add(row)
            await session.flush()
            if group_id is None:
                group_id = row.id
                row.group_id = row.id
            ids.append(row.id)
        return ids

    async def queue(
        self,
        number: str,
        text: str,
        *,
        device: str | None = None,
        transliterate: bool | None = None,
        actor: str,
        reply_to: int | None = None,
        transport: Transport | None = None,
    ) -> int:
        """Queue a message; its id (the first part's when it was split). Raises SmsRefused.

        The message is committed before this returns; the worker is woken. `transport`
        overrides `[sms] transport` (see `prepare`).
        """
        async with self._sessions.begin() as session:
            ids = await self.add(
                session,
                number,
                text,
                device=device,
                transliterate=transliterate,
                actor=actor,
                reply_to=reply_to,
                transport=transport,
            )
        self.wake()
        log.info("SMS %s queued for %s by %s (%d part(s))", ids[0], number, actor, len(ids))
        return ids[0]

    async def requeue(self, message_id: int, *, actor: str) -> int:
        """Queue a copy of a `failed` or `unknown` message (staff judged it lost); the copy's
        id. The copy is a new message with its own idempotency key. Raises SmsRefused."""
        actor = (actor or "").strip()[:ACTOR_MAX]
        if not actor:
            raise SmsRefused("actor is required (who sends the message)")
        now = self._clock.now()
        async with self._sessions.begin() as session:
            old = await session.get(OutboxRow, message_id)
            if old is None:
                raise SmsRefused(f"no message {message_id}")
            if old.state not in (OutboxState.FAILED.value, OutboxState.UNKNOWN.value):
                raise SmsRefused(f"message {message_id} is {old.state}: only failed or unknown")
            copy = OutboxRow(
                created_at=now,
                updated_at=now,
                actor=actor,
                number=old.number,
                text=old.text,
                transport=old.transport,
                device=old.device,
                state=OutboxState.QUEUED.value,
                attempts=0,
                next_attempt_at=None,
                last_error=f"copy of message {message_id}",
                part_no=1,
                part_count=1,
                transliterated=old.transliterated,
                reply_to=old.reply_to,
            )
            session.add(copy)
            await session.flush()
            copy.group_id = copy.id
            new_id = copy.id
        self.wake()
        log.info("SMS %s requeued as %s by %s", message_id, new_id, actor)
        return new_id

    def wake(self) -> None:
        self._worker.wake()

    # Reading

    async def get(self, message_id: int) -> OutboxMessage | None:
        async with self._sessions() as session:
            row = await session.get(OutboxRow, message_id)
            return view(row) if row is not None else None

    async def group(self, group_id: int) -> builtins.list[OutboxMessage]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutboxRow).where(OutboxRow.group_id == group_id).order_by(OutboxRow.id)
            )
            return [view(r) for r in rows]

    async def list(
        self, limit: int = 50, state: OutboxState | str | None = None
    ) -> builtins.list[OutboxMessage]:
        """The newest messages first, optionally only those in one state."""
        query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(max(1, limit))
        if state is not None:
            query = query.where(OutboxRow.state == OutboxState(state).value)
        async with self._sessions() as session:
            return [view(r) for r in await session.scalars(query)]

    # Running

    async def start(self) -> builtins.list[OutboxMessage]:
        """Turn every `sending` message into `unknown` (reported), then start the worker.

        Returns the messages found in flight. Without a transport only the recovery runs.
        """
        recovered = await self.recover()
        if self._transport is not None:
            self._worker.start()
        return recovered

    async def recover(self) -> builtins.list[OutboxMessage]:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            rows = builtins.list(
                await session.scalars(
                    select(OutboxRow)
                    .where(OutboxRow.state == OutboxState.SENDING.value)
                    .order_by(OutboxRow.id)
                )
            )
            for row in rows:
                row.state = OutboxState.UNKNOWN.value
                row.updated_at = now
                row.last_error = (
                    f"pbxbridge stopped while sending attempt {row.attempts} "
                    f"({row.action_id}): it may or may not have gone out; not resent"
                )
        recovered = [view(r) for r in rows]
        for message in recovered:
            log.error("SMS %s to %s: %s", message.id, message.number, message.last_error)
            await self._notify(message)
        return recovered

    async def stop(self) -> None:
        """Stop the worker: a send in progress gets up to action_timeout to finish; cut
        off later, its message stays `sending` and becomes `unknown` at the next start."""
        if not self._worker.running:
            return
        await self._worker.stop(self._settings.action_timeout + 1)
        try:
            await self._beat(running=False)
        except SQLAlchemyError as exc:
            log.warning("SMS outbox: could not record that it stopped: %s", exc)

    # The heartbeat

    def stale_after(self) -> float:
        """Seconds after which a heartbeat means the worker is gone: it beats at least every
        poll_interval, later only while one send waits for its answer."""
        return 3 * self._poll() + self._settings.action_timeout

    async def worker_status(self) -> WorkerStatus | None:
        """What the running worker (any process on this database) last recorded; None when
        no worker ever ran here."""
        async with self._sessions() as session:
            row = await session.get(OutboxWorkerRow, _WORKER_ROW)
            if row is None:
                return None
            return WorkerStatus(
                seen_at=as_utc(row.seen_at),
                running=row.running,
                ready=row.ready,
                ready_since=as_utc(row.ready_since),
            )

    async def _heartbeat(self) -> None:
        """Record that the worker runs: at once when readiness changed, else at most once
        per poll_interval."""
        ready = self._ready() if self._ready is not None else True
        if (
            ready == self._beat_ready
            and self._beat_at is not None
            and (self._clock.now() - self._beat_at).total_seconds() < self._poll()
        ):
            return
        await self._beat(running=True, ready=ready)

    async def _beat(self, *, running: bool, ready: bool | None = None) -> None:
        now = self._clock.now()
        ready = bool(self._beat_ready) if ready is None else ready
        if ready != self._beat_ready or self._ready_since is None:
            self._ready_since = now
        values = {
            "seen_at": now,
            "running": running,
            "ready": ready,
            "ready_since": self._ready_since,
        }
        async with self._sessions.begin() as session:
            result: Any = await session.execute(
                update(OutboxWorkerRow)
                .where(OutboxWorkerRow.id == _WORKER_ROW)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 0:
                session.add(OutboxWorkerRow(id=_WORKER_ROW, **values))
        self._beat_at, self._beat_ready = now, ready

    async def _step(self) -> float:
        """The worker's pass: beat, send one due message; at once again if one went out,
        else when the next retry falls due (a failure: poll_interval later)."""
        await self._heartbeat()
        if await self.run_once():
            return 0
        return await self._idle_delay()

    async def _stopped_sending(self, exc: BaseException) -> None:
        """A failing streak starts (the database away): staff hear it once."""
        await self._tell_staff(
            f"SMS outbox stopped sending (retrying every {self._poll():g} s): {brief(exc)}"
        )

    async def _sends_again(self) -> None:
        await self._tell_staff("SMS outbox sends again")

    async def _tell_staff(self, message: str) -> None:
        """Alert staff (when wired); an alert that fails is logged, never ours."""
        if self._alert is None:
            return
        try:
            await self._alert(message)
        except Exception:
            log.exception("alert failed")

    def _poll(self) -> float:
        return self._settings.poll_interval

    async def _idle_delay(self) -> float:
        """Until the next retry falls due, at most poll_interval."""
        async with self._sessions() as session:
            due = await session.scalar(
                select(OutboxRow.next_attempt_at)
                .where(
                    OutboxRow.state == OutboxState.QUEUED.value,
                    OutboxRow.next_attempt_at.is_not(None),
                )
                .order_by(OutboxRow.next_attempt_at)
                .limit(1)
            )
        if due is None:
            return self._poll()
        wait = (as_utc(due) - self._clock.now()).total_seconds()
        return min(self._poll(), max(0.01, wait))

    async def run_once(self) -> bool:
        """Claim one due message and send it; False when none was due."""
        if self._transport is None:
            raise RuntimeError("this outbox has no transport: it can only queue")
        if self._ready is not None and not self._ready():
            return False
        message = await self.claim()
        if message is None:
            return False
        try:
            outcome = await self._transport.send(message)
        except Exception as exc:  # a transport must not raise; be safe if one does
            log.exception("SMS %s: transport failed", message.id)
            outcome = SendOutcome("unknown", f"transport error: {type(exc).__name__}: {exc}")
        await self.settle(message, outcome)
        return True

    async def claim(self) -> OutboxMessage | None:
        """The next due message, moved to `sending` and committed; None when none is due."""
        now = self._clock.now()
        for _ in range(5):
            async with self._sessions.begin() as session:
                row = await session.scalar(
                    select(OutboxRow)
                    .where(
                        OutboxRow.state == OutboxState.QUEUED.value,
                        (OutboxRow.next_attempt_at.is_(None)) | (OutboxRow.next_attempt_at <= now),
                    )
                    .order_by(OutboxRow.id)
                    .limit(1)
                )
                if row is None:
                    return None
                attempt = row.attempts + 1
                key = action_key(row.id, attempt)
                result: Any = await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == row.id, OutboxRow.state == OutboxState.QUEUED.value)
                    .values(
                        state=OutboxState.SENDING.value,
                        attempts=attempt,
                        action_id=key,
                        updated_at=now,
                        next_attempt_at=None,
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:
                    continue  # another worker took it
                await session.refresh(row)
                return view(row)
        return None

    async def settle(self, message: OutboxMessage, outcome: SendOutcome) -> None:
        """Record what the transmission of `message` (in `sending`) came to."""
        now = self._clock.now()
        detail = outcome.detail[:2000]
        values: dict[str, Any] = {"updated_at": now, "last_error": detail}
        if outcome.kind == "accepted":
            values["state"] = OutboxState.SENT.value
            values["last_error"] = ""
            if outcome.modem_id:
                values["modem_id"] = outcome.modem_id[:64]
        elif outcome.kind == "offline":
            # Nothing was written: back in the queue, and this attempt does not count.
            values["state"] = OutboxState.QUEUED.value
            values["attempts"] = message.attempts - 1
            values["next_attempt_at"] = now + timedelta(seconds=self._poll())
        elif outcome.kind == "not_sent" and message.attempts < self._settings.max_attempts:
            delay = self._retry_backoff.delay_for(message.attempts)
            values["state"] = OutboxState.QUEUED.value
            values["next_attempt_at"] = now + timedelta(seconds=delay)
        elif outcome.kind in ("not_sent", "rejected"):
            values["state"] = OutboxState.FAILED.value
        else:
            values["state"] = OutboxState.UNKNOWN.value
        changed = await self._transition(
            message.id, (OutboxState.SENDING,), values, attempt=message.attempts
        )
        if outcome.modem_id and not changed:
            # A report settled it first: still remember the modem's ID.
            await self._transition(
                message.id,
                tuple(OutboxState),
                {"modem_id": outcome.modem_id[:64]},
                attempt=message.attempts,
            )
        level = logging.INFO if outcome.kind == "accepted" else logging.WARNING
        log.log(
            level,
            "SMS %s attempt %d to %s via %s/%s: %s%s",
            message.id,
            message.attempts,
            message.number,
            message.transport,
            message.device,
            outcome.kind,
            f" ({outcome.detail})" if outcome.detail else "",
        )
        if changed is not None:
            await self._notify(changed)
        if outcome.modem_id:
            await self._retry_orphans(message.device, outcome.modem_id)

    async def _transition(
        self,
        message_id: int,
        from_states: Sequence[OutboxState],
        values: dict[str, Any],
        *,
        attempt: int | None = None,
    ) -> OutboxMessage | None:
        """Apply `values` when the message is in one of `from_states` (and at `attempt`);
        the message afterwards, or None when it was not."""
        conditions = [
            OutboxRow.id == message_id,
            OutboxRow.state.in_([s.value for s in from_states]),
        ]
        if attempt is not None:
            conditions.append(OutboxRow.attempts == attempt)
        async with self._sessions.begin() as session:
            result: Any = await session.execute(
                update(OutboxRow)
                .where(*conditions)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            row = await session.get(OutboxRow, message_id, populate_existing=True)
            return view(row) if row is not None else None

    async def _notify(self, message: OutboxMessage) -> None:
        if self._on_final is None or message.state not in FINAL_STATES:
            return
        try:
            await self._on_final(message)
        except Exception:
            log.exception("SMS %s: on_final callback failed", message.id)

    # Delivery reports

    ami_events: tuple[str, ...] = REPORT_EVENTS
    """Delivery reports, chan_dongle and chan_quectel names alike (`primitives.ami`)."""

    async def on_ami_event(self, event: AmiEvent) -> None:
        """An AMI `*Report` / `*SMSStatus` event: settle the message it reports on."""
        report = report_from_event(event, event.name)
        if report is None:
            return
        if not await self.apply_report(report) and report.modem_id:
            self._orphans.append(report)

    async def apply_report(self, report: DeliveryReport) -> bool:
        """Apply a report to its message; False when no message matches it."""
        async with self._sessions() as session:
            if report.payload:
                row = await session.scalar(
                    select(OutboxRow).where(OutboxRow.action_id == report.payload).limit(1)
                )
            elif report.modem_id:
                row = await session.scalar(
                    select(OutboxRow)
                    .where(
                        OutboxRow.modem_id == report.modem_id,
                        OutboxRow.device == report.device,
                    )
                    .order_by(OutboxRow.id.desc())
                    .limit(1)
                )
            else:
                row = None
        if row is None:
            log.info(
                "SMS report on %s matches no message (payload %r, id %r): %s",
                report.device,
                report.payload,
                report.modem_id,
                report.detail,
            )
            return False
        if report.outcome == "expired":
            await self._transition(
                row.id,
                tuple(OutboxState),
                {"last_error": f"no delivery report before the validity ended ({report.detail})"},
            )
            return True
        target = {
            "sent": OutboxState.SENT,
            "delivered": OutboxState.DELIVERED,
            "failed": OutboxState.FAILED,
        }[report.outcome]
        values: dict[str, Any] = {"state": target.value, "updated_at": self._clock.now()}
        values["last_error"] = "" if target != OutboxState.FAILED else report.detail[:2000]
        changed = await self._transition(row.id, _REPORT_FROM[report.outcome], values)
        log.info("SMS %s report: %s (%s)", row.id, report.outcome, report.detail)
        if changed is not None:
            await self._notify(changed)
        return True

    async def _retry_orphans(self, device: str, modem_id: str) -> None:
        waiting = [r for r in self._orphans if r.device == device and r.modem_id == modem_id]
        for report in waiting:
            self._orphans.remove(report)
            await self.apply_report(report)
