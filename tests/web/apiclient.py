"""A small client for the API tests: one call, its status checked, its body decoded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from callfile_spooler.callfile import ArchivedCallFile
from primitives.clock import FixedClock
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate
from tests.web.conftest import Client, Rig

PREFIX = "/api/v1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any
    """JSON decoded, else the text."""

    @property
    def error(self) -> tuple[str, str | None]:
        """(code, field) of an error answer."""
        detail = self.body["error"]
        return detail["code"], detail["field"]


@dataclass
class Api:
    client: Client
    token: str

    async def call(self, method: str, path: str, status: int, **options: Any) -> Answer:
        headers = {**auth(self.token), **options.pop("headers", {})}
        answer = await self.client.request(method, PREFIX + path, headers=headers, **options)
        if answer.content_type == "application/json":
            body = await answer.json()
        else:
            body = await answer.text()
        assert answer.status == status, (method, path, answer.status, body)
        return Answer(answer.status, answer.headers, body)

    async def get(self, path: str, status: int = 200, **options: Any) -> Any:
        return (await self.call("GET", path, status, **options)).body

    async def post(self, path: str, status: int = 200, **options: Any) -> Any:
        return (await self.call("POST", path, status, **options)).body

    async def fails(self, method: str, path: str, status: int, **options: Any) -> tuple[str, Any]:
        """An error answer's (code, field)."""
        return (await self.call(method, path, status, **options)).error


def make_spool(folder: Path) -> Path:
    """The spool folders the rig's settings name (folder/spool), as Asterisk has them."""
    spool = folder / "spool"
    for sub in ("outgoing", "outgoing_done", "tmp"):
        (spool / sub).mkdir(parents=True, exist_ok=True)
    return spool


async def run_calls(
    rig: Rig, spool: Path, clock: FixedClock, fate: Callable[[ArchivedCallFile], Fate]
) -> None:
    """One run of a started campaign's calls through the fake call-file Asterisk: the
    spooler writes them, Asterisk dials and reports each `fate`, the spooler books the
    outcomes and finishes the run."""
    asterisk = FakeAsterisk(spool, fate)
    spooler = rig.service.spooler
    await spooler.tick()
    asterisk.step(clock.now())
    clock.instant += timedelta(seconds=10)
    asterisk.step(clock.now())
    for event in asterisk.take_events():
        await spooler.on_ami_event(event)
    for _ in range(2):
        clock.instant += timedelta(seconds=10)
        await spooler.tick()
