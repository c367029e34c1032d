"""StaffNotifier: tells the staff chats what needs them, without flooding them.

`notify()` only appends to each chat's queue and returns; one background task sends.
Per chat it keeps to `max_messages_per_minute` in any 60 s. While the queue fits in what
that budget has left, every notice goes out as its own message, at once. When it does not
(a flood: an outage makes hundreds of calls go unanswered), the notifier gathers for
`batch_window` seconds and then sends ONE summary for everything waiting ("500 missed
calls in the last 10 s: …"), then goes back to single messages.

Telegram's answers decide the rest: 429 waits the `retry_after` it names, 5xx and network
errors back off (1, 2, 4, … s), and after MAX_ATTEMPTS failures the message is dropped;
403 (bot blocked or removed) and 400 drop it at once. Nothing is ever raised to callers.
A notice stays queued until Telegram accepted it, so a retry after a burst of new notices
turns into a summary of all of them instead of a backlog of stale single messages.

Time comes from an injected `clock` and `sleep`, so tests can run minutes of rate limiting
in virtual time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import LinkPreviewOptions

from notify.notices import Notice
from notify.redact import Redactor
from notify.render import kind_of, render, render_summary
from notify.settings import TelegramSettings
from primitives.backoff import Backoff
from primitives.worker import Worker

log = logging.getLogger("pbxbridge.notify")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

RATE_PERIOD = 60.0  # max_messages_per_minute counts sends in any window this long
MAX_PENDING = 1000  # notices kept per chat; past this a flood is only counted
MAX_ATTEMPTS = 5  # failed sends of one message before it is dropped
BACKOFF_MAX = 60.0  # longest pause after a 5xx or network error
FORBIDDEN_PAUSE = 300.0  # after a 403 the chat is left alone this long
SEND_TIMEOUT = 15  # seconds for one sendMessage (aiogram wants an int)


def no_preview() -> LinkPreviewOptions:
    """SMS texts may carry URLs; a preview would make Telegram fetch them."""
    return LinkPreviewOptions(is_disabled=True)


class Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"  # still queued, try again once `not_before` has passed
    DROPPED = "dropped"


@dataclass(slots=True)
class _Queued:
    notice: Notice
    at: float  # clock() when notify() took it


@dataclass
class _Chat:
    """One staff chat's queue, its recent sends, and what it is waiting for."""

    chat_id: int
    pending: list[_Queued] = field(default_factory=list)
    overflow: Counter[str] = field(default_factory=Counter)  # counted, not kept
    overflow_since: float | None = None
    sent: deque[float] = field(default_factory=deque)  # clock() of sends in the last minute
    hold_until: float | None = None  # gathering a flood until then
    not_before: float = 0.0  # retry_after / backoff / 403 pause
    failures: int = 0

    def waiting(self) -> int:
        return len(self.pending) + self.overflow.total()

    def free_slots(self, now: float, limit: int) -> int:
        while self.sent and self.sent[0] <= now - RATE_PERIOD:
            self.sent.popleft()
        return limit - len(self.sent)


