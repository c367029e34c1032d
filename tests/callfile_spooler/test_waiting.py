"""Asterisk's outgoing/ appearing after pbxbridge started (boot order, Asterisk installed
later): the spooler warns once, keeps looking, and starts by itself when it appears."""

from __future__ import annotations

import asyncio
import logging
import os
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

WAITING = "waiting for Asterisk's"


class SteppedSleep:
    """The waiting loop's sleep, ended by the test one look at a time: no real seconds pass
    and the test knows exactly how many looks the spooler took."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.sleeping = asyncio.Event()
        self._go = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.sleeping.set()
        try:
            await self._go.wait()
        finally:
            self._go.clear()
            self.sleeping.clear()

    async def one_look(self, spooler: Spooler) -> None:
        """End the sleep under way; return once the spooler has looked (it sleeps again,
        or it has started)."""
        await asyncio.wait_for(self.sleeping.wait(), 5)
        slept = len(self.asked)
        self._go.set()
        await until(lambda: len(self.asked) > slept or spooler.started.is_set())


def waiting_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if WAITING in r.getMessage()]


async def queued_campaign(spooler: Spooler, count: int = 2) -> None:
    await spooler.campaigns.create("promo", CampaignSettings(max_concurrent=10, cps=100))
    text = "number\n" + "\n".join(ua_numbers(count)) + "\n"
    await spooler.campaigns.import_numbers("promo", parse_numbers(text, spooler.phones))
    await spooler.campaigns.start("promo")


async def test_spooler_starts_by_itself_when_outgoing_appears(
    db: Database, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pbxbridge.spool")
    spool = tmp_path / "spool"
    spool.mkdir()  # Asterisk's spool folder without outgoing/: pbx_spool not loaded yet
    settings = SpoolSettings(dir=spool, fsync=False, poll_interval=2.0)
    sleep = SteppedSleep()
    spooler = Spooler(db.sessions, clock, PhoneNormaliser("UA"), settings, sleep=sleep)
    await queued_campaign(spooler)
    try:
        assert await spooler.start_when_ready() is False
        assert not spooler.started.is_set()
        for _ in range(5):  # five looks, still no folder: still one warning
            await sleep.one_look(spooler)
        assert not spooler.started.is_set()
        assert sleep.asked == [2.0] * 6  # poll_interval between looks
        [warning] = waiting_lines(caplog)
        assert f"{WAITING} {spool / 'outgoing'} (campaigns and callbacks wait)" in warning
        assert os.listdir(spool) == []  # nothing created in Asterisk's folder meanwhile

        (spool / "outgoing").mkdir()  # Asterisk starts
        await sleep.one_look(spooler)
        await asyncio.wait_for(spooler.started.wait(), 5)
        await until(lambda: len(os.listdir(spool / "outgoing")) == 2)
        assert len(waiting_lines(caplog)) == 1
        assert any("call-file spooler started" in r.getMessage() for r in caplog.records)
        status = await spooler.campaigns.status("promo")
        assert status.by_number_status == {"calling": 2}
    finally:
        await spooler.stop()


async def test_a_different_reason_while_waiting_is_told_once_more(
    db: Database, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pbxbridge.spool")
    spool = tmp_path / "spool"
    spool.mkdir()
    settings = SpoolSettings(dir=spool, fsync=False, chown_user="no-such-user-here")
    sleep = SteppedSleep()
    spooler = Spooler(db.sessions, clock, PhoneNormaliser("UA"), settings, sleep=sleep)
    try:
        assert await spooler.start_when_ready() is False
        await sleep.one_look(spooler)
        (spool / "outgoing").mkdir()  # there now, but spool.chown_user names nobody
        for _ in range(3):
            await sleep.one_look(spooler)
        assert not spooler.started.is_set()
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 2, lines
        assert WAITING in lines[0]
        assert "no such user" in lines[1]
    finally:
        await spooler.stop()


async def test_stop_while_waiting_returns_at_once(
    db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    settings = SpoolSettings(dir=tmp_path / "absent", fsync=False)
    sleep = SteppedSleep()
    spooler = Spooler(db.sessions, clock, PhoneNormaliser("UA"), settings, sleep=sleep)
    assert await spooler.start_when_ready() is False
    await asyncio.wait_for(sleep.sleeping.wait(), 5)
    await asyncio.wait_for(spooler.stop(), 2)  # the sleep is cut short, no tick ever ran
    assert not spooler.started.is_set()
    assert not (tmp_path / "absent").exists()


async def test_healthy_folder_starts_at_once_without_a_warning(
    db: Database,
    clock: FixedClock,
    settings: SpoolSettings,
    spool_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pbxbridge.spool")
    sleep = SteppedSleep()
    spooler = Spooler(db.sessions, clock, PhoneNormaliser("UA"), settings, sleep=sleep)
    await queued_campaign(spooler)
    try:
        assert await spooler.start_when_ready() is True
        assert spooler.started.is_set()  # before start_when_ready returned
        await until(lambda: len(os.listdir(spool_dir / "outgoing")) == 2)
        assert sleep.asked == []
        assert caplog.records == []
    finally:
        await spooler.stop()
    assert not spooler.started.is_set()
