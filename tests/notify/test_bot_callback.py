"""The staff bot's /callback: usage, what reaches the root's callable, callbacks switched off."""

from __future__ import annotations

import pytest

from notify.bot import CALLBACKS_OFF, HELP, USAGE_CALLBACK
from tests.fakes.telegram import FakeTelegram
from tests.notify.conftest import STAFF, STAFF_GROUP, STRANGER, MakeBot
from tests.notify.test_bot import ask, reply


async def test_callback_passes_the_number_and_the_actor(make_bot: MakeBot) -> None:
    rig = await make_bot()
    answer = await ask(rig, STAFF, "/callback +38 (050) 123-45-67")
    assert answer == reply(STAFF, USAGE_CALLBACK)  # blanks split the number: not one argument
    answer = await ask(rig, STAFF, "/callback +38(050)123-45-67")
    assert answer == reply(STAFF, rig.staff.callback_reply)
    answer = await ask(rig, STAFF_GROUP, "/callback@pbxbridge_test_bot 0501234567")
    assert answer == reply(STAFF_GROUP, rig.staff.callback_reply)
    assert rig.staff.calls == [
        ("callback", ("+38(050)123-45-67", "telegram:111")),
        ("callback", ("0501234567", "telegram:-100222")),
    ]


@pytest.mark.parametrize(
    "text", ["/callback", "/callback ivan", "/callback 0501234567 0671112233", "/callback 12"]
)
async def test_callback_bad_usage_calls_nothing(make_bot: MakeBot, text: str) -> None:
    rig = await make_bot()
    assert await ask(rig, STAFF, text) == reply(STAFF, USAGE_CALLBACK)
    assert rig.staff.calls == []


async def test_callback_when_the_root_has_no_callbacks(make_bot: MakeBot) -> None:
    rig = await make_bot(request_callback=None)
    assert await ask(rig, STAFF, "/callback 0501234567") == reply(STAFF, CALLBACKS_OFF)
    assert rig.staff.calls == []


async def test_callback_from_a_stranger_is_ignored(make_bot: MakeBot, fake: FakeTelegram) -> None:
    rig = await make_bot()
    fake.add_message(STRANGER, "/callback 0501234567")
    await ask(rig, STAFF, "/help")
    await rig.stop()
    assert rig.staff.calls == []
    assert fake.sent_to(STRANGER) == []


async def test_callback_failure_and_help(make_bot: MakeBot) -> None:
    rig = await make_bot()
    rig.staff.fail_with = RuntimeError("database is locked")
    answer = await ask(rig, STAFF, "/callback 0501234567")
    assert answer == reply(STAFF, "Error: /callback failed, details are in the pbxbridge log.")
    assert "/callback NUMBER" in HELP
