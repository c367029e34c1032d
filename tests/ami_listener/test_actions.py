"""action() and list_action(): responses, errors, deadlines, link loss, and no replay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import pytest

from ami_listener import (
    AmiActionError,
    AmiClient,
    AmiDisconnected,
    AmiHealth,
    AmiMessage,
    AmiNotSent,
    AmiSettings,
    AmiTimeout,
)
from tests.ami_listener.conftest import HealthLog, MakeClient, connected, until
from tests.fakes.ami_asterisk import FakeAmi, Replies, success

pytestmark = pytest.mark.timeout(30)

ORIGINATE: Mapping[str, str | Sequence[str]] = MappingProxyType(
    {
        "Channel": "Local/0501112233@campaign-test",
        "Context": "campaign-test",
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
        "Variable": ("CAMPAIGN_ID=42", "CALLEE=0501112233"),
    }
)


async def test_action_returns_its_response(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client()
    pong = await client.action("Ping")
    assert pong.name == "Success"
    assert pong["Ping"] == "Pong"
    command = await client.action("Command", {"Command": "core show uptime"})
    assert command.get_all("Output") == ["System uptime: 16 seconds", "Last reload: 16 seconds"]
    assert fake.actions[-1]["Command"] == "core show uptime"


async def test_each_action_gets_a_unique_action_id(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client()
    await asyncio.gather(*(client.action("Ping") for _ in range(20)))
    ids = [a.action_id for a in fake.actions]
    assert len(set(ids)) == len(ids)


async def test_a_given_action_id_is_sent_and_matched(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    reply = await client.action("Originate", ORIGINATE, action_id="campaign-42-call-7")
    assert reply.action_id == "campaign-42-call-7"
    sent = fake.actions_named("Originate")[0]
    assert sent.action_id == "campaign-42-call-7"
    assert sent.get_all("Variable") == ["CAMPAIGN_ID=42", "CALLEE=0501112233"]


async def test_an_action_id_already_waiting_is_refused(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    fake.on_action("Originate", None)
    client = await make_client()
    first = asyncio.create_task(client.action("Originate", ORIGINATE, action_id="k-1", timeout=5))
    await fake.wait_for_action("Originate")
    with pytest.raises(ValueError, match="already waiting"):
        await client.action("Originate", ORIGINATE, action_id="k-1")
    first.cancel()
    assert len(fake.actions_named("Originate")) == 1


async def test_error_response_raises_with_the_response(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    fake.fail_action("QueueAdd", "Unable to add interface: Already there")
    client = await make_client()
    with pytest.raises(AmiActionError, match="Already there") as caught:
        await client.action("QueueAdd", {"Queue": "support", "Interface": "PJSIP/100"})
    assert caught.value.response["Message"] == "Unable to add interface: Already there"
    with pytest.raises(AmiActionError, match="Invalid/unknown command: NoSuchAction"):
        await client.action("NoSuchAction")


async def test_a_custom_reply_with_extra_lines(fake: FakeAmi, make_client: MakeClient) -> None:
    """chan_dongle's DongleSendSMS answer carries an extra ID line (bg111)."""
    fake.on_action(
        "DongleSendSMS",
        lambda a: success(Message=f"[{a['Device']}] SMS queued for send", ID="0x7f3a2c001b20"),
    )
    client = await make_client()
    reply = await client.action(
        "DongleSendSMS", {"Device": "dongle0", "Number": "+380501112233", "Message": "Привіт"}
    )
    assert reply["ID"] == "0x7f3a2c001b20"
    assert fake.actions_named("DongleSendSMS")[0]["Message"] == "Привіт"


