"""The inbox: every inbound SMS stored at once, once, and answered when it is a command.

Arrivals come from AMI events (`handle_event`: chan_dongle/chan_quectel `*NewSMSBase64`,
`*NewSMS`, `*NewCMGR`) and from the FastAGI route `sms_in` (`receive`). Each arrival is
one committed transaction before anything else happens, so a `kill -9` right after the
acknowledgement loses nothing.

Duplicates. chan_dongle raises `*NewSMS` and `*NewSMSBase64` for the same SMS, a dialplan
may also hand it to `sms_in`, and modems redeliver. An arrival with the same device, sender
and text (compared without empty lines, which `*NewSMS` drops) as a row stored within
`dedupe_window` is folded into that row; when the row came from `*NewSMS` (lossy) and the
new copy is exact, the row takes the exact text.

Multipart. wdoekes chan_dongle and chan_quectel reassemble parts themselves and raise one
event for the whole text. bg111 chan_dongle 1.1 raises `*NewSMS`/`*NewSMSBase64` for each
part on its own, with no part number; only the raw PDU in the `*NewCMGR` event that comes
first carries the concatenation header (reference bg111 #141, wdoekes #130). So:

* a `*NewCMGR` whose PDU has a concatenation header (8- or 16-bit reference, total,
  sequence) is stored as a part (`sms_inbox_parts`, committed);
* when every part of a (device, sender, reference, total) group is in, the text is
  assembled in sequence order and stored as one message, deduplicated like any other (so
  the whole-text event of a reassembling fork folds into it);
* the per-part `*NewSMS*` events that follow each `*NewCMGR` (bg111) are recognised by
  their text, as a recent part of the same device and sender, and dropped;
* a group still incomplete after `multipart_window` is stored with what arrived, each
  missing part marked `[…]` (`parts_missing` counts them), by a sweeper and at start-up.

A part that arrives only through the dialplan (bg111 without AMI) carries nothing that
marks it as a part, and is stored as a message of its own.

After the arrival is stored, a follow-up task looks the sender up in the billing
(`find`, E.164 senders only), keeps the login and name on the row, queues the auto-reply
(in the same transaction that marks the row `done`, so a reply is queued at most once)
through the device and driver the SMS came in on (`[sms] transport` when the driver is not
known: the dialplan's modem context), and calls `on_stored`. Rows left `stored` by a crash
are followed up at start-up.

When the billing cannot be asked (an error or no answer within LOOKUP_TIMEOUT), the row
stays `stored` with lookup `error` and `on_stored` is called at once (staff hear of the SMS
without waiting for the billing). The sweeper asks again with backoff (LOOKUP_RETRY, doubling
up to LOOKUP_RETRY_MAX) until the row is `auto_reply.max_age` old, then it is `done` with
lookup `error` and no reply. A later answer fills in the login and name and queues the reply
like the first attempt would have; `on_stored` is not called a second time.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_client.outcomes import BillingResult, Lookup
from billing_client.subscriber import SubscriberInfo
from primitives.ami import AmiEvent
from primitives.backoff import Backoff
from primitives.clock import Clock, as_utc
from primitives.phones import PhoneNormaliser
from primitives.worker import Worker
from sms import text as sms_text
from sms.errors import SmsRefused
from sms.events import INBOUND_EVENTS, inbound_from_event
from sms.models import InboxPartRow, InboxRow
from sms.outbox import Outbox
from sms.replies import reply_for
from sms.settings import SmsSettings
from sms.types import DRIVERS, Driver, InboundSms, OnStored, StoredSms

log = logging.getLogger("pbxbridge.sms")

GAP = "[…]"
"""Stands for a part that never arrived."""
FIELD_MAX = 64
REPLY_ACTOR = "sms:auto-reply"
LOOKUP_TIMEOUT = 5.0
LOOKUP_RETRY = 30.0
"""Seconds before a failed sender lookup is tried again; doubles each time."""
LOOKUP_RETRY_MAX = 120.0
RETRY_BATCH = 20
"""Follow-ups a sweep starts at most (the rest wait for the next sweep)."""
SWEEP_INTERVAL = 5.0


class SubscriberDirectory(Protocol):
    """What the inbox needs from the billing client (`BillingClient`)."""

    @property
    def phones(self) -> PhoneNormaliser: ...

    async def find(self, number_or_login: str) -> Lookup: ...


@dataclass(frozen=True, slots=True)
class _Retry:
    """When a row whose sender could not be looked up is followed up again."""

    failures: int
    due: datetime
    deadline: datetime


def stored_view(row: InboxRow, *, duplicate: bool = False) -> StoredSms:
    return StoredSms(
        id=row.id,
        received_at=as_utc(row.received_at),
        device=row.device,
        sender=row.sender,
        text=row.text,
        source=row.source,
        driver=row.driver,
        parts=row.parts,
        parts_missing=row.parts_missing,
        login=row.login,
        name=row.name,
        lookup=row.lookup,
        reply_id=row.reply_id,
        duplicate=duplicate,
    )


@dataclass(frozen=True, slots=True)
class _Stored:
    """An SMS stored and waiting for its follow-up: what the follow-up needs of its row."""

    sender: str
    device: str
    text: str
    driver: Driver | None
    received_at: datetime
    seen: str
    """The row's `lookup` when read: the follow-up writes only if it is still that."""


