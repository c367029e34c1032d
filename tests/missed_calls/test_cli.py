"""`pbxbridge missed list|stats` as an operator runs them (click, a real SQLite database).

The misses come from the real capture; the recall is HAND-MADE (see conftest)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local.backend import LocalBackend
from missed_calls import MissedCallSettings, MissedCallTracker
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from pbxbridge.cli.missed import duration, missed
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, migrate, session_factory
from tests.missed_calls.conftest import capture_messages, cdr, feed, version_locations


def command_line() -> click.Group:
    """`pbxbridge` with the `missed` group (added by the root to pbxbridge/cli/main.py)."""
    if "missed" in cli.commands:
        return cli

    @click.group()
    @click.option("--config", type=click.Path(dir_okay=False, path_type=Path))
    @click.pass_context
    def pbxbridge(ctx: click.Context, config: Path | None) -> None:
        ctx.ensure_object(CliState).config = config

    for name, command in cli.commands.items():
        pbxbridge.add_command(command, name)
    pbxbridge.add_command(missed)
    return pbxbridge


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND", "PBXBRIDGE_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pbxbridge.toml"
    path.write_text('[database]\nurl = "sqlite+aiosqlite:///state/pbx.db"\n', encoding="utf-8")
    return path


RECORDED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""12:00 in Kyiv: when the calls are recorded; the commands run half an hour later."""


def pbx(config: Path, *args: str) -> Result:
    obj = CliState(clock=FixedClock(RECORDED + timedelta(minutes=30)))
    return CliRunner().invoke(command_line(), ["--config", str(config), *args], obj=obj)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


async def record_calls(url: str) -> None:
    """What the service recorded at RECORDED: the capture, one recall 25 min later."""
    engine = create_engine(DatabaseSettings(url=url))
    try:
        await migrate.upgrade(engine, version_locations())
        sessions = session_factory(engine)
        clock = FixedClock(RECORDED)
        phones = PhoneNormaliser("UA")
        billing = BillingClient(
            LocalBackend(sessions, clock, AuditJournal(sessions, "local", clock)), phones
        )
        async with MissedCallTracker(sessions, clock, billing, MissedCallSettings()) as tracker:
            await feed(tracker, capture_messages())
            clock.instant += timedelta(minutes=25)
            await feed(
                tracker,
                [
                    cdr(
                        "1795900000.1",
                        src="101",
                        dst="0501112233",
                        disposition="ANSWERED",
                        dstchannel="PJSIP/trunk-00000003",
                        duration=0,
                    )
                ],
            )
    finally:
        await engine.dispose()


def test_missed_list_and_stats(config: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    ok(pbx(config, "subscribers", "add", "olena", "--name", "Олена", "--phone", "0671234567"))
    url = f"sqlite+aiosqlite:///{config.parent / 'state' / 'pbx.db'}"
    asyncio.run(record_calls(url))

    listed = ok(pbx(config, "missed", "list", "--today"))
    lines = listed.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "time",
        "number",
        "subscriber",
        "queue",
        "waited",
        "recalled",
    ]
    olena = next(line for line in lines if "+380671234567" in line)
    # named from the embedded billing when the call was recorded
    assert "olena Олена (active)" in olena
    assert re.search(r"\s4s\s+-$", olena)
    queued = next(line for line in lines if "+380501112233" in line)
    assert re.search(r"support\s+3s\s+\d\d:\d\d:\d\d EES?T \(\+25m 00s\)$", queued)
    assert "2 missed call(s), 1 recalled" in listed

    assert "+380501112233" not in ok(pbx(config, "missed", "list", "--open"))
    assert "0 missed call(s)" in ok(pbx(config, "missed", "list", "--day", "2001-01-01"))

    stats = ok(pbx(config, "missed", "stats", "--days", "3"))
    rows = [re.split(r"\s{2,}", line) for line in stats.splitlines()[2:5]]
    assert [row[1:] for row in rows] == [
        ["0", "0", "0", "0", "0", "-"],
        ["0", "0", "0", "0", "0", "-"],
        ["2", "2", "1", "1", "0", "25m 00s"],
    ]
    assert "2 missed, 1 recalled in 3 day(s)" in stats


def test_missed_before_db_upgrade_says_what_to_do(config: Path) -> None:
    result = pbx(config, "missed", "stats")
    assert result.exit_code == 1
    assert "pbxbridge db upgrade" in result.output


def test_duration() -> None:
    assert [duration(s) for s in (None, 0, 45, 185, 7620, 97200)] == [
        "-",
        "0s",
        "45s",
        "3m 05s",
        "2h 07m",
        "1d 3h",
    ]
