"""Job db_backup: SQLite copies (0600, in a 0700 folder) rotated to the N newest; with
PostgreSQL, nothing done and said so."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from billing_client.audit import AuditJournal
from billing_client.local.admin import LocalAdmin
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings
from storage.backup import db_backup
from storage.engine import sqlite_path
from storage.errors import BackupError
from tests.conftest import Database

START = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 03:30 Kyiv, the first time


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_rotation_keeps_the_newest_and_files_are_private(
    sqlite_database: Database, tmp_path: Path
) -> None:
    clock = FixedClock(START)
    admin = LocalAdmin(
        sqlite_database.sessions,
        clock,
        AuditJournal(sqlite_database.sessions, "local", clock),
        PhoneNormaliser(),
    )
    await admin.add("ivan", actor="admin")
    folder = tmp_path / "backups"
    settings = DatabaseSettings(url=sqlite_database.url, backup_dir=folder, backup_keep=3)
    folder.mkdir(mode=0o700)
    (folder / "notes.txt").write_text("not ours")
    (folder / "pbxbridge-manual.db").write_text("not ours either")
    made = []
    for n in range(5):
        clock.instant = START + timedelta(hours=n)  # 03:30 (summer), 03:30 (winter), 04:30…
        result = await db_backup(settings, clock)
        made.append(result.summary.split(" to ")[1].split(" (")[0])
    assert result.counts["removed"] == 1
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "notes.txt",
        "pbxbridge-20271031T023000Z.db",
        "pbxbridge-20271031T033000Z.db",
        "pbxbridge-20271031T043000Z.db",
        "pbxbridge-manual.db",
    ]
    assert made[-1] == str(folder / "pbxbridge-20271031T043000Z.db")
    newest = folder / "pbxbridge-20271031T043000Z.db"
    assert mode(newest) == 0o600
    assert mode(folder) == 0o700
    with sqlite3.connect(newest) as conn:
        assert conn.execute("SELECT login FROM billing_subscribers").fetchall() == [("ivan",)]
    # two runs in one second: a second file, not an error
    again = await db_backup(settings, clock)
    assert "pbxbridge-20271031T043000Z-1.db" in again.summary


async def test_the_default_folder_is_next_to_the_database(sqlite_database: Database) -> None:
    source = sqlite_path(sqlite_database.url)
    assert source is not None
    result = await db_backup(DatabaseSettings(url=sqlite_database.url), FixedClock(START))
    folder = source.parent / "backups"
    assert [p.name for p in folder.iterdir()] == ["pbxbridge-20271031T003000Z.db"]
    assert mode(folder) == 0o700
    assert not result.skipped


async def test_a_missing_database_is_an_error(tmp_path: Path) -> None:
    settings = DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'gone.db'}")
    with pytest.raises(BackupError, match="no database at"):
        await db_backup(settings, FixedClock(START))


async def test_postgresql_says_to_use_the_servers_backups(tmp_path: Path) -> None:
    settings = DatabaseSettings(
        url="postgresql+asyncpg://pbx:secret@127.0.0.1/pbx", backup_dir=tmp_path / "b"
    )
    result = await db_backup(settings, FixedClock(START))
    assert result.skipped
    assert "use the server's own backups" in result.summary
    assert "secret" not in result.summary
    assert not (tmp_path / "b").exists()


def test_a_relative_backup_folder_is_anchored_at_the_config_folder(tmp_path: Path) -> None:
    settings = DatabaseSettings(backup_dir=Path("var/backups")).resolved(tmp_path)
    assert settings.backup_dir == tmp_path / "var" / "backups"
