"""Login: plain and MD5, the Events header, a wrong secret, and the secret kept out of sight."""

from __future__ import annotations

import hashlib
import logging

import pytest

from ami_listener import AmiClient, AmiDisconnected, AmiHealth, AmiSettings
from ami_listener.auth import md5_key
from tests.ami_listener.conftest import SECRET, TEST_SETTINGS, HealthLog, MakeClient, until
from tests.fakes.ami_asterisk import FakeAmi

pytestmark = pytest.mark.timeout(30)


async def test_md5_login_sends_the_key_and_never_the_secret(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(auth="md5")
    challenge, login = fake.actions[:2]
    assert challenge.get("Action") == "Challenge"
    assert challenge["AuthType"] == "MD5"
    assert login.get("Action") == "Login"
    assert login["Username"] == "pbxbridge"
    assert login["AuthType"] == "MD5"
    assert "Secret" not in login
    assert all(SECRET.encode() not in raw for raw in fake.raw_actions)
    assert client.status().banner == "Asterisk Call Manager/13.0.0"


def test_md5_key_is_asterisks_md5_of_challenge_and_secret() -> None:
    # The captured challenge; Asterisk hashes challenge then secret (manager.c authenticate()).
    expected = hashlib.md5(b"136912217" + b"lab-secret", usedforsecurity=False).hexdigest()
    assert md5_key("136912217", "lab-secret") == expected


async def test_plain_login_sends_the_secret_and_the_events_header(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    await make_client(auth="plain", events="call,user,cdr,system")
    (login,) = fake.actions_named("Login")
    assert login["Secret"] == SECRET
    assert login["Events"] == "call,user,cdr,system"
    assert fake.actions_named("Challenge") == []


async def test_events_off_is_sent_and_honoured(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client(events="off")
    seen: list[str] = []
    client.on_event("*", lambda e: seen.append(e.name))
    assert fake.actions_named("Login")[0]["Events"] == "off"
    assert await fake.send_event({"Event": "Hangup", "Uniqueid": "1.1"}) == 0
    assert (await client.action("Ping"))["Ping"] == "Pong"
    assert seen == []


async def test_login_is_what_makes_the_client_connected(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    fake.on_action("Login", None)  # TCP connects, the login is never answered
    client = await make_client(wait=False, action_timeout=0.2)
    await until(lambda: fake.connections >= 2)
    assert client.health is not AmiHealth.CONNECTED
    with pytest.raises(AmiDisconnected):
        await client.action("Ping")


async def test_wrong_secret_sets_auth_failed_logs_the_user_and_waits_before_retrying(
    fake: FakeAmi, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(
        wait=False, secret="wrong-secret", backoff_initial=0.001, auth_failed_backoff=0.3
    )
    health = HealthLog(client)
    await fake.wait_until(lambda: fake.failed_logins >= 2)
    # The second attempt came after auth_failed_backoff, not after the 1 ms of a reconnect.
    first, second = [
        at
        for action, at in zip(fake.actions, fake.received_at, strict=True)
        if action.get("Action") == "Login"
    ][:2]
    assert second - first >= 0.29
    assert fake.connections == fake.failed_logins  # nothing in between
    assert health.states == [AmiHealth.AUTH_FAILED]  # one change for both refusals
    detail = client.status().detail
    assert "'pbxbridge'" in detail
    assert "Authentication failed" in detail
    assert "next attempt in 0.3 s" in detail
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "auth_failed" in warnings[0].getMessage()
    assert "'pbxbridge'" in warnings[0].getMessage()
    assert "wrong-secret" not in caplog.text


async def test_after_auth_failed_backoff_a_corrected_secret_logs_in(
    fake: FakeAmi, make_client: MakeClient
) -> None:
    client = await make_client(wait=False, auth_failed_backoff=0.3)
    fake.secret = "changed-on-the-pbx"
    await until(lambda: client.health is AmiHealth.AUTH_FAILED)
    await until(lambda: fake.failed_logins >= 2)
    assert fake.connections == fake.failed_logins  # nothing in between
    fake.secret = SECRET
    await until(lambda: client.health is AmiHealth.CONNECTED)


async def test_md5_wrong_secret_is_auth_failed_too(fake: FakeAmi, make_client: MakeClient) -> None:
    client = await make_client(wait=False, secret="nope", auth="md5")
    await until(lambda: client.health is AmiHealth.AUTH_FAILED)
    assert fake.actions_named("Login")[0]["Key"] != ""


async def test_refused_md5_challenge_is_auth_failed(fake: FakeAmi, make_client: MakeClient) -> None:
    fake.fail_action("Challenge", "Must specify AuthType")
    client = await make_client(wait=False)
    await until(lambda: client.health is AmiHealth.AUTH_FAILED)
    assert "plain" in client.status().detail


async def test_the_secret_never_appears_in_logs_errors_or_reprs(
    fake: FakeAmi, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    plain = await make_client(auth="plain")
    texts += [repr(plain), str(plain.status()), repr(plain._settings)]
    fake.fail_action("Originate", "Permission denied")
    try:
        await plain.action("Originate", {"Channel": "Local/1@x"})
    except Exception as exc:
        texts.append(repr(exc))
    fake.secret = "rotated"
    await fake.drop()
    await until(lambda: plain.health is AmiHealth.AUTH_FAILED)
    texts.append(plain.status().detail)
    await plain.stop()
    md5 = await make_client(wait=False, auth="md5")
    await until(lambda: md5.health is AmiHealth.AUTH_FAILED)
    texts += [repr(md5), md5.status().detail]
    blob = caplog.text + "\n".join(texts)
    assert "Authentication failed" in blob
    assert SECRET not in blob


async def test_a_secret_that_cannot_be_sent_is_refused_without_being_quoted(
    fake: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "line1\r\nAction: Originate"
    settings = AmiSettings(**{**TEST_SETTINGS, "port": fake.port, "secret": bad, "auth": "plain"})
    client = AmiClient(settings)
    await client.start()
    try:
        await until(lambda: client.health is AmiHealth.AUTH_FAILED)
        assert "CR, LF or NUL" in client.status().detail
        assert fake.actions_named("Login") == []
        assert "line1" not in caplog.text
    finally:
        await client.stop()
