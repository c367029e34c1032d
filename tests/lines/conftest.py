"""A project folder for line commands: config, migrated database, fake AMI Asterisk."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.fakes.ami_asterisk import DEFAULT_SECRET, FakeAmi

OPENED = re.compile(r"OK --id=(?P<id>[a-z0-9]+) --username=(?P=id) --password=(?P<password>\S+)")


@dataclass
class LineRig:
    config: Path
    pjsip: Path
    ami: FakeAmi
    database: Database
    clock: FixedClock

    async def run(self, *args: str) -> Result:
        """`pbxbridge --config … <args>` in-process, on the rig's clock. In a thread: the
        command runs its own event loop, while this one serves the fake Asterisk."""
        obj = CliState(clock=self.clock)
        argv = ["--config", str(self.config), *args]
        return await asyncio.to_thread(CliRunner().invoke, cli, argv, obj=obj)

    async def line(self, command: str, *args: str) -> Result:
        return await self.run("line", command, *args)

    async def open(self, *args: str) -> tuple[str, str, Result]:
        """A line opened; its id and password, read back from the OK line."""
        result = await self.line("open", *args)
        assert result.exit_code == 0, result.output
        match = OPENED.fullmatch(result.stdout.rstrip("\n"))
        assert match is not None, result.stdout
        return match["id"], match["password"], result

    def text(self) -> str:
        return self.pjsip.read_text("utf-8")


def write_config(
    path: Path, database: Database, ami_port: int, pjsip: Path, *, ami: bool = True
) -> None:
    path.write_text(
        f'[database]\nurl = "{database.url}"\n'
        f"[ami]\nenabled = {'true' if ami else 'false'}\nport = {ami_port}\n"
        f'secret = "{DEFAULT_SECRET}"\nconnect_timeout = 2.0\naction_timeout = 2.0\n'
        f'[lines]\npjsip_file = "{pjsip}"\nreload_timeout = 2.0\nlock_timeout = 10.0\n'
        f'[spool]\ndir = "{path.parent / "spool"}"\nsounds_dir = "{path.parent / "sounds"}"\n',
        encoding="utf-8",
    )


@pytest.fixture
async def rig(database: Database, clock: FixedClock, tmp_path: Path) -> AsyncIterator[LineRig]:
    pjsip = tmp_path / "asterisk" / "pjsip_pbxbridge.conf"
    async with FakeAmi() as ami:
        ami.pjsip_file = pjsip
        config = tmp_path / "pbxbridge.toml"
        write_config(config, database, ami.port, pjsip)
        yield LineRig(config, pjsip, ami, database, clock)
