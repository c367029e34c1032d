"""Grouping a call's rows and the missed/not-missed decision, without a database.

The capture is real; events built with `event`, `cdr` and `channel_event` are HAND-MADE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ami_listener.message import AmiMessage
from call_log.events import parse_event
from missed_calls import MissedCallSettings
from missed_calls.calls import CallBook, Outcome, decide, number_key
from primitives.phones import PhoneNormaliser
from tests.missed_calls.conftest import (
    ABANDONED_QUEUE,
    ANSWERED,
    MISSED_DIRECT,
    capture_messages,
    cdr,
    channel_event,
    inbound_call,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PHONES = PhoneNormaliser("UA")


def run(messages: list[AmiMessage], **settings: Any) -> dict[str, Outcome]:
    """Every call of `messages`, decided once all are in."""
    config = MissedCallSettings(**settings)
    book = CallBook(config)
    for message in messages:
        parsed = parse_event(message)
        if parsed is not None:
            book.apply(parsed, parsed.instant or NOW)
    out: dict[str, Outcome] = {}
    for key in book.open_keys():
        call = book.pop(key)
        assert call is not None
        out[key] = decide(call, config, PHONES)
    return out


def missed(outcomes: dict[str, Outcome]) -> dict[str, str]:
    return {k: o.missed.number for k, o in outcomes.items() if o.missed is not None}


def test_the_capture_is_three_calls_two_missed() -> None:
    outcomes = run(capture_messages())
    assert set(outcomes) == {MISSED_DIRECT, ANSWERED, ABANDONED_QUEUE}
    assert missed(outcomes) == {
        MISSED_DIRECT: "+380671234567",
        ABANDONED_QUEUE: "+380501112233",
    }
    assert outcomes[ANSWERED].connected
    assert outcomes[ANSWERED].why == "connected"
    # the answered call joined pbxbridge with 0939876543: it would recall a miss of it
    assert "+380939876543" in outcomes[ANSWERED].recall_numbers


def test_rows_seen_before_any_channel_event_join_their_call() -> None:
    """Without Newchannel (pbxbridge started mid-call), a Cdr row first stands alone under
    its uniqueid; the Hangup that follows links it to the call's linkedid."""
    messages = [m for m in capture_messages() if m.name != "Newchannel"]
    outcomes = run(messages)
    assert set(outcomes) == {MISSED_DIRECT, ANSWERED, ABANDONED_QUEUE}
    assert set(missed(outcomes)) == {MISSED_DIRECT, ABANDONED_QUEUE}


def test_cdr_rows_alone_fall_back_to_their_uniqueid() -> None:
    messages = [m for m in capture_messages() if m.name == "Cdr"]
    outcomes = run(messages)
    # the rows marked inbound (userfield "in"), each under its own uniqueid
    assert missed(outcomes) == {
        "1795311485.14": "+380671234567",
        "1795311498.22": "+380501112233",
    }
    # a call known only from its rows started a duration before the rows came
    assert outcomes["1795311485.14"].started == NOW - timedelta(seconds=4)


def test_a_call_handed_an_older_linkedid_joins_that_call() -> None:
    """Asterisk gives bridged channels the oldest linkedid: events of one channel then come
    under two linkedids. HAND-MADE events."""
    messages = [
        channel_event("Newchannel", "3.0", "3.0", CallerIDNum="0501234567"),
        channel_event("Newchannel", "3.1", "3.1", Context="from-internal"),
        channel_event("Newchannel", "3.2", "3.1", Context="from-internal"),
        channel_event("BridgeEnter", "3.1", "3.0", BridgeNumChannels="1", BridgeType="basic"),
        channel_event("Hangup", "3.2", "3.1"),  # 3.2 still says 3.1: the same call now
        cdr("3.0", src="0501234567", dst="100", disposition="NO ANSWER", userfield="in"),
        channel_event("Hangup", "3.1", "3.0"),
        channel_event("Hangup", "3.0", "3.0"),
    ]
    outcomes = run(messages)
    assert set(outcomes) == {"3.0"}
    assert missed(outcomes) == {"3.0": "+380501234567"}


def test_queue_settings() -> None:
    assert set(missed(run(capture_messages(), queues=["sales"]))) == {MISSED_DIRECT}
    assert set(missed(run(capture_messages(), queues=["support"]))) == {
        MISSED_DIRECT,
        ABANDONED_QUEUE,
    }
    assert set(missed(run(capture_messages(), require_queue=True))) == {ABANDONED_QUEUE}


