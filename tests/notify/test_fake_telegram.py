"""The fake Bot API answers like the real one where notify relies on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates

from notify.service import create_bot
from tests.fakes.telegram import FakeTelegram
from tests.notify.conftest import STAFF, make_settings


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = create_bot(make_settings(fake))
    yield bot
    await bot.session.close()


async def test_get_me_and_the_envelope(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (fake.bot_id, fake.username, True)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.url}/bot{fake.token}/getMe") as resp:
            body = await resp.json()
        assert body["ok"] is True
        assert body["result"]["username"] == fake.username
        async with http.post(f"{fake.url}/bot{fake.token}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        # JSON bodies are accepted too, and recorded as sent.
        payload = {"chat_id": STAFF, "text": "Привіт"}
        async with http.post(f"{fake.url}/bot{fake.token}/SENDMESSAGE", json=payload) as resp:
            assert (await resp.json())["result"]["text"] == "Привіт"
    assert fake.sent[-1] == payload


async def test_a_wrong_token_is_401(fake: FakeTelegram) -> None:
    wrong = create_bot(make_settings(fake, token=f"{fake.bot_id}:AAnotTheRightOne"))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()
    assert fake.calls[-1].authorized is False


async def test_get_updates_long_polls_and_honours_offset(fake: FakeTelegram, bot: Bot) -> None:
    waiting = asyncio.create_task(bot(GetUpdates(timeout=10), request_timeout=20))
    await fake.wait_calls("getUpdates", 1)
    update_id = fake.add_message(STAFF, "/missed")
    (update,) = await waiting
    assert update.update_id == update_id
    assert update.message is not None
    assert update.message.text == "/missed"
    # Not confirmed yet: asked again, it comes again.
    assert [u.update_id for u in await bot(GetUpdates(timeout=0))] == [update_id]
    assert await bot(GetUpdates(offset=update_id + 1, timeout=0)) == []
    assert fake.confirmed_offset == update_id + 1
    assert await bot(GetUpdates(timeout=0)) == []


async def test_a_newer_long_poll_ends_the_older_with_409(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot(GetUpdates(timeout=10), request_timeout=20))
    await fake.wait_calls("getUpdates", 1)
    assert await bot(GetUpdates(timeout=0)) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await first


async def test_get_updates_is_refused_while_a_webhook_is_set(fake: FakeTelegram, bot: Bot) -> None:
    fake.webhook_url = "https://example.org/hook"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot(GetUpdates(timeout=0))
    assert await bot.delete_webhook() is True
    assert await bot(GetUpdates(timeout=0)) == []


async def test_send_message_validates_like_telegram(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(STAFF, "я" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(STAFF, " ")
    sent = await bot.send_message(STAFF, "я" * 4096)
    assert sent.chat.id == STAFF
    assert len(fake.sent) == 1
