"""Logging set-up: text or JSON lines on stderr, with every secret redacted on the way out.

Times are in the service's timezone (`timezone` in the settings) with the zone on every
line, as the CLI prints them: `2026-11-22 12:00:00,000 EET` in text, ISO 8601 with the
offset (`2026-11-22T12:00:00.000+02:00`) in JSON. A value a message has no value for
(`None`) is written `-`, so a line never reads `login None`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from pbxbridge.settings import LoggingSettings

_URL_KEY = re.compile(r"((?:[?&]|%26|%3F)(?:key|secret|token|password|userpass)=)[^&\s'\"]*", re.I)
REDACTED = "***"


class _Missing:
    """What a None argument becomes: `-` through %s and %r alike."""

    def __str__(self) -> str:
        return "-"

    __repr__ = __str__


MISSING = _Missing()
"""How a log line shows a value that is missing (an argument that is None)."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Hide secret values and `key=`-style URL parameters in a piece of text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _URL_KEY.sub(lambda m: m.group(1) + REDACTED, text)


def _present(args: object) -> object:
    """A record's arguments with None shown as `-` (a tuple, or the one mapping of
    `log.info("%(login)s", {...})`)."""
    if isinstance(args, tuple):
        return tuple(MISSING if a is None else a for a in args)
    if isinstance(args, Mapping):
        return {k: MISSING if v is None else v for k, v in args.items()}
    return args


class RedactingFilter(logging.Filter):
    """Formats the message (args included, None as `-`) and the traceback, then redacts
    both."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = _present(record.args)  # type: ignore[assignment]
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        record.exc_info = None
        return True


def _moment(record: logging.LogRecord, zone: tzinfo | None) -> datetime:
    return _at(record.created, zone)


def _at(timestamp: float, zone: tzinfo | None) -> datetime:
    moment = datetime.fromtimestamp(timestamp, zone)
    return moment if zone is not None else moment.astimezone()


class TextFormatter(logging.Formatter):
    """`%(asctime)s` in `zone` (the machine's when None), with the zone's abbreviation."""

    def __init__(self, fmt: str, zone: tzinfo | None) -> None:
        super().__init__(fmt)
        self._zone = zone
        self._second: int | None = None
        self._shown = ("", "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # The date, time and zone change once a second: made once a second (a zone's
        # offset changes on a whole second), ~3 µs a line less.
        second = int(record.created)
        if second != self._second:
            moment = _at(second, self._zone)
            self._shown = (f"{moment:%Y-%m-%d %H:%M:%S}", f"{moment:%Z}")
            self._second = second
        when, zone = self._shown
        return f"{when},{int(record.msecs):03d} {zone}"


class JsonFormatter(logging.Formatter):
    def __init__(self, zone: tzinfo | None = None) -> None:
        super().__init__()
        self._zone = zone

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _moment(record, self._zone).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes INFO and DEBUG lines in batches, `interval` seconds
    apart at most, instead of one write (and flush) per line; a WARNING or worse writes
    what is waiting and itself at once, as do `flush()` and `close()` (logging's own
    shutdown at exit calls both). Lines stay in their order. A process killed outright
    (SIGKILL, a power cut) loses at most the last `interval` seconds of INFO lines.
    """

    def __init__(self, stream: object, interval: float, *, most: int = 1_000) -> None:
        super().__init__(stream)
        self._interval = interval
        self._most = most  # lines kept before a write whatever the time
        self._waiting: list[str] = []
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._tick, name="log-flush", daemon=True)
        self._flusher.start()

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        """Called under the handler's lock (logging.Handler.handle)."""
        try:
            self._waiting.append(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING or len(self._waiting) >= self._most:
                self._write()
        except Exception:  # logging's own contract: report, never raise
            self.handleError(record)

    def _write(self) -> None:
        if self._waiting:
            text = "".join(self._waiting)
            self._waiting.clear()
            self.stream.write(text)
        super().flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not threading.current_thread():
            self._flusher.join(timeout=self._interval + 1)
        self.flush()
        super().close()


def configure_logging(
    settings: LoggingSettings,
    secrets: Iterable[str] = (),
    timezone: str | None = None,
    *,
    batched: bool = False,
) -> None:
    """Log to stderr. `timezone` is the settings' (`Settings.timezone`); None: the
    machine's. `batched` (the service, `pbxbridge run`): INFO lines written together
    every `settings.flush_interval` seconds, when that is above 0."""
    zone = ZoneInfo(timezone) if timezone else None
    handler: logging.StreamHandler = (  # type: ignore[type-arg]
        BatchingStreamHandler(sys.stderr, settings.flush_interval)
        if batched and settings.flush_interval > 0
        else logging.StreamHandler(sys.stderr)
    )
    handler.addFilter(RedactingFilter(secrets))
    if settings.format == "json":
        handler.setFormatter(JsonFormatter(zone))
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", zone))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, BatchingStreamHandler):
            old.close()  # its waiting lines out, its thread stopped
    root.addHandler(handler)
    root.setLevel(settings.level)
    for noisy in ("aiosqlite", "asyncio", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
