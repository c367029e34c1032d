"""schemathesis against `pbxbridge run`: a real server, a real token, bounded in time.

Every operation of /api/v1/openapi.json is called with data generated from the document
(valid and invalid), with and without the token; the answers must be no server error and
inside the document (status codes, content types, bodies, headers). Excluded:
`positive_data_acceptance`, which expects 2xx for any input the schema allows, while a
phone number's validity cannot be said in JSON Schema (`12` matches the pattern and is no
number: 422, documented).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.pbxbridge.test_service import running

BIN = Path(sys.executable).parent


async def cli(config: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "pbxbridge"),
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    config = tmp_path / "pbxbridge.toml"
    config.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n[agi]\nport = 0\n[http]\nport = 0\n'
        '[ami]\nenabled = false\n[spool]\ndir = "spool"\nsounds_dir = "sounds"\n'
        '[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    await cli(config, "db", "upgrade")
    token = (await cli(config, "tokens", "create", "schemathesis")).splitlines()[-1]
    async with running(config, "--demo", log_level="INFO") as (_, lines):
        started = next(line for line in lines if "pbxbridge started" in line)
        match = re.search(r"HTTP (http://127\.0\.0\.1:\d+)", started)
        assert match is not None, started
        base = match.group(1)
        proc = await asyncio.create_subprocess_exec(
            str(BIN / "schemathesis"),
            "run",
            f"{base}/api/v1/openapi.json",
            "--url",
            f"{base}/api/v1",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "60",
            "--seed",
            "20261205",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
        )
        async with asyncio.timeout(90):
            out, _ = await proc.communicate()
    report = out.decode()
    assert proc.returncode == 0, report
    assert token not in report.replace(f"Bearer {token}", "")  # only where we put it
    assert re.search(r"\b[1-9]\d* generated, [1-9]\d* passed", report), report
