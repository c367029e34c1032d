"""A fake of Asterisk's call-file spool (`pbx/pbx_spool.c`), driven step by step.

`step(now)` does what Asterisk does: picks up every file in `outgoing/` (recording when
and which number), appends `StartRetry:`, and once the call's time is up moves the file
into `outgoing_done/` and *then* appends `Status:` (in that order, as Asterisk does, so a
reader can meet an archived file without its status). A `failed`-extension UserEvent is
produced for an unanswered call, as the campaign dialplan sends it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ami_listener.message import AmiMessage
from callfile_spooler.callfile import ArchivedCallFile, parse


@dataclass(frozen=True)
class Fate:
    """How a call goes: it lasts `seconds`; REASON None means answered (Completed)."""

    seconds: float = 1.0
    reason: int | None = None
    digit: str | None = None


@dataclass
class Running:
    name: str
    number: str
    started: datetime
    ends: datetime
    fate: Fate
    call: ArchivedCallFile


@dataclass
class FakeAsterisk:
    spool: Path
    decide: Callable[[ArchivedCallFile], Fate] = lambda _call: Fate()
    arrivals: list[tuple[datetime, str, str]] = field(default_factory=list)
    """(when picked up, file name, CAMPAIGN_NUMBER)."""
    running: dict[str, Running] = field(default_factory=dict)
    peak: int = 0
    events: list[AmiMessage] = field(default_factory=list)
    """UserEvents produced and not yet taken (see `take_events`)."""

    @property
    def outgoing(self) -> Path:
        return self.spool / "outgoing"

    @property
    def done(self) -> Path:
        return self.spool / "outgoing_done"

    def pick_up(self, now: datetime) -> list[str]:
        new = []
        for name in sorted(os.listdir(self.outgoing)):
            if name in self.running:
                continue
            path = self.outgoing / name
            call = parse(path.read_bytes())
            with path.open("a") as fh:
                fh.write(f"\nStartRetry: 4242 1 ({int(now.timestamp())})\n")
            fate = self.decide(call)
            self.running[name] = Running(
                name,
                call.variables.get("CAMPAIGN_NUMBER", ""),
                now,
                now + timedelta(seconds=fate.seconds),
                fate,
                call,
            )
            self.arrivals.append((now, name, call.variables.get("CAMPAIGN_NUMBER", "")))
            new.append(name)
        self.peak = max(self.peak, len(self.running))
        return new

    def finish(self, now: datetime, *, append_status: bool = True) -> list[str]:
        ended = [r for r in self.running.values() if r.ends <= now]
        for run in ended:
            self.end(run.name, append_status=append_status)
        return [r.name for r in ended]

    def end(self, name: str, *, append_status: bool = True) -> None:
        run = self.running.pop(name)
        variables = run.call.variables
        if run.fate.digit is not None and run.fate.reason is None:
            self.events.append(
                user_event(
                    "CampaignDigit",
                    Attempt=variables["CAMPAIGN_ATTEMPT_ID"],
                    Campaign=variables["CAMPAIGN_ID"],
                    Digit=run.fate.digit,
                )
            )
        if run.fate.reason is not None:
            self.events.append(
                user_event(
                    "CallFileFailed",
                    Reason=str(run.fate.reason),
                    Campaign=variables["CAMPAIGN_ID"],
                    Attempt=variables["CAMPAIGN_ATTEMPT_ID"],
                    Number=variables["CAMPAIGN_NUMBER"],
                )
            )
        target = self.done / name
        os.rename(self.outgoing / name, target)
        if append_status:
            status = "Completed" if run.fate.reason is None else "Expired"
            with target.open("a") as fh:
                fh.write(f"Status: {status}\n")

    def step(self, now: datetime) -> None:
        self.pick_up(now)
        self.finish(now)

    def take_events(self) -> list[AmiMessage]:
        events, self.events = self.events, []
        return events


def user_event(name: str, **headers: str) -> AmiMessage:
    """A UserEvent as the AMI listener hands it over."""
    return AmiMessage(
        (
            ("Event", "UserEvent"),
            ("Privilege", "user,all"),
            ("Channel", "OutgoingSpoolFailed"),
            ("UserEvent", name),
            *headers.items(),
        )
    )


def event(name: str, *headers: tuple[str, str]) -> AmiMessage:
    return AmiMessage((("Event", name), *headers))
