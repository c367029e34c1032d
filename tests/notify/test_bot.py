"""StaffBot over long polling against the fake Bot API: the allowlist, commands, failures."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from notify.bot import HELP, USAGE_MISSED, USAGE_SMS, USAGE_WHOIS
from tests.fakes.telegram import FakeTelegram
from tests.notify.conftest import STAFF, STAFF_GROUP, STRANGER, BotRig, MakeBot, VirtualTime

NO_PREVIEW = json.dumps({"is_disabled": True})
COMMANDS = [
    "/missed",
    "/sms 0501234567 Привіт світ",
    "/whois 0501234567",
    "/help",
    "/start",
    "/sms",
    "/whois",
    "/nonsense",
    "hello",
]


def reply(chat_id: int, text: str) -> dict[str, str]:
    return {"chat_id": str(chat_id), "text": text, "link_preview_options": NO_PREVIEW}


async def ask(rig: BotRig, chat_id: int, text: str) -> dict[str, str]:
    """Send `text` from `chat_id` and return the bot's one reply."""
    before = len(rig.fake.sent)
    rig.fake.add_message(chat_id, text)
    sent = await rig.fake.wait_sent(before + 1)
    return sent[before]


@pytest.mark.parametrize("chat_id", [STRANGER, -100999])
async def test_chats_not_in_the_allowlist_get_nothing_at_all(
    make_bot: MakeBot, fake: FakeTelegram, debug_logs: pytest.LogCaptureFixture, chat_id: int
) -> None:
    rig = await make_bot()
    for text in COMMANDS:
        fake.add_message(chat_id, text)
    # A staff command after them: once that is answered, the strangers' updates were handled.
    await ask(rig, STAFF, "/help")
    await rig.stop()  # waits for every handler
    assert [p["chat_id"] for p in fake.sent] == [str(STAFF)]
    assert rig.staff.calls == []
    ignored = [r for r in debug_logs.records if "ignored a message" in r.getMessage()]
    assert len(ignored) == len(COMMANDS)
    assert all(r.levelno == logging.INFO for r in ignored)
    assert all(f"from chat {chat_id} " in r.getMessage() for r in ignored)


async def test_missed_answers_with_what_the_root_formats(make_bot: MakeBot) -> None:
    rig = await make_bot()
    assert await ask(rig, STAFF, "/missed") == reply(STAFF, rig.staff.missed_reply)
    assert rig.staff.calls == [("missed", ())]


async def test_sms_passes_number_full_text_and_actor(make_bot: MakeBot) -> None:
    rig = await make_bot()
    answer = await ask(rig, STAFF, "/sms 0501234567 Привіт світ")
    assert answer == reply(STAFF, "SMS #7 to 0501234567 queued")
    assert rig.staff.calls == [("sms", ("0501234567", "Привіт світ", "telegram:111"))]


async def test_sms_keeps_line_breaks_and_works_in_a_group_with_a_mention(
    make_bot: MakeBot,
) -> None:
    rig = await make_bot()
    await ask(
        rig, STAFF_GROUP, "/sms@pbxbridge_test_bot +380501234567 Доброго дня!\nОплата 200 грн"
    )
    assert rig.staff.calls == [
        ("sms", ("+380501234567", "Доброго дня!\nОплата 200 грн", "telegram:-100222"))
    ]


async def test_a_command_for_another_bot_is_not_ours(make_bot: MakeBot, fake: FakeTelegram) -> None:
    rig = await make_bot()
    fake.add_message(STAFF_GROUP, "/whois@other_bot 0501234567")
    await ask(rig, STAFF, "/help")
    await rig.stop()
    assert rig.staff.calls == []
    assert fake.sent_to(STAFF_GROUP) == []


async def test_whois(make_bot: MakeBot) -> None:
    rig = await make_bot()
    assert await ask(rig, STAFF, "/whois 0501234567") == reply(STAFF, rig.staff.whois_reply)
    assert rig.staff.calls == [("whois", ("0501234567",))]


BAD_USAGE = [
    ("/sms", USAGE_SMS),
    ("/sms 0501234567", USAGE_SMS),
    ("/sms 0501234567   ", USAGE_SMS),
    ("/sms Привіт світ", USAGE_SMS),
    ("/whois", USAGE_WHOIS),
    ("/whois 0501234567 0671112233", USAGE_WHOIS),
    ("/whois ivan", USAGE_WHOIS),
    ("/missed yesterday", USAGE_MISSED),
]


async def test_bad_usage_gets_the_usage_and_calls_nothing(make_bot: MakeBot) -> None:
    rig = await make_bot()
    for text, usage in BAD_USAGE:
        assert await ask(rig, STAFF, text) == reply(STAFF, usage), text
    assert rig.staff.calls == []


async def test_help_and_unknown_commands(make_bot: MakeBot, fake: FakeTelegram) -> None:
    rig = await make_bot()
    assert await ask(rig, STAFF, "/help") == reply(STAFF, HELP)
    assert await ask(rig, STAFF, "/start") == reply(STAFF, HELP)
    assert await ask(rig, STAFF, "/balance") == reply(STAFF, "Unknown command.\n" + HELP)
    # Plain talk, and unknown commands in a group (maybe another bot's), get no answer.
    fake.add_message(STAFF, "дякую")
    fake.add_message(STAFF_GROUP, "/balance")
    await ask(rig, STAFF, "/help")
    await rig.stop()
    assert len(fake.sent) == 4


