"""StaffBot: a few commands for the staff chats, over Bot API long polling.

Only chats in `staff_chats` are answered. Anything else (strangers, groups the bot was
added to, channels) gets nothing at all, not even an error, and is logged at INFO with
the chat id so an admin can add a new colleague's chat. The gate is an outer middleware
on the dispatcher's updates, so no handler ever sees a foreign update.

The bot knows no other component. The root injects async callables that return the
reply text: `missed()`, `send_sms(number, text, actor)`, `whois(number)`,
`unlock(number_or_login, actor)` and, when callbacks are on, `request_callback(number,
actor)`. A callable that raises or hangs gets
a short error reply; the details go to the log.

Polling is our own loop (not `Dispatcher.start_polling`) so that shutdown is bounded
(the long poll in flight is cancelled, handlers get `stop_timeout` seconds), so that
failures are logged without the token, and so that updates already handled are
confirmed to Telegram before we go: a restart must not send an `/sms` twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandObject
from aiogram.methods import GetUpdates
from aiogram.types import Message, TelegramObject, Update

from notify.notifier import Sleep, no_preview
from notify.redact import Redactor
from notify.render import fit
from notify.settings import TelegramSettings
from primitives.backoff import Backoff

log = logging.getLogger("pbxbridge.notify.bot")

Missed = Callable[[], Awaitable[str]]
SendSms = Callable[[str, str, str], Awaitable[str]]
Whois = Callable[[str], Awaitable[str]]
RequestCallback = Callable[[str, str], Awaitable[str]]
"""(number, actor) -> the reply: queue a call to `number` (operators and the customer)."""
Unlock = Callable[[str, str], Awaitable[str]]
"""(number or login, actor) -> the reply: lift an IVR lockout (audited by the root)."""
Now = Callable[[], datetime]

REQUEST_TIMEOUT = 15  # seconds for deleteWebhook / getMe / a reply
ACK_TIMEOUT = 2.0  # seconds the shutdown may spend confirming handled updates
BACKOFF_MAX = 60.0
UNAUTHORIZED_PAUSE = 300.0  # a rejected token will not fix itself quickly
UPDATE_TYPES = ("message",)

# A phone number as staff type it: digits, maybe a leading +, maybe - ( ) between.
# The root's normaliser decides what it means; this only catches a missing or swapped argument.
NUMBER = re.compile(r"\+?[\d()-]{3,20}")
# A number as above or a billing login (Ubilling's are letters, digits and a few marks).
NUMBER_OR_LOGIN = re.compile(r"[\w.@+()-]{1,64}")

HELP = (
    "pbxbridge staff bot\n"
    "/missed: today's missed calls\n"
    "/sms NUMBER TEXT: send an SMS\n"
    "/whois NUMBER: who has this number\n"
    "/callback NUMBER: have an operator call this number back\n"
    "/unlock NUMBER|LOGIN: lift a pay-card/PIN lockout\n"
    "/help: this list"
)
USAGE_SMS = "Usage: /sms NUMBER TEXT\nFor example: /sms 0501234567 Ваш роутер налаштовано"
USAGE_WHOIS = "Usage: /whois NUMBER\nFor example: /whois 0501234567"
USAGE_MISSED = "Usage: /missed (no arguments): today's missed calls"
USAGE_CALLBACK = "Usage: /callback NUMBER\nFor example: /callback 0501234567"
CALLBACKS_OFF = "Callbacks are not available in this pbxbridge (callback.enabled = false)."
USAGE_UNLOCK = "Usage: /unlock NUMBER|LOGIN\nFor example: /unlock 0501234567 or /unlock ivan"
UNLOCK_OFF = "Lifting lockouts is not available in this pbxbridge."


def utc_now() -> datetime:
    return datetime.now(UTC)


def _valid_number(text: str) -> bool:
    return bool(NUMBER.fullmatch(text)) and sum(c.isdigit() for c in text) >= 3


class StaffBot:
    """The staff command bot. `start()` begins long polling in the background, `stop()`
    ends it within about `stop_timeout` seconds.

    `command_timeout`: seconds an injected callable may take before the reply is an error.
    `max_command_age`: messages older than this many seconds (sent while pbxbridge was
    down) are ignored, so a restart never acts on a stale `/sms`.
    """

    def __init__(
        self,
        settings: TelegramSettings,
        bot: Bot,
        *,
        missed: Missed,
        send_sms: SendSms,
        whois: Whois,
        request_callback: RequestCallback | None = None,
        unlock: Unlock | None = None,
        sleep: Sleep = asyncio.sleep,
        now: Now = utc_now,
        stop_timeout: float = 5.0,
        command_timeout: float = 30.0,
        max_command_age: float = 600.0,
    ) -> None:
        self._settings = settings
        self._bot = bot
        self._missed = missed
        self._send_sms = send_sms
        self._whois = whois
        self._request_callback = request_callback
        self._unlock = unlock
        self._sleep = sleep
        self._poll_backoff = Backoff(1.0, BACKOFF_MAX)
        self._now = now
        self._stop_timeout = stop_timeout
        self._command_timeout = command_timeout
        self._max_command_age = max_command_age
        self._staff = frozenset(settings.staff_chats)
        self._redact = Redactor(bot.token)
        self._poller: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._offset: int | None = None  # next update_id to ask for
        self.dispatcher = self._build_dispatcher()

    # ------------------------------------------------------------ public API

    async def start(self) -> None:
        if self._poller is not None:
            return
        if not self._staff:
            log.warning("telegram: no staff_chats configured, the bot answers nobody")
        self._poller = asyncio.create_task(self._poll(), name="telegram-bot-polling")

    async def stop(self) -> None:
        """Cancel the long poll, give handlers `stop_timeout` s, confirm what was handled."""
        poller, self._poller = self._poller, None
        if poller is None:
            return
        poller.cancel()
        (ended,) = await asyncio.gather(poller, return_exceptions=True)
        if isinstance(ended, Exception):
            log.error("telegram: polling had failed: %s", self._redact.traceback(ended))
        if self._handlers:
            _, late = await asyncio.wait(self._handlers, timeout=self._stop_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("telegram: %d command(s) cut off by shutdown", len(late))
        await self._confirm()
        log.info("telegram: bot stopped")

    async def handle(self, update: Update) -> None:
        """Run one update through the gate and the handlers; never raises."""
        try:
            await self.dispatcher.feed_update(self._bot, update)
        except Exception as exc:
            log.error(
                "telegram: update %d failed: %s", update.update_id, self._redact.traceback(exc)
            )

    # ------------------------------------------------------------ wiring

    def _build_dispatcher(self) -> Dispatcher:
        router = Router(name="staff")
        router.message.register(self._on_help, Command("help", "start"))
        router.message.register(self._on_missed, Command("missed"))
        router.message.register(self._on_sms, Command("sms"))
        router.message.register(self._on_whois, Command("whois"))
        router.message.register(self._on_callback, Command("callback"))
        router.message.register(self._on_unlock, Command("unlock"))
        router.message.register(self._on_unknown, _private_command)
        dispatcher = Dispatcher(name="pbxbridge-staff", disable_fsm=True)
        dispatcher.update.outer_middleware(self._gate)
        dispatcher.include_router(router)
        return dispatcher

    async def _gate(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Let through only messages from staff chats, and only fresh ones."""
        message = event.message if isinstance(event, Update) else None
        if message is None:
            log.info("telegram: ignored an update that is not a message")
            return None
        chat_id = message.chat.id
        if chat_id not in self._staff:
            log.info(
                "telegram: ignored a message from chat %d (%s), not in telegram.staff_chats",
                chat_id,
                message.chat.type,
            )
            return None
        age = (self._now() - message.date).total_seconds()
        if age > self._max_command_age:
            log.info("telegram: ignored a message from chat %d sent %.0f s ago", chat_id, age)
            return None
        return await handler(event, data)

    # ------------------------------------------------------------ commands

    async def _on_help(self, message: Message) -> None:
        await self._reply(message, HELP)

    async def _on_unknown(self, message: Message) -> None:
        await self._reply(message, "Unknown command.\n" + HELP)

    async def _on_missed(self, message: Message, command: CommandObject) -> None:
        if (command.args or "").strip():
            await self._reply(message, USAGE_MISSED)
            return
        await self._run(message, "missed", self._missed)

    async def _on_sms(self, message: Message, command: CommandObject) -> None:
        parts = (command.args or "").split(maxsplit=1)
        if len(parts) < 2 or not _valid_number(parts[0]) or not parts[1].strip():
            await self._reply(message, USAGE_SMS)
            return
        number, text = parts[0], parts[1].strip()
        actor = f"telegram:{message.chat.id}"
        await self._run(message, "sms", lambda: self._send_sms(number, text, actor))

    async def _on_whois(self, message: Message, command: CommandObject) -> None:
        parts = (command.args or "").split()
        if len(parts) != 1 or not _valid_number(parts[0]):
            await self._reply(message, USAGE_WHOIS)
            return
        number = parts[0]
        await self._run(message, "whois", lambda: self._whois(number))

    async def _on_callback(self, message: Message, command: CommandObject) -> None:
        parts = (command.args or "").split()
        if len(parts) != 1 or not _valid_number(parts[0]):
            await self._reply(message, USAGE_CALLBACK)
            return
        request = self._request_callback
        if request is None:
            await self._reply(message, CALLBACKS_OFF)
            return
        number, actor = parts[0], f"telegram:{message.chat.id}"
        await self._run(message, "callback", lambda: request(number, actor))

    async def _on_unlock(self, message: Message, command: CommandObject) -> None:
        parts = (command.args or "").split()
        if len(parts) != 1 or not NUMBER_OR_LOGIN.fullmatch(parts[0]):
            await self._reply(message, USAGE_UNLOCK)
            return
        unlock = self._unlock
        if unlock is None:
            await self._reply(message, UNLOCK_OFF)
            return
        target, actor = parts[0], f"telegram:{message.chat.id}"
        await self._run(message, "unlock", lambda: unlock(target, actor))

    async def _run(self, message: Message, name: str, call: Callable[[], Awaitable[str]]) -> None:
        """Run an injected callable and answer with what it returned, or a short error."""
        chat_id = message.chat.id
        user = message.from_user.id if message.from_user else None
        log.info("telegram: /%s from chat %d (user %s)", name, chat_id, user)
        try:
            async with asyncio.timeout(self._command_timeout):
                reply = await call()
        except TimeoutError:
            log.error(
                "telegram: /%s for chat %d took over %g s", name, chat_id, self._command_timeout
            )
            reply = f"Error: /{name} timed out."
        except Exception as exc:
            log.error(
                "telegram: /%s for chat %d failed: %s", name, chat_id, self._redact.traceback(exc)
            )
            reply = f"Error: /{name} failed, details are in the pbxbridge log."
        await self._reply(message, str(reply))

    async def _reply(self, message: Message, text: str) -> None:
        try:
            await message.answer(
                fit(text.strip() or "(nothing to say)"), link_preview_options=no_preview()
            )
        except TelegramAPIError as exc:
            log.warning(
                "telegram: could not answer chat %d: %s", message.chat.id, self._redact.error(exc)
            )

    # ------------------------------------------------------------ polling

    async def _poll(self) -> None:
        ready = False
        failures = 0
        while True:
            try:
                if not ready:
                    # getUpdates answers 409 while a webhook is set.
                    await self._bot.delete_webhook(request_timeout=REQUEST_TIMEOUT)
                    me = await self._bot.me()
                    log.info(
                        "telegram: bot @%s polling for %d staff chat(s)",
                        me.username,
                        len(self._staff),
                    )
                    ready = True
                updates = await self._bot(
                    GetUpdates(
                        offset=self._offset,
                        timeout=self._settings.poll_timeout,
                        allowed_updates=list(UPDATE_TYPES),
                    ),
                    request_timeout=self._settings.poll_timeout + REQUEST_TIMEOUT,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = self._failure_delay(exc, failures)
                await self._sleep(delay)
                continue
            if failures:
                log.info("telegram: polling works again after %d failure(s)", failures)
                failures = 0
            for update in updates:
                self._offset = update.update_id + 1
                task = asyncio.create_task(self.handle(update))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)

    def _failure_delay(self, exc: Exception, failures: int) -> float:
        """Log a polling failure (scrubbed) and say how long to wait before the next try."""
        delay = self._poll_backoff.delay_for(failures)
        if isinstance(exc, TelegramUnauthorizedError):
            delay = UNAUTHORIZED_PAUSE
            log.error("telegram: the bot token was rejected (401); check telegram.token")
            return delay
        if isinstance(exc, TelegramRetryAfter):
            delay = float(exc.retry_after)
        elif isinstance(exc, TelegramConflictError):
            log.warning("telegram: another bot instance or a webhook is taking the updates")
        log.warning(
            "telegram: polling failed (%s); retry in %.0f s", self._redact.error(exc), delay
        )
        return delay

    async def _confirm(self) -> None:
        """Tell Telegram the handled updates are done, so a restart does not run them again."""
        if self._offset is None:
            return
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                await self._bot(
                    GetUpdates(offset=self._offset, limit=1, timeout=0),
                    request_timeout=int(ACK_TIMEOUT) + 1,
                )
        except Exception as exc:
            log.warning(
                "telegram: could not confirm handled updates (%s); they may come again",
                self._redact.error(exc),
            )


def _private_command(message: Message) -> bool:
    """An unknown /command in a private chat gets the help; in a group it may be another bot's."""
    return message.chat.type == "private" and (message.text or "").startswith("/")
