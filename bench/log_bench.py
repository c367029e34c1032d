"""The per-call decision line at INFO, µs per line: the formatter and handler before and
after the log-path changes, writing into a pipe as the service's stderr under systemd.

    python bench/log_bench.py
"""

from __future__ import annotations

import io
import logging
import statistics
import subprocess
import time
from collections.abc import Callable

from pbxbridge.logs import (
    BatchingStreamHandler,
    RedactingFilter,
    TextFormatter,
    _moment,
)

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LINES = 20_000


class _FormatterBefore(TextFormatter):
    """TextFormatter's time as it was: a datetime made and formatted for every line."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = _moment(record, self._zone)
        return f"{moment:%Y-%m-%d %H:%M:%S},{int(record.msecs):03d} {moment:%Z}"


def _per_line(make: Callable[[io.TextIOWrapper], logging.StreamHandler]) -> float:  # type: ignore[type-arg]
    sink = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert sink.stdin is not None
    stream = io.TextIOWrapper(sink.stdin, line_buffering=True)
    handler = make(stream)
    handler.addFilter(RedactingFilter(["secret-key"]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    log = logging.getLogger("agi.routes.common")
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for i in range(LINES):
            log.info(
                "AGI %s %s: number %r -> %s status %s login %s (%s)%s",
                f"1733400000.{i}",
                "askozianum",
                "0501234567",
                "OK",
                1,
                "bench00001",
                "live",
                "",
            )
        handler.flush()
        rounds.append((time.process_time() - start) / LINES * 1e6)
    handler.close()
    root.handlers.clear()
    stream.close()
    sink.wait()
    return statistics.median(rounds)


def _plain(formatter: type[TextFormatter]) -> Callable[[io.TextIOWrapper], logging.StreamHandler]:  # type: ignore[type-arg]
    def make(stream: io.TextIOWrapper) -> logging.StreamHandler:  # type: ignore[type-arg]
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter(FORMAT, None))
        return handler

    return make


def _batched(stream: io.TextIOWrapper) -> logging.StreamHandler:  # type: ignore[type-arg]
    handler = BatchingStreamHandler(stream, 0.2)
    handler.setFormatter(TextFormatter(FORMAT, None))
    return handler


def main() -> None:
    for name, make in (
        ("before: time formatted per line, a write per line", _plain(_FormatterBefore)),
        ("time formatted once a second, a write per line", _plain(TextFormatter)),
        ("time once a second, lines batched (0.2 s)", _batched),
    ):
        print(f"{name:52} {_per_line(make):5.1f} µs/line")


if __name__ == "__main__":
    main()
