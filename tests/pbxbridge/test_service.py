"""`pbxbridge run` as a process: start-up, demo data, a probe call, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from primitives.clock import FixedClock
from tests.fakes.ubilling import SERIAL, FakeUbilling

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def running(
    config: Path, *args: str, log_level: str = "INFO"
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "pbxbridge"),
        "--config",
        str(config),
        "run",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PBXBRIDGE_LOGGING__LEVEL": log_level},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(30):
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                break
            lines.append(raw.decode())
            if "pbxbridge started" in lines[-1]:
                break
    try:
        yield proc, lines
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                rest = await proc.stdout.read()
                lines.extend(rest.decode().splitlines(keepends=True))
                await proc.wait()


async def probe(config: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "pbxbridge"),
        "--config",
        str(config),
        "agi-probe",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


def write_config(tmp_path: Path, *, scheduler: bool = False) -> Path:
    """FastAGI on a free port; AMI pointed at a port where nothing listens; the spool and
    the campaign sounds in tmp_path (never the machine's, which the service prunes). The
    scheduler off unless asked for: on the real clock a job could fire mid-test (charge_fee
    at 00:05 moves the balances these tests read)."""
    config = tmp_path / "pbxbridge.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n[agi]\nport = {free_port()}\n'
        "[http]\nport = 0\n"
        f"[ami]\nport = {free_port()}\nbackoff_initial = 0.05\nbackoff_max = 0.1\n"
        '[spool]\ndir = "spool"\nsounds_dir = "sounds"\n'
        f"[scheduler]\nenabled = {'true' if scheduler else 'false'}\n",
        encoding="utf-8",
    )
    (tmp_path / "spool" / "outgoing").mkdir(parents=True)
    return config


async def test_demo_run_answers_calls_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    async with running(config, "--demo") as (proc, lines):
        output = "".join(lines)
        assert "0501110002  demo2  status 2" in output
        assert "Demo pay cards:" in output
        card = next(line.split()[0] for line in lines if "worth 50" in line)
        status = await probe(config, "userstatus", "--callerid", "0501110002")
        assert "SUBSCRIBER_LOGIN=demo2" in status
        assert "SUBSCRIBER_BALANCE=-50.00" in status
        paid = await probe(config, f"paycardpay?card={card}", "--callerid", "0501110002")
        assert "PAYCARD_RESULT=OK" in paid
        assert "SUBSCRIBER_BALANCE=0.00" in paid
        typed = await probe(
            config, "paycardpay", "--callerid", "0501110001", "--digits", card, "-v"
        )
        assert "PAYCARD_RESULT=USED" in typed
        assert "> GET DATA pbxbridge/enter-card 6000 16" in typed
    assert proc.returncode == 0
    assert "stopping: no new work" in "".join(lines)

    # A second start finds data: nothing is seeded again, and one line says why.
    async with running(config, "--demo") as (_, lines):
        output = "".join(lines)
        assert "Demo subscribers" not in output
        assert "demo data not seeded: the embedded billing already has subscribers" in output


async def read_until(
    proc: asyncio.subprocess.Process, lines: list[str], text: str, count: int
) -> None:
    """Read the service's output into `lines` until `count` lines hold `text`."""
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        while sum(text in line for line in lines) < count:
            raw = await proc.stdout.readline()
            assert raw, "the service ended"
            lines.append(raw.decode())


async def test_plain_run_never_seeds_and_serves_without_asterisk(tmp_path: Path) -> None:
    """No AMI peer: the client retries quietly (one line per state change) and calls
    are still answered. The scheduler runs (no subscriber for a job to change)."""
    config = write_config(tmp_path, scheduler=True)
    async with running(config, log_level="DEBUG") as (proc, lines):
        assert "Demo subscribers" not in "".join(lines)
        assert "scheduler started: 6 job(s) scheduled, 2 off" in "".join(lines)
        # five more refused attempts, each only a DEBUG line at backoff_max 0.1 s
        await read_until(proc, lines, "AMI still reconnecting", 5)
        status = await probe(config, "askozianum", "--callerid", "0501110002")
        assert "BILLING_RESULT=NOTFOUND" in status
    assert proc.returncode == 0
    ami_lines = [line for line in lines if "pbxbridge.ami" in line and "DEBUG" not in line]
    reconnecting = [line for line in ami_lines if "AMI reconnecting" in line]
    assert len(reconnecting) == 1, ami_lines


async def test_demo_on_ubilling_seeds_nothing_and_serves_from_ubilling(
    tmp_path: Path, clock: FixedClock
) -> None:
    """`make run` (run --demo) starts on whatever billing the config names; only the
    embedded one gets demo data, and the service says in one line why it seeded none."""
    async with FakeUbilling(clock=clock) as fake:
        config = write_config(tmp_path)
        config.write_text(
            config.read_text("utf-8")
            + f'[billing]\nbackend = "ubilling"\nurl = "{fake.url}"\nkey = "{SERIAL}"\n',
            encoding="utf-8",
        )
        async with running(config, "--demo") as (proc, lines):
            output = "".join(lines)
            assert "demo data not seeded: billing.backend is ubilling" in output
            assert "Demo subscribers" not in output
            # userstatus: askozianum asks Ubilling the status alone, without the login
            status = await probe(config, "userstatus", "--callerid", "0501110002")
            assert "SUBSCRIBER_LOGIN=testuser2" in status
            assert "BILLING_RESULT=OK" in status
        assert proc.returncode == 0
