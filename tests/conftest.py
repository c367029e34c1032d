"""Shared fixtures: a migrated database on SQLite and on a real PostgreSQL server.

PostgreSQL comes from PBXBRIDGE_TEST_PG_URL (default the local server, user postgres).
When none answers the PostgreSQL runs are skipped, except under CI=true, where a skipped
PostgreSQL run fails the suite.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billing_client.clock import FixedClock
from pbxbridge import migrations
from storage import DatabaseSettings, create_engine, session_factory

PG_ADMIN_URL = os.environ.get(
    "PBXBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass
class Database:
    kind: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


def _run(coro_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion on a private loop in a thread (callable from any loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro_fn()).result()


def _pg_available() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        _run(probe)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session; each test gets a copy."""
    problem = _pg_available()
    if problem is not None:
        message = f"PostgreSQL at {PG_ADMIN_URL} unavailable: {problem}"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    name = f"pbxbridge_tpl_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        engine = create_engine(DatabaseSettings(url=_sa_url(name)))
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(create)
    yield name
    _run(drop)


def _sa_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{dbname}"


@asynccontextmanager
async def _sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pbxbridge.db'}"
    engine = create_engine(DatabaseSettings(url=url))
    await migrations.upgrade(engine)
    try:
        yield Database("sqlite", url, engine, session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated SQLite database, for what exists on SQLite only."""
    async with _sqlite(tmp_path) as db:
        yield db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated database: a new SQLite file, or a copy of the PostgreSQL template."""
    if request.param == "sqlite":
        async with _sqlite(tmp_path) as db:
            yield db
        return
    template: str = request.getfixturevalue("pg_template")
    name = f"pbxbridge_t_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    url = _sa_url(name)
    engine = create_engine(DatabaseSettings(url=url))
    yield Database("postgres", url, engine, session_factory(engine))
    await engine.dispose()
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'pbxbridge.db'}"


@pytest.fixture
def clock() -> FixedClock:
    """2026-11-22 12:00 Kyiv, the day the Ubilling reference was recorded."""
    return FixedClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
