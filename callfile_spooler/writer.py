"""The spool folder: writing call files atomically, and looking at what Asterisk did.

Asterisk acts on a file the moment it appears in `outgoing/` (inotify `IN_MOVED_TO`), so a
file must appear there whole: it is written in `<dir>/tmp/` (fsynced), then `rename()`d
into `outgoing/`. A rename is atomic only within one filesystem (`mv` across filesystems
is copy + unlink: Asterisk could read half a file), hence the `st_dev` check at start-up.

Every method here blocks (file I/O): the spooler calls them through `asyncio.to_thread`.
Names are `pbxbridge-<campaign>-<attempt>.call`, one per attempt, so a file always says
which attempt it is and this module never touches anyone else's files.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from callfile_spooler.callfile import CAPTURED_ORDER, ArchivedCallFile, CallFile, parse, render
from callfile_spooler.errors import CallFileValueError, SpoolError, SpoolMissing
from callfile_spooler.settings import SpoolSettings

FILE_NAME = re.compile(r"pbxbridge-(?P<campaign>\d+)-(?P<attempt>\d+)\.call")
FILE_MODE = 0o660

log = logging.getLogger("pbxbridge.spool")


def file_name(campaign_id: int, attempt_id: int) -> str:
    return f"pbxbridge-{campaign_id}-{attempt_id}.call"


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    """File name → why its CallFile was refused (never written)."""


@dataclass
class SpoolScan:
    """Our files in each folder. `outgoing` maps a name to whether Asterisk started it
    (a `StartRetry:` line), for the names asked about; other names map to None."""

    outgoing: dict[str, bool | None] = field(default_factory=dict)
    done: dict[str, ArchivedCallFile] = field(default_factory=dict)
    other_done: list[str] = field(default_factory=list)
    tmp: set[str] = field(default_factory=set)


class SpoolFolder:
    def __init__(self, settings: SpoolSettings) -> None:
        self.settings = settings
        self.tmp = settings.tmp_dir
        self.outgoing = settings.outgoing_dir
        self.done = settings.done_dir
        self._uid: int | None = None

    # --- start-up ---------------------------------------------------------------------

    def prepare(self) -> None:
        """Create tmp/ if missing, check it shares a filesystem with outgoing/ and that we
        may write in both. Raises SpoolError with what to fix.

        outgoing/ is Asterisk's (pbx_spool creates it when it loads) and outgoing_done/ too
        (created at the first archived call): neither is created here, so neither ends up
        owned by a user Asterisk cannot write as.
        """
        if not self.outgoing.is_dir():
            raise SpoolMissing(self.outgoing)
        try:
            self.tmp.mkdir(exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create {self.tmp}: {exc}") from exc
        tmp_dev, out_dev = self.tmp.stat().st_dev, self.outgoing.stat().st_dev
        if tmp_dev != out_dev:
            raise SpoolError(
                f"{self.tmp} (device {tmp_dev}) and {self.outgoing} (device {out_dev}) are on "
                "different filesystems: rename() between them is a copy that Asterisk could "
                "read half-written. Put both under one filesystem (spool.dir)."
            )
        for folder in (self.tmp, self.outgoing):
            if not os.access(folder, os.W_OK | os.X_OK):
                raise SpoolError(f"no write access to {folder} for uid {os.geteuid()}")
        if self.settings.chown_user is not None:
            try:
                self._uid = pwd.getpwnam(self.settings.chown_user).pw_uid
            except KeyError as exc:
                raise SpoolError(
                    f"spool.chown_user {self.settings.chown_user!r}: no such user"
                ) from exc

    # --- writing ----------------------------------------------------------------------

    def write(
        self, entries: Sequence[tuple[str, CallFile]], mtime: datetime | None = None
    ) -> WriteResult:
        """Render and write each file into tmp/ (fsynced, chowned, mtime set). A CallFile
        that does not validate is refused and never written; the others still are."""
        result = WriteResult()
        for name, call in entries:
            _check_name(name)
            try:
                data = render(call, CAPTURED_ORDER)
            except CallFileValueError as exc:
                result.refused[name] = str(exc)
                continue
            self._write_file(self.tmp / name, data, mtime)
            result.written.append(name)
        return result

    def _write_file(self, path: Path, data: bytes, mtime: datetime | None) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if self.settings.fsync:
                os.fsync(fh.fileno())
        if self._uid is not None:
            os.chown(path, self._uid, -1)
        if mtime is not None:
            stamp = mtime.timestamp()
            os.utime(path, (stamp, stamp))

    def publish(self, names: Iterable[str]) -> None:
        """Rename files from tmp/ into outgoing/: from here on Asterisk may run them.

        An archived file of the same name in outgoing_done/ is from an earlier life of the
        name (SQLite hands a deleted campaign's ids out again; a database started afresh
        on an old spool): it is renamed aside first, or its Status line would be read as
        this call's outcome.
        """
        moved = False
        for name in names:
            _check_name(name)
            self._set_aside_stale(name)
            os.rename(self.tmp / name, self.outgoing / name)
            moved = True
        if moved and self.settings.fsync:
            _fsync_dir(self.outgoing)

    def _set_aside_stale(self, name: str) -> None:
        stale = self.done / name
        try:
            age = stale.stat().st_mtime
        except FileNotFoundError:
            return
        aside = stale.with_name(f"{name}.stale-{int(age)}")
        os.rename(stale, aside)
        log.warning("an older archived %s was in outgoing_done/: kept as %s", name, aside.name)

    def spool(self, name: str, call: CallFile) -> None:
        """Write one file and rename it in (a one-off file)."""
        result = self.write([(name, call)])
        if result.refused:
            raise CallFileValueError(result.refused[name])
        self.publish([name])

    def discard_tmp(self, names: Iterable[str]) -> None:
        for name in names:
            _check_name(name)
            (self.tmp / name).unlink(missing_ok=True)

    def remove_done(self, names: Iterable[str]) -> None:
        for name in names:
            _check_name(name)
            (self.done / name).unlink(missing_ok=True)

    def withdraw(self, names: Iterable[str]) -> list[str]:
        """Take back files Asterisk has not started (no `StartRetry:` yet) into tmp/; the
        names taken. The caller puts their attempts back in the queue, then deletes them
        (`discard_tmp`): a crash in between finds them in tmp/ and queues them again.

        The file is renamed out of outgoing/ first (so Asterisk cannot pick it up while it
        is being looked at), then read: if Asterisk started it just before, it goes straight
        back, since Asterisk appends to and archives it by that path.
        """
        taken = []
        for name in names:
            _check_name(name)
            source, parked = self.outgoing / name, self.tmp / name
            try:
                if parse(source.read_bytes()).started:
                    continue
                os.rename(source, parked)
            except FileNotFoundError:
                continue
            if parse(parked.read_bytes()).started:
                os.rename(parked, source)
                continue
            taken.append(name)
        return taken

    # --- looking ----------------------------------------------------------------------

    def scan(self, watched: set[str], unstarted: set[str] | None = None) -> SpoolScan:
        """Our files in tmp/, outgoing/ and outgoing_done/. Files of `watched` names are read
        in outgoing_done/ for the outcome; in outgoing/ those of `unstarted` (default: the
        watched) are read to see whether Asterisk started them."""
        to_read = watched if unstarted is None else unstarted
        found = SpoolScan()
        for name in _ours(self.outgoing):
            started: bool | None = None
            if name in to_read:
                try:
                    started = parse((self.outgoing / name).read_bytes()).started
                except FileNotFoundError:  # archived meanwhile: found below (done is read last)
                    continue
            found.outgoing[name] = started
        found.tmp = set(_ours(self.tmp))
        for name in _ours(self.done):
            if name not in watched:
                found.other_done.append(name)
                continue
            try:
                found.done[name] = parse((self.done / name).read_bytes())
            except FileNotFoundError:
                continue
        return found


def _ours(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if FILE_NAME.fullmatch(e.name) and e.is_file()]
    except FileNotFoundError:
        return []


def _check_name(name: str) -> None:
    if FILE_NAME.fullmatch(name) is None:
        raise ValueError(f"not a pbxbridge call-file name: {name!r}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
