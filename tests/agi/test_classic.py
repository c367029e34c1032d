"""`pbxbridge-agi`: the same routes as a process per call over stdin/stdout (pyst2)."""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal
from pathlib import Path

from pbxbridge.app import open_core
from pbxbridge.settings import load_settings
from primitives.clock import FixedClock
from tests.fakes.agi_asterisk import HANGUP_LINE, FakeAsterisk, FakeCall

AGI_COMMAND = Path(sys.executable).with_name("pbxbridge-agi")


async def run_classic(
    config: Path, *argv: str, callerid: str, hangup_before: int | None = None
) -> tuple[int, FakeCall, bytes]:
    """Play Asterisk for one classic AGI process: environment on stdin, replies per command."""
    fake = FakeAsterisk(
        0,
        env={
            "agi_network": None,
            "agi_network_script": None,
            "agi_request": "pbxbridge-agi",
            "agi_callerid": callerid,
            "agi_arg_1": argv[0],
            "agi_arg_2": argv[1] if len(argv) > 1 else None,
        },
    )
    env = {**os.environ, "PBXBRIDGE_CONFIG": str(config)}
    proc = await asyncio.create_subprocess_exec(
        str(AGI_COMMAND),
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd="/",
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdin.write(fake.environment)
    await proc.stdin.drain()
    number = 0
    while line := await proc.stdout.readline():
        fake.record.received.append(line)
        if hangup_before == number:
            proc.stdin.write(HANGUP_LINE)
        proc.stdin.write(fake.answer(line))
        await proc.stdin.drain()
        number += 1
    stderr = await proc.stderr.read()
    return await proc.wait(), fake.record, stderr


async def test_classic_agi_runs_the_route_from_another_folder(
    tmp_path: Path, clock: FixedClock
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    config = etc / "pbxbridge.toml"
    config.write_text('[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n', encoding="utf-8")
    settings, _ = load_settings(config)
    async with open_core(settings, clock=clock) as core:
        from pbxbridge import migrations

        await migrations.upgrade(core.engine)
        assert core.local is not None
        await core.local.add(
            "debtor",
            name="Дмитро",
            phones=("0501110002",),
            balance=Decimal("-50"),
            fee=Decimal(100),
            actor="test",
        )
    # The unprompted HANGUP before the second reply is what crashes plain pyst2.
    code, call, stderr = await run_classic(
        config, "userstatus", callerid="0501110002", hangup_before=1
    )
    assert code == 0, stderr.decode()
    assert call.set_variables["SUBSCRIBER_STATUS"] == "2"
    assert call.set_variables["SUBSCRIBER_LOGIN"] == "debtor"
    assert call.set_variables["SUBSCRIBER_NAME"] == "Дмитро"
    assert call.set_variables["SUBSCRIBER_BALANCE"] == "-50.00"

    code, call, _ = await run_classic(config, "askozianum", "0509999999", callerid="0501110002")
    assert code == 0
    assert call.set_variables["BILLING_RESULT"] == "NOTFOUND"

    code, call, _ = await run_classic(config, "nosuch", callerid="0501110002")
    assert code == 2
    assert call.verbose == ["pbxbridge-agi: no route 'nosuch'"]
