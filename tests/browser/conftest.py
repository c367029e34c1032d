"""Browser tests: Playwright driving Debian's Chromium against the whole running service.

- **The browser**: `/usr/bin/chromium` (PBXBRIDGE_TEST_CHROMIUM names another), launched
  headless once for the session's browser tests (this package) through Playwright's sync
  API with `executable_path`;
  Playwright's own browser downloads (`playwright install`) are never used. `make test`
  installs Chromium when it may (scripts/ensure-chromium.sh). Where Chromium or Playwright
  cannot be had, these tests are skipped with one line saying why, except under CI=true,
  where they fail.
- **The service**: `pbxbridge run`'s Service, started on real sockets (HTTP, FastAGI, an
  AMI link to the fake Asterisk of tests/fakes/) on an event loop of its own in a thread,
  on a migrated SQLite database of the test. Tests are plain functions: Playwright's sync
  API keeps its own loop, and `live.run(coroutine)` runs a coroutine on the service's loop
  (read what the service stored, make the fake Asterisk speak).
- **Screenshots**: `browse.goto(path)` saves one of each page visited, `browse.shot(name)`
  one of the page as it is now, under `.artifacts/screenshots/<test>/` (PBXBRIDGE_TEST_
  ARTIFACTS moves it; gitignored). `browse.document(name)` also writes
  `docs/screenshots/<name>.png`, the README's pictures, when
  PBXBRIDGE_TEST_DOC_SCREENSHOTS=1 (run once after a visible change).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from pydantic import SecretStr

from ami_listener import AmiHealth
from pbxbridge.app import Core, Service, open_core
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.conftest import IN_CI, sqlite_database_at
from tests.fakes.ami_asterisk import FakeAmi
from web.staff import Role, StaffStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page
    from playwright.sync_api._generated import LocatorAssertions, PageAssertions

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("PBXBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("PBXBRIDGE_TEST_ARTIFACTS", ROOT / ".artifacts")) / "screenshots"
DOCUMENTED = ROOT / "docs" / "screenshots"
WRITE_DOCS = os.environ.get("PBXBRIDGE_TEST_DOC_SCREENSHOTS", "") == "1"
VIEWPORT = {"width": 1000, "height": 700}
RUN_TIMEOUT = 15.0
"""Seconds a coroutine run on the service's loop may take before the test fails."""

PASSWORD = "correct horse battery"
SUBSCRIBER = "+380501112233"
"""The number of the subscriber every live service has (login olena)."""

_SKIPPED = pytest.StashKey[str]()


def chromium_problem() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -c constraints.txt -e '.[dev]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does it as root)"
    return None


