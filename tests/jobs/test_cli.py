"""`pbxbridge jobs list|run|history` as an operator runs them (click in-process, a real
SQLite file, a fixed clock)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""12:00 in Kyiv."""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "pbxbridge.toml"
    path.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///state/pbx.db"\n'
        '[spool]\ndir = "spool"\nsounds_dir = "sounds"\n',
        encoding="utf-8",
    )
    return path


def pbx(config: Path, *args: str, at: datetime = NOW) -> Result:
    obj = CliState(clock=FixedClock(at))
    return CliRunner().invoke(cli, ["--config", str(config), *args], obj=obj)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def row(listing: str, name: str) -> list[str]:
    """A job's line of `jobs list`, split on the table's two-space gaps."""
    (line,) = [x for x in listing.splitlines() if x.startswith(name + " ")]
    return re.split(r"\s{2,}", line.strip())


def test_list_run_and_history_of_the_embedded_billings_jobs(config: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    ok(pbx(config, "subscribers", "add", "ivan", "--name", "Ivan", "--phone", "0501110001",
           "--fee", "300", "--tariff", "Home"))  # fmt: skip

    listed = ok(pbx(config, "jobs", "list"))
    assert listed.splitlines()[0].split() == ["job", "schedule", "next", "run", "last", "result"]
    names = [line.split()[0] for line in listed.splitlines()[2:]]
    assert names == [
        "end_credits",
        "charge_fee",
        "autofreeze",
        "reminders",
        "debtors_campaign",
        "missed_stats",
        "retention",
        "db_backup",
    ]
    assert row(listed, "charge_fee") == [
        "charge_fee",
        "5 0 * * *",
        "2026-11-23 00:05 EET",
        "never run",
    ]
    assert row(listed, "autofreeze")[2] == "2026-11-22 12:10 EET"
    assert row(listed, "reminders")[2] == "off: billing.reminders.enabled = false"
    assert row(listed, "debtors_campaign")[2] == "off: off by default"
    assert row(listed, "db_backup")[2] == "2026-11-23 04:15 EET"

    ran = ok(pbx(config, "jobs", "run", "charge_fee"))
    assert ran == (
        "charge_fee: ok (1 attempt(s)): daily fee for 2026-11-22: charged 1 subscriber-day(s), "
        "10.00 in all; 0 already charged\n"
    )
    again = ok(pbx(config, "jobs", "run", "charge_fee", at=NOW + timedelta(minutes=1)))
    assert "charged 0 subscriber-day(s), 0.00 in all; 1 already charged" in again
    assert "-10.00" in ok(pbx(config, "subscribers", "show", "ivan"))  # once, not twice

    listed = ok(
        pbx(
            config,
            "jobs",
            "list",
        )
    )
    assert row(listed, "charge_fee")[3] == "ok 2026-11-22 12:01 EET"

    shown = ok(pbx(config, "jobs", "history", "charge_fee"))
    lines = shown.splitlines()
    assert lines[0].split() == ["started", "job", "run", "result", "took", "instance", "said"]
    assert len(lines) == 4
    newest = re.split(r"\s{2,}", lines[2])
    assert newest[:5] == ["2026-11-22 12:01:00 EET", "charge_fee", "manual", "ok", "0.0s"]
    assert newest[5].startswith("cli:")
    assert "1 already charged" in newest[6]
    assert len(ok(pbx(config, "jobs", "history", "--limit", "1")).splitlines()) == 3


def test_run_refuses_an_unknown_job_and_a_job_running_elsewhere(config: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    unknown = pbx(config, "jobs", "run", "nosuch")
    assert unknown.exit_code == 1
    assert "no job 'nosuch'; jobs: end_credits, charge_fee, autofreeze" in unknown.output

    database = config.parent / "state" / "pbx.db"
    with sqlite3.connect(database) as conn:  # the service runs retention right now
        conn.execute(
            "INSERT INTO jobs_locks (job, run_id, instance, taken_at, expires_at) "
            "VALUES ('retention', 41, 'pbx-1:99', '2026-11-22 09:59:00.000000', "
            "'2026-11-22 11:00:00.000000')"
        )
    busy = pbx(config, "jobs", "run", "retention")
    assert busy.exit_code == 1
    assert busy.output == (
        "retention: skipped (0 attempt(s)): not run: still running since 2026-11-22 11:59:00 "
        "EET on pbx-1:99 (run 41)\n"
    )
    shown = ok(pbx(config, "jobs", "history", "retention"))
    assert "skipped" in shown


def test_a_job_turned_off_still_runs_by_hand(config: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    result = pbx(config, "jobs", "run", "reminders")
    assert result.exit_code == 0, result.output
    assert "reminders is off in the schedule (billing.reminders.enabled = false)" in result.output
    assert "reminders: skipped (1 attempt(s)): reminders are off" in result.output


def test_the_ubilling_table_lists_without_asking_ubilling(config: Path) -> None:
    config.write_text(
        config.read_text("utf-8")
        + '[billing]\nbackend = "ubilling"\nurl = "http://127.0.0.1:9/"\nkey = "UB00"\n'
        + '[[jobs]]\nname = "fastping"\nenabled = false\n'
        + '[[jobs]]\nname = "vservices_weekly"\nschedule = "40 1 * * 1"\n'
        + 'action = "vserviceschargefee&period=7"\n',
        encoding="utf-8",
    )
    ok(pbx(config, "db", "upgrade"))
    listed = ok(pbx(config, "jobs", "list"))
    assert row(listed, "multigen") == [
        "multigen",
        "*/2 * * * *",
        "2026-11-22 12:02 EET",
        "never run",
    ]
    assert row(listed, "vserviceschargefee")[2] == "2026-12-01 01:40 EET"
    assert row(listed, "fastping")[2] == "off: [[jobs]] enabled = false"
    assert row(listed, "vservices_weekly")[:3] == [
        "vservices_weekly",
        "40 1 * * 1",
        "2026-11-23 01:40 EET",
    ]


def test_a_jobs_entry_that_fits_no_job_is_a_configuration_error(config: Path) -> None:
    config.write_text(
        config.read_text("utf-8") + '[[jobs]]\nname = "swping"\nenabled = false\n',
        encoding="utf-8",
    )
    result = pbx(config, "jobs", "list")
    assert result.exit_code == 1
    assert "jobs: 'swping' is no job of the embedded billing (autofreeze, charge_fee" in (
        result.output
    )
