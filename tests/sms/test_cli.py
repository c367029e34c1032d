"""`pbxbridge sms send` and `pbxbridge sms list`, in-process through click on a real
SQLite database (the group is added to the `pbxbridge` command here as the root will)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli as main_cli
from pbxbridge.cli.sms import sms
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from sms.inbox import Inbox
from sms.settings import SmsSettings
from sms.types import InboundSms
from storage import DatabaseSettings, create_engine, migrate, session_factory
from tests.sms.conftest import VERSION_LOCATIONS


@click.group()
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    ctx.ensure_object(CliState).config = config


for command in main_cli.commands.values():
    cli.add_command(command)
cli.add_command(sms)


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """The CLI installs its own root handler (a filter that formats and drops each record's
    exc_info); put back the root logger as it was, so later tests see plain records."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pbxbridge.toml"
    url = f"sqlite+aiosqlite:///{tmp_path / 'pbx.db'}"
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")

    async def upgrade() -> None:
        engine = create_engine(DatabaseSettings(url=url))
        try:
            await migrate.upgrade(engine, VERSION_LOCATIONS)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    return path


NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""12:00 in Kyiv: the clock of the commands and of the inbox that stores an SMS."""


def pbx(config: Path, *args: str) -> Result:
    obj = CliState(clock=FixedClock(NOW))
    return CliRunner().invoke(cli, ["--config", str(config), *args], obj=obj)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


def test_send_queues_and_list_shows_texts_in_full(config: Path, tmp_path: Path) -> None:
    out = ok(pbx(config, "sms", "send", "050 111 00 01", "Привіт!\nДругий рядок"))
    assert out.strip() == "SMS 1 to +380501110001: queued"
    out = ok(pbx(config, "sms", "send", "0501110002", "Щиро дякуємо", "--translit"))
    assert out.strip() == "SMS 2 to +380501110002: queued"
    ok(pbx(config, "sms", "send", "0501110003", "x", "--device", "dongle4"))

    async def receive() -> None:
        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'pbx.db'}"))
        sessions = session_factory(engine)
        clock = FixedClock(NOW)
        billing = BillingClient(
            LocalBackend(sessions, clock, AuditJournal(sessions, "local", clock)),
            PhoneNormaliser(),
        )
        inbox = Inbox(sessions, clock, billing, SmsSettings())
        await inbox.receive(InboundSms("dongle0", "0501110009", "Вхідне\nповідомлення", "base64"))
        await inbox.drain()
        await engine.dispose()

    asyncio.run(receive())
    listed = ok(pbx(config, "sms", "list"))
    assert "    Привіт!\n    Другий рядок" in listed
    assert "    Shchyro diakuiemo" in listed
    assert "via dongle/dongle4" in listed
    assert "from +380501110009" in listed
    assert "    Вхідне\n    повідомлення" in listed
    assert listed.index("Inbox") < listed.index("Outbox")

    only_queued = ok(pbx(config, "sms", "list", "--state", "queued", "--limit", "2"))
    assert "Inbox" not in only_queued
    assert "#3" in only_queued
    assert "#2" in only_queued
    assert "#1 " not in only_queued
    assert ok(pbx(config, "sms", "list", "--state", "sent")).count("#") == 0


def test_send_refuses_clearly(config: Path) -> None:
    result = pbx(config, "sms", "send", "not-a-number", "hi")
    assert result.exit_code == 1
    assert "not a phone number" in result.output
    empty = pbx(config, "sms", "send", "0501110001", "  ")
    assert empty.exit_code == 1
    assert "empty" in empty.output
