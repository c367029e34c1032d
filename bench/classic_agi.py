"""Process-per-call AGI for contrast: Asterisk's `AGI(pbxbridge-agi,askozianum)`.

Every session spawns `pbxbridge-agi askozianum` with PBXBRIDGE_CONFIG set, writes the
environment block to its stdin, answers each command line it prints on stdout, and ends
when the process exits. Latency is spawn to exit. The environment is the captured block
as classic AGI gets it: no agi_network*, agi_request naming the script and agi_arg_1 the
route, as Asterisk passes the application's arguments.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agi_loadgen import LoadResult, captured_environment, reply_for

COMMAND = "pbxbridge-agi"


@dataclass
class ClassicOutcome:
    result: LoadResult | None
    skipped: str | None = None


def classic_environment(callerid: str, uniqueid: str) -> bytes:
    changed = {"agi_request": COMMAND, "agi_callerid": callerid, "agi_uniqueid": uniqueid}
    lines = [
        f"{key}: {changed.get(key, value)}"
        for key, value in captured_environment()
        if not key.startswith(("agi_network", "agi_arg_"))
    ]
    lines.append("agi_arg_1: askozianum")
    return ("\n".join(lines) + "\n\n").encode()


async def _one(
    command: Path, env: bytes, environ: dict[str, str], stderr: IO[bytes]
) -> tuple[float, list[bytes], int]:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        str(command),
        "askozianum",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=environ,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    lines: list[bytes] = []
    try:
        proc.stdin.write(env)
        await proc.stdin.drain()
        while line := await proc.stdout.readline():
            line = line.rstrip(b"\r\n")
            lines.append(line)
            proc.stdin.write(reply_for(line))
            await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    code = await proc.wait()
    return time.perf_counter() - start, lines, code


async def _run(
    command: Path,
    envs: Sequence[bytes],
    config: Path,
    concurrency: int,
    log_file: Path,
) -> LoadResult:
    environ = {**os.environ, "PBXBRIDGE_CONFIG": str(config)}
    latencies: list[float] = []
    commands: dict[int, list[bytes]] = {}
    errors: list[tuple[int, str]] = []
    jobs = iter(range(len(envs)))
    with log_file.open("ab") as stderr:

        async def channel() -> None:
            for index in jobs:
                seconds, lines, code = await _one(command, envs[index], environ, stderr)
                commands[index] = lines
                if code == 0:
                    latencies.append(seconds)
                else:
                    errors.append((index, f"exit status {code}"))

        start = time.monotonic()
        await asyncio.gather(*(channel() for _ in range(concurrency)))
        wall = time.monotonic() - start
    latencies.sort()
    return LoadResult(len(envs), wall, latencies, commands, errors)


def run_classic(
    command: Path, envs: Sequence[bytes], config: Path, *, concurrency: int, log_file: Path
) -> ClassicOutcome:
    """Time `envs` through the classic entry; skipped with a reason when it cannot run."""
    if not command.exists():
        return ClassicOutcome(None, f"{command} does not exist (entry point agi.classic:main)")
    probe = asyncio.run(_run(command, envs[:1], config, 1, log_file))
    if probe.errors:
        tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["no stderr"]
        return ClassicOutcome(None, f"{command.name} failed: {probe.errors[0][1]}: {tail[0]}")
    return ClassicOutcome(asyncio.run(_run(command, envs, config, concurrency, log_file)))
