"""Fixtures of the spooler tests: a database with the spooler's tables, a temp spool folder.

The shared `database` fixture is migrated with every component's history (the root's
list includes the spooler's); `db` re-applies it, a no-op kept for the fixtures' names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callfile_spooler.campaigns import CampaignManager
from callfile_spooler.settings import SpoolSettings
from callfile_spooler.spooler import Spooler
from pbxbridge import migrations
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import migrate
from tests.conftest import Database

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
VERSION_LOCATIONS = migrations.VERSION_LOCATIONS


async def add_spool_tables(database: Database) -> Database:
    await migrate.upgrade(database.engine, VERSION_LOCATIONS)
    return database


@pytest.fixture
async def db(database: Database) -> Database:
    """SQLite and PostgreSQL, with the spooler's tables."""
    return await add_spool_tables(database)


@pytest.fixture
async def sqlite_db(sqlite_database: Database) -> Database:
    return await add_spool_tables(sqlite_database)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    for sub in ("outgoing", "outgoing_done", "tmp"):
        (path / sub).mkdir(parents=True)
    return path


@pytest.fixture
def settings(spool_dir: Path) -> SpoolSettings:
    return SpoolSettings(dir=spool_dir, fsync=False, poll_interval=0.5)


@pytest.fixture
def clock() -> FixedClock:
    """Monday 2026-11-23 10:00 Kyiv (08:00 UTC)."""
    return FixedClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))


@pytest.fixture
def phones() -> PhoneNormaliser:
    return PhoneNormaliser("UA")


def make_spooler(
    database: Database,
    clock: FixedClock,
    settings: SpoolSettings,
    phones: PhoneNormaliser | None = None,
) -> Spooler:
    return Spooler(database.sessions, clock, phones or PhoneNormaliser("UA"), settings)


def manager(database: Database, clock: FixedClock, phones: PhoneNormaliser) -> CampaignManager:
    return CampaignManager(database.sessions, clock, phones)


def ua_numbers(count: int, start: int = 0) -> list[str]:
    """`count` distinct valid Ukrainian mobile numbers in national form."""
    return [f"050{(1_000_000 + start + i):07d}" for i in range(count)]
