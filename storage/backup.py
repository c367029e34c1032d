"""Online copies of the SQLite database: `pbxbridge db backup FILE` and job `db_backup`.

Both copy through SQLite's backup API (consistent while the service writes) into a new
file created with mode 0600 first: it holds every subscriber, card and message. The job
writes `<database name>-<UTC time>.db` into `database.backup_dir` (default: `backups/` next
to the database, made 0700) and keeps the `database.backup_keep` newest of them. With
PostgreSQL it does nothing and says so: use the server's own backups (pg_dump, base
backups with WAL archiving), which know more than a copy made from here could.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import stat
from pathlib import Path

from primitives.clock import Clock, as_utc
from primitives.job_result import JobResult
from storage.engine import DatabaseSettings, sqlite_path
from storage.errors import BackupError

JOB = "db_backup"
PRIVATE = 0o600
_STAMP = "%Y%m%dT%H%M%SZ"


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600, whatever the umask; FileExistsError when it
    exists. SQLite's backup then writes into it and gives its journal the same mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, PRIVATE)
    finally:
        os.close(fd)


def sqlite_backup(source: Path, target: Path) -> None:
    """Online copy of `source` into `target`, which must not exist (see `create_private`)."""
    create_private(target)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def backup_folder(settings: DatabaseSettings, source: Path) -> Path:
    return settings.backup_dir if settings.backup_dir is not None else source.parent / "backups"


def _pattern(stem: str) -> re.Pattern[str]:
    return re.compile(re.escape(stem) + r"-\d{8}T\d{6}Z(?:-\d+)?\.db")


def rotate(folder: Path, stem: str, keep: int) -> list[Path]:
    """Remove all but the `keep` newest backups of `stem` in `folder`; the removed ones.
    Only files named as this job names them are touched."""
    pattern = _pattern(stem)
    ours = sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_file())
    old = ours[: max(len(ours) - keep, 0)]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def _new_file(folder: Path, stem: str, stamp: str) -> Path:
    target = folder / f"{stem}-{stamp}.db"
    n = 1
    while target.exists():  # two runs in one second
        target = folder / f"{stem}-{stamp}-{n}.db"
        n += 1
    return target


def _backup_and_rotate(source: Path, folder: Path, stamp: str, keep: int) -> tuple[Path, int]:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = _new_file(folder, source.stem, stamp)
    try:
        sqlite_backup(source, target)
    except (sqlite3.Error, OSError):
        target.unlink(missing_ok=True)
        raise
    return target, len(rotate(folder, source.stem, keep))


async def db_backup(settings: DatabaseSettings, clock: Clock) -> JobResult:
    """Copy the SQLite database into the backup folder and keep the newest N (job
    `db_backup`); with PostgreSQL, nothing (the result says why)."""
    source = sqlite_path(settings.url)
    if source is None:
        return JobResult(
            "PostgreSQL: nothing done; use the server's own backups (pg_dump, or base "
            "backups with WAL archiving)",
            skipped=True,
        )
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    folder = backup_folder(settings, source)
    stamp = as_utc(clock.now()).strftime(_STAMP)
    try:
        target, removed = await asyncio.to_thread(
            _backup_and_rotate, source, folder, stamp, settings.backup_keep
        )
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"backup of {source} into {folder} failed: {exc}") from exc
    size = target.stat().st_size
    return JobResult(
        f"backed up {source} to {target} ({size} bytes); {removed} old backup(s) removed, "
        f"the {settings.backup_keep} newest kept",
        {"bytes": size, "removed": removed},
    )
