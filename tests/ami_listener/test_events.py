"""Event dispatch through a real connection: order, volume, failures, slow handlers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ami_listener import AmiHealth, AmiMessage
from primitives.ami import AmiEvent
from tests.ami_listener.conftest import MakeClient, until
from tests.fakes.ami_asterisk import Capture, FakeAmi, dongle_sms_events, encode, parse

pytestmark = pytest.mark.timeout(30)


def numbered(count: int, name: str = "UserEvent") -> bytes:
    return b"".join(
        encode({"Event": name, "Privilege": "user,all", "UserEvent": "Seq", "Seq": str(i)})
        for i in range(count)
    )


async def test_ten_thousand_events_arrive_in_order(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client()
    seen: list[int] = []
    client.on_event("UserEvent", lambda e: seen.append(int(e["Seq"])))
    await fake.send_raw(numbered(10_000), split_at=range(4096, 2_000_000, 4096), pause=0)
    await until(lambda: len(seen) == 10_000, within=20)
    assert seen == list(range(10_000))


async def test_captured_sessions_replayed_in_chunks_arrive_as_captured(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(start=False)
    seen: list[AmiMessage] = []
    client.on_event("*", seen.append)
    await client.start()
    await until(lambda: len(seen) == 1)  # FullyBooted, sent with the login
    seen.clear()
    sent = await fake.replay("queue", chunk_size=4096, repeat=5, pause=0)
    sent += await fake.replay("originate", chunk_size=1000, pause=0)
    await until(lambda: len(seen) == sent)
    expected = [parse(raw) for raw in Capture.load("queue").events()] * 5
    expected += [parse(raw) for raw in Capture.load("originate").events()]
    assert seen == expected
    assert any(e.name == "QueueCallerAbandon" for e in seen)


async def test_a_cyrillic_letter_split_across_tcp_writes_survives(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    seen: list[AmiMessage] = []
    client.on_event("UserEvent", seen.append)
    capture = Capture.load("originate")
    raw = next(r for r in capture.events() if b"LabCyrillic" in r)
    cut = raw.index("П".encode()) + 1  # inside the two bytes of "П"
    await fake.send_raw(raw, split_at=[cut, cut + 1, cut + 2])
    await until(lambda: len(seen) == 1)
    assert seen[0]["Text"] == "Привет, абонент! Баланс 12.50 грн"


async def test_dongle_sms_and_the_event_after_it_both_arrive(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    seen: list[AmiMessage] = []
    client.on_event("DongleNewSMS", seen.append)
    client.on_event("DongleNewSMSBase64", seen.append)
    client.on_event("Hangup", seen.append)
    data = dongle_sms_events("Баланс?\n\nДякую") + encode({"Event": "Hangup", "Uniqueid": "9.9"})
    await fake.send_raw(data, split_at=[data.index(b"\r\n\r\n\r\n") + 4])
    await until(lambda: len(seen) == 3)
    assert [e.name for e in seen] == ["DongleNewSMS", "DongleNewSMSBase64", "Hangup"]
    assert seen[0].get_all("MessageLine1") == ["Дякую"]  # the empty line was dropped


class Consumer:
    """A component as the root hands it to the client: the names it wants, one handler,
    reading the event only through the ground floor's AmiEvent."""

    ami_events = ("hangup", "UserEvent")

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    async def on_ami_event(self, event: AmiEvent) -> None:
        self.seen.append((event.name, event.get("Uniqueid") or event.get("Seq")))


