"""`pbxbridge sms send` tells whether the message goes now: from the running service's
heartbeat (the outbox worker records its AMI link), since the CLI cannot see that link.

The service is the real one (`Service` from pbxbridge/app.py) against the fake AMI; the
CLI runs in a worker thread on the same SQLite file, as a second terminal would.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from pbxbridge.app import Service, open_core
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from pbxbridge.settings import load_settings
from primitives.clock import FixedClock
from sms.outbox import Outbox
from sms.types import WorkerStatus
from tests.fakes.ami_asterisk import FakeAmi

NOON = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 12:00 EET
NOT_RUNNING = "pbxbridge run is not running"
NOT_CONNECTED = "Asterisk is not connected now"


def send(config: Path, clock: FixedClock, text: str) -> Result:
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "sms", "send", "0501110001", text],
        obj=CliState(None, clock=clock),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(": queued\n")
    return result


async def until(outbox: Outbox, wanted: bool) -> WorkerStatus:
    """The heartbeat row once it says the link is `wanted` (up or down)."""
    async with asyncio.timeout(10):
        while True:
            status = await outbox.worker_status()
            if status is not None and status.running and status.ready is wanted:
                return status
            await asyncio.sleep(0.01)


async def test_sms_send_says_when_the_message_waits(tmp_path: Path) -> None:
    clock = FixedClock(NOON)
    async with FakeAmi(secret="s3cret", dongle=True) as fake:
        config = tmp_path / "pbxbridge.toml"
        config.write_text(
            '[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n'
            '[spool]\ndir = "spool"\n'
            "[agi]\nport = 0\n"
            "[http]\nport = 0\n"
            f'[ami]\nport = {fake.port}\nsecret = "s3cret"\n'
            "backoff_initial = 0.05\nbackoff_max = 0.1\n"
            "[sms]\npoll_interval = 0.05\n"
            '[logging]\nlevel = "ERROR"\n',
            encoding="utf-8",
        )
        (tmp_path / "spool" / "outgoing").mkdir(parents=True)
        args = ["--config", str(config), "db", "upgrade"]
        upgrade = await asyncio.to_thread(CliRunner().invoke, cli, args)
        assert upgrade.exit_code == 0, upgrade.output

        never = await asyncio.to_thread(send, config, clock, "before the service")
        assert f"{NOT_RUNNING} (never seen on this database)" in never.stderr

        settings, _ = load_settings(config)
        async with open_core(settings, clock=clock) as core:
            service = Service(core)
            await service.start()
            try:
                await until(service.outbox, True)
                up = await asyncio.to_thread(send, config, clock, "link up")
                assert NOT_RUNNING not in up.stderr
                assert NOT_CONNECTED not in up.stderr
                await fake.wait_for_action("DongleSendSMS", count=2)

                await fake.stop()  # Asterisk goes away
                await until(service.outbox, False)
                down = await asyncio.to_thread(send, config, clock, "link down")
                assert (
                    f"{NOT_CONNECTED} (since 2026-11-22 12:00:00 EET): the message waits in "
                    "the queue and goes when the link is up"
                ) in down.stderr

                # A worker that stopped beating (killed) is not taken for a running one.
                later = FixedClock(NOON + timedelta(minutes=10))
                stale = await asyncio.to_thread(send, config, later, "no heartbeat")
                assert f"{NOT_RUNNING} (last seen 2026-11-22 12:00:00 EET)" in stale.stderr
            finally:
                await service.stop()

        stopped = await asyncio.to_thread(send, config, clock, "after the service")
        assert f"{NOT_RUNNING} (last seen 2026-11-22 12:00:00 EET)" in stopped.stderr
    assert len(fake.actions_named("DongleSendSMS")) == 2  # the ones queued while down wait


def test_with_ami_off_the_cli_says_nothing_sends(tmp_path: Path) -> None:
    config = tmp_path / "pbxbridge.toml"
    config.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n[ami]\nenabled = false\n',
        encoding="utf-8",
    )
    assert CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    result = send(config, FixedClock(NOON), "x")
    assert "[ami] enabled = false: nothing sends SMS with this configuration" in result.stderr
