"""`pbxbridge webhooks list|test` as an operator runs them (click in-process, a real SQLite
file, a real receiver in a thread of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, session_factory
from tests.webhooks.conftest import hook, settle
from tests.webhooks.receiver import SECRET, Receiver
from webhooks.events import CALL_MISSED
from webhooks.service import Webhooks
from webhooks.settings import DeliverySettings

NOW = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
"""21:00 in Kyiv."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(now=NOW.timestamp).in_thread() as serving:
        yield serving


def write_config(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "pbxbridge.toml"
    url = receiver.url.replace("http://", "http://pbx:pa55word@")
    path.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n'
        '[spool]\ndir = "spool"\nsounds_dir = "sounds"\n'
        f'[[webhooks]]\nname = "billing"\nurl = "{url}"\nsecret = "{SECRET}"\n'
        'events = ["call.missed", "sms.received"]\n'
        '[[webhooks]]\nname = "crm"\nurl = "http://127.0.0.1:9/hook"\n'
        f'secret = "{SECRET}"\nevents = ["call.missed"]\ntimeout = 1\n',
        encoding="utf-8",
    )
    return path


def pbx(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(config), *args], obj=CliState(clock=FixedClock(NOW))
    )


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


async def missed_calls(tmp_path: Path, receiver: Receiver) -> None:
    """Two missed calls as the service emits them: `billing` takes them, `crm` is down
    (its retries run out: given up)."""
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'pbx.db'}"))
    clock = FixedClock(NOW)
    hooks = [
        hook(receiver.url),
        hook("http://127.0.0.1:9/hook", name="crm", events=[CALL_MISSED], timeout=1),
    ]
    webhooks = Webhooks(session_factory(engine), clock, hooks, DeliverySettings(max_age=60))
    try:
        for n in (1, 2):
            await webhooks.emit(CALL_MISSED, {"n": n})
        await settle(webhooks, clock)
    finally:
        await webhooks.stop()
        await engine.dispose()


def test_list_shows_each_webhook_without_its_credentials(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = write_config(tmp_path, receiver)
    ok(pbx(config, "db", "upgrade"))
    listed = ok(pbx(config, "webhooks", "list")).splitlines()
    assert listed == [
        f"billing  {receiver.url}  events=call.missed,sms.received  pending=0  failed=0  "
        "last delivered: never",
        "crm  http://127.0.0.1:9/hook  events=call.missed  pending=0  failed=0  "
        "last delivered: never",
    ]
    asyncio.run(missed_calls(tmp_path, receiver))
    listed = ok(pbx(config, "webhooks", "list")).splitlines()
    assert listed[0].startswith("billing  ")
    assert "pending=0  failed=0  last delivered: 2026-12-05 21:00 EET" in listed[0]
    assert (
        "pending=0  failed=2  last delivered: never; last error: still failing after" in listed[1]
    )
    assert "pa55word" not in "\n".join(listed)


def test_test_sends_a_signed_event_now_and_prints_the_answer(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = write_config(tmp_path, receiver)
    ok(pbx(config, "db", "upgrade"))
    said = ok(pbx(config, "webhooks", "test", "billing"))
    [got] = receiver.received
    assert got.verified
    assert got.event == "test"
    assert got.authorization is not None  # user:password@ in the URL: Basic auth
    assert got.body["payload"] == {
        "message": "pbxbridge webhooks test",
        "events": ["call.missed", "sms.received"],
    }
    assert said.startswith("billing: HTTP 200 OK: ok in ")
    assert f"(delivery {got.delivery_id})" in said

    down = pbx(config, "webhooks", "test", "crm")
    assert down.exit_code == 1
    assert down.output.startswith("crm: ClientConnectorError")
    unknown = pbx(config, "webhooks", "test", "nosuch")
    assert unknown.exit_code == 1
    assert "no webhook 'nosuch' ([[webhooks]]: billing, crm)" in unknown.output
    assert SECRET not in said + down.output + unknown.output
