"""AmiFramer and AmiMessage against the real captures: splits, banner, stray CRLFs, limits."""

from __future__ import annotations

import random

import pytest

from ami_listener.errors import FrameTooLarge
from ami_listener.framing import AmiFramer
from ami_listener.message import AmiMessage
from tests.fakes.ami_asterisk import (
    FIXTURES,
    Capture,
    dongle_sms_events,
    dongle_templates,
    parse,
    split_messages,
)

ORIGINATE = (FIXTURES / "ami-session-originate-callfiles-agi.raw").read_bytes()
QUEUE = (FIXTURES / "ami-session-missed-answered-queue.raw").read_bytes()
CYRILLIC_TEXT = "Привет, абонент! Баланс 12.50 грн"


def feed_all(chunks: list[bytes]) -> tuple[AmiFramer, list[AmiMessage]]:
    framer = AmiFramer()
    out: list[AmiMessage] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return framer, out


def expected(data: bytes) -> list[AmiMessage]:
    """The capture's messages as the fake's independent parser reads them."""
    return [parse(raw) for raw in split_messages(data)[1]]


def user_event() -> bytes:
    """The captured Cyrillic UserEvent, exactly as Asterisk sent it."""
    capture = Capture.load("originate")
    (raw,) = [
        r
        for r, m in zip(capture.messages, capture.parsed, strict=True)
        if m.name == "UserEvent" and m.get("UserEvent") == "LabCyrillic"
    ]
    return raw


@pytest.mark.parametrize("data", [ORIGINATE, QUEUE], ids=["originate", "queue"])
def test_whole_capture_frames_like_an_independent_parser(data: bytes) -> None:
    framer, messages = feed_all([data])
    assert framer.banner == "Asterisk Call Manager/13.0.0"
    assert messages == expected(data)
    assert len(messages) == 194


@pytest.mark.parametrize("data", [ORIGINATE, QUEUE], ids=["originate", "queue"])
def test_one_byte_per_read_gives_the_same_messages(data: bytes) -> None:
    _, messages = feed_all([data[i : i + 1] for i in range(len(data))])
    assert messages == expected(data)


def test_random_read_sizes_across_both_captures() -> None:
    rng = random.Random(20261122)
    data = ORIGINATE + QUEUE.split(b"\r\n", 1)[1]  # one stream, second banner removed
    want = expected(ORIGINATE) + expected(QUEUE)
    for _ in range(20):
        chunks, start = [], 0
        while start < len(data):
            size = rng.randint(1, 9000)
            chunks.append(data[start : start + size])
            start += size
        assert feed_all(chunks)[1] == want


def test_cyrillic_user_event_survives_a_split_at_every_byte_offset() -> None:
    raw = user_event()
    assert CYRILLIC_TEXT.encode() in raw
    blob = ORIGINATE.split(b"\r\n", 1)[0] + b"\r\n" + raw
    for offset in range(len(blob) + 1):
        framer, messages = feed_all([blob[:offset], blob[offset:]])
        assert framer.banner == "Asterisk Call Manager/13.0.0", offset
        assert len(messages) == 1, offset
        assert messages[0]["Text"] == CYRILLIC_TEXT, offset
        assert messages[0].headers == parse(raw).headers


def test_split_inside_a_cyrillic_letter_in_three_reads() -> None:
    raw = user_event()
    cut = raw.index("П".encode()) + 1  # between the two bytes of "П"
    _, messages = feed_all([raw[:cut], raw[cut : cut + 1], raw[cut + 1 :]])
    assert messages[0]["Text"] == CYRILLIC_TEXT


def test_caller_name_in_cdr_is_decoded_whole() -> None:
    _, messages = feed_all([QUEUE[i : i + 7] for i in range(0, len(QUEUE), 7)])
    cdrs = [m for m in messages if m.name == "Cdr"]
    assert cdrs[0]["CallerID"] == '"Абонент" <0671234567>'


def test_banner_split_at_every_offset() -> None:
    blob = ORIGINATE[:200]
    for offset in range(len(blob) + 1):
        framer, messages = feed_all([blob[:offset], blob[offset:]])
        assert framer.banner == "Asterisk Call Manager/13.0.0"
        assert messages[0].name == "Success"
        assert messages[0]["Message"] == "Authentication accepted"


def test_a_stream_without_banner_is_told_apart() -> None:
    framer = AmiFramer()
    assert not framer.banner_checked
    assert framer.feed(b"Asteri") == []
    assert not framer.banner_checked
    framer = AmiFramer()
    assert framer.feed(b"Response: Success\r\n\r\n")[0].name == "Success"
    assert framer.banner_checked
    assert framer.banner is None


