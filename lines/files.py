"""Writing the PJSIP file so that Asterisk never reads half of it, and one writer at a time.

A new version is written beside the file (`.<name>.<random>.tmp`), flushed to disk, given
the old file's mode and group (0640 for a new file: it holds SIP passwords), and renamed
over it; the folder is synced so the rename survives a crash. Asterisk, reading at any
moment, sees the old file or the new one.

Line changes come from separate processes (each BILLmanager task is its own `pbxbridge
line` run, the service follows subscribers): `ExclusiveLock` (flock on `.<name>.lock`
beside the file) makes each read-render-write-reload-commit run alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from lines.errors import LinesUnavailable

NEW_FILE_MODE = 0o640
_POLL = 0.05


def _problem(path: Path, exc: OSError) -> LinesUnavailable:
    reason = exc.strerror or type(exc).__name__
    return LinesUnavailable(
        f"cannot write {path} ({reason}): pbxbridge's user needs write access to the file "
        "and its folder (lines.pjsip_file)"
    )


def read(path: Path) -> bytes | None:
    """The file's bytes; None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LinesUnavailable(f"cannot read {path}: {exc.strerror or exc}") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename (see the module docstring)."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            old = path.stat()
            mode, gid = old.st_mode & 0o7777, old.st_gid
        except FileNotFoundError:
            mode, gid = NEW_FILE_MODE, -1
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            if gid != -1 and gid != os.stat(tmp).st_gid:
                with contextlib.suppress(PermissionError):  # not in that group: keep ours
                    os.chown(tmp, -1, gid)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise _problem(path, exc) from None


def restore(path: Path, previous: bytes | None) -> None:
    """Put back what `read` returned before a change (None: there was no file)."""
    if previous is not None:
        write_atomic(path, previous)
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise _problem(path, exc) from None


class ExclusiveLock:
    """An exclusive flock on `.<file name>.lock` beside the file, waited for at most
    `timeout` seconds (polled, so a waiting coroutine never blocks the event loop)."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path.with_name(f".{path.name}.lock")
        self.timeout = timeout

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            raise _problem(self.path, exc) from None
        try:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LinesUnavailable(
                            f"another line change held {self.path} for {self.timeout:g} s; "
                            "try again"
                        ) from None
                    await asyncio.sleep(_POLL)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
