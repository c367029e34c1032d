"""`pbxbridge campaign …` as an operator uses it (click in-process, a real SQLite file)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pbxbridge.cli.campaign import campaign
from pbxbridge.cli.common import CliState
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, migrate
from tests.callfile_spooler.conftest import VERSION_LOCATIONS


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pbxbridge.toml"
    path.write_text(  # the spool and sounds too: `campaign delete` prunes the sounds folder
        '[database]\nurl = "sqlite+aiosqlite:///state/pbx.db"\n'
        '[spool]\ndir = "spool"\nsounds_dir = "sounds"\n',
        encoding="utf-8",
    )

    async def upgrade() -> None:  # until the root lists the spooler's migrations
        (tmp_path / "state").mkdir()
        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/state/pbx.db"))
        try:
            await migrate.upgrade(engine, VERSION_LOCATIONS)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    return path


NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
"""Monday 2026-11-23 10:00 in Kyiv: the clock every command reads."""


def pbx(config: Path, *args: str) -> Result:
    obj = CliState(config=config, clock=FixedClock(NOW))
    return CliRunner().invoke(campaign, list(args), obj=obj)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_campaign_from_creation_to_report(config: Path, tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.json"
    schedule.write_text('{"mon": "09:00", "sat": "13:17", "sun": "00:00"}', encoding="utf-8")
    created = ok(
        pbx(
            config,
            "create",
            "promo",
            "--context",
            "avtoobzvon",
            "--extension",
            "play",
            "--callerid",
            '"ISP" <0441234567>',
            "--bundle",
            "2",
            "--delay",
            "10",
            "--max-concurrent",
            "3",
            "--cps",
            "0.5",
            "--window",
            "09:00-20:00",
            "--schedule",
            str(schedule),
        )
    )
    assert "bundles of 2 every 10 s" in created
    assert "mon 09:00 sat 13:17" in created
    assert "09:00-20:00" in created

    numbers = tmp_path / "numbers.csv"
    numbers.write_text(
        "number,extension,VAR_dtmf\n0501110001,1,1\n0501110002,,\nnope,,\n", encoding="utf-8"
    )
    result = pbx(config, "import", "promo", str(numbers))
    assert result.exit_code == 1
    assert "line 4: 'nope' is not a valid phone number" in result.output
    assert "added 2, updated 0, skipped 1" in result.output
    seed = tmp_path / "todo.json"
    seed.write_text(json.dumps([{"phone": "0501110003", "context": "2"}]), encoding="utf-8")
    ok(pbx(config, "import", "promo", str(seed)))

    assert "run 1 started, 3 number(s) queued" in ok(pbx(config, "start", "promo"))
    assert "already running" in ok(pbx(config, "start", "promo"))
    status = ok(pbx(config, "status", "promo"))
    assert "running, run 1" in status
    assert "numbers   3: pending 3" in status
    assert "calls     queued 3" in status
    assert "0/3 numbers done (0%)" in status
    assert "paused" in ok(pbx(config, "pause", "promo"))
    assert "resumed" in ok(pbx(config, "start", "promo"))

    table = ok(pbx(config, "report", "promo"))
    assert "+380501110003  2" in table
    rows = list(csv.DictReader(io.StringIO(ok(pbx(config, "report", "promo", "--csv")))))
    assert [r["number"] for r in rows] == ["+380501110001", "+380501110002", "+380501110003"]
    assert rows[0] == {
        "number": "+380501110001",
        "extension": "1",
        "status": "pending",
        "attempts": "0",
        "last_outcome": "",
        "reason": "",
        "reason_text": "",
        "digit": "",
        "last_attempt": "",
    }
    edited = ok(pbx(config, "edit", "promo", "--cps", "2", "--no-window"))
    assert "2 call(s)/s" in edited
    assert "any time" in edited
    listed = ok(pbx(config, "list"))
    assert "promo" in listed
    assert "running" in listed


def test_dnc_and_errors(config: Path, tmp_path: Path) -> None:
    assert "+380501110001: on the do-not-call list" in ok(
        pbx(config, "dnc", "add", "050 111 00 01", "--note", "asked")
    )
    assert "asked" in ok(pbx(config, "dnc", "list"))
    ok(pbx(config, "dnc", "remove", "+380501110001"))
    assert "not on the do-not-call list" in pbx(config, "dnc", "remove", "0501110001").output
    assert "not a valid phone number" in pbx(config, "dnc", "add", "12").output

    assert "no campaign 'ghost'" in pbx(config, "start", "ghost").output
    bad = pbx(config, "create", "x", "--window", "9-18")
    assert bad.exit_code == 2
    assert "not a time" in bad.output
    schedule = tmp_path / "bad.json"
    schedule.write_text('{"moon": "09:00"}', encoding="utf-8")
    assert "unknown day" in pbx(config, "create", "x", "--schedule", str(schedule)).output
    injected = pbx(config, "create", "x", "--callerid", "ISP\nApplication: System")
    assert injected.exit_code == 1
    assert "CallerID" in injected.output
    ok(pbx(config, "create", "x"))
    assert "no numbers" in pbx(config, "start", "x").output
    assert "nothing to change" in pbx(config, "edit", "x").output
    assert "x: deleted" in ok(pbx(config, "delete", "x", "--yes"))
