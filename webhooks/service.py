"""`Webhooks`: `emit` queues, one worker delivers (a Part of the service), `send_test`.

Emitting writes one outbox row per webhook that wants the kind, in one transaction of its
own (the event's source has committed already: the rooms call their hooks after their
commit), and wakes the worker. The worker's step takes the head (oldest pending row) of
every (webhook, kind) queue that is due, posts those (different queues at once, up to
`concurrency`), and records each answer: delivered, retried after a backoff counted from
the row's attempts, or given up (refused by the receiver, or `max_age` old and still
failing). A queue's next row waits until its head is delivered or given up: a receiver
sees each kind in the order it happened.

Bounds: a webhook holds at most `max_pending` undelivered rows; an event past that is
refused for it (the rows held are kept: they were promised first), logged once a minute
with the count, and told to staff once per streak. Given-up rows are told to staff once
per streak of a queue (a streak ends with a delivery of that webhook and kind), and
logged (once a minute at most per webhook). Delivered and given-up rows are pruned after
`keep_days`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.backoff import Backoff
from primitives.clock import Clock, as_utc
from primitives.health import Health
from primitives.worker import Worker
from webhooks.delivery import Answer, Verdict, post
from webhooks.errors import UnknownEvent, UnknownWebhook
from webhooks.events import KINDS, TEST
from webhooks.models import PENDING, OutboxRow
from webhooks.settings import DeliverySettings, WebhookSettings
from webhooks.store import Head, OutboxStore, Summary

log = logging.getLogger("pbxbridge.webhooks")

Alert = Callable[[str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

LEASE_MARGIN = 5.0
"""Seconds past a webhook's timeout that an attempt's claim on its row lasts: a process
that died mid-request leaves the row to be tried again after that."""
FLOOD_INTERVAL = 60.0
"""Seconds between two log lines about the same flood (refused events, rows given up)."""
OUTCOMES = ("queued", "delivered", "retried", "given_up", "rejected")
"""What `Webhooks.stats` counts per webhook."""
QUEUE_BATCH = 50
"""Rows of one queue delivered one after the other in a pass."""
PRUNE_EVERY = 3600.0
STOP_MARGIN = 1.0
DB_RETRY = Backoff(1.0, 60.0)
"""The worker's wait after its own step failed (the database), not a delivery's."""


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not a JSON value for a webhook payload")


def iso(instant: datetime) -> str:
    """UTC, ISO 8601, seconds, `Z`: `2026-12-05T19:45:00Z`."""
    return as_utc(instant).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def body_of(
    kind: str, delivery_id: str, occurred_at: datetime, webhook: str, payload: Mapping[str, Any]
) -> str:
    return json.dumps(
        {
            "event": kind,
            "delivery_id": delivery_id,
            "occurred_at": iso(occurred_at),
            "webhook": webhook,
            "payload": dict(payload),
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=_json_value,
    )


@dataclass(slots=True)
class _Flood:
    """One flood's log line: the first at once, then at most one per interval."""

    told_at: float
    since: int = 0


@dataclass(slots=True)
class _Streak:
    """A webhook failing: since when, how, and whether staff were told of a give-up."""

    since: datetime
    said: str
    alerted: bool = False


@dataclass(frozen=True, slots=True)
class TestResult:
    webhook: str
    delivery_id: str
    answer: Answer