def test_inbound_settings() -> None:
    # another userfield: the queue call is still inbound (it waited in a queue)
    assert set(missed(run(capture_messages(), inbound_userfield="inbound"))) == {ABANDONED_QUEUE}
    assert set(
        missed(run(capture_messages(), inbound_userfield="", inbound_contexts=["inbound-test"]))
    ) == {MISSED_DIRECT, ABANDONED_QUEUE}
    # 0671234567 has 10 digits, +380501112233 has 12
    assert set(missed(run(capture_messages(), min_number_digits=11))) == {ABANDONED_QUEUE}


def test_an_unparseable_number_is_kept_raw_and_flagged() -> None:
    outcome = run(inbound_call("9.1", "99912345678901"))["9.1"]
    assert outcome.missed is not None
    assert (outcome.missed.number, outcome.missed.number_valid) == ("99912345678901", False)


@pytest.mark.parametrize("number", ["101", "<unknown>", "anonymous", "", "0" * 80])
def test_extensions_and_anonymous_callers_are_not_missed_calls(number: str) -> None:
    outcome = run(inbound_call("9.2", number))["9.2"]
    assert outcome.missed is None
    assert outcome.why.startswith("no usable caller number")


def test_an_ivr_answered_call_is_not_missed_unless_it_waited_in_a_queue() -> None:
    served = run(inbound_call("9.3", "0501234567", disposition="ANSWERED", dstchannel=""))
    assert served["9.3"].missed is None
    assert served["9.3"].why == "answered by the dialplan (an IVR) and not queued"
    queued = inbound_call("9.4", "0501234567", disposition="ANSWERED", dstchannel="")
    queued[1:1] = [
        channel_event("QueueCallerJoin", "9.4", "9.4", Queue="support", Position="1"),
        channel_event("QueueCallerLeave", "9.4", "9.4", Queue="support", Position="1"),
    ]
    assert run(queued)["9.4"].missed is not None


@pytest.mark.parametrize(
    "connect",
    [
        channel_event("AgentConnect", "9.5", "9.5", Queue="support", HoldTime="5"),
        channel_event("BridgeEnter", "9.5", "9.5", BridgeNumChannels="2", BridgeType="basic"),
        channel_event("DialEnd", "9.5", "9.5", DialStatus="ANSWER"),
    ],
    ids=["AgentConnect", "BridgeEnter", "DialEnd"],
)
def test_any_sign_of_two_parties_joined_means_answered(connect: AmiMessage) -> None:
    messages = inbound_call("9.5", "0501234567")
    messages.insert(1, connect)
    assert run(messages)["9.5"].missed is None


def test_a_caller_alone_in_a_bridge_is_not_answered() -> None:
    messages = inbound_call("9.6", "0501234567")
    messages.insert(
        1, channel_event("BridgeEnter", "9.6", "9.6", BridgeNumChannels="1", BridgeType="basic")
    )
    messages.insert(
        1, channel_event("BridgeEnter", "9.6", "9.6", BridgeNumChannels="2", BridgeType="parking")
    )
    assert run(messages)["9.6"].missed is not None


def test_the_uniqueid_map_and_the_open_calls_are_bounded() -> None:
    config = MissedCallSettings(max_tracked_channels=100, max_open_calls=10)
    book = CallBook(config)
    for i in range(1000):
        parsed = parse_event(channel_event("Newchannel", f"5.{i}", f"5.{i}"))
        assert parsed is not None
        book.apply(parsed, NOW)
        for key in book.over_limit():
            book.pop(key)
    assert len(book) == 10
    assert book.tracked_channels <= 100


def test_the_event_timestamp_is_the_time_of_the_call() -> None:
    uid = "9.7"
    messages = inbound_call(uid, "0501234567")
    stamped = [
        AmiMessage((*m.headers, ("Timestamp", f"{1795300000 + i}.250000")))
        for i, m in enumerate(messages)
    ]
    outcome = run(stamped)[uid]
    assert outcome.started == datetime.fromtimestamp(1795300000.25, UTC)
    assert outcome.ended == datetime.fromtimestamp(1795300002.25, UTC)


def test_number_key() -> None:
    assert number_key("+38 (067) 123-45-67", PHONES, 7) == ("+380671234567", True)
    assert number_key("380671234567", PHONES, 7) == ("+380671234567", True)
    assert number_key("1234567", PHONES, 7) == ("1234567", False)
    assert number_key("123456", PHONES, 7) is None
    assert number_key("067\n1234567", PHONES, 7) is None
