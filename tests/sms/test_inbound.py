"""Inbound SMS from hand-made chan_dongle/chan_quectel AMI streams, through the framer,
into the inbox: every event kind, deduplication, multipart, sender lookup, auto-replies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from sms.inbox import GAP, Inbox
from sms.models import InboxRow, OutboxRow
from sms.types import InboundSms, OutboxState
from tests.sms.conftest import MakeRig, Rig, fixtures, frame, stream

TEXTS = fixtures()["texts"]


async def inbox_rows(rig: Rig) -> list[InboxRow]:
    async with rig.db.sessions() as session:
        return list(await session.scalars(select(InboxRow).order_by(InboxRow.id)))


async def outbox_rows(rig: Rig) -> list[OutboxRow]:
    async with rig.db.sessions() as session:
        return list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


# Framing of the hand-made streams


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_streams_frame_into_their_events(chunk: int | None) -> None:
    names = [m.name for m in frame(stream("dongle_single_sms"), chunk)]
    assert names == ["DongleNewCMGR", "DongleNewSMS", "DongleNewSMSBase64"]
    lines = frame(stream("dongle_lines_only") + stream("dongle_base64_only"), chunk)
    # DongleNewSMS's extra CRLF is a stray blank line, not an empty message.
    assert [m.name for m in lines] == ["DongleNewSMS", "DongleNewSMSBase64"]
    assert lines[0]["LineCount"] == "2"
    assert lines[0]["MessageLine1"] == "другий рядок"
    quectel = frame(stream("quectel_multipart_reassembled"), chunk)
    assert [m.name for m in quectel] == [
        "QuectelNewCMGR",
        "QuectelNewCMGR",
        "QuectelNewSMS",
        "QuectelNewSMSBase64",
    ]


# One SMS, every event kind


async def test_cmgr_lines_and_base64_of_one_sms_store_one_exact_row(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.feed(stream("dongle_single_sms"))
    await rig.feed(stream("quectel_single_sms"))
    rows = await inbox_rows(rig)
    assert [r.device for r in rows] == ["dongle0", "quectel0"]
    for row in rows:
        # NewSMS came first (empty line lost); NewSMSBase64 then gave the exact text.
        assert row.text == TEXTS["single"]
        assert "\n\n" in row.text
        assert "\\" in row.text
        assert row.source == "base64"
        assert row.duplicates == 1
        assert row.sender == "+380501110001"
        assert row.parts == 1


async def test_base64_and_message_lines_events(make_rig: MakeRig) -> None:
    rig = make_rig(auto_reply={"enabled": False})
    await rig.feed(stream("dongle_base64_only"))
    await rig.feed(stream("quectel_base64_only"))
    await rig.feed(stream("dongle_lines_only"), chunk=5)
    await rig.feed(stream("quectel_lines_only"), chunk=5)
    rows = await inbox_rows(rig)
    lines = "перший рядок\nдругий рядок"
    assert [(r.device, r.sender, r.text, r.source, r.driver) for r in rows] == [
        ("dongle1", "+380501110002", "balance", "base64", "dongle"),
        ("quectel0", "+380501110002", "balance", "base64", "quectel"),
        ("dongle0", "+380501110003", lines, "lines", "dongle"),
        ("quectel0", "+380501110003", lines, "lines", "quectel"),
    ]


# Deduplication


async def test_duplicates_within_the_window_are_stored_once(make_rig: MakeRig) -> None:
    rig = make_rig(dedupe_window=120)
    await rig.feed(stream("dongle_base64_only"))
    rig.advance(119)
    await rig.feed(stream("dongle_base64_only"))
    assert len(await inbox_rows(rig)) == 1
    rig.advance(2)  # 121 s after the first row: a new row (the window is the first's)
    await rig.feed(stream("dongle_base64_only"))
    assert len(await inbox_rows(rig)) == 2
    other_device = InboundSms("dongle9", "+380501110002", "balance", "agi")
    assert (await rig.inbox.receive(other_device)) is not None
    rows = await inbox_rows(rig)
    assert [(r.device, r.duplicates) for r in rows] == [
        ("dongle1", 1),
        ("dongle1", 0),
        ("dongle9", 0),
    ]


async def test_duplicate_returns_the_first_row(make_rig: MakeRig) -> None:
    rig = make_rig()
    first = await rig.inbox.receive(InboundSms("dongle0", "0501110009", "Привіт", "agi"))
    again = await rig.inbox.receive(InboundSms("dongle0", "+380501110009", "Привіт", "base64"))
    assert first is not None
    assert again is not None
    assert not first.duplicate
    assert again.duplicate
    assert again.id == first.id
    assert first.sender == "+380501110009"  # normalised, so both spellings match


# Multipart


async def test_bg111_parts_are_reassembled_and_their_events_dropped(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.feed(stream("bg111_multipart_ucs2"))
    (row,) = await inbox_rows(rig)
    assert row.text == TEXTS["ucs2_part1"] + TEXTS["ucs2_part2"]
    assert (row.source, row.parts, row.parts_missing) == ("reassembled", 2, 0)


async def test_gsm7_parts_out_of_order(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.feed(stream("bg111_multipart_gsm7_reversed"))
    (row,) = await inbox_rows(rig)
    assert row.text == TEXTS["gsm7_part1"] + TEXTS["gsm7_part2"]
    assert row.sender == "+380501110002"


async def test_fork_that_reassembles_itself_stores_one_row(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.feed(stream("quectel_multipart_reassembled"))
    (row,) = await inbox_rows(rig)
    assert row.text == TEXTS["ucs2_part1"] + TEXTS["ucs2_part2"]
    assert row.duplicates == 2  # QuectelNewSMS and QuectelNewSMSBase64 of the whole text
    assert row.driver == "quectel"  # from the QuectelNewCMGR that completed the parts


async def test_missing_parts_are_stored_after_the_window(make_rig: MakeRig) -> None:
    rig = make_rig(multipart_window=60)
    await rig.feed(stream("bg111_multipart_first_part_only"))
    assert await inbox_rows(rig) == []
    rig.advance(30)
    assert await rig.inbox.flush_expired() == []
    rig.advance(31)
    # A restarted process (a new Inbox) finds the held part and stores what arrived.
    restarted = Inbox(rig.db.sessions, rig.clock, rig.billing, rig.settings)
    await restarted.start()
    await restarted.stop()
    (row,) = await inbox_rows(rig)
    assert row.text == TEXTS["ucs2_part1"] + GAP + GAP
    assert (row.parts, row.parts_missing) == (3, 2)


async def test_part_repeated_is_held_once(make_rig: MakeRig) -> None:
    rig = make_rig()
    data = stream("bg111_multipart_first_part_only")
    await rig.feed(data)
    await rig.feed(data)
    async with rig.db.sessions() as session:
        from sms.models import InboxPartRow

        assert await session.scalar(select(func.count()).select_from(InboxPartRow)) == 1


# Sender lookup, auto-replies, on_stored


async def test_sender_resolved_through_the_billing(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.add_subscriber("ivan", "050 111 00 02")
    await rig.feed(stream("dongle_base64_only"))
    await rig.inbox.receive(InboundSms("dongle0", "Kyivstar", "Ваш бонус", "base64"))
    await rig.inbox.receive(InboundSms("dongle0", "+380671234567", "Хто це?", "base64"))
    await rig.inbox.drain()
    rows = await inbox_rows(rig)
    assert [(r.sender, r.login, r.name, r.lookup, r.stage) for r in rows] == [
        ("+380501110002", "ivan", "Іван Петренко", "found", "done"),
        ("Kyivstar", None, None, "none", "done"),
        ("+380671234567", None, None, "notfound", "done"),
    ]
    assert [s.login for s in rig.stored] == ["ivan", None, None]


async def test_balance_command_gets_a_reply_through_the_same_device(make_rig: MakeRig) -> None:
    rig = make_rig()
    commands = ["BALANCE", "balance", "баланс", " Баланс! ", "БАЛАНС"]
    for i, command in enumerate(commands):
        phone = f"050111000{i}"
        await rig.add_subscriber(f"user{i}", phone, balance=Decimal("150.00"), fee=Decimal("300"))
        await rig.inbox.receive(InboundSms(f"dongle{i}", phone, command, "base64"))
    await rig.inbox.drain()
    # Follow-ups run concurrently: replies are queued in any order.
    replies = sorted(await outbox_rows(rig), key=lambda r: r.reply_to or 0)
    rows = await inbox_rows(rig)
    assert len(replies) == len(commands)
    for i, (row, reply) in enumerate(zip(rows, replies, strict=True)):
        assert (reply.number, reply.device, reply.transport) == (
            f"+38050111000{i}",
            f"dongle{i}",
            "dongle",
        )
        assert reply.text == "Баланс: 150.00 грн. Залишилось днів: 15."
        assert reply.state == OutboxState.QUEUED
        assert reply.actor == "sms:auto-reply"
        assert reply.reply_to == row.id
        assert row.reply_id == reply.id


async def test_no_reply_to_unknown_senders_or_other_texts(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.add_subscriber("ivan", "0501110002")
    await rig.inbox.receive(InboundSms("dongle0", "0501119999", "BALANCE", "base64"))
    await rig.inbox.receive(InboundSms("dongle0", "0501110002", "balance please", "base64"))
    await rig.inbox.receive(InboundSms("dongle0", "Kyivstar", "БАЛАНС", "base64"))
    await rig.inbox.drain()
    assert await outbox_rows(rig) == []
    assert len(await inbox_rows(rig)) == 3


async def test_auto_reply_can_be_switched_off(make_rig: MakeRig) -> None:
    rig = make_rig(auto_reply={"enabled": False})
    await rig.add_subscriber("ivan", "0501110002")
    await rig.inbox.receive(InboundSms("dongle0", "0501110002", "BALANCE", "base64"))
    await rig.inbox.drain()
    assert await outbox_rows(rig) == []


async def test_reply_without_days_left(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.add_subscriber("ivan", "0501110002", fee=Decimal("0"))
    await rig.inbox.receive(InboundSms("dongle0", "0501110002", "balance", "base64"))
    await rig.inbox.drain()
    (reply,) = await outbox_rows(rig)
    assert reply.text == "Баланс: 150.00 грн."


async def test_a_crash_before_the_follow_up_is_finished_at_start_up(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.add_subscriber("ivan", "0501110002")
    now = rig.clock.now()
    async with rig.db.sessions.begin() as session:  # what a process killed after the store left
        session.add(
            InboxRow(
                received_at=now,
                device="dongle0",
                sender="+380501110002",
                sender_raw="0501110002",
                text="BALANCE",
                text_key="x",
                source="base64",
                parts=1,
                parts_missing=0,
                duplicates=0,
                lookup="pending",
                stage="stored",
            )
        )
    rig.advance(10)
    await rig.inbox.start()
    await rig.inbox.recover()  # twice: still one reply (the row is `done` in the same commit)
    await rig.inbox.stop()
    (reply,) = await outbox_rows(rig)
    assert reply.number == "+380501110002"
    (row,) = await inbox_rows(rig)
    assert (row.stage, row.login, row.reply_id) == ("done", "ivan", reply.id)
    assert [s.id for s in rig.stored] == [row.id]


async def test_old_commands_get_no_reply_after_a_restart(make_rig: MakeRig) -> None:
    rig = make_rig(auto_reply={"max_age": 60})
    await rig.add_subscriber("ivan", "0501110002")
    async with rig.db.sessions.begin() as session:
        session.add(
            InboxRow(
                received_at=rig.clock.now(),
                device="dongle0",
                sender="+380501110002",
                sender_raw="0501110002",
                text="BALANCE",
                text_key="x",
                source="base64",
                parts=1,
                parts_missing=0,
                duplicates=0,
                lookup="pending",
                stage="stored",
            )
        )
    rig.advance(61)
    await rig.inbox.start()
    await rig.inbox.stop()
    assert await outbox_rows(rig) == []
    (row,) = await inbox_rows(rig)
    assert (row.stage, row.login) == ("done", "ivan")
