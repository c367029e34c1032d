"""A running pbxbridge (the real Service wiring) for route tests."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from pbxbridge.app import Core, Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import Clock
from tests.fakes.agi_asterisk import FakeAsterisk, FakeCall, Faults, GetDataInput

ACTOR = "test"


class RouteRig:
    def __init__(self, core: Core, service: Service) -> None:
        self.core = core
        self.service = service

    @property
    def port(self) -> int:
        return self.service.agi.port

    async def call(
        self,
        script: str,
        *,
        callerid: str = "0501110001",
        args: tuple[str, ...] = (),
        uniqueid: str = "1795311406.5",
        get_data: tuple[GetDataInput, ...] = (),
        faults: Faults | None = None,
        language: str = "en",
    ) -> FakeCall:
        env: dict[str, str | None] = {
            "agi_network_script": script,
            "agi_request": f"agi://127.0.0.1:{self.port}/{script}",
            "agi_callerid": callerid,
            "agi_uniqueid": uniqueid,
            "agi_language": language,
            "agi_arg_1": None,
            "agi_arg_2": None,
        }
        env.update({f"agi_arg_{i}": a for i, a in enumerate(args, start=1)})
        fake = FakeAsterisk(self.port, env=env, get_data=get_data, faults=faults)
        return await fake.call()

    async def add(self, login: str, phone: str, **fields: Any) -> None:
        assert self.core.local is not None
        values: dict[str, Any] = {"name": login.title(), "tariff": "Test100", "fee": Decimal(100)}
        values.update(fields)
        await self.core.local.add(login, phones=(phone,), actor=ACTOR, **values)

    async def card(self, amount: str) -> str:
        assert self.core.paycards is not None
        (number,) = await self.core.paycards.generate(1, Decimal(amount))
        return number


@asynccontextmanager
async def route_rig(
    database_url: str,
    clock: Clock,
    agi: Mapping[str, Any] | None = None,
    billing: Mapping[str, Any] | None = None,
) -> AsyncIterator[RouteRig]:
    # Folders of its own (never the machine's /var/spool/asterisk or campaign sounds, which
    # the service prunes at start) and no AMI link (nothing here needs one).
    with tempfile.TemporaryDirectory(prefix="pbxbridge-rig-") as folders:
        settings = Settings(
            database={"url": database_url},
            agi={
                "port": 0,
                "command_timeout": 5,
                "session_timeout": 20,
                "drain_timeout": 5,
                **(agi or {}),
            },
            billing=billing or {},
            http={"port": 0},
            ami={"enabled": False},
            spool={"dir": Path(folders, "spool"), "sounds_dir": Path(folders, "sounds")},
        )
        async with open_core(settings, clock=clock) as core:
            service = Service(core)
            await service.start()
            try:
                yield RouteRig(core, service)
            finally:
                await service.stop()
