"""The web application as the service builds it, on a real database.

`web_service(...)` builds the Service's parts (nothing started: no FastAGI socket, no AMI
link) and the application `build_web` makes of them; tests drive it with pytest-aiohttp's
`aiohttp_client`, or start the whole Service when they need what runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from pbxbridge.app import Core, Service, open_core
from pbxbridge.settings import Settings
from pbxbridge.webserver import web_parts
from primitives.clock import FixedClock
from tests.conftest import Database
from web.api.routing import RouteTable
from web.app import Mount, build_app
from web.tokens import Scope, TokenStore

Client = TestClient[web.Request, web.Application]

OWNER = "+380501110001"
"""The number of the subscriber every rig has (login ivan)."""


@dataclass
class Rig:
    core: Core
    service: Service
    app: web.Application
    tokens: TokenStore

    async def token(self, *scopes: Scope, name: str = "test") -> str:
        made = await self.tokens.create(name, frozenset(scopes) or None, actor="cli:test")
        return made.token


def settings_for(
    database: Database,
    folder: Path,
    *,
    sections: dict[str, dict[str, Any]] | None = None,
    **http: Any,
) -> Settings:
    """Settings of a rig: `http` keywords for [http], `sections` for other sections."""
    values: dict[str, Any] = {
        "database": {"url": database.url},
        "agi": {"port": 0},
        "ami": {"enabled": False},
        "spool": {"dir": folder / "spool", "sounds_dir": folder / "sounds", "fsync": False},
    }
    for name, section in (sections or {}).items():
        values[name] = {**values.get(name, {}), **section}
    return Settings(**values, http={"port": 0, **http})


@asynccontextmanager
async def web_rig(
    database: Database,
    clock: FixedClock,
    folder: Path,
    *,
    tables: Sequence[RouteTable] | None = None,
    faces: Sequence[Mount] | None = None,
    callback: Mount | None = None,
    settings: Settings | None = None,
    sections: dict[str, dict[str, Any]] | None = None,
    **http: Any,
) -> AsyncIterator[Rig]:
    settings = settings or settings_for(database, folder, sections=sections, **http)
    async with open_core(settings, clock=clock) as core:
        if core.local is not None and not await core.local.has_subscribers():
            await core.local.add(
                "ivan", name="Ivan", phones=[OWNER], balance=Decimal("12.50"), actor="test"
            )
        service = Service(core)
        # faces None: those the settings switch on (none by default), as the service mounts
        parts = replace(web_parts(service), callback=callback)
        if faces is not None:
            parts = replace(parts, faces=faces)
        if tables is not None:
            parts = replace(parts, api_tables=tables)
        app = build_app(parts)
        yield Rig(core, service, app, TokenStore(core.sessions, clock, core.audit))


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Any],
) -> Callable[[web.Application], Any]:
    async def make(app: web.Application) -> Client:
        client: Client = await aiohttp_client(app)
        return client

    return make
