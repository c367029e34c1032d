"""Pure parts of the SMS component: text sizes and splitting, transliteration, escapes,
PDU reading, event parsing, replies and settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from ami_listener.message import AmiMessage
from billing_client.subscriber import Status, SubscriberInfo
from sms import text
from sms.errors import PduError
from sms.events import inbound_from_event, report_from_event
from sms.pdu import cmgr_pdu, decode_deliver
from sms.replies import command_word, reply_for
from sms.settings import AutoReplySettings, SmsSettings
from sms.transports import dongle_message
from sms.types import PartInfo
from tests.sms.pdu_builder import cmgr_message, deliver

# Text


def test_encoding_and_length() -> None:
    assert text.encoding_of("Hello @ £ {x}") == "gsm7"
    assert text.length("{x}€") == 7  # extension characters take two septets
    assert text.encoding_of("Привіт") == "ucs2"
    assert text.length("ok 👍") == 5  # a surrogate pair


def test_split_limits() -> None:
    assert text.split("ж" * 70) == ["ж" * 70]
    assert [len(p) for p in text.split("ж" * 71)] == [67, 4]
    assert [len(p) for p in text.split("a" * 161)] == [153, 8]
    assert text.split("a" * 160) == ["a" * 160]
    words = " ".join(["слово"] * 30)
    pieces = text.split(words)
    assert "".join(pieces) == words
    assert all(p.endswith(" ") for p in pieces[:-1])  # cut after a space, not in a word
    assert all(text.length(p) <= 67 for p in pieces)
    emoji = "👍" * 40  # 80 code units: never cut inside a pair
    assert "".join(text.split(emoji)) == emoji
    assert all(text.length(p) <= 67 for p in text.split(emoji))
    braces = "{" * 100  # 200 septets
    assert all(text.length(p, "gsm7") <= 153 for p in text.split(braces))


@pytest.mark.parametrize(
    ("source", "latin"),
    [
        ("Щиро дякуємо, Юлія!", "Shchyro diakuiemo, Yuliia!"),
        ("Єва, їжак, йогурт", "Yeva, yizhak, yohurt"),
        ("Згода. Ґанок. Зв'язок", "Zhoda. Ganok. Zviazok"),
        ("ЩУКА", "SHCHUKA"),
        ("Съешь ещё этих", "Sesh eshchio etykh"),
        ("№5 — «так» …", 'No5 - "tak" ...'),
        ("It's fine", "It's fine"),
    ],
)
def test_transliterate(source: str, latin: str) -> None:
    assert text.transliterate(source) == latin
    assert text.encoding_of(text.transliterate(source)) == "gsm7"


def test_escapes_and_keys() -> None:
    assert text.c_escape("a\\b\nc\r\n") == "a\\\\b\\nc\\r\\n"
    assert dongle_message("a\nb", c_escapes=False) == "a b"
    assert dongle_message("a\\b\nc", c_escapes=True) == "a\\\\b\\nc"
    assert text.normalise("a\r\nb\rc\x00") == "a\nb\nc"
    assert text.text_key("Раз\n\nдва") == text.text_key("Раз\nдва")
    assert text.text_key("Раз\r\nдва") == text.text_key("Раз\nдва")
    assert text.text_key("Раз два") != text.text_key("Раз\nдва")


# PDUs and events


def test_pdu_from_the_specification() -> None:
    # The textbook SMS-DELIVER: "How are you?" from +31641600986 (GSM 7-bit, no UDH).
    pdu = bytes.fromhex(
        "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
    )
    found = decode_deliver(pdu)
    assert (found.sender, found.text, found.part) == ("+31641600986", "How are you?", None)


def test_pdu_parts_and_senders() -> None:
    found = decode_deliver(
        bytes.fromhex(deliver("+380501110003", "x{y}", ucs2=False, part=(300, 3, 2), ref16=True))
    )
    assert (found.text, found.part) == ("x{y}", PartInfo(300, 3, 2))
    national = decode_deliver(bytes.fromhex(deliver("0501110003", "Ї", ucs2=True)))
    assert (national.sender, national.text) == ("0501110003", "Ї")
    message = cmgr_message(deliver("+380501110003", "hi", ucs2=False))
    assert message.startswith("+CMGR: 0,,")
    assert decode_deliver(cmgr_pdu(message)).text == "hi"


def test_alphanumeric_sender() -> None:
    # "Kyivstar" as an alphanumeric originator: TON 5, 8 GSM-7 characters in 7 octets.
    pdu = "00" + "04" + "0ED0" + "CB7CDA3EA787E5" + "0000" + "62112221000080" + "02E834"
    found = decode_deliver(bytes.fromhex(pdu))
    assert found.sender == "Kyivstar"
    assert found.text == "hi"


@pytest.mark.parametrize(
    "pdu",
    [
        "07911326040000F0040B9113",  # truncated in the originator
        "07911326040000F0040B911346610089F6000020806291731408FF0CC8",  # user data cut short
        "0006" + "00" * 20,  # SMS-STATUS-REPORT (MTI 2)
    ],
)
def test_unreadable_pdus(pdu: str) -> None:
    with pytest.raises(PduError):
        decode_deliver(bytes.fromhex(pdu))


def test_unreadable_events_are_skipped() -> None:
    def event(name: str, **headers: str) -> AmiMessage:
        return AmiMessage((("Event", name), *headers.items()))

    assert (
        inbound_from_event(event("DongleNewSMSBase64", Message="%%"), "DongleNewSMSBase64") is None
    )
    assert (
        inbound_from_event(event("DongleNewCMGR", Message="+CMGR: 0,,3\\r\\nZZ"), "DongleNewCMGR")
        is None
    )
    single = cmgr_message(deliver("+380501110003", "whole", ucs2=False))
    assert inbound_from_event(event("DongleNewCMGR", Message=single), "DongleNewCMGR") is None
    assert report_from_event(event("DongleReport", Type="7", Success="1"), "DongleReport") is None
    assert report_from_event(event("DongleSMSStatus", Status="Sending"), "DongleSMSStatus") is None
    expired = report_from_event(
        event("QuectelReport", Type="2", Success="0", Payload="k"), "QuectelReport"
    )
    assert expired is not None
    assert (expired.outcome, expired.payload) == ("expired", "k")


# Replies and settings


def test_commands_and_replies() -> None:
    settings = AutoReplySettings()
    assert command_word("  Баланс?! ") == "баланс"
    info = SubscriberInfo("ivan", "Іван", Status.ACTIVE, Decimal("-5.5"), days_left=None)
    assert reply_for("BALANCE", info, settings) == "Баланс: -5.50 грн."
    assert reply_for("balance please", info, settings) is None
    assert reply_for("BALANCE", None, settings) is None
    custom = AutoReplySettings(
        balance_commands=["Рахунок"], balance_reply="{login}: {balance} ({days_left} d)"
    )
    with_days = SubscriberInfo("ivan", "Іван", Status.ACTIVE, Decimal("10"), days_left=3)
    assert reply_for("рахунок", with_days, custom) == "ivan: 10.00 (3 d)"


def test_settings() -> None:
    defaults = SmsSettings()
    assert (defaults.transport, defaults.device, defaults.dedupe_window) == (
        "dongle",
        "dongle0",
        120,
    )
    assert not defaults.split_single_pdu
    assert not defaults.transliterate
    assert defaults.auto_reply.enabled
    assert defaults.auto_reply.balance_commands == ["BALANCE", "БАЛАНС"]
    for bad in (
        {"unknown": 1},
        {"transport": "sip"},
        {"pjsip_endpoint": "pjsip:{user}"},
        {"pjsip_endpoint": "pjsip:trunk"},
        {"auto_reply": {"balance_reply": "{password}"}},
        {"auto_reply": {"balance_commands": [" "]}},
        {"auto_reply": {"nope": True}},
    ):
        with pytest.raises(ValidationError):
            SmsSettings(**bad)
    for name, field in SmsSettings.model_fields.items():
        assert field.description or name == "auto_reply", name
