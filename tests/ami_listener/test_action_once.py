"""AmiClient.action_once: one action on a connection of its own (a CLI process reloading
res_pjsip while the service keeps its link), against the fake Asterisk."""

from __future__ import annotations

import pytest

from ami_listener import AmiActionError, AmiAuthFailed, AmiNotSent
from tests.ami_listener.conftest import MakeClient
from tests.fakes.ami_asterisk import FakeAmi

RELOAD = {"LoadType": "reload", "Module": "res_pjsip.so"}


async def test_one_action_logged_in_and_off(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client(start=False)
    response = await client.action_once(
        "ModuleLoad", {"LoadType": "reload", "Module": "res_pjsip.so"}
    )
    assert (response.get("Response"), response.get("Message")) == ("Success", "Module reloaded.")
    names = [a.get("Action") for a in fake.actions]
    assert names[-3:] == ["Login", "ModuleLoad", "Logoff"]
    login = fake.actions_named("Login")[-1]
    assert login.get("Events") == "off"
    assert fake.connections == 1


async def test_an_error_answer_is_an_action_error(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client(start=False)
    fake.reload_error = "A reload is in progress"
    with pytest.raises(AmiActionError) as caught:
        await client.action_once("ModuleLoad", RELOAD)
    assert caught.value.response.get("Message") == "A reload is in progress"
    with pytest.raises(AmiActionError, match="No such module"):
        await client.action_once("ModuleLoad", {"LoadType": "reload", "Module": "res_nope.so"})


async def test_nothing_is_sent_without_a_login(fake: FakeAmi, make_client: MakeClient) -> None:
    wrong = await make_client(start=False, secret="wrong")
    with pytest.raises(AmiAuthFailed):
        await wrong.action_once("ModuleLoad", RELOAD)
    port = fake.port
    await fake.stop()
    down = await make_client(start=False, port=port)
    with pytest.raises(AmiNotSent, match="cannot connect"):
        await down.action_once("ModuleLoad", RELOAD)
    assert fake.actions_named("ModuleLoad") == []
