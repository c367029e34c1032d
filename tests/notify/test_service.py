"""Telegram: the notifier and the bot on one Bot, or nothing at all when disabled."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from notify import LinkNotice, TelegramSettings
from notify.service import Telegram
from tests.fakes.telegram import FakeTelegram
from tests.notify.conftest import STAFF, STAFF_GROUP, Staff, make_settings


@pytest.mark.parametrize(
    "settings",
    [
        TelegramSettings(),
        TelegramSettings(enabled=True),
        TelegramSettings(enabled=False, token=SecretStr("1:AAx")),
    ],
)
async def test_disabled_builds_nothing_and_notify_is_a_no_op(settings: TelegramSettings) -> None:
    staff = Staff()
    telegram = Telegram(settings, missed=staff.missed, send_sms=staff.send_sms, whois=staff.whois)
    assert telegram.enabled is False
    await telegram.start()
    await telegram.notify(LinkNotice("AMI", False, "refused"))
    await telegram.stop()


async def test_enabled_notifies_and_answers_then_stops_cleanly(fake: FakeTelegram) -> None:
    staff = Staff()
    telegram = Telegram(
        make_settings(fake),
        missed=staff.missed,
        send_sms=staff.send_sms,
        whois=staff.whois,
    )
    assert telegram.enabled is True
    await telegram.start()
    try:
        await telegram.notify(LinkNotice("AMI", False, "з'єднання розірвано"))
        fake.add_message(STAFF, "/whois 0501234567")
        sent = await fake.wait_sent(3)
    finally:
        await telegram.stop()
    texts = {(p["chat_id"], p["text"]) for p in sent}
    assert texts == {
        (str(STAFF), "AMI link is DOWN: з'єднання розірвано"),
        (str(STAFF_GROUP), "AMI link is DOWN: з'єднання розірвано"),
        (str(STAFF), staff.whois_reply),
    }
    assert all(json.loads(p["link_preview_options"]) == {"is_disabled": True} for p in sent)
    assert staff.calls == [("whois", ("0501234567",))]
