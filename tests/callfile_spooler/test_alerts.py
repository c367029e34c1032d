"""A spooler that stops working (its spool folder gone) alerts staff once, and once more
when it works again; a broken campaign alerts once, not at every tick."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.imports import parse_numbers
from callfile_spooler.settings import SpoolSettings
from callfile_spooler.spooler import Spooler
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.ami_listener.conftest import until
from tests.callfile_spooler.conftest import ua_numbers
from tests.conftest import Database


async def test_a_stopped_spooler_alerts_once_and_once_when_it_works_again(
    sqlite_db: Database,
    clock: FixedClock,
    settings: SpoolSettings,
    spool_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pbxbridge.spool")
    alerts: list[str] = []

    async def alert(text: str) -> None:
        alerts.append(text)

    spooler = Spooler(sqlite_db.sessions, clock, PhoneNormaliser("UA"), settings, alert=alert)
    await spooler.start()
    try:
        shutil.rmtree(spool_dir / "outgoing")  # Asterisk removed under us
        await spooler.campaigns.create("promo", CampaignSettings(max_concurrent=10, cps=100))
        text = "number\n" + "\n".join(ua_numbers(3)) + "\n"
        await spooler.campaigns.import_numbers("promo", parse_numbers(text, spooler.phones))
        await spooler.campaigns.start("promo")

        def failed_ticks() -> int:
            return sum(r.getMessage().startswith("spooler tick failed") for r in caplog.records)

        for ticks in (1, 2, 3):  # each wake is a tick; each fails
            spooler.wake()
            await until(lambda ticks=ticks: failed_ticks() >= ticks)  # type: ignore[misc]
        assert len(alerts) == 1, alerts
        # the traceback is logged once; the ticks after say it at debug level only
        assert sum(r.levelno >= logging.WARNING for r in caplog.records) == 1
        assert alerts[0].startswith("call-file spooler stopped working (retrying every 0.5 s): ")
        assert "FileNotFoundError" in alerts[0]

        (spool_dir / "outgoing").mkdir()
        spooler.wake()
        await until(lambda: len(alerts) == 2)
        assert alerts[1] == "call-file spooler works again"
    finally:
        await spooler.stop()
