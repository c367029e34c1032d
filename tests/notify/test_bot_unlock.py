"""The staff bot's /unlock: usage, what reaches the root's callable, strangers, failures."""

from __future__ import annotations

import pytest

from notify.bot import HELP, UNLOCK_OFF, USAGE_UNLOCK
from tests.fakes.telegram import FakeTelegram
from tests.notify.conftest import STAFF, STAFF_GROUP, STRANGER, MakeBot
from tests.notify.test_bot import ask, reply


async def test_unlock_passes_a_number_or_a_login_and_the_actor(make_bot: MakeBot) -> None:
    rig = await make_bot()
    answer = await ask(rig, STAFF, "/unlock +38(050)123-45-67")
    assert answer == reply(STAFF, rig.staff.unlock_reply)
    answer = await ask(rig, STAFF_GROUP, "/unlock@pbxbridge_test_bot ivan.petrenko")
    assert answer == reply(STAFF_GROUP, rig.staff.unlock_reply)
    assert rig.staff.calls == [
        ("unlock", ("+38(050)123-45-67", "telegram:111")),
        ("unlock", ("ivan.petrenko", "telegram:-100222")),
    ]


@pytest.mark.parametrize(
    "text", ["/unlock", "/unlock ivan olena", "/unlock 'ivan'", "/unlock " + "x" * 65]
)
async def test_unlock_bad_usage_calls_nothing(make_bot: MakeBot, text: str) -> None:
    rig = await make_bot()
    assert await ask(rig, STAFF, text) == reply(STAFF, USAGE_UNLOCK)
    assert rig.staff.calls == []


async def test_unlock_when_the_root_gives_none(make_bot: MakeBot) -> None:
    rig = await make_bot(unlock=None)
    assert await ask(rig, STAFF, "/unlock ivan") == reply(STAFF, UNLOCK_OFF)
    assert rig.staff.calls == []


async def test_unlock_from_a_stranger_is_ignored(make_bot: MakeBot, fake: FakeTelegram) -> None:
    rig = await make_bot()
    fake.add_message(STRANGER, "/unlock ivan")
    await ask(rig, STAFF, "/help")
    await rig.stop()
    assert rig.staff.calls == []
    assert fake.sent_to(STRANGER) == []


async def test_unlock_failure_is_a_short_error_and_help_lists_it(make_bot: MakeBot) -> None:
    rig = await make_bot()
    rig.staff.fail_with = RuntimeError("database is locked")
    answer = await ask(rig, STAFF, "/unlock ivan")
    assert answer == reply(STAFF, "Error: /unlock failed, details are in the pbxbridge log.")
    assert "/unlock NUMBER|LOGIN" in HELP
