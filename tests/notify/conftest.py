"""Fixtures for notify: a fake Bot API server, virtual time, a notifier and a bot wired to them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from aiogram import Bot
from pydantic import SecretStr

from notify import TelegramSettings
from notify.bot import StaffBot
from notify.notifier import StaffNotifier
from notify.service import create_bot
from tests.fakes.telegram import FakeTelegram

STAFF = 111  # a private chat
STAFF_GROUP = -100222  # a supergroup
STRANGER = 333


class VirtualTime:
    """A monotonic clock that only moves when the code under test sleeps.

    Minutes of rate limiting and retry_after run in no time, and every sleep is recorded,
    so a test asserts what the notifier waited for instead of timing it.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)  # a sleep cut short by a wake-up does not move time
        self.now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(fake: FakeTelegram, **overrides: Any) -> TelegramSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "token": SecretStr(fake.token),
        "api_server": fake.url,
        "staff_chats": [STAFF, STAFF_GROUP],
        "poll_timeout": 1,
    }
    values.update(overrides)
    return TelegramSettings(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


class MakeNotifier(Protocol):
    async def __call__(self, **settings: Any) -> StaffNotifier: ...


@pytest.fixture
async def make_notifier(fake: FakeTelegram, vtime: VirtualTime) -> AsyncIterator[MakeNotifier]:
    """A StaffNotifier on the fake and on virtual time (not started); stopped afterwards."""
    made: list[tuple[StaffNotifier, Bot]] = []

    async def make(**settings: Any) -> StaffNotifier:
        config = make_settings(fake, **settings)
        bot = create_bot(config)
        notifier = StaffNotifier(config, bot, clock=vtime.clock, sleep=vtime.sleep)
        made.append((notifier, bot))
        return notifier

    yield make
    await asyncio.gather(*(notifier.stop() for notifier, _ in made))
    await asyncio.gather(*(bot.session.close() for _, bot in made))


@dataclass
class Staff:
    """The injected callables, recording their calls; replies and failures are settable."""

    missed_reply: str = "Пропущені сьогодні: 2\n0501234567 (ivan) 09:12"
    whois_reply: str = "0501234567: Іван Петренко (ivan), active, balance 120.00"
    callback_reply: str = "Callback #5 to +380501234567 (ivan, Іван Петренко) queued."
    unlock_reply: str = "Unlocked number +380501234567 and login ivan."
    fail_with: Exception | None = None
    hang: bool = False
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    async def _answer(self, name: str, args: tuple[str, ...], reply: str) -> str:
        self.calls.append((name, args))
        if self.hang:
            await asyncio.Event().wait()
        if self.fail_with is not None:
            raise self.fail_with
        return reply

    async def missed(self) -> str:
        return await self._answer("missed", (), self.missed_reply)

    async def send_sms(self, number: str, text: str, actor: str) -> str:
        return await self._answer("sms", (number, text, actor), f"SMS #7 to {number} queued")

    async def whois(self, number: str) -> str:
        return await self._answer("whois", (number,), self.whois_reply)

    async def request_callback(self, number: str, actor: str) -> str:
        return await self._answer("callback", (number, actor), self.callback_reply)

    async def unlock(self, target: str, actor: str) -> str:
        return await self._answer("unlock", (target, actor), self.unlock_reply)


@dataclass
class BotRig:
    fake: FakeTelegram
    staff: Staff
    bot: StaffBot
    stop: Callable[[], Awaitable[None]]


class MakeBot(Protocol):
    async def __call__(self, *, start: bool = True, **options: Any) -> BotRig: ...


@pytest.fixture
async def make_bot(fake: FakeTelegram, vtime: VirtualTime) -> AsyncIterator[MakeBot]:
    """A polling StaffBot on the fake with recording callables; stopped afterwards."""
    rigs: list[tuple[StaffBot, Bot]] = []

    async def make(*, start: bool = True, **options: Any) -> BotRig:
        settings_overrides = options.pop("settings", {})
        config = make_settings(fake, **settings_overrides)
        bot = create_bot(config)
        staff = Staff()
        options.setdefault("request_callback", staff.request_callback)
        options.setdefault("unlock", staff.unlock)
        staff_bot = StaffBot(
            config,
            bot,
            missed=staff.missed,
            send_sms=staff.send_sms,
            whois=staff.whois,
            **{"sleep": vtime.sleep, **options},
        )
        rigs.append((staff_bot, bot))
        if start:
            await staff_bot.start()
        return BotRig(fake, staff, staff_bot, staff_bot.stop)

    yield make
    await asyncio.gather(*(staff_bot.stop() for staff_bot, _ in rigs))
    await asyncio.gather(*(bot.session.close() for _, bot in rigs))
