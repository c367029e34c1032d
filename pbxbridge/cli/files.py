"""Files the CLI writes with data in them: card numbers, subscribers, backups, reports.

They hold money, names and phone numbers, so each is created readable by its owner only
(0600), whatever the umask, and one that already existed is narrowed to 0600 too. Every
command that writes such a file goes through here, except database backups: those are
created by `storage.backup` (0600 too), which job db_backup shares.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

PRIVATE = 0o600


def _narrow(fd: int) -> None:
    # A regular file only: `--output /dev/stdout` must not chmod the terminal.
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.fchmod(fd, PRIVATE)


@contextmanager
def private_text(path: Path) -> Iterator[TextIO]:
    """`path` opened for writing UTF-8 text (created or truncated), mode 0600; for csv
    writers (`newline=""`)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        _narrow(fd)
    except OSError:
        os.close(fd)
        raise
    with open(fd, "w", encoding="utf-8", newline="") as fh:
        yield fh
