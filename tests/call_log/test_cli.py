"""`pbxbridge calls list [--date D] [--number N]` as an operator runs it (click, a real
SQLite database): the capture's calls and hand-made ones, recorded by the real recorder."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local.backend import LocalBackend
from missed_calls import MissedCallSettings, MissedCallTracker
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, migrate, session_factory
from tests.call_log.conftest import internal_call, outgoing_call, recorded_call
from tests.missed_calls.conftest import capture_messages, feed, version_locations

RECORDED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""12:00 in Kyiv: the capture's calls; the hand-made ones the next day."""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND", "PBXBRIDGE_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pbxbridge.toml"
    path.write_text('[database]\nurl = "sqlite+aiosqlite:///state/pbx.db"\n', encoding="utf-8")
    return path


def pbx(config: Path, *args: str) -> Result:
    obj = CliState(clock=FixedClock(RECORDED + timedelta(hours=1)))
    return CliRunner().invoke(cli, ["--config", str(config), *args], obj=obj)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


async def record_calls(url: str) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        await migrate.upgrade(engine, version_locations())
        sessions = session_factory(engine)
        clock = FixedClock(RECORDED)
        billing = BillingClient(
            LocalBackend(sessions, clock, AuditJournal(sessions, "local", clock)),
            PhoneNormaliser("UA"),
        )
        async with MissedCallTracker(sessions, clock, billing, MissedCallSettings()) as tracker:
            await feed(tracker, capture_messages())
            clock.instant -= timedelta(days=1)
            await feed(tracker, [*outgoing_call(), *internal_call(), *recorded_call()])
    finally:
        await engine.dispose()


def test_calls_list(config: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    ok(pbx(config, "subscribers", "add", "petro", "--name", "Петро", "--phone", "0939876543"))
    url = f"sqlite+aiosqlite:///{config.parent / 'state' / 'pbx.db'}"
    asyncio.run(record_calls(url))

    today = ok(pbx(config, "calls", "list")).splitlines()
    assert re.split(r"\s{2,}", today[0]) == [
        "time",
        "dir",
        "caller",
        "callee",
        "result",
        "talk",
        "subscriber",
        "answered by",
        "recording",
    ]
    body = [re.split(r"\s{2,}", line) for line in today[2:5]]
    assert body[0][:5] == ["12:00:00 EET", "in", "0671234567", "100", "NO ANSWER (missed)"]
    assert body[1][:8] == [
        "12:00:00 EET",
        "in",
        "0939876543",
        "101",
        "ANSWERED",
        "1s",
        "petro Петро (active)",
        "Local/s@campaign-test-00000009;1",
    ]
    assert body[2][:5] == ["12:00:00 EET", "in", "+380501112233", "102", "NO ANSWER (missed)"]
    assert today[5:] == ["3 call(s) on 2026-11-22: 1 answered, 2 missed"]  # on stderr
    assert "3 call(s)" in pbx(config, "calls", "list").stderr

    before = ok(pbx(config, "calls", "list", "--date", "2026-11-21")).splitlines()
    assert [re.split(r"\s{2,}", line)[1] for line in before[2:5]] == ["out", "int", "in"]
    recorded = re.split(r"\s{2,}", before[4])
    assert recorded[4:] == [
        "ANSWERED",
        "2m 00s",
        "-",
        "PJSIP/104-0000000f",
        "20261122-120000-0501234567.wav",
    ]

    by_number = ok(
        pbx(config, "calls", "list", "--date", "2026-11-21", "--number", "+380671234567")
    )
    assert [re.split(r"\s{2,}", line)[3] for line in by_number.splitlines()[2:-1]] == ["0671234567"]
    extension = ok(pbx(config, "calls", "list", "--date", "2026-11-21", "--number", "102"))
    assert extension.splitlines()[-1] == "1 call(s) on 2026-11-21: 1 answered, 0 missed"
    assert "PJSIP/102-0000000d" in extension  # the internal call


def test_calls_before_db_upgrade_says_what_to_do(config: Path) -> None:
    result = pbx(config, "calls", "list")
    assert result.exit_code == 1
    assert "pbxbridge db upgrade" in result.output
