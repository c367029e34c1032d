"""The small pieces: header escaping, settings, list terminators, router rules."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from ami_listener import AmiSettings, header_name, header_value
from ami_listener.dispatch import EventDispatcher
from ami_listener.errors import AmiActionError, AmiDisconnected, ProtocolViolation
from ami_listener.escape import MAX_LINE_BYTES, format_action
from ami_listener.lists import complete_event
from ami_listener.message import AmiMessage
from ami_listener.router import MAX_FRAGMENTS_IN_A_ROW, MessageRouter

# Escaping


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\0b", "x\r\n\r\nAction: Originate", "\n"])
def test_header_value_refuses_cr_lf_nul(value: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        header_value(value)


@pytest.mark.parametrize("value", ["", "plain", "Привіт, абонент!", "a: b", "tab\there", " x "])
def test_header_value_passes_anything_else_unchanged(value: str) -> None:
    assert header_value(value) == value


@pytest.mark.parametrize("name", ["", "Two Words", "X:Y", "Line\r\n", "1abc", "Ключ", "a\0"])
def test_header_name_refuses_what_is_not_a_token(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        header_name(name)


def test_format_action_writes_headers_in_order_and_repeats_sequences() -> None:
    data = format_action(
        "Originate",
        "orig-1",
        {"Channel": "Local/100@inbound", "Variable": ["CAMPAIGN_ID=42", "Я=так"], "Async": "true"},
    )
    assert (
        data
        == (
            "Action: Originate\r\nActionID: orig-1\r\nChannel: Local/100@inbound\r\n"
            "Variable: CAMPAIGN_ID=42\r\nVariable: Я=так\r\nAsync: true\r\n\r\n"
        ).encode()
    )


@pytest.mark.parametrize("key", ["Action", "actionid", "ACTIONID"])
def test_format_action_refuses_action_and_actionid_in_headers(key: str) -> None:
    with pytest.raises(ValueError, match="set by the client"):
        format_action("Ping", "p-1", {key: "x"})


def test_format_action_refuses_a_bad_action_name_or_id() -> None:
    with pytest.raises(ValueError, match="action name"):
        format_action("Ping\r\nAction: Originate", "p-1")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        format_action("Ping", "p-1\r\nAction: Originate")


def test_format_action_refuses_a_line_asterisk_would_discard() -> None:
    fits = "x" * (MAX_LINE_BYTES - len("Message: \r\n"))
    assert format_action("DongleSendSMS", "s-1", {"Message": fits})
    with pytest.raises(ValueError, match="longer than Asterisk reads"):
        format_action("DongleSendSMS", "s-1", {"Message": fits + "x"})
    with pytest.raises(ValueError, match="longer than Asterisk reads"):
        format_action("DongleSendSMS", "s-1", {"Message": "я" * 510})  # 1020 bytes of UTF-8


# Settings


def test_settings_defaults() -> None:
    s = AmiSettings()
    assert (s.enabled, s.host, s.port, s.username, s.auth, s.events) == (
        True,
        "127.0.0.1",
        5038,
        "pbxbridge",
        "md5",
        "on",
    )
    assert (s.connect_timeout, s.action_timeout, s.ping_interval, s.ping_timeout) == (5, 10, 20, 5)
    assert (s.backoff_initial, s.backoff_max, s.backoff_jitter) == (1, 60, 0.2)
    assert s.auth_failed_backoff == 60
    assert s.secret.get_secret_value() == ""


def test_every_setting_is_described() -> None:
    for name, field in AmiSettings.model_fields.items():
        assert field.description, name


def test_settings_refuse_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        AmiSettings(pasword="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AmiSettings(auth="sha1")
    with pytest.raises(ValidationError):
        AmiSettings(events="on\r\nAction: Originate")
    with pytest.raises(ValidationError):
        AmiSettings(backoff_initial=10, backoff_max=5)
    with pytest.raises(ValidationError):
        AmiSettings(backoff_jitter=1.5)


def test_secret_is_hidden_in_repr_and_dumps() -> None:
    s = AmiSettings(secret="hunter2")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s.model_dump())
    assert "hunter2" not in s.model_dump_json()


# List terminators


def test_list_terminators_are_declared_per_action() -> None:
    assert complete_event("CoreShowChannels") == "CoreShowChannelsComplete"
    assert complete_event("queuestatus") == "QueueStatusComplete"
    assert complete_event("Status") == "StatusComplete"
    assert complete_event("DongleShowDevices") == "DongleShowDevicesComplete"
    assert complete_event("SomethingNew") is None
    assert complete_event("SomethingNew", "SomethingNewDone") == "SomethingNewDone"


# Router


def message(*headers: tuple[str, str]) -> AmiMessage:
    return AmiMessage(tuple(headers))


async def test_router_sends_responses_to_their_action_and_events_to_listeners() -> None:
    dispatcher = EventDispatcher()
    seen: list[str] = []
    dispatcher.on_event("UserEvent", lambda e: seen.append(e.name))
    router = MessageRouter(dispatcher)
    pending = router.expect("a-1", "UserEvent")
    router.route(
        [
            message(("Response", "Success"), ("ActionID", "a-1")),
            message(("Event", "UserEvent"), ("ActionID", "a-1")),  # an echo, dispatched
            message(("Event", "VarSet")),  # nobody listens: never queued
        ]
    )
    assert pending.future.done()
    assert pending.response is not None
    assert dispatcher.backlog == 1
    dispatcher.start()
    await dispatcher.join()
    await dispatcher.stop(1)
    assert seen == ["UserEvent"]


async def test_router_error_response_fails_the_action() -> None:
    router = MessageRouter(EventDispatcher())
    pending = router.expect("a-1", "QueueAdd")
    router.route([message(("Response", "Error"), ("ActionID", "a-1"), ("Message", "No queue"))])
    with pytest.raises(AmiActionError, match="QueueAdd: No queue") as caught:
        await pending.future
    assert caught.value.response["Message"] == "No queue"


async def test_router_refuses_a_duplicate_action_id_and_fails_all_on_link_loss() -> None:
    router = MessageRouter(EventDispatcher())
    first = router.expect("dup", "Originate")
    with pytest.raises(ValueError, match="already waiting"):
        router.expect("dup", "Originate")
    router.fail_all(AmiDisconnected("gone"))
    with pytest.raises(AmiDisconnected):
        await first.future
    router.expect("dup", "Originate")  # free again: the caller may retry with its key
    await asyncio.sleep(0)


def test_router_calls_binary_junk_a_violation() -> None:
    router = MessageRouter(EventDispatcher())
    router.framer.feed(b"Asterisk Call Manager/13.0.0\r\n")
    with pytest.raises(ProtocolViolation):
        router.feed(b"\x00\x17 garbage\r\n\x01\r\n\r\n")
    with pytest.raises(ProtocolViolation):
        router.feed(b"\xfe\xff\xfa\r\n\r\n")


async def test_router_skips_the_tail_of_an_event_split_by_a_blank_line_in_a_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Asterisk does not escape values: a body with a blank line in a VarSet splits the
    event. The tail is logged and skipped; the link and the events after it live on."""
    dispatcher = EventDispatcher()
    seen: list[AmiMessage] = []
    dispatcher.on_event("*", seen.append)
    router = MessageRouter(dispatcher)
    router.framer.feed(b"Asterisk Call Manager/13.0.0\r\n")
    router.feed(
        b"Event: VarSet\r\nChannel: PJSIP/100-1\r\nVariable: SMS\r\nValue: hi\r\n\r\n"
        b"there\r\n\r\nEvent: Hangup\r\nUniqueid: 1.2\r\n\r\n"
    )
    dispatcher.start()
    await dispatcher.join()
    await dispatcher.stop(1)
    assert [m.name for m in seen] == ["VarSet", "Hangup"]
    assert "skipped" in caplog.text
    assert "there" in caplog.text


def test_router_gives_up_after_many_headerless_messages_in_a_row() -> None:
    router = MessageRouter(EventDispatcher())
    router.framer.feed(b"Asterisk Call Manager/13.0.0\r\n")
    fragment = b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n"
    for _ in range(MAX_FRAGMENTS_IN_A_ROW):
        router.feed(fragment)
    router.feed(b"Event: Hangup\r\nUniqueid: 1.2\r\n\r\n")  # a real one: count restarts
    router.feed(fragment * MAX_FRAGMENTS_IN_A_ROW)
    with pytest.raises(ProtocolViolation):
        router.feed(fragment)