class StaffNotifier:
    """Queues notices for every staff chat and sends them in the background.

    Lifecycle: `start()` starts the sender, `stop()` lets the message in flight finish,
    flushes what is still queued (one message, or one summary, per chat) and returns
    within `stop_timeout` seconds whatever Telegram does. Notices given before `start()`
    wait for it; notices given after `stop()` are dropped.
    """

    def __init__(
        self,
        settings: TelegramSettings,
        bot: Bot,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        stop_timeout: float = 5.0,
    ) -> None:
        self._settings = settings
        self._bot = bot
        self._clock = clock
        self._send_backoff = Backoff(1.0, BACKOFF_MAX)
        """5xx and network errors: 1, 2, 4, … s per chat (its `failures`), at most BACKOFF_MAX."""
        self._stop_timeout = stop_timeout
        self._redact = Redactor(bot.token)
        self._chats = {chat_id: _Chat(chat_id) for chat_id in dict.fromkeys(settings.staff_chats)}
        self._sender = Worker(
            "telegram: notifier loop",
            self._send_due,
            log=log,
            retry=1.0,
            redact=self._redact,
            monotonic=clock,
            sleep=sleep,
        )
        self._started = False
        self._closed = False  # stop() was called: notify() drops

    # ------------------------------------------------------------ public API

    async def notify(self, notice: Notice) -> None:
        """Queue `notice` for every staff chat. Returns at once and never raises."""
        try:
            kind = kind_of(notice)
            if self._closed:
                log.debug("telegram: notifier stopped, %s notice dropped", kind)
                return
            now = self._clock()
            for chat in self._chats.values():
                if len(chat.pending) < MAX_PENDING:
                    chat.pending.append(_Queued(notice, now))
                else:
                    if not chat.overflow:
                        chat.overflow_since = now
                    chat.overflow[kind] += 1
            self._sender.wake()
        except Exception:
            log.exception("telegram: could not queue a notice")

    async def start(self) -> None:
        if self._started or self._closed:
            return
        if not self._chats:
            log.warning("telegram: no staff_chats configured, notifications go nowhere")
            return
        self._started = True
        self._sender.start()
        log.info("telegram: notifier started for %d chat(s)", len(self._chats))

    async def stop(self) -> None:
        """Finish the send in flight, flush the queues once, all within `stop_timeout`."""
        if self._closed:
            return
        self._closed = True
        try:
            async with asyncio.timeout(self._stop_timeout):
                await self._sender.stop()  # the loop returns after the send in flight
                await self._flush()
        except TimeoutError:
            log.warning("telegram: notifier stop took over %g s, gave up", self._stop_timeout)
        except Exception as exc:
            log.error("telegram: notifier flush failed: %s", self._redact.traceback(exc))
        finally:
            await self._sender.stop(0)  # cut off what the timeout left running
        left = self.queued()
        if left:
            log.warning("telegram: %d notice(s) not sent at shutdown", left)

    def queued(self) -> int:
        """Notices waiting, summed over chats (one notice for two chats counts twice)."""
        return sum(chat.waiting() for chat in self._chats.values())

    # ------------------------------------------------------------ the sender

    async def _send_due(self) -> float | None:
        """The sender's pass: at most one message per chat; seconds until one next needs
        attention (None: nothing waits anywhere, sleep until notify()). A failure here is a
        bug, not Telegram (those are handled in _send): the worker logs it (scrubbed) and
        tries again a second later."""
        due: float | None = None
        for chat in self._chats.values():
            if self._sender.stopping:
                return None
            when = await self._step(chat)
            if when is not None:
                due = when if due is None else min(due, when)
        if due is None:
            return None
        return due - self._clock()

    async def _step(self, chat: _Chat) -> float | None:
        """Send at most one message to `chat`; say when it next needs attention.

        None: nothing waiting. A time at or before now: call again at once.
        """
        waiting = chat.waiting()
        if not waiting:
            chat.hold_until = None
            return None
        now = self._clock()
        if now < chat.not_before:
            return chat.not_before
        free = chat.free_slots(now, self._settings.max_messages_per_minute)
        if chat.hold_until is None:
            return await self._one_or_gather(chat, now, free)
        if now < chat.hold_until:
            return chat.hold_until
        if free <= 0:
            return chat.sent[0] + RATE_PERIOD
        await self._deliver(chat, list(chat.pending), summary=True)
        return self._clock()

    async def _one_or_gather(self, chat: _Chat, now: float, free: int) -> float:
        """A chat not gathering a summary: its next notice goes out now when the rate
        allows all that wait, else the summary window opens; when to look again."""
        waiting = chat.waiting()
        # Counted-only notices (chat.overflow) can only go out in a summary.
        if waiting <= free and not chat.overflow:
            await self._deliver(chat, chat.pending[:1], summary=False)
            return self._clock()
        chat.hold_until = now + self._settings.batch_window
        log.info(
            "telegram: %d notice(s) for chat %d outrun %d messages a minute; "
            "gathering them into one summary",
            waiting,
            chat.chat_id,
            self._settings.max_messages_per_minute,
        )
        return chat.hold_until

    async def _flush(self) -> None:
        """At shutdown: what is queued goes out now, one summary per chat if it is many."""
        for chat in self._chats.values():
            if not chat.waiting():
                continue
            free = chat.free_slots(self._clock(), self._settings.max_messages_per_minute)
            if chat.hold_until is None and not chat.overflow and chat.waiting() <= free:
                while chat.pending:
                    if (
                        await self._deliver(chat, chat.pending[:1], summary=False)
                        is not Outcome.SENT
                    ):
                        break
            else:
                await self._deliver(chat, list(chat.pending), summary=True)

    async def _deliver(self, chat: _Chat, items: list[_Queued], *, summary: bool) -> Outcome:
        """Send `items` as one message; forget them once sent or given up on."""
        overflow = Counter(chat.overflow) if summary else Counter[str]()
        if len(items) == 1 and not overflow:
            text = render(items[0].notice)
        else:
            now = self._clock()
            starts = [q.at for q in items[:1]]
            if overflow and chat.overflow_since is not None:
                starts.append(chat.overflow_since)
            seconds = max(1, math.ceil(now - min(starts, default=now)))
            text = render_summary([q.notice for q in items], seconds, overflow)
        outcome = await self._send(chat, text)
        if outcome is not Outcome.RETRY:
            # notify() only appends, so the items sent are still the head of the queue.
            del chat.pending[: len(items)]
            chat.overflow -= overflow
            if not chat.overflow:
                chat.overflow_since = None
            chat.failures = 0
            if summary:
                chat.hold_until = None
        if outcome is Outcome.DROPPED:
            log.warning(
                "telegram: dropped %d notice(s) for chat %d",
                len(items) + overflow.total(),
                chat.chat_id,
            )
        return outcome

    async def _send(self, chat: _Chat, text: str) -> Outcome:
        chat_id = chat.chat_id
        try:
            await self._bot.send_message(
                chat_id=chat_id,
                text=text,
                link_preview_options=no_preview(),
                request_timeout=SEND_TIMEOUT,
            )
        except TelegramRetryAfter as exc:
            return self._retry(
                chat, float(exc.retry_after), f"429, retry after {exc.retry_after} s"
            )
        except (TelegramServerError, TelegramNetworkError, ClientDecodeError) as exc:
            backoff = self._send_backoff.delay_for(chat.failures + 1)
            return self._retry(chat, backoff, self._redact.error(exc))
        except TelegramMigrateToChat as exc:
            log.warning(
                "telegram: chat %d is now supergroup %d; put that id in telegram.staff_chats",
                chat_id,
                exc.migrate_to_chat_id,
            )
        except TelegramForbiddenError as exc:
            chat.not_before = self._clock() + FORBIDDEN_PAUSE
            log.warning(
                "telegram: chat %d refuses the bot (%s); pausing it %.0f s",
                chat_id,
                self._redact.error(exc),
                FORBIDDEN_PAUSE,
            )
        except TelegramUnauthorizedError:
            log.error("telegram: the bot token was rejected (401); check telegram.token")
        except TelegramAPIError as exc:
            log.warning(
                "telegram: sending to chat %d refused: %s", chat_id, self._redact.error(exc)
            )
        except Exception as exc:
            log.error(
                "telegram: sending to chat %d failed: %s", chat_id, self._redact.traceback(exc)
            )
        else:
            chat.sent.append(self._clock())
            log.debug("telegram: sent %d characters to chat %d", len(text), chat_id)
            return Outcome.SENT
        return Outcome.DROPPED

    def _retry(self, chat: _Chat, delay: float, why: str) -> Outcome:
        chat.failures += 1
        if chat.failures >= MAX_ATTEMPTS:
            log.warning(
                "telegram: sending to chat %d failed %d times (last: %s)",
                chat.chat_id,
                chat.failures,
                why,
            )
            return Outcome.DROPPED
        chat.not_before = self._clock() + delay
        log.warning(
            "telegram: sending to chat %d failed (%s); retry in %.0f s (attempt %d of %d)",
            chat.chat_id,
            why,
            delay,
            chat.failures,
            MAX_ATTEMPTS,
        )
        return Outcome.RETRY
