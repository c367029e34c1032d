"""Shared fixtures: a migrated database on SQLite and on a real PostgreSQL server, and a
throwaway database on a real MariaDB (the TelePony feed's MySQL side).

PostgreSQL comes from PBXBRIDGE_TEST_PG_URL (default the local server, user postgres),
MariaDB from PBXBRIDGE_TEST_MYSQL_URL (default root on 127.0.0.1:3306; scripts/
ensure-mariadb.sh finds or starts one for `make test`). When a server does not answer its
runs are skipped, except under CI=true, where a skipped run fails the suite.

The suite is hermetic (see `pytest_configure`): the PBXBRIDGE_* variables of the shell
that runs it, the working directory's pbxbridge.toml and /etc/pbxbridge/pbxbridge.toml
never reach a test or the processes tests start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from pbxbridge import migrations
from pbxbridge import settings as pbxbridge_settings
from primitives.clock import FixedClock
from storage import DatabaseSettings, create_engine, session_factory

PG_ADMIN_URL = os.environ.get(
    "PBXBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MYSQL_ADMIN_URL = os.environ.get(
    "PBXBRIDGE_TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/mysql"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

QUIETED_LOGGERS = ("aiosqlite", "asyncio", "alembic.runtime.migration")
"""The loggers pbxbridge.logs.configure_logging sets to WARNING."""

_ISOLATION = pytest.StashKey[tuple[Path, Path, tuple[Path, ...]]]()


def shell_settings(names: Iterable[str]) -> list[str]:
    """Those of `names` that would configure pbxbridge (in any case: the settings read
    them case-insensitively); PBXBRIDGE_TEST_* configure the suite and are kept."""
    return [
        name
        for name in names
        if name.upper().startswith("PBXBRIDGE_") and not name.upper().startswith("PBXBRIDGE_TEST_")
    ]


def pytest_configure(config: pytest.Config) -> None:
    """Isolate the suite from the machine it runs on, once, before any test is collected.

    - PBXBRIDGE_* variables are removed from this process's environment, so neither the
      settings built in-process nor a child process (they inherit os.environ) see what a
      user exported to run the service. A test that wants one sets it with monkeypatch.
    - The working directory becomes an empty folder of the session, so a config file
      searched for in the working directory (./pbxbridge.toml) is never the project's.
    - The system-wide config file is looked for in that empty folder instead of /etc.
      Every process a test starts is given its config with --config or PBXBRIDGE_CONFIG.
    """
    for name in shell_settings(os.environ):
        del os.environ[name]
    empty = Path(tempfile.mkdtemp(prefix="pbxbridge-tests-"))
    config.stash[_ISOLATION] = (Path.cwd(), empty, pbxbridge_settings.CONFIG_CANDIDATES)
    if _runs_tests_here(config):
        os.chdir(empty)
    pbxbridge_settings.CONFIG_CANDIDATES = (
        pbxbridge_settings.LOCAL_CONFIG,
        empty / "etc" / "pbxbridge.toml",
    )


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in-process installs its own root handler (whose filter drops each
    record's exc_info) and quiets some loggers: put logging back after every test, so no
    test depends on which ran before it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quieted = {name: logging.getLogger(name).level for name in QUIETED_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in quieted.items():
        logging.getLogger(name).setLevel(was)


def _runs_tests_here(config: pytest.Config) -> bool:
    """A plain run: this process collects and runs. Under pytest-xdist (`make test` runs two
    workers) the controller runs none and starts its workers in its own working directory,
    so neither moves before collecting (see `pytest_collection_finish`)."""
    return getattr(config.option, "dist", "no") == "no" and not hasattr(config, "workerinput")


def pytest_collection_finish(session: pytest.Session) -> None:
    """A pytest-xdist worker collects the paths it is handed relative to the project, so it
    moves to the empty folder once it has collected, still before any test runs."""
    isolation = session.config.stash.get(_ISOLATION, None)
    if isolation is not None and hasattr(session.config, "workerinput"):
        os.chdir(isolation[1])


def pytest_unconfigure(config: pytest.Config) -> None:
    isolation = config.stash.get(_ISOLATION, None)
    if isolation is None:
        return
    cwd, empty, candidates = isolation
    os.chdir(cwd)
    pbxbridge_settings.CONFIG_CANDIDATES = candidates
    shutil.rmtree(empty, ignore_errors=True)


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


def require_server(what: str, where: str, probe: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Skip the test when `probe` cannot reach the server; under CI=true, fail it."""
    try:
        _run(probe)
    except Exception as exc:
        message = f"{what} at {where} unavailable: {type(exc).__name__}: {exc}"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session; each test gets a copy."""

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    require_server("PostgreSQL", PG_ADMIN_URL, probe)
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
async def sqlite_database_at(tmp_path: Path) -> AsyncIterator[Database]:
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
    async with sqlite_database_at(tmp_path) as db:
        yield db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated database: a new SQLite file, or a copy of the PostgreSQL template."""
    if request.param == "sqlite":
        async with sqlite_database_at(tmp_path) as db:
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


@asynccontextmanager
async def _mysql_admin() -> AsyncIterator[Any]:
    """A connection to the MariaDB server (asyncmy, no database selected)."""
    import asyncmy
    from sqlalchemy.engine import make_url

    url = make_url(MYSQL_ADMIN_URL)
    conn = await asyncmy.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        connect_timeout=3,
        autocommit=True,
    )
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="session")
def mysql_server() -> str:
    """MYSQL_ADMIN_URL once a MariaDB answers there (skipped, or failed under CI, if not)."""

    async def probe() -> None:
        async with _mysql_admin():
            pass

    require_server("MariaDB", MYSQL_ADMIN_URL, probe)
    return MYSQL_ADMIN_URL


@pytest.fixture
async def mysql_url(mysql_server: str) -> AsyncIterator[str]:
    """A mysql+asyncmy:// URL of a new empty database with a random name, dropped after."""
    from sqlalchemy.engine import make_url

    name = f"pbxbridge_t_{secrets.token_hex(4)}"
    async with _mysql_admin() as conn, conn.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield make_url(mysql_server).set(database=name).render_as_string(hide_password=False)
    async with _mysql_admin() as conn, conn.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
