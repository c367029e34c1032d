"""Telegram as the root uses it: one Bot (one HTTP session) shared by the notifier and the bot.

    telegram = Telegram(settings.telegram, missed=..., send_sms=..., whois=...,
                        request_callback=..., unlock=...)
    await telegram.start()
    await telegram.notify(MissedCallNotice(...))   # the callback other components get
    await telegram.stop()

Disabled (`enabled = false` or no token), it builds nothing and `notify` does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from notify.bot import Missed, Now, RequestCallback, SendSms, StaffBot, Unlock, Whois, utc_now
from notify.notices import Notice
from notify.notifier import Clock, Sleep, StaffNotifier
from notify.settings import TelegramSettings

log = logging.getLogger("pbxbridge.notify")

SESSION_TIMEOUT = 30.0  # default seconds per Bot API request (getUpdates sets its own)


def create_bot(settings: TelegramSettings) -> Bot:
    """An aiogram Bot talking to `settings.api_server`. Close it with `bot.session.close()`."""
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.api_server), timeout=SESSION_TIMEOUT
    )
    return Bot(settings.token.get_secret_value(), session=session)


async def bot_username(settings: TelegramSettings, timeout: float = 10.0) -> str:  # noqa: ASYNC109
    """`@name` of the bot the token belongs to (Bot API getMe), on a session of its own.

    For a check from another process (`pbxbridge check`): it proves the token and that
    the API server answers. Raises aiogram's errors (their text never holds the token).
    """
    bot = create_bot(settings)
    try:
        me = await bot.get_me(request_timeout=max(1, round(timeout)))
    finally:
        await bot.session.close()
    return f"@{me.username}"


class Telegram:
    """The staff notifier and the staff bot, started and stopped together."""

    def __init__(
        self,
        settings: TelegramSettings,
        *,
        missed: Missed,
        send_sms: SendSms,
        whois: Whois,
        request_callback: RequestCallback | None = None,
        unlock: Unlock | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        now: Now = utc_now,
        stop_timeout: float = 5.0,
    ) -> None:
        self.settings = settings
        self.bot: Bot | None = None
        self.notifier: StaffNotifier | None = None
        self.staff_bot: StaffBot | None = None
        if not settings.active:
            return
        self.bot = create_bot(settings)
        self.notifier = StaffNotifier(
            settings, self.bot, clock=clock, sleep=sleep, stop_timeout=stop_timeout
        )
        self.staff_bot = StaffBot(
            settings,
            self.bot,
            missed=missed,
            send_sms=send_sms,
            whois=whois,
            request_callback=request_callback,
            unlock=unlock,
            sleep=sleep,
            now=now,
            stop_timeout=stop_timeout,
        )

    @property
    def enabled(self) -> bool:
        return self.bot is not None

    async def notify(self, notice: Notice) -> None:
        """Queue a notice for the staff chats; returns at once, never raises."""
        if self.notifier is not None:
            await self.notifier.notify(notice)

    async def start(self) -> None:
        if self.notifier is None or self.staff_bot is None:
            log.info("telegram: disabled")
            return
        await self.notifier.start()
        await self.staff_bot.start()

    async def stop(self) -> None:
        """Bot first (no new commands), then the notifier's flush, then the HTTP session."""
        if self.staff_bot is not None:
            await self.staff_bot.stop()
        if self.notifier is not None:
            await self.notifier.stop()
        if self.bot is not None:
            await self.bot.session.close()
