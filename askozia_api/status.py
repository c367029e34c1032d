"""The status line of `/external_get_info.php?data=main`, from what pbxbridge can know.

Ubilling's askozia module (zb_AskoziaParseStatus) takes the last line holding a `;`, splits
it and shows fields 1 (current calls), 2 (calls processed), 4 (registered phones), 5
(uptime, in English `min`/`hour(s)`/`day(s)`, which it translates), 6 (RAM %) and 7 (disk
%). pbxbridge answers one line:

    main;<calls now>;<calls processed>;<channels now>;<phones>;<uptime>;<RAM %>;<disk %>

- calls now / channels now: AMI `CoreShowChannels` (channels, and distinct Linkedids);
- phones: AMI `DeviceStateList`, SIP/PJSIP/IAX2 devices in a state other than
  UNAVAILABLE, INVALID or UNKNOWN (an endpoint with no registered contact is UNAVAILABLE);
- uptime: Asterisk's, from AMI `CoreStatus` (its CoreStartupDate and Time);
- calls processed: the call log's calls since Asterisk started (empty without its start);
- RAM %: the host's memory in use (MemTotal - MemAvailable, /proc/meminfo);
- disk %: the filesystem holding pbxbridge's database (or the spool).

The AMI user needs `write = reporting` for CoreShowChannels and CoreStatus (see
dialplan/manager_pbxbridge.conf); `call` already allows DeviceStateList. A figure that
cannot be had (AMI down, not permitted, not answered within the timeout) is left empty,
never made up; Ubilling then shows an empty cell.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from askozia_api.cdr import CdrSource
from primitives.clock import Clock

log = logging.getLogger("pbxbridge.faces")

T = TypeVar("T")

MEMINFO = Path("/proc/meminfo")
PHONE_TECHS = ("SIP/", "PJSIP/", "IAX2/")
OFFLINE_STATES = frozenset({"UNAVAILABLE", "INVALID", "UNKNOWN"})


class AmiActions(Protocol):
    """What the status asks of the AMI link (ami_listener.AmiClient fits)."""

    async def action(
        self,
        name: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AmiClient's own signature
    ) -> Mapping[str, str]: ...

    async def list_action(
        self,
        name: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AmiClient's own signature
    ) -> tuple[Mapping[str, str], Sequence[Mapping[str, str]]]: ...


@dataclass(frozen=True, slots=True)
class PbxStatus:
    current_calls: int | None = None
    total_calls: int | None = None
    channels: int | None = None
    phones: int | None = None
    uptime: timedelta | None = None
    ram_percent: int | None = None
    disk_percent: int | None = None

    def line(self) -> str:
        def shown(value: int | None) -> str:
            return "" if value is None else str(value)

        return ";".join(
            (
                "main",
                shown(self.current_calls),
                shown(self.total_calls),
                shown(self.channels),
                shown(self.phones),
                uptime_text(self.uptime) if self.uptime is not None else "",
                shown(self.ram_percent),
                shown(self.disk_percent),
            )
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def uptime_text(uptime: timedelta) -> str:
    """`3 days 4 hours`, `5 hours 12 min`, `7 min`: the words Ubilling translates."""
    seconds = max(int(uptime.total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{_plural(days, 'day')} {_plural(hours, 'hour')}"
    if hours:
        return f"{_plural(hours, 'hour')} {minutes} min"
    return f"{minutes} min"


def ram_percent(meminfo: Path = MEMINFO) -> int | None:
    """The host's memory in use, percent (MemTotal - MemAvailable); None when unknown."""
    try:
        text = meminfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0])
    total, available = values.get("MemTotal"), values.get("MemAvailable")
    if not total or available is None:
        return None
    return round(100 * (total - min(available, total)) / total)


def disk_percent(path: Path) -> int | None:
    """How full the filesystem holding `path` is, percent; None when it cannot be read."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    if usage.total <= 0:
        return None
    return round(100 * usage.used / usage.total)


class StatusProbe:
    """Gathers a PbxStatus; every question bounded by `timeout` seconds, asked at once."""

    def __init__(
        self,
        clock: Clock,
        *,
        ami: AmiActions | None,
        disk: Path,
        calls: CdrSource | None = None,
        timeout: float = 2.0,
        meminfo: Path = MEMINFO,
    ) -> None:
        self._clock = clock
        self._ami = ami
        self._disk = disk
        self._calls = calls
        self._timeout = timeout
        self._meminfo = meminfo

    async def status(self) -> PbxStatus:
        channels, phones, started, ram, disk = await asyncio.gather(
            self._ask(self._channels()),
            self._ask(self._phones()),
            self._ask(self._started()),
            asyncio.to_thread(ram_percent, self._meminfo),
            asyncio.to_thread(disk_percent, self._disk),
        )
        total = None
        if started is not None and self._calls is not None:
            total = await self._ask(self._calls.count_calls(started))
        return PbxStatus(
            current_calls=channels[1] if channels is not None else None,
            total_calls=total,
            channels=channels[0] if channels is not None else None,
            phones=phones,
            uptime=self._clock.now() - started if started is not None else None,
            ram_percent=ram,
            disk_percent=disk,
        )

    async def _ask(self, question: Awaitable[T]) -> T | None:
        """The answer, or None when the link fails, refuses or is late. Any failure: the
        status line is informational and answers whatever the AMI link does."""
        try:
            async with asyncio.timeout(self._timeout):
                return await question
        except Exception as exc:
            log.debug("askozia status: %s", exc)
            return None

    async def _channels(self) -> tuple[int, int] | None:
        if self._ami is None:
            return None
        _, events = await self._ami.list_action("CoreShowChannels", timeout=self._timeout)
        calls = {e.get("Linkedid") or e.get("Uniqueid") or e.get("Channel") for e in events}
        return len(events), len(calls)

    async def _phones(self) -> int | None:
        if self._ami is None:
            return None
        _, events = await self._ami.list_action("DeviceStateList", timeout=self._timeout)
        return sum(
            1
            for e in events
            if (e.get("Device") or "").upper().startswith(PHONE_TECHS)
            and (e.get("State") or "").upper() not in OFFLINE_STATES
        )

    async def _started(self) -> datetime | None:
        """When Asterisk started (CoreStartupDate and Time, in the PBX's local time, which
        is taken to be the configured timezone)."""
        if self._ami is None:
            return None
        reply = await self._ami.action("CoreStatus", timeout=self._timeout)
        day, moment = reply.get("CoreStartupDate"), reply.get("CoreStartupTime")
        if not day or not moment:
            return None
        try:
            local = datetime.strptime(f"{day} {moment}", "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        return local.replace(tzinfo=self._clock.tz)