async def test_a_failing_callable_gets_a_short_error_reply_and_a_log(
    make_bot: MakeBot, debug_logs: pytest.LogCaptureFixture
) -> None:
    rig = await make_bot()
    rig.staff.fail_with = RuntimeError("billing unreachable")
    answer = await ask(rig, STAFF, "/whois 0501234567")
    assert answer == reply(STAFF, "Error: /whois failed, details are in the pbxbridge log.")
    errors = [r for r in debug_logs.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "/whois for chat 111 failed" in errors[0].getMessage()
    assert "RuntimeError: billing unreachable" in errors[0].getMessage()


async def test_a_hanging_callable_times_out(make_bot: MakeBot) -> None:
    rig = await make_bot(command_timeout=0.05)
    rig.staff.hang = True
    assert await ask(rig, STAFF, "/missed") == reply(STAFF, "Error: /missed timed out.")


async def test_long_replies_are_cut_to_telegram_s_limit(make_bot: MakeBot) -> None:
    rig = await make_bot()
    rig.staff.missed_reply = "0501234567 (Іван)\n" * 1000
    answer = await ask(rig, STAFF, "/missed")
    assert len(answer["text"]) == 4096
    assert answer["text"].endswith("…")


async def test_messages_sent_while_we_were_down_are_not_acted_on(
    make_bot: MakeBot, fake: FakeTelegram
) -> None:
    fake.add_message(STAFF, "/sms 0501234567 old", date=datetime.now(UTC) - timedelta(hours=1))
    rig = await make_bot()
    await ask(rig, STAFF, "/help")
    await rig.stop()
    assert rig.staff.calls == []
    assert len(fake.sent) == 1


async def test_handled_updates_are_confirmed_before_the_bot_stops(
    make_bot: MakeBot, fake: FakeTelegram
) -> None:
    rig = await make_bot()
    await ask(rig, STAFF, "/sms 0501234567 раз")
    last = fake.add_message(STAFF, "/sms 0501234567 два")
    await fake.wait_sent(2)
    await rig.stop()
    assert fake.confirmed_offset > last
    # A new bot on the same token does not see them again.
    rig2 = await make_bot()
    await ask(rig2, STAFF, "/help")
    assert rig2.staff.calls == []


async def test_a_webhook_left_behind_is_removed_before_polling(
    make_bot: MakeBot, fake: FakeTelegram
) -> None:
    fake.webhook_url = "https://old.example/hook"
    rig = await make_bot()
    await ask(rig, STAFF, "/help")
    assert fake.webhook_url == ""


async def test_polling_survives_telegram_failures(
    make_bot: MakeBot, fake: FakeTelegram, vtime: VirtualTime
) -> None:
    fake.fail("deleteWebhook", 502)
    fake.fail("getUpdates", 500)
    fake.fail("getUpdates", disconnect=True)
    fake.fail("getUpdates", 429, retry_after=5)
    rig = await make_bot()
    await ask(rig, STAFF, "/help")
    assert vtime.sleeps == [1.0, 2.0, 4.0, 5.0]  # backoff, then the retry_after


async def test_the_token_never_reaches_the_log(
    make_bot: MakeBot, fake: FakeTelegram, debug_logs: pytest.LogCaptureFixture
) -> None:
    fake.fail("getUpdates", 500)
    fake.fail("getUpdates", disconnect=True)
    fake.fail("sendMessage", 403)
    rig = await make_bot()
    rig.staff.fail_with = RuntimeError("boom")
    fake.add_message(STAFF, "/missed")
    await fake.wait_calls("sendMessage", 1)
    await ask(rig, STAFF, "/whois 0501234567")
    fake.add_message(STRANGER, "/missed")
    await ask(rig, STAFF, "/help")
    await rig.stop()
    paused = asyncio.Event()

    async def pause(seconds: float) -> None:
        paused.set()
        await asyncio.Event().wait()

    wrong = await make_bot(settings={"token": f"{fake.bot_id}:AAwrongToken_xyz"}, sleep=pause)
    async with asyncio.timeout(5):
        await paused.wait()  # the 401 was handled and logged
    await wrong.stop()
    assert "token was rejected (401)" in debug_logs.text
    secrets = (fake.token, fake.token.partition(":")[2], "AAwrongToken_xyz")
    for record in debug_logs.records:
        rendered = logging.Formatter().format(record)
        for secret in secrets:
            assert secret not in rendered, rendered


async def test_stop_is_prompt_while_a_long_poll_is_open(
    make_bot: MakeBot, fake: FakeTelegram
) -> None:
    rig = await make_bot(settings={"poll_timeout": 50})
    await ask(rig, STAFF, "/help")
    await fake.wait_calls("getUpdates", 2)  # the next long poll is open
    await rig.stop()
    assert fake.calls_of("getUpdates")[-1].params["timeout"] == "0"  # the confirmation