class Webhooks:
    """The webhooks of the configuration: `emit`, the delivery worker, health and counts."""

    name = "webhooks"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        entries: Sequence[WebhookSettings],
        settings: DeliverySettings,
        *,
        alert: Alert | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.hooks = {entry.name: entry for entry in entries}
        self.settings = settings
        self._alert = alert
        self._monotonic = monotonic
        self.store = OutboxStore(sessions)
        self._backoff = Backoff(settings.retry_initial, settings.retry_max)
        self.stats: Counter[tuple[str, str]] = Counter()
        """(webhook, what) → count in this process; what: queued, delivered, retried,
        given_up, rejected (/metrics reads it)."""
        self._worker = Worker(
            "webhook deliveries",
            self.deliver_due,
            log=log,
            retry=DB_RETRY,
            sleep=sleep,
            monotonic=monotonic,
        )
        self._http: aiohttp.ClientSession | None = None
        self._floods: dict[tuple[str, str], _Flood] = {}
        self._streaks: dict[tuple[str, str], _Streak] = {}
        """(webhook, kind) → its queue's failing streak (ended by a delivery of the kind)."""
        self._full: set[str] = set()
        self._next_prune = 0.0

    # --- life cycle -------------------------------------------------------------------

    @property
    def stop_within(self) -> float:
        """Seconds `stop` may take: the longest delivery under way, then the session."""
        return max((h.timeout for h in self.hooks.values()), default=0.0) + STOP_MARGIN

    async def start(self) -> None:
        """Deliver what is pending (what a previous run left too) and what comes."""
        if not self.hooks:
            return
        self._http = _client()
        self._worker.start()
        log.info(
            "webhooks: %s",
            "; ".join(
                f"{h.name} → {h.shown_url} ({', '.join(h.events)})" for h in self.hooks.values()
            ),
        )

    async def stop(self) -> None:
        """A delivery under way gets its timeout to finish; one cut off keeps its row
        (tried again, same delivery id, once its lease has run out)."""
        await self._worker.stop(self.stop_within - STOP_MARGIN)
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- emitting ---------------------------------------------------------------------

    async def emit(
        self, kind: str, payload: Mapping[str, Any], *, occurred_at: datetime | None = None
    ) -> int:
        """Queue `kind` with `payload` for every webhook that wants it; the rows queued.
        Committed when it returns. See webhooks.events.Emit."""
        if kind not in KINDS:
            raise UnknownEvent(f"no webhook event kind {kind!r}; known: {', '.join(KINDS)}")
        targets = [h for h in self.hooks.values() if kind in h.events]
        if not targets:
            return 0
        now = self._clock.now()
        occurred = occurred_at or now
        queued: list[str] = []
        async with self._sessions.begin() as session:
            held = await self.store.pending_counts(session, [h.name for h in targets])
            for hook in targets:
                if held.get(hook.name, 0) >= self.settings.max_pending:
                    await self._refuse(hook.name, kind)
                    continue
                delivery_id = str(uuid.uuid4())
                session.add(
                    OutboxRow(
                        delivery_id=delivery_id,
                        webhook=hook.name,
                        kind=kind,
                        body=body_of(kind, delivery_id, occurred, hook.name, payload),
                        state=PENDING,
                        occurred_at=occurred,
                        created_at=now,
                        next_attempt_at=now,
                        attempts=0,
                        last_error="",
                    )
                )
                queued.append(hook.name)
        for name in queued:
            self.stats[(name, "queued")] += 1
            self._full.discard(name)
        if queued:
            self._worker.wake()
        return len(queued)

    async def _refuse(self, webhook: str, kind: str) -> None:
        self.stats[(webhook, "rejected")] += 1
        more = self._flooding((webhook, "rejected"))
        if more is not None:
            log.warning(
                "webhooks: %s holds %d undelivered events (webhook_delivery.max_pending): "
                "%s refused%s",
                webhook,
                self.settings.max_pending,
                kind,
                f" (and {more} more refused since the last line)" if more else "",
            )
        if webhook not in self._full:
            self._full.add(webhook)
            await self._tell(
                f"webhook {webhook}: {self.settings.max_pending} events wait undelivered; new "
                "events for it are refused until it takes them"
            )

    def _flooding(self, key: tuple[str, str]) -> int | None:
        """None: stay quiet; else log now, saying how many were quiet since the last line."""
        now = self._monotonic()
        flood = self._floods.get(key)
        if flood is None:
            self._floods[key] = _Flood(now)
            return 0
        if now - flood.told_at < FLOOD_INTERVAL:
            flood.since += 1
            return None
        more, flood.since, flood.told_at = flood.since, 0, now
        return more

    # --- delivering -------------------------------------------------------------------

    async def deliver_due(self) -> float | None:
        """One pass: the due head of every queue is tried. Seconds until the next head is
        due (0: at once, more may be due), None: nothing pending (until `emit` wakes it)."""
        now = self._clock.now()
        heads = await self.store.heads(list(self.hooks))
        due = [h for h in heads if h.due_at() <= now]
        await self._prune()
        if due:
            slots = asyncio.Semaphore(self.settings.concurrency)
            # Every attempt ends before the pass does (none left running behind a failure).
            results = await asyncio.gather(
                *(self._attempt(head, slots) for head in due), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            return 0
        if not heads:
            return None
        return max(0.0, (min(h.due_at() for h in heads) - now).total_seconds())

    async def _attempt(self, head: Head, slots: asyncio.Semaphore) -> None:
        """Deliver a queue's head, then (while each is settled) the rows behind it that
        are due, up to QUEUE_BATCH, before the next pass looks at every queue again."""
        hook = self.hooks[head.webhook]
        async with slots:
            for _ in range(QUEUE_BATCH):
                if self._worker.stopping:
                    return
                now = self._clock.now()
                lease = now + timedelta(seconds=hook.timeout + LEASE_MARGIN)
                if not await self.store.claim(head.id, now, lease):
                    return  # another instance has it
                answer = await post(
                    self._session(),
                    hook,
                    delivery_id=head.delivery_id,
                    kind=head.kind,
                    body=head.body.encode(),
                    timestamp=int(now.timestamp()),
                )
                if not await self._settle(hook, head, answer):
                    return
                following = await self.store.head_of(head.webhook, head.kind)
                if following is None or following.due_at() > self._clock.now():
                    return
                head = following

    async def _settle(self, hook: WebhookSettings, head: Head, answer: Answer) -> bool:
        """Record the answer; True when the row is settled (delivered or given up), so the
        queue may go on."""
        now = self._clock.now()
        verdict = answer.verdict
        attempts = head.attempts + 1
        if verdict is Verdict.DELIVERED:
            await self.store.delivered(head.id, now, answer.status or 0)
            self.stats[(hook.name, "delivered")] += 1
            log.debug("webhook %s: %s %s delivered", hook.name, head.kind, head.delivery_id)
            streak = self._streaks.pop((hook.name, head.kind), None)
            if streak is not None:
                log.info(
                    "webhook %s: %s delivered again (failing since %s)",
                    hook.name,
                    head.kind,
                    iso(streak.since),
                )
            return True
        if verdict is Verdict.REFUSED:
            await self._give_up(hook, head, answer, f"refused: {answer.said}")
            return True
        age = now - head.created_at
        if age.total_seconds() >= self.settings.max_age:
            why = f"still failing after {_span(age)} and {attempts} attempt(s): {answer.said}"
            await self._give_up(hook, head, answer, why)
            return True
        delay = self._backoff.delay_for(attempts)
        await self.store.retry_at(
            head.id, now + timedelta(seconds=delay), answer.status, answer.said
        )
        self.stats[(hook.name, "retried")] += 1
        streak = self._streaks.get((hook.name, head.kind))
        if streak is None:
            self._streaks[(hook.name, head.kind)] = _Streak(now, answer.said)
            log.warning(
                "webhook %s: %s %s not delivered (%s); retrying in %g s",
                hook.name,
                head.kind,
                head.delivery_id,
                answer.said,
                delay,
            )
        else:
            streak.said = answer.said
            log.debug(
                "webhook %s: %s %s failed again: %s",
                hook.name,
                head.kind,
                head.delivery_id,
                answer.said,
            )
        return False

    async def _give_up(self, hook: WebhookSettings, head: Head, answer: Answer, why: str) -> None:
        now = self._clock.now()
        await self.store.given_up(head.id, now, answer.status, why)
        self.stats[(hook.name, "given_up")] += 1
        more = self._flooding((hook.name, "given_up"))
        if more is not None:
            log.warning(
                "webhook %s: gave up %s %s: %s%s",
                hook.name,
                head.kind,
                head.delivery_id,
                why,
                f" (and {more} more given up since the last line)" if more else "",
            )
        streak = self._streaks.setdefault((hook.name, head.kind), _Streak(now, answer.said))
        if not streak.alerted:
            streak.alerted = True
            await self._tell(
                f"webhook {hook.name} ({hook.shown_url}): gave up the {head.kind} delivery "
                f"{head.delivery_id}: {why}. Further {head.kind} ones are only logged until "
                "one is delivered again."
            )

    async def _tell(self, message: str) -> None:
        if self._alert is None:
            return
        try:
            await self._alert(message)
        except Exception:
            log.exception("webhooks: alert failed")

    async def _prune(self) -> None:
        if not self.settings.keep_days or self._monotonic() < self._next_prune:
            return
        before = self._clock.now() - timedelta(days=self.settings.keep_days)
        pruned = await self.store.prune(before)
        # A full batch: more are left, so prune again at the next pass.
        self._next_prune = self._monotonic() + (0 if pruned >= 1000 else PRUNE_EVERY)
        if pruned:
            log.info(
                "webhooks: %d finished row(s) older than %d days pruned",
                pruned,
                self.settings.keep_days,
            )

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = _client()
        return self._http

    # --- asked from outside -----------------------------------------------------------

    async def send_test(self, name: str) -> TestResult:
        """POST a signed `test` event to webhook `name` now (no outbox row, no retry)."""
        hook = self.hooks.get(name)
        if hook is None:
            known = ", ".join(self.hooks) or "none configured"
            raise UnknownWebhook(f"no webhook {name!r} ([[webhooks]]: {known})")
        now = self._clock.now()
        delivery_id = str(uuid.uuid4())
        payload = {"message": "pbxbridge webhooks test", "events": hook.events}
        body = body_of(TEST, delivery_id, now, name, payload).encode()
        async with _client() as http:
            answer = await post(
                http,
                hook,
                delivery_id=delivery_id,
                kind=TEST,
                body=body,
                timestamp=int(now.timestamp()),
            )
        return TestResult(name, delivery_id, answer)

    async def summaries(self) -> dict[str, Summary]:
        return await self.store.summaries()

    async def health(self) -> Health:
        if not self.hooks:
            return Health.ok("off")
        status = self._worker.status()
        if status.failures:
            return Health.degraded(f"the outbox cannot be read: {status.last_error}")
        failing = [
            f"{name} {kind} failing since {iso(streak.since)} ({streak.said[:80]})"
            for (name, kind), streak in sorted(self._streaks.items())
        ]
        if failing:
            return Health.degraded("; ".join(failing))
        return Health.ok(f"{len(self.hooks)} webhook(s)")


def _client() -> aiohttp.ClientSession:
    # No retry of its own (a dropped connection is our retry's to decide), no proxy from
    # the environment (a webhook goes where its URL says).
    return aiohttp.ClientSession(trust_env=False)


def _span(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"
