"""Lines follow their subscribers in the embedded billing (frozen or disabled: held), and
the running service reloads over its own AMI link, sending a reload AMI missed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from ami_listener import AmiClient
from billing_client.models import Subscriber
from lines.reload import AmiReload
from lines.service import Lines
from lines.settings import LinesSettings
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.ami_listener.conftest import connected
from tests.conftest import Database
from tests.fakes.agi_asterisk import FakeAsterisk
from tests.fakes.ami_asterisk import FakeAmi
from tests.lines.conftest import LineRig

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def context_of(text: str, line: str) -> str:
    """The context the file gives `line`'s endpoint."""
    block = text.split(f"[{line}]", 1)[1].split("\n\n", 1)[0]
    return next(s.split(" = ", 1)[1] for s in block.splitlines() if s.startswith("context = "))


async def state_of(rig: LineRig, line: str) -> str:
    listed = await rig.run("line", "list")
    row = next(r.split() for r in listed.stdout.splitlines() if r.startswith(f"{line} "))
    return row[1]


@sqlite_only
async def test_freezing_a_subscriber_holds_their_lines(rig: LineRig) -> None:
    added = await rig.run("subscribers", "add", "ivan", "--phone", "0501110001", "--fee", "100")
    assert added.exit_code == 0, added.output
    ivan, _, _ = await rig.open("--user=ivan")
    other, _, _ = await rig.open("--user=stranger")
    listed = await rig.run("line", "list")
    assert [r.split()[3] for r in listed.stdout.splitlines()[2:4]] == ["ivan", "-"]

    assert (await rig.run("subscribers", "freeze", "ivan")).exit_code == 0
    text = rig.text()
    assert context_of(text, ivan) == "pbxbridge-line-suspended"
    assert context_of(text, other) == "pbxbridge-line"
    assert rig.ami.pjsip_loads[-1] == text  # reloaded
    assert await state_of(rig, ivan) == "held"

    # BILLmanager resuming does not unblock a frozen subscriber's line
    resumed = await rig.line("resume", f"--id={ivan}")
    assert resumed.stdout == "OK\n"
    assert "stays blocked: its subscriber ivan is frozen or disabled" in resumed.stderr
    assert context_of(rig.text(), ivan) == "pbxbridge-line-suspended"
    # and unfreezing does not unblock a line BILLmanager suspended
    assert (await rig.line("suspend", f"--id={ivan}")).exit_code == 0
    assert (await rig.run("subscribers", "unfreeze", "ivan")).exit_code == 0
    assert await state_of(rig, ivan) == "suspended"
    assert context_of(rig.text(), ivan) == "pbxbridge-line-suspended"
    assert (await rig.line("resume", f"--id={ivan}")).exit_code == 0
    assert context_of(rig.text(), ivan) == "pbxbridge-line"

    assert (await rig.run("subscribers", "disable", "ivan")).exit_code == 0
    assert context_of(rig.text(), ivan) == "pbxbridge-line-suspended"
    assert (await rig.run("subscribers", "enable", "ivan")).exit_code == 0
    assert context_of(rig.text(), ivan) == "pbxbridge-line"
    assert await state_of(rig, ivan) == "active"


@sqlite_only
async def test_a_freeze_stands_when_its_lines_cannot_follow(rig: LineRig) -> None:
    assert (await rig.run("subscribers", "add", "ivan", "--phone", "0501110001")).exit_code == 0
    ivan, _, _ = await rig.open("--user=ivan")
    rig.ami.reload_error = "A reload is in progress"
    frozen = await rig.run("subscribers", "freeze", "ivan")
    assert frozen.exit_code == 0  # the subscriber is frozen all the same
    assert "voice lines of ivan not held" in frozen.stderr
    assert context_of(rig.text(), ivan) == "pbxbridge-line"  # the refused file is not kept
    rig.ami.reload_error = None
    synced = await rig.run("line", "sync")  # catches up
    assert synced.exit_code == 0, synced.output
    assert context_of(rig.text(), ivan) == "pbxbridge-line-suspended"


@asynccontextmanager
async def running(
    database: Database, clock: FixedClock, ami: FakeAmi, folder: Path
) -> AsyncIterator[Service]:
    settings = Settings(
        database={"url": database.url},
        spool={"dir": folder / "spool", "sounds_dir": folder / "sounds"},
        agi={"port": 0, "command_timeout": 5, "session_timeout": 20},
        ami={
            "port": ami.port,
            "secret": SecretStr(ami.secret),
            "backoff_initial": 0.05,
            "backoff_max": 0.1,
        },
        lines={"pjsip_file": folder / "asterisk" / "pjsip_pbxbridge.conf", "reload_timeout": 2},
    )
    async with open_core(settings, clock=clock) as core:
        service = Service(core)
        await service.start()
        try:
            yield service
        finally:
            await service.stop()


