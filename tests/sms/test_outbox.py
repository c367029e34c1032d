"""The outbox with the real AmiClient against the fake AMI server: one transmission per
message, retries only when nothing was sent, `unknown` after a crash, reports."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text as sql

from ami_listener import AmiClient, AmiHealth, AmiMessage, AmiSettings
from sms.errors import SmsRefused
from sms.outbox import Outbox
from sms.settings import SmsSettings
from sms.transports import (
    Ready,
    SendOutcome,
    SmsTransport,
    build_transport,
    pjsip_body_limit,
)
from sms.types import InboundSms, OutboxMessage, OutboxState
from tests.fakes.ami_asterisk import FakeAmi, error, success
from tests.sms.conftest import MakeRig, Rig, eventually, stream

SECRET = "sms-test-secret"


@dataclass
class Ami:
    fake: FakeAmi
    client: AmiClient

    def transport(self, settings: SmsSettings) -> SmsTransport:
        client = self.client
        return build_transport(settings, client, ready=lambda: client.health is AmiHealth.CONNECTED)

    def sends(self, name: str = "DongleSendSMS") -> list[AmiMessage]:
        return self.fake.actions_named(name)

    async def connected(self) -> None:
        await eventually(lambda: self.client.health is AmiHealth.CONNECTED)


@pytest.fixture
async def ami() -> AsyncIterator[Ami]:
    fake = FakeAmi(secret=SECRET, dongle=True)
    await fake.start()
    client = AmiClient(
        AmiSettings(
            host="127.0.0.1",
            port=fake.port,
            secret=SECRET,
            connect_timeout=2.0,
            action_timeout=2.0,
            ping_interval=30.0,
            backoff_initial=0.02,
            backoff_max=0.1,
        )
    )
    await client.start()
    result = Ami(fake, client)
    await result.connected()
    yield result
    await client.stop()
    await fake.stop()


async def settled(rig: Rig, within: float = 5.0) -> None:
    """Wait until no message of the outbox is queued or being sent."""
    busy = {OutboxState.QUEUED, OutboxState.SENDING}
    async with asyncio.timeout(within):
        while any(m.state in busy for m in await rig.outbox.list(100)):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def rig_for(make_rig: MakeRig, ami: Ami, **values: Any) -> Rig:
    settings = SmsSettings(**values)
    return make_rig(ami.transport(settings), **values)


def rig_for_outbox(make_rig: MakeRig, ami: Ami, ready: Ready, **values: Any) -> Rig:
    return make_rig(ami.transport(SmsSettings(**values)), ready=ready, **values)


async def message(rig: Rig, message_id: int) -> OutboxMessage:
    found = await rig.outbox.get(message_id)
    assert found is not None
    return found


async def test_dongle_send_is_written_once_c_escaped_with_its_payload(
    make_rig: MakeRig, ami: Ami
) -> None:
    rig = rig_for(make_rig, ami)
    text = "Рядок 1\nРядок 2 \\ кінець"
    message_id = await rig.outbox.queue("050 111 00 01", text, actor="test")
    assert await rig.outbox.run_once()
    assert not await rig.outbox.run_once()
    (sent,) = ami.sends()
    key = f"pbxbridge-sms-{message_id}-1"
    assert sent["Device"] == "dongle0"
    assert sent["Number"] == "+380501110001"
    assert sent["Message"] == "Рядок 1\\nРядок 2 \\\\ кінець"
    assert sent["Payload"] == key
    assert sent.action_id == key
    assert sent["Report"] == "yes"
    assert b"Message: \xd0\xa0\xd1\x8f\xd0\xb4\xd0\xbe\xd0\xba 1\\n" in ami.fake.raw_actions[-1]
    result = await message(rig, message_id)
    assert (result.state, result.attempts, result.action_id) == (OutboxState.SENT, 1, key)
    assert result.modem_id is not None
    assert result.modem_id.startswith("0x")  # bg111's ID line, kept for DongleSMSStatus
    assert [(m.id, m.state) for m in rig.finals] == [(message_id, OutboxState.SENT)]


async def test_state_is_committed_as_sending_before_the_action_is_written(
    make_rig: MakeRig, ami: Ami
) -> None:
    rig = rig_for(make_rig, ami)
    seen: list[tuple[str, int, str | None]] = []

    async def responder(action: AmiMessage) -> dict[str, str]:
        # Another session, as another process would see it, while the action is in flight.
        row = await rig.outbox.get(message_id)
        assert row is not None
        seen.append((row.state.value, row.attempts, row.action_id))
        return success(Message="[dongle0] SMS queued for send", ID="0x1")

    ami.fake.on_action("DongleSendSMS", responder)
    message_id = await rig.outbox.queue("0501110001", "hi", actor="test")
    await rig.outbox.run_once()
    assert seen == [("sending", 1, f"pbxbridge-sms-{message_id}-1")]


async def test_an_outage_of_any_length_costs_no_attempt(make_rig: MakeRig, ami: Ami) -> None:
    """While the link is down the worker claims nothing; the message goes out, as its first
    attempt, once Asterisk is back."""
    client = ami.client
    rig = rig_for_outbox(make_rig, ami, lambda: client.health is AmiHealth.CONNECTED)
    await ami.fake.stop()  # Asterisk gone: the client keeps failing to reconnect
    await eventually(lambda: client.health is AmiHealth.RECONNECTING)
    message_id = await rig.outbox.queue("0501110001", "Привіт", actor="test")
    for _ in range(rig.settings.max_attempts + 3):
        assert not await rig.outbox.run_once()
        rig.advance(3600)
    waiting = await message(rig, message_id)
    assert (waiting.state, waiting.attempts, waiting.last_error) == (OutboxState.QUEUED, 0, "")

    await ami.fake.start()  # same port
    await ami.connected()
    assert await rig.outbox.run_once()
    (sent,) = ami.sends()
    assert sent.action_id == f"pbxbridge-sms-{message_id}-1"
    assert (await message(rig, message_id)).state == OutboxState.SENT
    assert rig.finals[0].state == OutboxState.SENT


async def test_link_lost_before_writing_requeues_without_counting(
    make_rig: MakeRig, ami: Ami
) -> None:
    """The link drops between the check and the write (AmiNotSent): nothing went out, so
    the message is queued again a poll later and the attempt does not count."""
    rig = rig_for(make_rig, ami, max_attempts=2, poll_interval=5)
    await ami.fake.stop()
    await eventually(lambda: ami.client.health is AmiHealth.RECONNECTING)
    message_id = await rig.outbox.queue("0501110001", "Привіт", actor="test")
    for _ in range(4):
        assert await rig.outbox.run_once()  # the transport's own check says offline
        waiting = await message(rig, message_id)
        assert (waiting.state, waiting.attempts) == (OutboxState.QUEUED, 0)
        assert waiting.next_attempt_at == rig.clock.now() + timedelta(seconds=5)
        assert "not connected" in waiting.last_error
        assert not await rig.outbox.run_once()  # not due yet
        rig.advance(5)
    assert rig.finals == []
    await ami.fake.start()
    await ami.connected()
    assert await rig.outbox.run_once()
    (sent,) = ami.sends()
    assert sent.action_id == f"pbxbridge-sms-{message_id}-1"


async def test_refusals_retry_only_what_can_work(make_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_rig, ami, max_attempts=3, retry_backoff=10)
    ami.fake.fail_action("DongleSendSMS", "[dongle0] Device not connected")
    busy = await rig.outbox.queue("0501110001", "one", actor="test")
    for _ in range(3):
        assert await rig.outbox.run_once()
        rig.advance(100)
    gave_up = await message(rig, busy)
    assert (gave_up.state, gave_up.attempts) == (OutboxState.FAILED, 3)
    assert "Device not connected" in gave_up.last_error

    ami.fake.fail_action("DongleSendSMS", "[dongle0] Invalid destination number")
    bad = await rig.outbox.queue("0501110002", "two", actor="test")
    assert await rig.outbox.run_once()
    refused = await message(rig, bad)
    assert (refused.state, refused.attempts) == (OutboxState.FAILED, 1)
    assert len(ami.sends()) == 4
    assert [m.state for m in rig.finals] == [OutboxState.FAILED, OutboxState.FAILED]


async def test_no_response_makes_it_unknown_and_it_is_never_resent(
    make_rig: MakeRig, ami: Ami
) -> None:
    rig = rig_for(make_rig, ami, action_timeout=0.3)
    ami.fake.on_action("DongleSendSMS", None)
    message_id = await rig.outbox.queue("0501110001", "hello", actor="test")
    assert await rig.outbox.run_once()
    lost = await message(rig, message_id)
    assert lost.state == OutboxState.UNKNOWN
    assert "may have been sent" in lost.last_error
    rig.advance(3600)
    assert not await rig.outbox.run_once()
    assert len(ami.sends()) == 1
    assert [m.state for m in rig.finals] == [OutboxState.UNKNOWN]


async def test_crash_between_sending_and_the_response_gives_unknown_after_restart(
    make_rig: MakeRig, ami: Ami
) -> None:
    first = rig_for(make_rig, ami, action_timeout=30)
    ami.fake.on_action("DongleSendSMS", None)  # the answer never comes before the "crash"
    message_id = await first.outbox.queue("0501110001", "Оплатіть, будь ласка", actor="test")
    in_flight = asyncio.create_task(first.outbox.run_once())
    await ami.fake.wait_for_action("DongleSendSMS")
    in_flight.cancel()  # the process dies here: no response recorded
    with pytest.raises(asyncio.CancelledError):
        await in_flight
    assert (await message(first, message_id)).state == OutboxState.SENDING

    # A new process on the same database.
    settings = SmsSettings(action_timeout=30, poll_interval=0.05)
    finals: list[OutboxMessage] = []

    async def on_final(item: OutboxMessage) -> None:
        finals.append(item)

    second = Outbox(first.db.sessions, first.clock, ami.transport(settings), settings, on_final)
    recovered = await second.start()
    try:
        assert [(m.id, m.state) for m in recovered] == [(message_id, OutboxState.UNKNOWN)]
        assert [(m.id, m.state) for m in finals] == [(message_id, OutboxState.UNKNOWN)]
        assert "may or may not have gone out" in finals[0].last_error
        first.advance(3600)
        # what the worker does at each poll: an hour on, nothing is due (never resent)
        assert await second.run_once() is False
    finally:
        await second.stop()
    assert len(ami.sends()) == 1
    assert (await message(first, message_id)).state == OutboxState.UNKNOWN

    # Staff judge it lost: a copy, a new message with its own key.
    ami.fake.on_action(
        "DongleSendSMS", lambda a: success(Message="[dongle0] SMS queued for send", ID="0x2")
    )
    copy_id = await first.outbox.requeue(message_id, actor="staff")
    assert await first.outbox.run_once()
    assert [s.action_id for s in ami.sends()][-1] == f"pbxbridge-sms-{copy_id}-1"
    with pytest.raises(SmsRefused, match="only failed or unknown"):
        await first.outbox.requeue(copy_id, actor="staff")


async def test_worker_sends_what_is_queued(make_sqlite_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_sqlite_rig, ami, poll_interval=0.05)
    await rig.outbox.start()
    try:
        ids = [await rig.outbox.queue(f"050111000{i}", f"msg {i}", actor="test") for i in range(3)]
        await eventually(lambda: len(ami.sends()) == 3)
        await eventually(lambda: len(rig.finals) == 3)
    finally:
        await rig.outbox.stop()
    assert [s["Number"] for s in ami.sends()] == [f"+38050111000{i}" for i in range(3)]
    assert {m.id for m in rig.finals} == set(ids)


async def test_quectel_transport(make_sqlite_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_sqlite_rig, ami, transport="quectel", device="quectel0", report=False)
    ami.fake.on_action(
        "QuectelSendSMS", lambda a: success(Message="[quectel0] SMS queued for send")
    )
    message_id = await rig.outbox.queue("0501110001", "a\nb", actor="test")
    await rig.outbox.run_once()
    (sent,) = ami.sends("QuectelSendSMS")
    assert (sent["Device"], sent["Message"], sent["Report"]) == ("quectel0", "a\\nb", "no")
    assert sent["Payload"] == f"pbxbridge-sms-{message_id}-1"
    assert (await message(rig, message_id)).state == OutboxState.SENT


def test_transport_override(make_sqlite_rig: MakeRig) -> None:
    outbox = make_sqlite_rig(transport="dongle").outbox

    def chosen(device: str | None, transport: Any) -> tuple[str, str]:
        _, how, dev, _, _ = outbox.prepare(
            "0501110001", "x", device=device, transliterate=None, transport=transport
        )
        return how, dev

    assert chosen("quectel1", "quectel") == ("quectel", "quectel1")
    assert chosen("dongle2", None) == ("dongle", "dongle2")  # [sms] transport
    assert chosen("pjsip:trunk1", "quectel") == ("pjsip", "pjsip:trunk1")
    with pytest.raises(SmsRefused, match="unknown transport"):
        chosen("quectel1", "sip")


async def test_pjsip_message_send_with_base64_body(make_sqlite_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(
        make_sqlite_rig,
        ami,
        transport="pjsip",
        pjsip_from="sip:pbxbridge@pbx.example.net",
        pjsip_endpoint="pjsip:{number}",
    )
    ami.fake.on_action("MessageSend", lambda a: success(Message="Message successfully sent"))
    text = "Привіт,\nсвіт!"
    message_id = await rig.outbox.queue("100", text, actor="test")
    await rig.outbox.run_once()
    (sent,) = ami.sends("MessageSend")
    assert sent["Destination"] == "pjsip:100"
    assert sent["From"] == "sip:pbxbridge@pbx.example.net"
    assert base64.b64decode(sent["Base64Body"]).decode("utf-8") == text
    assert sent.get("Body") is None
    assert (await message(rig, message_id)).state == OutboxState.SENT


async def test_reply_to_a_sip_message_goes_back_by_message_send(
    make_sqlite_rig: MakeRig, ami: Ami
) -> None:
    rig = rig_for(
        make_sqlite_rig, ami, pjsip_endpoint="pjsip:{device}/sip:{number}@sms.example.net"
    )
    ami.fake.on_action("MessageSend", lambda a: error("Message failed to send."))
    message_id = await rig.outbox.queue("0501110001", "ok", device="pjsip:trunk1", actor="test")
    await rig.outbox.run_once()
    (sent,) = ami.sends("MessageSend")
    assert sent["Destination"] == "pjsip:trunk1/sip:+380501110001@sms.example.net"
    retry = await message(rig, message_id)
    assert (retry.transport, retry.state) == ("pjsip", OutboxState.QUEUED)
    assert ami.sends() == []


async def test_message_send_size_rules(make_sqlite_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_sqlite_rig, ami, transport="pjsip")
    ami.fake.on_action("MessageSend", lambda a: success(Message="Message successfully sent"))
    limit = pjsip_body_limit()
    assert limit == 756  # under Asterisk's 1300: the 1024-byte AMI line comes first
    with pytest.raises(SmsRefused, match="1300"):
        await rig.outbox.queue("100", "ж" * 700, actor="test")  # 1400 bytes
    with pytest.raises(SmsRefused, match=f"at most {limit}"):
        await rig.outbox.queue("100", "ж" * 379, actor="test")  # 758 bytes
    message_id = await rig.outbox.queue("100", "ж" * 378, actor="test")  # exactly 756
    await rig.outbox.run_once()
    (sent,) = ami.sends("MessageSend")
    assert base64.b64decode(sent["Base64Body"]).decode() == "ж" * 378
    assert (await message(rig, message_id)).state == OutboxState.SENT


async def test_split_for_single_pdu_modems(make_sqlite_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_sqlite_rig, ami, split_single_pdu=True)
    long_cyrillic = " ".join(["повідомлення"] * 12)  # 155 characters
    first = await rig.outbox.queue("0501110001", long_cyrillic, actor="test")
    parts = await rig.outbox.group(first)
    assert [p.part_no for p in parts] == [1, 2, 3]
    assert {p.part_count for p in parts} == {3}
    assert all(len(p.text) <= 67 for p in parts)
    assert "".join(p.text for p in parts) == long_cyrillic
    one = await rig.outbox.queue("0501110001", "ж" * 70, actor="test")
    assert len(await rig.outbox.group(one)) == 1
    latin = await rig.outbox.queue("0501110001", "x" * 200, actor="test")
    assert [len(p.text) for p in await rig.outbox.group(latin)] == [153, 47]
    while await rig.outbox.run_once():
        pass
    assert len(ami.sends()) == 6
    unsplit = rig_for(make_sqlite_rig, ami)
    whole = await unsplit.outbox.queue("0501110001", long_cyrillic, actor="test")
    assert len(await unsplit.outbox.group(whole)) == 1


async def test_transliteration_per_message(make_sqlite_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_sqlite_rig, ami)
    plain = await rig.outbox.queue("0501110001", "Щиро дякуємо, Юлія!", actor="test")
    latin = await rig.outbox.queue(
        "0501110001", "Щиро дякуємо, Юлія!", transliterate=True, actor="test"
    )
    assert (await message(rig, plain)).text == "Щиро дякуємо, Юлія!"
    translit = await message(rig, latin)
    assert translit.text == "Shchyro diakuiemo, Yuliia!"
    assert translit.transliterated
    by_default = rig_for(make_sqlite_rig, ami, transliterate=True)
    kept = await by_default.outbox.queue("0501110001", "Ой", transliterate=False, actor="t")
    assert (await message(by_default, kept)).text == "Ой"


async def test_bad_messages_are_refused_when_queued(make_sqlite_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_sqlite_rig, ami)
    for number, text, device in [
        ("hello", "text", None),
        ("0501110001", "   ", None),
        ("0501110001", "text", "dongle\r\n0"),
        ("0501110001", "ж" * 600, None),  # over one AMI header line
    ]:
        with pytest.raises(SmsRefused):
            await rig.outbox.queue(number, text, device=device, actor="test")
    with pytest.raises(SmsRefused, match="actor"):
        await rig.outbox.queue("0501110001", "text", actor=" ")
    assert await rig.outbox.list() == []


# Delivery reports


async def test_reports_by_payload_update_the_message(make_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_rig, ami)
    ami.client.add_consumer(rig.outbox)
    delivered = await rig.outbox.queue("0501110001", "one", actor="test")
    failed = await rig.outbox.queue("0501110002", "two", actor="test")
    while await rig.outbox.run_once():
        pass
    for name, message_id in (
        ("dongle_report_delivered", delivered),
        ("dongle_report_failed", failed),
    ):
        payload = f"pbxbridge-sms-{message_id}-1"
        await ami.fake.send_raw(stream(name, device="dongle0", payload=payload))
    await ami.fake.send_raw(stream("dongle_report_sent", device="dongle0", payload="other-app-7"))
    await eventually(lambda: len(rig.finals) == 4)
    assert (await message(rig, delivered)).state == OutboxState.DELIVERED
    refused = await message(rig, failed)
    assert refused.state == OutboxState.FAILED
    assert "065" in refused.last_error


async def test_late_report_settles_an_unknown_message(make_rig: MakeRig, ami: Ami) -> None:
    rig = rig_for(make_rig, ami, action_timeout=0.2, transport="quectel", device="quectel0")
    ami.client.add_consumer(rig.outbox)
    ami.fake.on_action("QuectelSendSMS", None)
    message_id = await rig.outbox.queue("0501110001", "one", actor="test")
    await rig.outbox.run_once()
    assert (await message(rig, message_id)).state == OutboxState.UNKNOWN
    payload = f"pbxbridge-sms-{message_id}-1"
    await ami.fake.send_raw(stream("quectel_report_delivered", device="quectel0", payload=payload))
    await eventually(lambda: rig.finals[-1].state == OutboxState.DELIVERED)


async def test_bg111_status_by_id_even_before_the_response_is_recorded(
    make_rig: MakeRig, ami: Ami
) -> None:
    rig = rig_for(make_rig, ami)
    ami.client.add_consumer(rig.outbox)
    sent_id = await rig.outbox.queue("0501110001", "one", actor="test")
    await rig.outbox.run_once()
    modem_id = (await message(rig, sent_id)).modem_id
    assert modem_id is not None
    await ami.fake.send_raw(
        stream("bg111_sms_status", device="dongle0", id=modem_id, status="NotSent")
    )
    await eventually(lambda: rig.finals[-1].state == OutboxState.FAILED)

    # The status overtakes the worker: it is held until the ID is known.
    early_id = await rig.outbox.queue("0501110002", "two", actor="test")
    claimed = await rig.outbox.claim()
    assert claimed is not None
    event = AmiMessage(
        (("Event", "DongleSMSStatus"), ("Device", "dongle0"), ("ID", "0xfeed"), ("Status", "Sent"))
    )
    await rig.outbox.on_ami_event(event)
    assert (await message(rig, early_id)).state == OutboxState.SENDING
    await rig.outbox.settle(claimed, SendOutcome("accepted", "queued", modem_id="0xfeed"))
    assert (await message(rig, early_id)).state == OutboxState.SENT


# The whole loop


async def test_balance_command_answered_through_the_device_it_came_in_on(
    make_rig: MakeRig, ami: Ami
) -> None:
    rig = rig_for(make_rig, ami, poll_interval=0.05)
    await rig.add_subscriber("ivan", "0501110002")
    ami.client.add_consumer(rig.inbox)
    ami.client.add_consumer(rig.outbox)
    await rig.outbox.start()
    await rig.inbox.start()
    try:
        await ami.fake.send_raw(stream("dongle_base64_only"))  # "balance" on dongle1
        await eventually(lambda: len(ami.sends()) == 1)
        await rig.inbox.receive(InboundSms("dongle0", "0501119999", "balance", "base64"))
        await rig.inbox.drain()
        # the unknown sender's follow-up is over and queued nothing: the outbox holds
        # only the reply already sent
        assert [m.number for m in await rig.outbox.list(10)] == ["+380501110002"]
    finally:
        await rig.inbox.stop()
        await rig.outbox.stop()
    (sent,) = ami.sends()  # the unknown sender got nothing
    assert (sent["Device"], sent["Number"]) == ("dongle1", "+380501110002")
    assert sent["Message"] == "Баланс: 150.00 грн. Залишилось днів: 15."
    assert [s.login for s in rig.stored] == ["ivan", None]


async def test_quectel_sms_answered_by_quectel_send_sms(make_rig: MakeRig, ami: Ami) -> None:
    # `[sms] transport` is dongle, but the SMS came in on chan_quectel: a PBX with both
    # drivers refuses DongleSendSMS for a Quectel device, so the reply goes by QuectelSendSMS.
    rig = rig_for(make_rig, ami, transport="dongle", device="dongle0", poll_interval=0.05)
    await rig.add_subscriber("ivan", "0501110002")
    ami.fake.on_action(
        "QuectelSendSMS", lambda a: success(Message="[quectel0] SMS queued for send")
    )
    ami.client.add_consumer(rig.inbox)
    ami.client.add_consumer(rig.outbox)
    await rig.outbox.start()
    await rig.inbox.start()
    try:
        body = base64.b64encode("баланс".encode()).decode("ascii")
        await ami.fake.send_raw(
            (
                "Event: QuectelNewSMSBase64\r\nPrivilege: call,all\r\nDevice: quectel0\r\n"
                f"From: +380501110002\r\nMessage: {body}\r\n\r\n"
            ).encode()
        )
        await eventually(lambda: len(ami.sends("QuectelSendSMS")) == 1)
        await settled(rig)
    finally:
        await rig.inbox.stop()
        await rig.outbox.stop()
    assert ami.sends("DongleSendSMS") == []
    (sent,) = ami.sends("QuectelSendSMS")
    assert (sent["Device"], sent["Number"]) == ("quectel0", "+380501110002")
    assert sent["Message"] == "Баланс: 150.00 грн. Залишилось днів: 15."
    (reply,) = [m for m in await rig.outbox.list(10) if m.actor == "sms:auto-reply"]
    assert (reply.transport, reply.state) == ("quectel", OutboxState.SENT)
    (stored,) = rig.stored
    assert (stored.device, stored.driver, stored.login) == ("quectel0", "quectel", "ivan")


async def test_a_database_outage_stops_the_worker_for_its_length_only_and_staff_hear(
    make_rig: MakeRig, ami: Ami, caplog: pytest.LogCaptureFixture
) -> None:
    """The outbox table goes away under a running worker: one alert (and one traceback)
    for the whole outage, however many rounds fail; once it is back the worker sends
    again by itself and says so."""
    caplog.set_level(logging.DEBUG, logger="pbxbridge.sms")
    settings = SmsSettings(poll_interval=0.02)
    rig = make_rig(ami.transport(settings), poll_interval=0.02)
    alerts: list[str] = []
    told = asyncio.Event()

    async def alert(text: str) -> None:
        alerts.append(text)
        told.set()

    outbox = Outbox(rig.db.sessions, rig.clock, ami.transport(settings), settings, alert=alert)
    await outbox.start()
    try:
        async with rig.db.engine.begin() as conn:
            await conn.execute(sql("ALTER TABLE sms_outbox RENAME TO sms_outbox_away"))
        outbox.wake()
        await asyncio.wait_for(told.wait(), 10)
        await eventually(lambda: sum("failed again" in r.getMessage() for r in caplog.records) >= 3)
        assert len(alerts) == 1, alerts
        assert alerts[0].startswith("SMS outbox stopped sending (retrying every 0.02 s): ")
        assert "[SQL" not in alerts[0]
        told.clear()
        async with rig.db.engine.begin() as conn:
            await conn.execute(sql("ALTER TABLE sms_outbox_away RENAME TO sms_outbox"))
        message_id = await outbox.queue("0501110001", "back", actor="test")
        await asyncio.wait_for(told.wait(), 10)
        await eventually(lambda: len(ami.sends()) == 1)
    finally:
        await outbox.stop()
    assert alerts[1:] == ["SMS outbox sends again"]
    assert ami.sends()[0]["Payload"] == f"pbxbridge-sms-{message_id}-1"
    tracebacks = [r for r in caplog.records if r.exc_info and "worker failed" in r.getMessage()]
    assert len(tracebacks) == 1