def expect(target: Locator) -> LocatorAssertions:
    """Playwright's `expect` for a locator, imported when first used: without Playwright
    this module still loads, and the `browser` fixture says why the tests skip."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def expect_page(target: Page) -> PageAssertions:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture(scope="package")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """One headless Debian Chromium for the session's browser tests (all in this package).

    Package, not session, scope: while Playwright's sync API runs, its event loop is the
    main thread's running loop, so a later test of another folder calling asyncio.run()
    (a CLI command run in-process) would fail; the browser goes when this folder is done."""
    problem = chromium_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true and the browser tests cannot run: {problem}")
        request.config.stash[_SKIPPED] = problem
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    problem = config.stash.get(_SKIPPED, None)
    if problem is not None:
        terminalreporter.write_line(f"WARNING: browser tests skipped: {problem}", yellow=True)


@dataclass
class Browse:
    """A page of the session's browser, with screenshots of what the test visits."""

    page: Page
    base_url: str
    folder: Path
    shots: list[Path] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str, name: str | None = None) -> None:
        self.page.goto(self.url(path))
        self.shot(name or path)

    def shot(self, name: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "root"
        path = self.folder / f"{len(self.shots) + 1:02d}-{slug}.png"
        self.page.screenshot(path=path, full_page=True)
        self.shots.append(path)
        return path

    def document(self, name: str) -> None:
        """The page as the README shows it (docs/screenshots/<name>.png), when asked."""
        shot = self.shot(name)
        if WRITE_DOCS:
            DOCUMENTED.mkdir(parents=True, exist_ok=True)
            (DOCUMENTED / f"{name}.png").write_bytes(shot.read_bytes())


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context (no cookies) and page, in English, for one test."""
    context = browser.new_context(locale="en-GB", viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class Live:
    """The service running on its own loop in a thread (see the module's docstring)."""

    loop: asyncio.AbstractEventLoop
    core: Core
    service: Service
    ami: FakeAmi
    clock: FixedClock

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = RUN_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def staff(self) -> StaffStore:
        return StaffStore(self.core.sessions, self.core.clock, self.core.audit)

    @property
    def base_url(self) -> str:
        web = self.service.web
        assert web is not None
        return f"http://127.0.0.1:{web.port}"


def live_settings(database_url: str, folder: Path, ami: FakeAmi) -> Settings:
    return Settings(
        database={"url": database_url},
        spool={"dir": folder / "spool", "sounds_dir": folder / "sounds", "fsync": False},
        agi={"port": 0},
        http={"port": 0},
        ami={
            "port": ami.port,
            "secret": SecretStr(ami.secret),
            "backoff_initial": 0.05,
            "backoff_max": 0.1,
        },
        missed_calls={"flush_delay": 0.05},
        scheduler={"enabled": False},
    )


async def _start(
    stack: AsyncExitStack, folder: Path, clock: FixedClock
) -> tuple[Core, Service, FakeAmi]:
    for sub in ("outgoing", "outgoing_done", "tmp"):  # Asterisk's spool, ready
        (folder / "spool" / sub).mkdir(parents=True, exist_ok=True)
    ami: FakeAmi = await stack.enter_async_context(FakeAmi())
    database = await stack.enter_async_context(sqlite_database_at(folder))
    core = await stack.enter_async_context(
        open_core(live_settings(database.url, folder, ami), clock=clock)
    )
    assert core.local is not None
    await core.local.add(
        "olena",
        name="Олена",
        phones=(SUBSCRIBER,),
        balance=Decimal("250.00"),
        fee=Decimal("300.00"),
        actor="test",
    )
    service = Service(core)
    assert service.ami is not None
    connected = asyncio.Event()

    def up(health: AmiHealth, detail: str) -> None:
        if health is AmiHealth.CONNECTED:
            connected.set()

    service.ami.on_health(up)
    await service.start()
    stack.push_async_callback(service.stop)
    try:
        async with asyncio.timeout(5):
            await connected.wait()
    except TimeoutError:
        pytest.fail("the service's AMI link did not come up within 5 s")
    return core, service, ami


@contextmanager
def running_service(folder: Path) -> Iterator[Live]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-service", daemon=True)
    thread.start()
    stack = AsyncExitStack()
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # a Monday, 11:00 in Kyiv

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(RUN_TIMEOUT)

    try:
        core, service, ami = run(_start(stack, folder, clock))
        yield Live(loop, core, service, ami, clock)
    finally:
        run(stack.aclose())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with running_service(tmp_path) as service:
        yield service


@pytest.fixture
def browse(page: Page, live: Live, request: pytest.FixtureRequest) -> Browse:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return Browse(page, live.base_url, folder)


def add_staff(live: Live, name: str, role: Role, password: str = PASSWORD) -> None:
    """A staff account, as `pbxbridge users add` makes it."""
    live.run(live.staff.add(name, role, password, actor="cli:test"))


def log_in(
    browse: Browse, name: str, password: str = PASSWORD, *, expect_home: bool = True
) -> None:
    """Fill in the login form as a person does; by default, wait for the home page."""
    page = browse.page
    browse.goto("/admin/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    if expect_home:
        expect_page(page).to_have_url(browse.url("/admin/"))
        browse.shot(f"logged-in-{name}")