async def test_unsendable_headers_raise_before_anything_is_sent(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    before = len(fake.actions)
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        await client.action("Originate", {"Channel": "PJSIP/1\r\n\r\nAction: Hangup"})
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        await client.action("Ping", action_id="x\r\nAction: Hangup")
    with pytest.raises(ValueError, match="set by the client"):
        await client.action("Ping", {"ActionID": "mine"})
    with pytest.raises(ValueError, match="header name"):
        await client.action("Ping", {"Bad Name": "x"})
    await client.action("Ping")
    assert len(fake.actions) == before + 1


async def test_action_timeout_and_a_late_response_is_ignored(
    fake: FakeAmi, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def slow(action: AmiMessage) -> Replies:
        await asyncio.sleep(0.3)
        return success(Variable="X", Value="late")

    fake.on_action("Getvar", slow)
    client = await make_client()
    with pytest.raises(AmiTimeout, match=r"Getvar: no response within 0\.1 s"):
        await client.action("Getvar", {"Variable": "X"}, timeout=0.1)
    await until(lambda: "response for no waiting action" in caplog.text)
    assert client.health is AmiHealth.CONNECTED
    assert (await client.action("Ping"))["Ping"] == "Pong"


async def test_not_connected_raises_at_once_and_nothing_is_queued(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(start=False)
    # AmiNotSent: provably never written, so an outbox may retry it
    with pytest.raises(AmiNotSent, match="stopped"):
        await client.action("Originate", ORIGINATE)
    await client.start()
    await connected(client)
    await client.action("Ping")
    assert fake.actions_named("Originate") == []


async def test_pending_actions_fail_at_once_when_the_link_drops(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    fake.on_action("Originate", None)
    fake.on_action("Getvar", None)
    client = await make_client()
    waiting = [
        asyncio.create_task(client.action("Originate", ORIGINATE, timeout=60)),
        asyncio.create_task(client.action("Getvar", {"Variable": "X"}, timeout=60)),
    ]
    await fake.wait_for_action("Getvar")
    await fake.drop()
    async with asyncio.timeout(5):  # far below the actions' own 60 s deadline
        results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, AmiDisconnected) for r in results), results


async def test_an_originate_lost_with_the_link_is_never_sent_again(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    """panoramisk queues it in awaiting_actions and re-sends it after FullyBooted."""
    fake.on_action("Originate", None)
    client = await make_client()
    health = HealthLog(client)
    task = asyncio.create_task(client.action("Originate", ORIGINATE, action_id="call-1"))
    await fake.wait_for_action("Originate")
    await fake.drop()
    with pytest.raises(AmiDisconnected) as lost:
        await task
    # it was written before the link went: its fate is unknown, not "not sent"
    assert not isinstance(lost.value, AmiNotSent)
    await fake.wait_for_logins(2)
    await connected(client)
    # FullyBooted (panoramisk's replay trigger) came with the login; a Ping round trip
    # after it proves nothing was written in between.
    await client.action("Ping")
    assert [a.action_id for a in fake.actions_named("Originate")] == ["call-1"]
    assert health.states == [AmiHealth.RECONNECTING, AmiHealth.CONNECTED]


async def test_an_action_during_reconnect_is_refused_not_queued(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(backoff_initial=0.5, backoff_max=0.5, backoff_jitter=0)
    await fake.drop()
    await until(lambda: client.health is AmiHealth.RECONNECTING)
    with pytest.raises(AmiNotSent, match="reconnecting"):
        await client.action("Originate", ORIGINATE)
    await connected(client)
    await client.action("Ping")
    assert fake.actions_named("Originate") == []


async def test_stop_fails_pending_actions_and_logs_off(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    fake.on_action("Originate", None)
    client = await make_client()
    task = asyncio.create_task(client.action("Originate", ORIGINATE, timeout=60))
    await fake.wait_for_action("Originate")
    await client.stop()
    with pytest.raises(AmiDisconnected):
        await task
    assert fake.actions[-1].get("Action") == "Logoff"
    assert client.health is AmiHealth.STOPPED
    with pytest.raises(AmiDisconnected):
        await client.action("Ping")


# List actions


async def test_list_action_collects_core_show_channels_to_its_complete_event(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    seen: list[str] = []
    client.on_event("*", lambda e: seen.append(e.name))
    response, events = await client.list_action("CoreShowChannels")
    assert response["EventList"] == "start"
    assert [e.name for e in events] == ["CoreShowChannel"] * 4
    assert {e.action_id for e in events} == {response.action_id}
    assert events[0]["Channel"] == "Local/s@campaign-test-00000000;2"
    await client.action("Ping")
    assert "CoreShowChannel" not in seen  # list items answer the action, not listeners
    assert "CoreShowChannelsComplete" not in seen


async def test_list_action_queue_status(make_client: MakeClient) -> None:
    client = await make_client()
    response, events = await client.list_action("QueueStatus", {"Queue": "support"})
    assert response["Message"] == "Queue status will follow"
    assert [(e.name, e["Queue"], e["Abandoned"]) for e in events] == [
        ("QueueParams", "support", "1")
    ]


async def test_list_action_dongle_devices() -> None:
    async with FakeAmi(secret="x", dongle=True) as fake:
        client = AmiClient(AmiSettings(port=fake.port, secret="x"))
        await client.start()
        try:
            await connected(client)
            _, devices = await client.list_action("DongleShowDevices")
            assert [(d.name, d["Device"]) for d in devices] == [("DongleDeviceEntry", "dongle0")]
            reply = await client.action(
                "DongleSendSMS", {"Device": "dongle0", "Number": "+380501112233", "Message": "x"}
            )
            assert reply["Message"] == "[dongle0] SMS queued for send"
            assert reply["ID"].startswith("0x")
        finally:
            await client.stop()


async def test_list_action_ends_on_an_explicit_terminator_or_event_list_complete(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    def reply(action: AmiMessage) -> Replies:
        return [
            success(EventList="start", Message="Things will follow"),
            {"Event": "ThingEntry", "Name": "a"},
            {"Event": "ThingsDone", "ListItems": "1"},
        ]

    fake.on_action("ShowThings", reply)
    fake.on_action("ShowOtherThings", reply)
    client = await make_client()
    _, events = await client.list_action("ShowThings", complete="ThingsDone")
    assert [e["Name"] for e in events] == ["a"]

    def generic(action: AmiMessage) -> Replies:
        return [
            success(EventList="start"),
            {"Event": "ThingEntry", "Name": "b"},
            {"Event": "Whatever", "EventList": "Complete", "ListItems": "1"},
        ]

    fake.on_action("ShowOtherThings", generic)
    _, events = await client.list_action("ShowOtherThings")
    assert [e["Name"] for e in events] == ["b"]


async def test_list_action_timeout_carries_what_arrived(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    fake.on_action(
        "CoreShowChannels",
        lambda a: [success(EventList="start"), {"Event": "CoreShowChannel", "Channel": "c1"}],
    )
    client = await make_client()
    with pytest.raises(AmiTimeout, match=r"list not complete within 0\.2 s") as caught:
        await client.list_action("CoreShowChannels", timeout=0.2)
    assert caught.value.response is not None
    assert [e["Channel"] for e in caught.value.events] == ["c1"]


async def test_list_action_error_response(fake: FakeAmi, make_client: MakeClient) -> None:
    fake.fail_action("QueueStatus", "Permission denied")
    client = await make_client()
    with pytest.raises(AmiActionError, match="Permission denied"):
        await client.list_action("QueueStatus")


async def test_user_event_echo_and_originate_response_reach_listeners(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client()
    seen: list[AmiMessage] = []
    client.on_event("UserEvent", seen.append)
    client.on_event("OriginateResponse", seen.append)
    await client.action("UserEvent", {"UserEvent": "LabCyrillic", "Text": "Привет, абонент!"})
    fake.on_action(
        "Originate",
        lambda a: [
            success(Message="Originate successfully queued"),
            {"Event": "OriginateResponse", "ActionID": a.action_id or "", "Response": "Failure"},
        ],
    )
    reply = await client.action("Originate", ORIGINATE, action_id="call-9")
    await until(lambda: len(seen) == 2)
    assert seen[0]["Text"] == "Привет, абонент!"
    assert (seen[1].name, seen[1].action_id, seen[1]["Response"]) == (
        "OriginateResponse",
        "call-9",
        "Failure",
    )
    assert reply["Message"] == "Originate successfully queued"
