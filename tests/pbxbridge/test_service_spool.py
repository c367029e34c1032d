"""The service started before Asterisk: campaigns wait, then go out once outgoing/ exists,
with no restart."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.imports import parse_numbers
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.ami_listener.conftest import until
from tests.conftest import Database


def settings_for(database: Database, spool: Path) -> Settings:
    return Settings(
        database={"url": database.url},
        agi={"port": 0},
        http={"port": 0},
        ami={"enabled": False},
        spool={"dir": spool, "fsync": False, "poll_interval": 0.05},
    )


async def test_campaigns_go_out_once_asterisk_creates_outgoing(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    spool = tmp_path / "spool"
    spool.mkdir()
    async with open_core(settings_for(sqlite_database, spool), clock=clock) as core:
        service = Service(core)
        await service.start()
        try:
            assert not service.spooler.started.is_set()
            campaigns = service.spooler.campaigns
            await campaigns.create("promo", CampaignSettings(max_concurrent=5, cps=100))
            numbers = "number\n0501110001\n0501110002\n"
            await campaigns.import_numbers("promo", parse_numbers(numbers, core.phones))
            await campaigns.start("promo")

            (spool / "outgoing").mkdir()  # Asterisk starts after pbxbridge
            await asyncio.wait_for(service.spooler.started.wait(), 5)
            await until(lambda: len(os.listdir(spool / "outgoing")) == 2)
        finally:
            await service.stop()
    lines = [r.getMessage() for r in caplog.records]
    waiting = [line for line in lines if "waiting for Asterisk's" in line]
    assert len(waiting) == 1, waiting
    assert f"{spool / 'outgoing'} (campaigns and callbacks wait)" in waiting[0]
    [started] = [line for line in lines if line.startswith("pbxbridge started")]
    assert "spool waiting for Asterisk" in started


async def test_with_outgoing_there_the_spooler_starts_with_the_service(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    spool = tmp_path / "spool"
    (spool / "outgoing").mkdir(parents=True)
    async with open_core(settings_for(sqlite_database, spool), clock=clock) as core:
        service = Service(core)
        await service.start()
        try:
            assert service.spooler.started.is_set()
        finally:
            await service.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert not [line for line in lines if "waiting for Asterisk" in line]
    [started] = [line for line in lines if line.startswith("pbxbridge started")]
    assert f"spool {spool}," in started
