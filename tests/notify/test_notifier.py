"""StaffNotifier against the fake Bot API: exact payloads, rate limit, floods, failures."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from notify import InboundSmsNotice, LinkNotice, MissedCallNotice, SmsFailedNotice
from notify.notices import Notice
from notify.notifier import MAX_ATTEMPTS, MAX_PENDING
from notify.render import utf16_len
from tests.fakes.telegram import FakeTelegram
from tests.notify.conftest import STAFF, STAFF_GROUP, MakeNotifier, VirtualTime

KYIV = ZoneInfo("Europe/Kyiv")
AT = datetime(2024, 5, 1, 14, 3, 7, tzinfo=KYIV)
NO_PREVIEW = json.dumps({"is_disabled": True})


def missed(number: str = "0501234567", login: str | None = "ivan") -> MissedCallNotice:
    return MissedCallNotice(
        number=number,
        login=login,
        name="Іван Петренко" if login else None,
        status=2 if login else None,
        queue="support",
        at=AT,
        waited_seconds=42,
    )


def payload(chat_id: int, text: str) -> dict[str, str]:
    return {"chat_id": str(chat_id), "text": text, "link_preview_options": NO_PREVIEW}


NOTICES: list[tuple[Notice, str]] = [
    (
        missed(),
        "Missed call from 0501234567\n"
        "Subscriber: Іван Петренко (ivan), debtor\n"
        "Queue: support, waited 42 s\n"
        "At 2024-05-01 14:03:07",
    ),
    (
        MissedCallNotice("+380671112233", None, None, None, None, AT, None),
        "Missed call from +380671112233\nSubscriber: not found in the billing\n"
        "At 2024-05-01 14:03:07",
    ),
    (
        InboundSmsNotice(
            sender="0501234567",
            login="ivan",
            name="Іван Петренко",
            text="Добрий день! Не працює інтернет, роутер блимає червоним 🙁",
            device="dongle0",
            at=AT,
        ),
        "SMS from 0501234567 via dongle0\nSubscriber: Іван Петренко (ivan)\n"
        "At 2024-05-01 14:03:07\n\n"
        "Добрий день! Не працює інтернет, роутер блимає червоним 🙁",
    ),
    (
        LinkNotice(link="AMI", up=False, detail="connection refused (127.0.0.1:5038)"),
        "AMI link is DOWN: connection refused (127.0.0.1:5038)",
    ),
    (LinkNotice(link="AMI", up=True, detail=""), "AMI link is up again"),
    (
        SmsFailedNotice(
            number="0501234567", text="Ваш баланс: 12 грн", reason="no dongle", message_id=17
        ),
        "SMS #17 to 0501234567 failed: no dongle\nText: Ваш баланс: 12 грн",
    ),
]


async def test_each_notice_goes_to_every_staff_chat_as_plain_text(
    make_notifier: MakeNotifier, fake: FakeTelegram
) -> None:
    notifier = await make_notifier()
    await notifier.start()
    for notice, _ in NOTICES:
        await notifier.notify(notice)
    await fake.wait_sent(2 * len(NOTICES))
    for chat in (STAFF, STAFF_GROUP):
        assert fake.sent_to(chat) == [payload(chat, text) for _, text in NOTICES]
    # Sent as a form, without parse_mode: no escaping needed, nothing interpreted.
    assert all(c.content_type != "application/json" for c in fake.calls_of("sendMessage"))


async def test_notices_before_start_wait_for_it(
    make_notifier: MakeNotifier, fake: FakeTelegram
) -> None:
    notifier = await make_notifier(staff_chats=[STAFF])
    await notifier.notify(missed())
    assert fake.sent == []
    await notifier.start()
    assert [p["chat_id"] for p in await fake.wait_sent(1)] == [str(STAFF)]


async def test_a_few_notices_go_out_one_by_one_in_order(
    make_notifier: MakeNotifier, fake: FakeTelegram, vtime: VirtualTime
) -> None:
    notifier = await make_notifier(staff_chats=[STAFF], max_messages_per_minute=5)
    await notifier.start()
    for i in range(5):
        await notifier.notify(missed(f"05012345{i:02d}"))
    sent = await fake.wait_sent(5)
    assert [p["text"].splitlines()[0] for p in sent] == [
        f"Missed call from 05012345{i:02d}" for i in range(5)
    ]
    assert vtime.sleeps == []


async def test_rate_limit_holds_the_next_message_until_the_minute_has_room(
    make_notifier: MakeNotifier, fake: FakeTelegram, vtime: VirtualTime
) -> None:
    notifier = await make_notifier(staff_chats=[STAFF], max_messages_per_minute=3)
    await notifier.start()
    for i in range(3):
        await notifier.notify(missed(f"05000000{i:02d}"))
    await fake.wait_sent(3)
    await notifier.notify(missed("0509999999"))
    sent = await fake.wait_sent(4)
    # Gathered for batch_window (10 s), then waited for the oldest send to be 60 s old;
    # alone in the queue, it still goes out as an ordinary message.
    assert vtime.sleeps == [10.0, 50.0]
    assert sent[3]["text"].startswith("Missed call from 0509999999\n")
    await notifier.stop()
    assert len(fake.sent) == 4


async def test_a_flood_becomes_one_summary_per_chat(
    make_notifier: MakeNotifier, fake: FakeTelegram, vtime: VirtualTime
) -> None:
    notifier = await make_notifier()
    await notifier.start()
    await notifier.notify(missed("0671112233", None))
    await fake.wait_sent(2)  # an ordinary notice first: one message per chat
    for i in range(500):
        await notifier.notify(missed(f"050{i:07d}", f"user{i}" if i % 2 == 0 else None))
    sent = await fake.wait_sent(4)
    await notifier.stop()
    assert len(fake.sent) == 4, "500 notices must not become more than one message per chat"
    for chat in (STAFF, STAFF_GROUP):
        first, summary = fake.sent_to(chat)
        assert first["text"].startswith("Missed call from 0671112233\n")
        text = summary["text"]
        assert text.startswith(
            "500 missed calls in the last 10 s: 0500000000 (user0), 0500000001, "
            "0500000002 (user2), "
        )
        assert text.endswith(", …")
        assert "\n" not in text
        assert utf16_len(text) <= 4096
        assert summary["link_preview_options"] == NO_PREVIEW
    assert vtime.sleeps == [10.0]
    assert sent[2]["text"] == sent[3]["text"]


async def test_a_mixed_flood_summarises_each_kind_on_its_own_line(
    make_notifier: MakeNotifier, fake: FakeTelegram
) -> None:
    notifier = await make_notifier(staff_chats=[STAFF], max_messages_per_minute=2)
    await notifier.notify(LinkNotice("AMI", False, "timeout"))
    for _ in range(3):
        await notifier.notify(missed())
    await notifier.notify(missed("0671112233", None))
    await notifier.notify(
        InboundSmsNotice("0501234567", "ivan", "Іван", "Коли\nпідключите?", "dongle0", AT)
    )
    await notifier.notify(LinkNotice("AMI", True, ""))
    await notifier.notify(SmsFailedNotice("0931234567", "Текст", "timeout", 9))
    await notifier.start()
    (summary,) = await fake.wait_sent(1)
    assert summary == payload(
        STAFF,
        "2 link changes in the last 10 s: AMI down (timeout), AMI up\n"
        "4 missed calls in the last 10 s: 0501234567 (ivan) ×3, 0671112233\n"
        "1 inbound SMS in the last 10 s: 0501234567 (ivan): «Коли підключите?»\n"
        "1 failed SMS in the last 10 s: #9 to 0931234567 (timeout)",
    )


async def test_a_flood_past_the_queue_limit_is_still_counted(
    make_notifier: MakeNotifier, fake: FakeTelegram
) -> None:
    notifier = await make_notifier(staff_chats=[STAFF])
    for i in range(MAX_PENDING + 500):
        await notifier.notify(missed(f"050{i:07d}", None))
    assert notifier.queued() == MAX_PENDING + 500
    await notifier.start()
    (summary,) = await fake.wait_sent(1)
    assert summary["text"].startswith(f"{MAX_PENDING + 500} missed calls in the last 10 s: ")
    await notifier.stop()
    assert notifier.queued() == 0


async def test_429_waits_the_retry_after_telegram_names(
    make_notifier: MakeNotifier, fake: FakeTelegram, vtime: VirtualTime
) -> None:
    fake.fail("sendMessage", 429, retry_after=7)
    notifier = await make_notifier(staff_chats=[STAFF])
    await notifier.start()
    await notifier.notify(missed())
    (sent,) = await fake.wait_sent(1)
    assert vtime.sleeps == [7.0]
    attempts = fake.calls_of("sendMessage")
    assert len(attempts) == 2
    assert attempts[0].params == attempts[1].params == sent


async def test_what_arrives_during_a_429_joins_the_retry_as_a_summary(
    make_notifier: MakeNotifier, fake: FakeTelegram, vtime: VirtualTime
) -> None:
    fake.fail("sendMessage", 429, retry_after=30)
    notifier = await make_notifier(staff_chats=[STAFF], max_messages_per_minute=3)
    await notifier.start()
    await notifier.notify(missed("0500000001"))
    await fake.wait_calls("sendMessage", 1)
    for i in range(2, 6):
        await notifier.notify(missed(f"050000000{i}"))
    (summary,) = await fake.wait_sent(1)
    assert summary["text"].startswith("5 missed calls in the last ")
    assert "0500000001 (ivan), 0500000002 (ivan)" in summary["text"]
    assert vtime.sleeps[0] == 30.0


async def test_server_errors_back_off_and_give_up_after_max_attempts(
    make_notifier: MakeNotifier,
    fake: FakeTelegram,
    vtime: VirtualTime,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    fake.fail("sendMessage", 500, times=MAX_ATTEMPTS)
    notifier = await make_notifier(staff_chats=[STAFF])
    await notifier.start()
    await notifier.notify(missed("0500000001"))
    await fake.wait_calls("sendMessage", MAX_ATTEMPTS)
    await notifier.notify(missed("0500000002"))
    (sent,) = await fake.wait_sent(1)
    assert sent["text"].startswith("Missed call from 0500000002\n")
    assert vtime.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert "dropped 1 notice(s) for chat 111" in debug_logs.text


async def test_a_dropped_connection_is_retried(
    make_notifier: MakeNotifier, fake: FakeTelegram, vtime: VirtualTime
) -> None:
    fake.fail("sendMessage", disconnect=True)
    notifier = await make_notifier(staff_chats=[STAFF])
    await notifier.start()
    await notifier.notify(missed())
    await fake.wait_sent(1)
    assert vtime.sleeps == [1.0]


async def test_a_chat_that_blocked_the_bot_is_dropped_and_paused_not_retried(
    make_notifier: MakeNotifier,
    fake: FakeTelegram,
    vtime: VirtualTime,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    fake.blocked_chats.add(STAFF_GROUP)
    notifier = await make_notifier()
    await notifier.start()
    await notifier.notify(missed())
    await fake.wait_calls("sendMessage", 2)
    await notifier.notify(missed("0671112233"))
    await fake.wait_calls("sendMessage", 4)
    await notifier.stop()  # lets the send in flight finish: its log lines are written
    assert [p["chat_id"] for p in fake.sent] == [str(STAFF), str(STAFF)]
    # Each 403 drops the notice; the next one waits out the pause instead of knocking at once.
    assert vtime.sleeps == [300.0]
    assert debug_logs.text.count("chat -100222 refuses the bot") == 2
    assert debug_logs.text.count("dropped 1 notice(s) for chat -100222") == 2


async def test_stop_flushes_what_is_queued_as_one_summary(
    make_notifier: MakeNotifier, fake: FakeTelegram
) -> None:
    notifier = await make_notifier(staff_chats=[STAFF], max_messages_per_minute=2)
    for i in range(3):
        await notifier.notify(missed(f"050000000{i}"))
    await notifier.stop()
    (summary,) = fake.sent
    assert summary["text"].startswith("3 missed calls in the last 1 s: ")
    await notifier.notify(missed())  # after stop: dropped quietly
    assert notifier.queued() == 0


async def test_stop_is_bounded_when_telegram_does_not_answer(
    fake: FakeTelegram, vtime: VirtualTime, debug_logs: pytest.LogCaptureFixture
) -> None:
    from notify.notifier import StaffNotifier
    from notify.service import create_bot
    from tests.notify.conftest import make_settings

    fake.fail("sendMessage", stall=True)
    settings = make_settings(fake, staff_chats=[STAFF])
    bot = create_bot(settings)
    notifier = StaffNotifier(settings, bot, clock=vtime.clock, stop_timeout=0.2)
    await notifier.start()
    await notifier.notify(missed())
    await fake.wait_calls("sendMessage", 1)
    await notifier.stop()
    await bot.session.close()
    assert "gave up" in debug_logs.text
    assert "1 notice(s) not sent at shutdown" in debug_logs.text


async def test_notify_never_raises(make_notifier: MakeNotifier, fake: FakeTelegram) -> None:
    notifier = await make_notifier(staff_chats=[STAFF])
    await notifier.notify("not a notice")  # type: ignore[arg-type]
    assert notifier.queued() == 0


async def test_the_token_never_reaches_the_log(
    make_notifier: MakeNotifier,
    fake: FakeTelegram,
    vtime: VirtualTime,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    for failure in (
        {"status": 429, "retry_after": 1},
        {"status": 500},
        {"disconnect": True},
        {"status": 400, "description": "Bad Request: chat not found"},
    ):
        fake.fail("sendMessage", **failure)
    fake.blocked_chats.add(STAFF_GROUP)
    notifier = await make_notifier()
    await notifier.start()
    await notifier.notify(missed())
    await notifier.notify(LinkNotice("AMI", False, "refused"))
    await fake.wait_sent(1)
    await notifier.stop()
    # A wrong token (401) and an address aiohttp refuses (its error quotes the whole URL).
    for api_server in (fake.url, "http://127.0.0.1:99999"):
        other = await make_notifier(
            staff_chats=[STAFF], token=f"{fake.bot_id}:AAwrongToken_xyz", api_server=api_server
        )
        await other.notify(missed())
        await other.stop()
    assert "401" in debug_logs.text
    assert "InvalidUrlClientError" in debug_logs.text or "InvalidURL" in debug_logs.text
    secrets = (fake.token, fake.token.partition(":")[2], "AAwrongToken_xyz")
    for record in debug_logs.records:
        rendered = logging.Formatter().format(record)
        for secret in secrets:
            assert secret not in rendered, rendered