async def call(service: Service, script: str, callerid: str) -> dict[str, str]:
    env: dict[str, str | None] = {
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:{service.agi.port}/{script}",
        "agi_callerid": callerid,
        "agi_uniqueid": "1795311406.7",
        "agi_arg_1": None,
        "agi_arg_2": None,
    }
    return (await FakeAsterisk(service.agi.port, env=env).call()).set_variables


async def test_a_pause_by_phone_holds_the_line_over_the_service_link(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    pjsip = tmp_path / "asterisk" / "pjsip_pbxbridge.conf"
    async with FakeAmi() as ami, running(database, clock, ami, tmp_path) as service:
        ami.pjsip_file = pjsip
        assert service.ami is not None
        await connected(service.ami)
        core = service.core
        assert core.local is not None
        await core.local.add("ivan", phones=("0501110001",), actor="test")
        opened = await core.lines.open(account="ivan", login="ivan", password=None, params={})
        assert opened.line is not None
        name = opened.line.name
        connections = ami.connections

        paused = await call(service, "pause", "0501110001")
        assert paused["PAUSE_RESULT"] == "OK"
        assert context_of(pjsip.read_text(), name) == "pbxbridge-line-suspended"
        assert ami.pjsip_loads[-1] == pjsip.read_text()
        resumed = await call(service, "unpause", "0501110001")
        assert resumed["PAUSE_RESULT"] == "OK"
        assert context_of(pjsip.read_text(), name) == "pbxbridge-line"
        assert len(ami.pjsip_loads) == 3  # open, pause, unpause
        assert ami.connections == connections  # all on the service's one link


async def test_the_service_sends_the_reload_a_change_missed(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    pjsip = tmp_path / "asterisk" / "pjsip_pbxbridge.conf"
    ami = FakeAmi()
    await ami.start()
    await ami.stop()  # its port, with nobody listening yet
    ami.pjsip_file = pjsip
    async with running(database, clock, ami, tmp_path) as service:
        lines = service.core.lines
        done = await lines.open(account="ivan", login=None, password=None, params={})
        assert done.reload_pending
        assert (await lines.pending()).pending
        await ami.start()  # Asterisk comes up: the service logs in and reloads
        try:
            await ami.wait_for_action("ModuleLoad")
            assert ami.pjsip_loads == [pjsip.read_text()]
            await until_cleared(lines)
        finally:
            await ami.stop()


async def until_cleared(lines: Lines, within: float = 5.0) -> None:
    """Poll the pending flag (it has no event) until the reload was recorded as done."""
    async with asyncio.timeout(within):
        while (await lines.pending()).pending:  # noqa: ASYNC110 - a database flag
            await asyncio.sleep(0.01)


@sqlite_only
async def test_the_service_start_catches_lines_up_with_their_subscribers(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    pjsip = tmp_path / "asterisk" / "pjsip_pbxbridge.conf"
    async with FakeAmi() as ami:
        ami.pjsip_file = pjsip
        async with running(database, clock, ami, tmp_path) as service:
            core = service.core
            assert core.local is not None
            await core.local.add("ivan", phones=("0501110001",), actor="test")
            opened = await core.lines.open(account="ivan", login="ivan", password=None, params={})
            assert opened.line is not None
        # frozen behind the hook's back (as an import sets `frozen`)
        async with database.sessions.begin() as session:
            await session.execute(
                update(Subscriber).where(Subscriber.login == "ivan").values(frozen=True)
            )
        async with running(database, clock, ami, tmp_path):
            assert context_of(pjsip.read_text(), opened.line.name) == "pbxbridge-line-suspended"


@sqlite_only
async def test_two_opens_at_once_get_two_lines(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    """Two BILLmanager tasks at once: each change runs alone, both lines are in the file."""
    pjsip = tmp_path / "pjsip_pbxbridge.conf"
    settings = LinesSettings(pjsip_file=pjsip)
    async with FakeAmi() as ami:
        ami.pjsip_file = pjsip
        client = AmiClient(Settings(ami={"port": ami.port, "secret": SecretStr(ami.secret)}).ami)
        reload = AmiReload(client.action_once, 2.0)
        first = Lines(database.sessions, clock, settings, reload)
        second = Lines(database.sessions, clock, settings, reload)
        a, b = await asyncio.gather(
            *(
                lines.open(account=who, login=None, password=None, params={})
                for lines, who in ((first, "ivan"), (second, "olena"))
            )
        )
    assert a.line is not None
    assert b.line is not None
    assert {a.line.name, b.line.name} == {"line1", "line2"}
    text = pjsip.read_text()
    assert "[line1]" in text
    assert "[line2]" in text
    assert ami.pjsip_loads[-1] == text