class Inbox:
    """Stores inbound SMS; one Inbox per database (it serialises arrivals in-process)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        billing: SubscriberDirectory,
        settings: SmsSettings,
        *,
        outbox: Outbox | None = None,
        on_stored: OnStored | None = None,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._billing = billing
        self._settings = settings
        self._outbox = outbox
        self._on_stored = on_stored
        self._sweep_interval = sweep_interval
        self._lock = asyncio.Lock()
        self._follow_ups: set[asyncio.Task[None]] = set()
        self._retries: dict[int, _Retry] = {}
        self._running: set[int] = set()
        self._lookup_backoff = Backoff(LOOKUP_RETRY, LOOKUP_RETRY_MAX)
        self._sweeper = Worker("SMS inbox sweep", self._sweep, log=log, retry=sweep_interval)

    # Arrivals

    ami_events: tuple[str, ...] = INBOUND_EVENTS
    """Inbound SMS, chan_dongle and chan_quectel names alike (`primitives.ami`)."""

    async def on_ami_event(self, event: AmiEvent) -> None:
        """An inbound AMI event: store the SMS it carries."""
        inbound = inbound_from_event(event, event.name)
        if inbound is not None:
            await self.receive(inbound)

    async def receive(self, sms: InboundSms) -> StoredSms | None:
        """Store one arrival; the row it is in, or None for a part of a message not yet
        complete (or a repeat of a part). Committed before this returns."""
        async with self._lock:
            stored = await self._store(sms)
        if stored is not None and not stored.duplicate:
            log.info(
                "SMS %s from %s on %s stored (%s, %d part(s))",
                stored.id,
                stored.sender,
                stored.device,
                stored.source,
                stored.parts,
            )
            self._follow_up_soon(stored.id)
        return stored

    def _sender(self, raw: str) -> tuple[str, str]:
        raw = raw.strip()[:FIELD_MAX]
        return (self._billing.phones.normalise(raw) or raw), raw

    async def _store(self, sms: InboundSms) -> StoredSms | None:
        sender, sender_raw = self._sender(sms.sender)
        device = sms.device.strip()[:FIELD_MAX]
        body = sms_text.normalise(sms.text)
        key = sms_text.text_key(body)
        now = self._clock.now()
        async with self._sessions.begin() as session:
            if sms.part is not None:
                return await self._store_part(session, sms, device, sender, sender_raw, body, now)
            if await self._is_recent_part(session, device, sender, key, now):
                log.debug("SMS from %s on %s is a part already held; dropped", sender, device)
                return None
            row, duplicate = await self._insert(
                session,
                device=device,
                sender=sender,
                sender_raw=sender_raw,
                text=body,
                source=sms.source,
                driver=sms.driver,
                now=now,
            )
            return stored_view(row, duplicate=duplicate)

    async def _insert(
        self,
        session: AsyncSession,
        *,
        device: str,
        sender: str,
        sender_raw: str,
        text: str,
        source: str,
        driver: Driver | None,
        now: datetime,
        parts: int = 1,
        parts_missing: int = 0,
    ) -> tuple[InboxRow, bool]:
        key = sms_text.text_key(text)
        window = self._settings.dedupe_window
        if window > 0:
            earlier = await session.scalar(
                select(InboxRow)
                .where(
                    InboxRow.device == device,
                    InboxRow.sender == sender,
                    InboxRow.text_key == key,
                    InboxRow.received_at >= now - timedelta(seconds=window),
                )
                .order_by(InboxRow.id.desc())
                .limit(1)
            )
            if earlier is not None:
                earlier.duplicates += 1
                if earlier.source == "lines" and source != "lines" and earlier.text != text:
                    earlier.text = text  # the exact copy of a lossy DongleNewSMS
                    earlier.source = source
                if earlier.driver is None and driver is not None:
                    earlier.driver = driver  # an AMI copy of what the dialplan handed over
                await session.flush()
                return earlier, True
        row = InboxRow(
            received_at=now,
            device=device,
            sender=sender,
            sender_raw=sender_raw,
            text=text,
            text_key=key,
            source=source,
            driver=driver,
            parts=parts,
            parts_missing=parts_missing,
            duplicates=0,
            lookup="pending",
            stage="stored",
        )
        session.add(row)
        await session.flush()
        return row, False

    def _part_horizon(self, now: datetime) -> datetime:
        s = self._settings
        return now - timedelta(seconds=s.multipart_window + s.dedupe_window)

    async def _is_recent_part(
        self, session: AsyncSession, device: str, sender: str, key: str, now: datetime
    ) -> bool:
        found = await session.scalar(
            select(InboxPartRow.id)
            .where(
                InboxPartRow.device == device,
                InboxPartRow.sender == sender,
                InboxPartRow.text_key == key,
                InboxPartRow.received_at >= self._part_horizon(now),
            )
            .limit(1)
        )
        return found is not None

    async def _store_part(
        self,
        session: AsyncSession,
        sms: InboundSms,
        device: str,
        sender: str,
        sender_raw: str,
        body: str,
        now: datetime,
    ) -> StoredSms | None:
        part = sms.part
        assert part is not None
        key = sms_text.text_key(body)
        group = builtins.list(
            await session.scalars(
                select(InboxPartRow)
                .where(
                    InboxPartRow.device == device,
                    InboxPartRow.sender == sender,
                    InboxPartRow.ref == part.ref,
                    InboxPartRow.total == part.total,
                    InboxPartRow.assembled_id.is_(None),
                )
                .order_by(InboxPartRow.seq)
            )
        )
        if any(r.seq == part.seq for r in group):
            return None  # the same part again
        repeat = await session.scalar(
            select(InboxPartRow.id)
            .where(
                InboxPartRow.device == device,
                InboxPartRow.sender == sender,
                InboxPartRow.ref == part.ref,
                InboxPartRow.total == part.total,
                InboxPartRow.seq == part.seq,
                InboxPartRow.text_key == key,
                InboxPartRow.received_at >= self._part_horizon(now),
            )
            .limit(1)
        )
        if repeat is not None:
            return None  # a redelivered part of a message already assembled
        row = InboxPartRow(
            received_at=now,
            device=device,
            sender=sender,
            sender_raw=sender_raw,
            ref=part.ref,
            total=part.total,
            seq=part.seq,
            text=body,
            text_key=key,
        )
        session.add(row)
        await session.flush()
        group.append(row)
        if len({r.seq for r in group}) < part.total:
            log.info(
                "SMS part %d/%d (ref %d) from %s on %s held",
                part.seq,
                part.total,
                part.ref,
                sender,
                device,
            )
            return None
        return await self._assemble(session, group, now, sms.driver)

    async def _assemble(
        self,
        session: AsyncSession,
        group: builtins.list[InboxPartRow],
        now: datetime,
        driver: Driver | None = None,
    ) -> StoredSms:
        """`driver`: that of the part completing the group (None for one stored incomplete)."""
        first = group[0]
        by_seq = {r.seq: r.text for r in group}
        pieces = [by_seq.get(seq, GAP) for seq in range(1, first.total + 1)]
        missing = sum(1 for seq in range(1, first.total + 1) if seq not in by_seq)
        inbox_row, duplicate = await self._insert(
            session,
            device=first.device,
            sender=first.sender,
            sender_raw=first.sender_raw,
            text="".join(pieces),
            source="reassembled",
            driver=driver,
            now=now,
            parts=first.total,
            parts_missing=missing,
        )
        for part_row in group:
            part_row.assembled_id = inbox_row.id
        await session.flush()
        return stored_view(inbox_row, duplicate=duplicate)

    async def flush_expired(self) -> builtins.list[StoredSms]:
        """Store every multipart group whose first part is older than multipart_window
        with the parts that arrived; forget assembled parts past the dedupe horizon."""
        now = self._clock.now()
        cutoff = now - timedelta(seconds=self._settings.multipart_window)
        stored: builtins.list[StoredSms] = []
        async with self._lock, self._sessions.begin() as session:
            rows = await session.scalars(
                select(InboxPartRow)
                .where(InboxPartRow.assembled_id.is_(None))
                .order_by(InboxPartRow.id)
            )
            groups: dict[tuple[str, str, int, int], builtins.list[InboxPartRow]] = {}
            for row in rows:
                groups.setdefault((row.device, row.sender, row.ref, row.total), []).append(row)
            for group in groups.values():
                if min(as_utc(r.received_at) for r in group) > cutoff:
                    continue
                group.sort(key=lambda r: r.seq)
                result = await self._assemble(session, group, now)
                log.warning(
                    "SMS %s from %s on %s stored with %d of %d part(s) missing",
                    result.id,
                    result.sender,
                    result.device,
                    result.parts_missing,
                    result.parts,
                )
                stored.append(result)
            await session.execute(
                delete(InboxPartRow)
                .where(
                    InboxPartRow.assembled_id.is_not(None),
                    InboxPartRow.received_at < self._part_horizon(now) - timedelta(seconds=60),
                )
                .execution_options(synchronize_session=False)
            )
        for result in stored:
            if not result.duplicate:
                self._follow_up_soon(result.id)
        return stored

    # Follow-up: sender lookup, auto-reply, on_stored

    def _follow_up_soon(self, row_id: int) -> None:
        if row_id in self._running:
            return
        self._running.add(row_id)
        task = asyncio.create_task(self._follow_up(row_id), name=f"sms-inbox-{row_id}")
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)
        task.add_done_callback(lambda _: self._running.discard(row_id))

    async def _lookup(self, sender: str) -> tuple[str, SubscriberInfo | None]:
        number = self._billing.phones.normalise(sender)
        if number is None:
            return "none", None
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                result = await self._billing.find(number)
        except TimeoutError:
            log.warning("SMS from %s: billing lookup timed out", number)
            return "error", None
        if result.result == BillingResult.ERROR:
            log.warning("SMS from %s: billing lookup failed: %s", number, result.error)
            return "error", None
        if result.subscriber is None:
            return "notfound", None
        return "found", result.subscriber

    async def _follow_up(self, row_id: int) -> None:
        try:
            await self._follow_up_inner(row_id)
        except Exception:
            retry = self._retries.get(row_id)
            if retry is not None and self._clock.now() < retry.deadline:
                self._retry_later(row_id, retry.deadline)
                log.exception("SMS %s: follow-up failed (tried again later)", row_id)
            else:
                self._retries.pop(row_id, None)
                log.exception("SMS %s: follow-up failed (left 'stored' until a restart)", row_id)

    async def _follow_up_inner(self, row_id: int) -> None:
        stored = await self._stored(row_id)
        if stored is None:
            self._retries.pop(row_id, None)
            return
        lookup, info = await self._lookup(stored.sender)
        max_age = self._settings.auto_reply.max_age
        deadline = stored.received_at + timedelta(seconds=max_age)
        if lookup == "error":
            if self._clock.now() < deadline:
                await self._lookup_failed(row_id, stored.seen, deadline)
                return
            log.warning(
                "SMS %s from %s: the billing did not answer within %.0f s; no reply",
                row_id,
                stored.sender,
                max_age,
            )
        reply: str | None = None
        age = (self._clock.now() - stored.received_at).total_seconds()
        if self._outbox is not None and age <= max_age:
            reply = reply_for(stored.text, info, self._settings.auto_reply)
        queued = await self._record_follow_up(row_id, stored, lookup, info, reply)
        if queued is None:
            return  # followed up elsewhere
        self._retries.pop(row_id, None)
        if queued and self._outbox is not None:
            self._outbox.wake()
            log.info(
                "SMS %s from %s (%s): auto-reply %s queued",
                row_id,
                stored.sender,
                info.login[:FIELD_MAX] if info else None,
                queued[0],
            )
        if stored.seen == "pending":  # else staff heard of it when the first lookup failed
            await self._notify(row_id)

    async def _stored(self, row_id: int) -> _Stored | None:
        """The SMS as stored, while it still waits for its follow-up (stage `stored`)."""
        async with self._sessions() as session:
            row = await session.get(InboxRow, row_id)
            if row is None or row.stage != "stored":
                return None
            return _Stored(
                sender=row.sender,
                device=row.device,
                text=row.text,
                driver=next((d for d in DRIVERS if d == row.driver), None),
                received_at=as_utc(row.received_at),
                seen=row.lookup,
            )

    async def _record_follow_up(
        self,
        row_id: int,
        stored: _Stored,
        lookup: str,
        info: SubscriberInfo | None,
        reply: str | None,
    ) -> builtins.list[int] | None:
        """Mark the SMS done with what the lookup found and queue the reply, in one
        transaction; the reply's row ids, or None when another follow-up came first."""
        queued: builtins.list[int] = []
        async with self._sessions.begin() as session:
            result: Any = await session.execute(
                update(InboxRow)
                .where(
                    InboxRow.id == row_id,
                    InboxRow.stage == "stored",
                    InboxRow.lookup == stored.seen,
                )
                .values(
                    stage="done",
                    lookup=lookup,
                    login=info.login[:FIELD_MAX] if info else None,
                    name=info.name[:255] if info else None,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            if reply is not None and self._outbox is not None:
                try:
                    queued = await self._outbox.add(
                        session,
                        stored.sender,
                        reply,
                        device=stored.device,
                        transport=stored.driver,
                        actor=REPLY_ACTOR,
                        reply_to=row_id,
                    )
                except SmsRefused as exc:
                    log.warning("SMS %s: auto-reply not queued: %s", row_id, exc)
                if queued:
                    await session.execute(
                        update(InboxRow)
                        .where(InboxRow.id == row_id)
                        .values(reply_id=queued[0])
                        .execution_options(synchronize_session=False)
                    )
        return queued

    async def _lookup_failed(self, row_id: int, seen: str, deadline: datetime) -> None:
        """The billing could not be asked: the row stays `stored`, and is followed up again."""
        first = False
        if seen == "pending":
            async with self._sessions.begin() as session:
                result: Any = await session.execute(
                    update(InboxRow)
                    .where(
                        InboxRow.id == row_id,
                        InboxRow.stage == "stored",
                        InboxRow.lookup == "pending",
                    )
                    .values(lookup="error")
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:
                    return  # followed up elsewhere
            first = True
        due = self._retry_later(row_id, deadline)
        log.warning(
            "SMS %s: sender not looked up; trying again in %.0f s",
            row_id,
            (due - self._clock.now()).total_seconds(),
        )
        if first:
            await self._notify(row_id)

    def _retry_later(self, row_id: int, deadline: datetime) -> datetime:
        """Schedule the next follow-up of a row (backoff, never past its deadline); when."""
        previous = self._retries.get(row_id)
        failures = previous.failures + 1 if previous is not None else 1
        delay = self._lookup_backoff.delay_for(failures)
        due = min(self._clock.now() + timedelta(seconds=delay), deadline)
        self._retries[row_id] = _Retry(failures, due, deadline)
        return due

    def retry_due(self) -> int:
        """Follow up again the rows whose lookup failed and whose retry is due (at most
        RETRY_BATCH); how many were started. The sweeper calls this."""
        now = self._clock.now()
        due = sorted(
            (retry.due, row_id)
            for row_id, retry in self._retries.items()
            if retry.due <= now and row_id not in self._running
        )[:RETRY_BATCH]
        for _, row_id in due:
            self._follow_up_soon(row_id)
        return len(due)

    async def _notify(self, row_id: int) -> None:
        stored = await self.get(row_id)
        if stored is not None and self._on_stored is not None:
            try:
                await self._on_stored(stored)
            except Exception:
                log.exception("SMS %s: on_stored callback failed", row_id)

    async def drain(self) -> None:
        """Wait until every follow-up started so far has finished."""
        while self._follow_ups:
            await asyncio.gather(*builtins.list(self._follow_ups), return_exceptions=True)

    # Lifecycle

    async def start(self) -> None:
        """Follow up rows a crash (or a stop while the billing failed) left `stored`, store
        expired multipart groups, and start the sweeper (which also retries failed lookups)."""
        await self.recover()
        await self.flush_expired()
        self._sweeper.start(delay=self._sweep_interval)

    async def recover(self) -> builtins.list[int]:
        async with self._sessions() as session:
            ids = builtins.list(
                await session.scalars(
                    select(InboxRow.id).where(InboxRow.stage == "stored").order_by(InboxRow.id)
                )
            )
        for row_id in ids:
            self._follow_up_soon(row_id)
        if ids:
            log.info("SMS inbox: following up %d message(s) stored before a restart", len(ids))
        return ids

    async def stop(self) -> None:
        """Stop the sweeper at once (a sweep cut short is done again at the next start),
        then let the follow-ups under way finish."""
        await self._sweeper.stop(0)
        await self.drain()
        self._retries.clear()

    async def _sweep(self) -> float:
        """The sweeper's pass: expired multipart groups, then the lookups due again (even
        when the first failed)."""
        try:
            await self.flush_expired()
        finally:
            self.retry_due()
        return self._sweep_interval

    # Reading

    async def get(self, row_id: int) -> StoredSms | None:
        async with self._sessions() as session:
            row = await session.get(InboxRow, row_id)
            return stored_view(row) if row is not None else None

    async def list(self, limit: int = 50) -> builtins.list[StoredSms]:
        """The newest messages first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(InboxRow).order_by(InboxRow.id.desc()).limit(max(1, limit))
            )
            return [stored_view(r) for r in rows]
