"""The web application as the service builds it, on a real database.

`web_service(...)` builds the Service's parts (nothing started: no FastAGI socket, no AMI
link) and the application `build_web` makes of them; tests drive it with pytest-aiohttp's
`aiohttp_client`, or start the whole Service when they need what runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import argon2.profiles
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from pbxbridge.app import Core, Service, open_core
from pbxbridge.settings import Settings
from pbxbridge.webserver import web_parts
from primitives.clock import FixedClock
from tests.conftest import Database
from web.api.routing import RouteTable
from web.app import Mount, build_app
from web.tokens import Scope, TokenStore

Client = TestClient[web.Request, web.Application]

CHEAP_HASHER = PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
"""Staff passwords in tests: argon2id at its cheapest (the service's default costs about a
second per hash on a loaded 2-core machine; test_admin_auth checks that default once)."""

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
        parts = replace(web_parts(service, password_hasher=CHEAP_HASHER), callback=callback)
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


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 1 s 440 Hz mp3 (44.1 kHz stereo), made by ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        message = "pbxbridge needs ffmpeg for audio prompts: apt-get install ffmpeg"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path_factory.mktemp("tone") / "tone.mp3"
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
         "-ar", "44100", "-ac", "2", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()
