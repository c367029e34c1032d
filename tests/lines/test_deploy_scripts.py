"""deploy/billmanager/*.sh run for real, in subprocesses, the way BILLmanager runs them.

BILLmanager runs them as root, and they run pbxbridge as the pbxbridge user through
runuser. Here PBXBRIDGE_LINES_RUN_AS names the user the tests run as, so the script runs
pbxbridge directly: everything else (argument passing, the config, the working folder,
the exit status and the one line BILLmanager reads) is what production runs. The runuser
branch is one `exec` line; making a second user for it would need root and a tree that
user may read, which a test run cannot count on.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lines.conftest import OPENED, LineRig

SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "billmanager"
PBXBRIDGE = Path(sys.executable).with_name("pbxbridge")

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@dataclass
class Ran:
    status: int
    stdout: str
    stderr: str


async def script(rig: LineRig, name: str, *args: str, cwd: Path | None = None) -> Ran:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PBXBRIDGE_BIN": str(PBXBRIDGE),
        "PBXBRIDGE_CONFIG": str(rig.config),
        "PBXBRIDGE_LINES_RUN_AS": getpass.getuser(),
    }
    process = await asyncio.create_subprocess_exec(
        str(SCRIPTS / f"{name}.sh"),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def test_every_script_billmanager_needs_is_there_and_executable() -> None:
    for name in ("open", "suspend", "resume", "close", "setparam", "pbxbridge-line"):
        path = SCRIPTS / f"{name}.sh"
        assert path.is_file(), name
        assert os.access(path, os.X_OK), name


@sqlite_only
async def test_the_scripts_as_billmanager_runs_them(rig: LineRig, tmp_path: Path) -> None:
    trap = tmp_path / "pwned"
    opened = await script(
        rig,
        "open",
        "--user=ivan",
        "--password=Str0ng.pass-1",
        "--callerid=Ivan Petrenko <380501110001>",
        f"--notes=$(touch {trap}); `touch {trap}`",
        "--max_channels=2",
        cwd=tmp_path,  # a working folder with a pbxbridge.toml must not matter
    )
    assert opened.status == 0, opened.stderr
    match = OPENED.fullmatch(opened.stdout.rstrip("\n"))
    assert match is not None, opened.stdout
    assert (match["id"], match["password"]) == ("line1", "Str0ng.pass-1")
    assert "warning: parameter --notes ignored" in opened.stderr
    assert not trap.exists()  # arguments are never run by a shell
    assert 'callerid = "Ivan Petrenko" <380501110001>' in rig.text()
    assert rig.ami.pjsip_loads == [rig.text()]

    suspended = await script(rig, "suspend", "--id=line1", "--user=line1")
    assert (suspended.status, suspended.stdout) == (0, "OK\n")
    assert "context = pbxbridge-line-suspended" in rig.text()
    resumed = await script(rig, "resume", "--id=line1", "--user=line1")
    assert (resumed.status, resumed.stdout) == (0, "OK\n")
    changed = await script(rig, "setparam", "--id=line1", "--user=line1", "--max_channels=4")
    assert (changed.status, changed.stdout) == (0, "OK\n")
    assert "device_state_busy_at = 4" in rig.text()
    refused = await script(rig, "setparam", "--id=line1", "--callerid=x\n[evil]")
    assert refused.status == 1
    assert refused.stdout.startswith("ERROR: callerid ")
    assert refused.stdout.count("\n") == 1
    closed = await script(rig, "close", "--id=line1", "--user=line1")
    assert (closed.status, closed.stdout) == (0, "OK\n")
    assert "[line1]" not in rig.text()
    unknown = await script(rig, "suspend", "--id=line1")
    assert (unknown.status, unknown.stdout) == (1, "ERROR: no open line line1\n")
    assert "Str0ng.pass-1" not in "".join(
        r.stderr for r in (opened, suspended, resumed, changed, closed)
    )


async def test_the_helper_takes_only_the_five_commands(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        str(SCRIPTS / "pbxbridge-line.sh"),
        "list",
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert (process.returncode, out) == (1, b"ERROR: unknown line command: list\n")