def test_reset_forgets_partial_data_and_expects_a_banner_again() -> None:
    framer = AmiFramer()
    framer.feed(ORIGINATE[:150])
    framer.reset()
    assert framer.feed(ORIGINATE[:150])[0]["ActionID"] == "login-1"


def test_stray_blank_lines_between_messages_are_skipped() -> None:
    data = b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\nX: 1\r\n\r\n\r\n"
    for offset in range(len(data) + 1):
        framer = AmiFramer()
        framer.feed(b"Asterisk Call Manager/13.0.0\r\n")
        messages = framer.feed(data[:offset]) + framer.feed(data[offset:])
        assert [m.name for m in messages] == ["A", "B"], offset


def test_dongle_new_sms_with_its_extra_crlf_does_not_swallow_the_next_event() -> None:
    """wazo-amid drops the event after DongleNewSMS; here both arrive, at any split."""
    sample = dongle_templates()["example_sms"]
    data = dongle_sms_events(sample["text"], sample["sender"], sample["device"])
    data += b"Event: Hangup\r\nPrivilege: call,all\r\nUniqueid: 1795311485.13\r\n\r\n"
    assert b"Message: " + sample["base64"].encode() in data
    assert b"\r\n\r\n\r\nEvent: DongleNewSMSBase64" in data  # the stray blank line is there
    for offset in range(len(data) + 1):
        framer = AmiFramer()
        framer.feed(b"Asterisk Call Manager/13.0.0\r\n")
        messages = framer.feed(data[:offset]) + framer.feed(data[offset:])
        assert [m.name for m in messages] == ["DongleNewSMS", "DongleNewSMSBase64", "Hangup"]
        sms = messages[0]
        assert sms["LineCount"] == "2"
        assert sms.get_all("MessageLine0") == ["Баланс: 12.50 грн"]
        assert sms["MessageLine1"] == "Дякуємо!"
        assert messages[1]["Message"] == sample["base64"]


def test_a_message_without_end_past_the_limit_raises() -> None:
    framer = AmiFramer(max_message_bytes=1000)
    framer.feed(b"Asterisk Call Manager/13.0.0\r\nEvent: Big\r\n")
    framer.feed(b"X: " + b"a" * 900)
    with pytest.raises(FrameTooLarge):
        framer.feed(b"a" * 200)


def test_default_limit_is_one_mebibyte() -> None:
    framer = AmiFramer()
    framer.feed(b"Asterisk Call Manager/13.0.0\r\nEvent: Big\r\nX: ")
    framer.feed(b"a" * (1 << 19))
    with pytest.raises(FrameTooLarge):
        framer.feed(b"a" * (1 << 19))


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    framer = AmiFramer()
    (message,) = framer.feed(b"Event: X\r\nName: \xff\xfeok\r\n\r\n")
    assert message["Name"] == "\ufffd\ufffdok"


def test_repeated_headers_and_case_insensitive_lookup() -> None:
    _, messages = feed_all([ORIGINATE])
    (command,) = [m for m in messages if m.action_id == "cmd-1"]
    assert command.get_all("output") == ["System uptime: 16 seconds", "Last reload: 16 seconds"]
    assert command["OUTPUT"] == "System uptime: 16 seconds"
    (getvar,) = [m for m in messages if m.action_id == "gv-1"]
    assert getvar["Value"] == ""


def test_originate_response_is_an_event_though_it_has_a_response_header() -> None:
    _, messages = feed_all([QUEUE])
    failure = next(m for m in messages if m.name == "OriginateResponse")
    assert failure.kind == "event"
    assert failure["Response"] == "Failure"


def test_three_channel_variable_spellings_are_merged() -> None:
    data = (
        b"Event: Hangup\r\nChannel: PJSIP/100-00000001\r\n"
        b"ChanVariable: SUBSCRIBER_LOGIN=ivanov\r\n"
        b"ChanVariable(PJSIP/100-00000001): CAMPAIGN_ID=42\r\n"
        b"DestChanVariable: SUBSCRIBER_LOGIN=petrov\r\n\r\n"
    )
    (message,) = AmiFramer().feed(data)
    assert message.chan_variables() == {"SUBSCRIBER_LOGIN": "ivanov", "CAMPAIGN_ID": "42"}
    assert message.dest_chan_variables() == {"SUBSCRIBER_LOGIN": "petrov"}