async def test_a_consumer_gets_the_events_it_declares_in_order(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    consumer = Consumer()
    client.add_consumer(consumer)
    data = (
        encode({"Event": "Hangup", "Uniqueid": "9.1"})
        + encode({"Event": "Newchannel", "Uniqueid": "9.2"})
        + numbered(2)
        + encode({"Event": "HANGUP", "Uniqueid": "9.3"})
    )
    await fake.send_raw(data)
    await until(lambda: len(consumer.seen) == 4)
    assert consumer.seen == [
        ("Hangup", "9.1"),
        ("UserEvent", "0"),
        ("UserEvent", "1"),
        ("HANGUP", "9.3"),
    ]


async def test_names_are_case_insensitive_and_star_gets_everything(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(start=False)
    order: list[str] = []
    client.on_event("hangup", lambda e: order.append("lower"))
    client.on_event("*", lambda e: order.append(f"star:{e.name}"))
    client.on_event("HANGUP", lambda e: order.append("upper"))
    await client.start()
    await until(lambda: order == ["star:FullyBooted"])
    await fake.send_event({"Event": "Hangup", "Uniqueid": "1.1"})
    await until(lambda: len(order) == 4)
    assert order[1:] == ["lower", "star:Hangup", "upper"]  # registration order


async def test_a_handler_that_raises_is_logged_and_dispatch_goes_on(
    fake: FakeAmi, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    seen: list[int] = []

    def fragile(event: AmiMessage) -> None:
        if event["Seq"] == "3":
            raise ValueError("cannot handle Seq 3")
        seen.append(int(event["Seq"]))

    async def also_async(event: AmiMessage) -> None:
        if event["Seq"] == "5":
            raise RuntimeError("async handler broke on 5")

    client.on_event("UserEvent", fragile)
    client.on_event("UserEvent", also_async)
    await fake.send_raw(numbered(10))
    await until(lambda: len(seen) == 9)
    assert seen == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert "failed on UserEvent event" in failures[0].getMessage()
    assert "fragile" in failures[0].getMessage()
    assert "cannot handle Seq 3" in caplog.text
    assert "async handler broke on 5" in caplog.text


async def test_a_slow_handler_delays_events_but_not_responses_or_pongs(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(ping_interval=0.05, ping_timeout=0.5)
    release = asyncio.Event()
    seen: list[int] = []

    async def slow(event: AmiMessage) -> None:
        await release.wait()
        seen.append(int(event["Seq"]))

    client.on_event("UserEvent", slow)
    await fake.send_raw(numbered(50))
    # The handler is stuck on event 0, yet actions are answered and pings keep the link.
    assert (await client.action("Ping"))["Ping"] == "Pong"
    pings = len(fake.actions_named("Ping"))
    await fake.wait_for_action("Ping", pings + 3)
    assert seen == []
    assert fake.connections == 1
    release.set()
    await until(lambda: len(seen) == 50)
    assert seen == list(range(50))


async def test_events_expose_normalised_channel_variables(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    seen: list[AmiMessage] = []
    client.on_event("Hangup", seen.append)
    await fake.send_event(
        [
            ("Event", "Hangup"),
            ("Channel", "PJSIP/100-00000001"),
            ("ChanVariable(PJSIP/100-00000001)", "CAMPAIGN_ID=42"),
            ("ChanVariable", "SUBSCRIBER_LOGIN=ivanov"),
            ("DestChanVariable", "SUBSCRIBER_LOGIN=petrov"),
        ]
    )
    await until(lambda: len(seen) == 1)
    assert seen[0].chan_variables() == {"CAMPAIGN_ID": "42", "SUBSCRIBER_LOGIN": "ivanov"}
    assert seen[0].dest_chan_variables() == {"SUBSCRIBER_LOGIN": "petrov"}


async def test_events_queued_at_stop_are_still_handled(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    seen: list[int] = []

    async def handler(event: AmiMessage) -> None:
        await asyncio.sleep(0)
        seen.append(int(event["Seq"]))

    client.on_event("UserEvent", handler)
    await fake.send_raw(numbered(200))
    await until(lambda: len(seen) > 0)
    await client.stop()
    assert seen == list(range(200))


async def test_a_handler_may_stop_the_client(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client()
    stopped = asyncio.Event()

    async def stopper(event: AmiMessage) -> None:
        await client.stop()
        stopped.set()

    client.on_event("Hangup", stopper)
    await fake.send_event({"Event": "Hangup", "Uniqueid": "1.1"})
    async with asyncio.timeout(5):
        await stopped.wait()
    assert client.health is AmiHealth.STOPPED
    assert fake.actions[-1].get("Action") == "Logoff"
