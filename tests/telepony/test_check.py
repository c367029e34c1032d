"""`pbxbridge check` has a telepony line: off, the table found or to be created, or MySQL
away (WARN: the service still answers calls, the legs wait), never the password."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url

from telepony.mysql import CdrTable
from telepony.settings import TeleponySettings
from tests.fakes.tcp_proxy import free_port
from tests.pbxbridge.test_cli_check import check, lines, write


def test_the_table_missing_then_present(tmp_path: Path, mysql_url: str) -> None:
    config = write(tmp_path, telepony={"url": mysql_url})
    shown = make_url(mysql_url).render_as_string(hide_password=True)
    found = lines(check(config))
    assert found["telepony"] == ("OK", f"{shown} table cdr: missing, the service creates it")

    async def create() -> None:
        table = CdrTable(TeleponySettings(url=mysql_url))
        try:
            await table.prepare()
        finally:
            await table.close()

    asyncio.run(create())
    assert lines(check(config, upgrade=False))["telepony"] == ("OK", f"{shown} table cdr: 0 row(s)")


def test_mysql_away_is_a_warning_without_the_password(tmp_path: Path) -> None:
    url = f"mysql+asyncmy://feeder:s3cr3t-pw@127.0.0.1:{free_port()}/asteriskdb"
    result = check(write(tmp_path, telepony={"url": url, "connect_timeout": 2}))
    found = lines(result)
    level, detail = found["telepony"]
    assert level == "WARN"
    assert detail.startswith("mysql+asyncmy://feeder:***@127.0.0.1:")
    assert "Can't connect" in detail or "Connect" in detail
    assert "s3cr3t-pw" not in result.output
    assert result.exit_code == 0  # calls are still answered
