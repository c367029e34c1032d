"""Progress of a long import, on stderr (stdout keeps the summary a script reads).

On a terminal it is click's progress bar. Anywhere else (a pipe, cron mail, a log file)
a bar would be control characters, so it is a plain line at each tenth of the rows, and
only for a file of at least `QUIET_BELOW` rows: a small import prints nothing extra, a
huge one at most ten lines.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any, TextIO

import click

QUIET_BELOW = 1_000
"""Rows below which a non-terminal run prints no progress lines."""
STEPS = 10


class Progress:
    """`update(done, total)` after each batch of rows; a context manager.

    `total` may be learnt late (a file is parsed before its rows are counted) and may be
    an estimate: `done` is capped at it. Safe to call from a worker thread.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._bar: Any = None
        self._shown = 0
        self._next_step = 1
        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def update(self, done: int, total: int) -> None:
        with self._lock:
            if total <= 0:
                return
            done = min(done, total)
            if self.tty:
                self._bar_to(done, total)
            else:
                self._line_to(done, total)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
                self._bar = None

    def _bar_to(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=self.stream)
            self._bar.__enter__()
        if done > self._shown:
            self._bar.update(done - self._shown)
            self._shown = done

    def _line_to(self, done: int, total: int) -> None:
        if total < QUIET_BELOW:
            return
        reached = done * STEPS // total
        if reached < self._next_step:
            return
        self._next_step = reached + 1
        click.echo(
            f"{self.label}: {done:,} of {total:,} rows ({100 * done // total}%)", file=self.stream
        )
