"""Staff accounts and the admin pages' guards: login, logout, sessions that outlive a
restart and end when idle, CSRF, rate limits, roles, the users and tokens pages, the CLI.
The real application on a real database, a browser-like client (tests/web/adminclient.py).
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from jinja2 import Environment
from jinja2.ext import extract_from_ast
from sqlalchemy import select

from billing_client.audit import AuditJournal
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock
from primitives.health import HealthStatus
from tests.conftest import Database
from tests.schema import schema_drift
from tests.web.adminclient import PASSWORD, Staff, add_user, csrf_of, staff
from tests.web.conftest import web_rig
from web.admin import accounts, campaigns, login, status
from web.admin.sections import SECTIONS
from web.admin.sessions import COOKIE
from web.i18n import UK
from web.keys import KeyRow
from web.pages import TEMPLATES
from web.staff import Role, StaffRow, StaffStore

HOSTILE = '<script>alert("x")</script>'


async def test_the_migration_matches_the_models(database: Database) -> None:
    assert await schema_drift(database, StaffRow, KeyRow) == []


async def test_passwords_are_kept_as_argon2id_hashes_with_the_default_costs(
    sqlite_database: Database, clock: FixedClock
) -> None:
    store = StaffStore(sqlite_database.sessions, clock)  # the service's own parameters
    await store.add("olena", Role.ADMIN, PASSWORD, actor="cli:test")
    async with sqlite_database.sessions() as session:
        stored = (await session.scalars(select(StaffRow.password_hash))).one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert (await store.authenticate("olena", PASSWORD)) is not None
    assert (await store.authenticate("olena", PASSWORD + "x")) is None


async def test_anonymous_requests_go_to_the_login_form(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        for method, path in [
            ("GET", "/admin/"),
            ("GET", "/admin/users"),
            ("POST", "/admin/users"),
            ("POST", "/admin/logout"),
            ("GET", "/admin/nothing-here"),
        ]:
            answer = await client.request(method, path, allow_redirects=False)
            assert answer.status == 303, (method, path)
            assert answer.headers["Location"].startswith("/admin/login"), (method, path)
        deep = await client.get("/admin/users?page=2", allow_redirects=False)
        assert deep.headers["Location"] == "/admin/login?next=%2Fadmin%2Fusers%3Fpage%3D2"
        form = await client.get("/admin/login")
        assert form.status == 200
        html = await form.text()
        for field in ('name="username"', 'name="password"', 'name="csrf_token"'):
            assert field in html
        assert form.headers["Cache-Control"] == "no-store"
        assert form.headers["X-Frame-Options"] == "DENY"


async def test_login_home_logout(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        await add_user(rig, "olena", Role.ADMIN)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.page("/admin/login?next=/admin/tokens")
        _, _, headers = await browser.post(
            "/admin/login",
            {"username": "olena", "password": PASSWORD, "next": "/admin/tokens"},
            status=303,
        )
        assert headers["Location"] == "/admin/tokens"
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/admin" in cookie
        assert "Secure" not in cookie  # plain HTTP from a peer that is no trusted proxy
        home = await browser.page("/admin/")
        links = set(re.findall(r'href="(/admin/[^"]*)"', home))
        assert {s.path for s in SECTIONS} <= links
        assert "olena" in home
        # Logout ends the session: the same cookie no longer opens anything.
        stolen = browser.client.session.cookie_jar.filter_cookies(
            browser.client.make_url("/admin/")
        )
        await browser.post("/admin/logout", status=303)
        assert (await browser.client.get("/admin/", allow_redirects=False)).status == 303
        replay = await browser.client.get(
            "/admin/", headers={"Cookie": f"{COOKIE}={stolen[COOKIE].value}"}, allow_redirects=False
        )
        assert replay.status == 303
        # An open redirect is not offered: `next` outside /admin/ leads home.
        await browser.page("/admin/login")
        _, _, headers = await browser.post(
            "/admin/login",
            {"username": "olena", "password": PASSWORD, "next": "//evil.example/admin/"},
            status=303,
        )
        assert headers["Location"] == "/admin/"


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        await add_user(rig, "olena")
        browser = Staff(await aiohttp_client(rig.app))
        await browser.page("/admin/login")
        _, wrong, _ = await browser.post(
            "/admin/login", {"username": "olena", "password": "not the password"}
        )
        _, unknown, _ = await browser.post(
            "/admin/login", {"username": HOSTILE, "password": "not the password"}
        )
        assert "Wrong user name or password." in wrong
        assert "Wrong user name or password." in unknown
        assert HOSTILE not in unknown
        assert "&lt;script&gt;" in unknown
        assert (await browser.client.get("/admin/", allow_redirects=False)).status == 303
        # A disabled account cannot log in with the right password.
        await staff(rig).disable("olena", actor="cli:test")
        await browser.log_in("olena", status=200)


async def test_csrf_token_missing_or_wrong_is_403(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        await add_user(rig, "olena")
        browser = Staff(await aiohttp_client(rig.app))
        await browser.page("/admin/login")
        # The login form itself: without the token, or with another session's.
        missing = await browser.client.post(
            "/admin/login", data={"username": "olena", "password": PASSWORD}
        )
        assert missing.status == 403
        other = Staff(await aiohttp_client(rig.app))
        await other.page("/admin/login")
        await browser.post(
            "/admin/login",
            {"username": "olena", "password": PASSWORD},
            csrf=other.csrf,
            status=403,
        )
        await browser.log_in("olena")
        # A logged-in form: no token, a wrong one, the token of before the login.
        before = browser.csrf
        form = {"name": "crm"}
        assert (await browser.client.post("/admin/tokens", data=form)).status == 403
        await browser.post("/admin/tokens", form, csrf="0" * 64, status=403)
        await browser.post("/admin/tokens", form, csrf=before[::-1], status=403)
        assert await rig.tokens.list() == []
        await browser.page("/admin/tokens")
        await browser.post("/admin/tokens", form)
        assert [t.name for t in await rig.tokens.list()] == ["crm"]


async def test_login_is_rate_limited_per_account_and_per_address(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(
        sqlite_database,
        clock,
        tmp_path,
        admin_login_user_per_hour=3,
        admin_login_ip_per_hour=5,
        trusted_proxies=["127.0.0.1"],
    ) as rig:
        await add_user(rig, "olena")
        await add_user(rig, "petro")
        browser = Staff(await aiohttp_client(rig.app))
        await browser.page("/admin/login")
        for _ in range(3):
            await browser.post("/admin/login", {"username": "olena", "password": "guess-guess"})
        # The fourth attempt on the account is refused before the password is looked at.
        _, _page, headers = await browser.post(
            "/admin/login", {"username": "olena", "password": PASSWORD}, status=429
        )
        assert int(headers["Retry-After"]) > 0
        # Another account from the same address still may (the address's limit is 5).
        await browser.post("/admin/login", {"username": "petro", "password": PASSWORD}, status=303)
        # From another address behind the proxy, olena is still refused (per account)…
        other = await browser.client.post(
            "/admin/login",
            data={"username": "olena", "password": PASSWORD, "csrf_token": browser.csrf},
            headers={"X-Forwarded-For": "203.0.113.9"},
            allow_redirects=False,
        )
        assert other.status in {403, 429}  # the login changed the session: 403 first
        # …and an address over its own limit is refused whatever the account.
        fresh = Staff(await aiohttp_client(rig.app))
        await fresh.page("/admin/login")
        _, _, _ = await fresh.post(
            "/admin/login", {"username": "nobody", "password": "x" * 10}, status=429
        )
        # An hour and a bit later the account may try again.
        clock.instant += timedelta(hours=2)
        await fresh.page("/admin/login")
        await fresh.post("/admin/login", {"username": "olena", "password": PASSWORD}, status=303)


async def test_idle_session_ends_and_active_one_goes_on(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path, admin_idle_minutes=30) as rig:
        await add_user(rig, "olena")
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("olena")
        for _ in range(4):  # two hours of work, a request every 25 minutes
            clock.instant += timedelta(minutes=25)
            await browser.page("/admin/")
        clock.instant += timedelta(minutes=31)
        answer = await browser.client.get("/admin/", allow_redirects=False)
        assert answer.status == 303
        assert answer.headers["Location"] == "/admin/login"


async def test_a_session_survives_a_restart_and_is_shared_by_instances(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        await add_user(rig, "olena")
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("olena")
        cookie = browser.client.session.cookie_jar.filter_cookies(
            browser.client.make_url("/admin/")
        )[COOKIE].value
    # A new application (a restart, or a second instance) on the same database.
    async with web_rig(database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        answer = await client.get("/admin/", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert answer.status == 200
        assert "olena" in await answer.text()
        forged = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
        refused = await client.get(
            "/admin/", headers={"Cookie": f"{COOKIE}={forged}"}, allow_redirects=False
        )
        assert refused.status == 303


async def test_secure_cookie_behind_an_https_proxy(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path, trusted_proxies=["127.0.0.1"]) as rig:
        client = await aiohttp_client(rig.app)
        answer = await client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in answer.headers["Set-Cookie"]
    async with web_rig(sqlite_database, clock, tmp_path) as rig:  # no trusted proxy: ignored
        client = await aiohttp_client(rig.app)
        answer = await client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" not in answer.headers["Set-Cookie"]


async def test_an_operator_cannot_manage_users_tokens_or_money(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        await add_user(rig, "ivanka", Role.OPERATOR)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("ivanka")
        home = await browser.page("/admin/")
        assert "/admin/users" not in home
        assert "/admin/tokens" not in home
        await browser.page("/admin/users", status=403)
        await browser.page("/admin/tokens", status=403)
        await browser.page("/admin/")
        await browser.post(
            "/admin/users", {"name": "mallory", "role": "admin", "password": PASSWORD}, status=403
        )
        await browser.post("/admin/tokens", {"name": "mine"}, status=403)
        assert [u.name for u in await staff(rig).list()] == ["ivanka"]
        assert await rig.tokens.list() == []
        from web.admin.roles import ROLES, Permission

        assert Permission.MONEY not in ROLES[Role.OPERATOR]


async def test_admin_manages_users_and_tokens_and_the_journal_says_who(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        await add_user(rig, "olena")
        admin = Staff(await aiohttp_client(rig.app))
        await admin.log_in("olena")
        await admin.page("/admin/users")
        new = {"name": "ivanka", "role": "operator", "password": "operator-pass-1"}
        _, page, _ = await admin.post("/admin/users", new)
        assert "User ivanka added." in page
        _, page, _ = await admin.post("/admin/users", new, status=422)
        assert "exists already" in page
        _, page, _ = await admin.post(
            "/admin/users", {"name": HOSTILE, "role": "operator", "password": "x" * 12}, status=422
        )
        assert HOSTILE not in page
        assert "&lt;script&gt;" in page
        # The operator logs in; an admin's password reset ends the operator's session.
        operator = Staff(await aiohttp_client(rig.app))
        await operator.log_in("ivanka", "operator-pass-1")
        await admin.post("/admin/users/ivanka/password", {"password": "operator-pass-2"})
        assert (await operator.client.get("/admin/", allow_redirects=False)).status == 303
        await operator.log_in("ivanka", "operator-pass-2")
        await admin.post("/admin/users/ivanka/disable")
        assert (await operator.client.get("/admin/", allow_redirects=False)).status == 303
        await admin.post("/admin/users/ivanka/enable")
        await admin.post("/admin/users/ivanka/role", {"role": "admin"})
        # The last active admin cannot be disabled or demoted.
        await admin.post("/admin/users/ivanka/disable")
        _, page, _ = await admin.post("/admin/users/olena/disable", status=422)
        assert "last active admin" in page
        await admin.post("/admin/users/olena/role", {"role": "operator"}, status=422)
        # Tokens: made (shown once), revoked.
        await admin.page("/admin/tokens")
        _, page, _ = await admin.post(
            "/admin/tokens", [("name", "crm"), ("scope", "campaigns"), ("scope", "sms")]
        )
        token = re.search(r"pbx_[A-Za-z0-9_-]{43}", page)
        assert token is not None
        assert token.group(0) not in await admin.page("/admin/tokens")
        await admin.post("/admin/tokens/crm/revoke")
        assert (await rig.tokens.authenticate(token.group(0))) is None
        await admin.post("/admin/tokens", {"name": "crm", "scope": "root"}, status=422)
        _, page, _ = await admin.post("/admin/tokens", {"name": HOSTILE}, status=422)
        assert HOSTILE not in page
        assert "&lt;script&gt;" in page
        journal = await AuditJournal(rig.core.sessions, "local", clock).records(limit=50)
        by_olena = [r.detail for r in journal if r.source == "staff user olena"]
        for detail in (
            "staff user ivanka added, role operator",
            "staff user ivanka: password changed",
            "staff user ivanka disabled",
            "staff user ivanka enabled",
            "staff user ivanka: role admin",
            "API token crm created, scopes campaigns sms",
            "API token crm revoked",
        ):
            assert detail in by_olena


async def test_language_from_the_browser_and_the_switch_is_remembered(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        uk = await client.get("/admin/login", headers={"Accept-Language": "uk-UA,uk;q=0.9"})
        assert 'lang="uk"' in await uk.text()
        assert "Увійти" in await uk.text()
        switched = await client.get("/admin/login?lang=en", headers={"Accept-Language": "uk"})
        assert any("pbx_lang=en" in c for c in switched.headers.getall("Set-Cookie"))
        again = await client.get("/admin/login", headers={"Accept-Language": "uk"})
        assert 'lang="en"' in await again.text()


def test_every_admin_message_has_its_ukrainian() -> None:
    env = Environment(autoescape=True)
    messages = {s.title for s in SECTIONS} | {s.blurb for s in SECTIONS} | {r.value for r in Role}
    messages |= set(login.MESSAGES.values()) | set(accounts.MESSAGES.values())
    messages |= set(status.PARTS.values()) | set(status.GROUPS.values())
    messages |= {s.value for s in HealthStatus}
    messages |= set(campaigns.MESSAGES.values()) | set(campaigns.STATES.values())
    messages |= set(campaigns.DAY_NAMES.values())
    for template in (TEMPLATES / "admin").rglob("*.html"):
        tree = env.parse(template.read_text(encoding="utf-8"))
        messages |= {m for _l, _f, m in extract_from_ast(tree) if isinstance(m, str)}
    missing = sorted(m for m in messages if m not in UK)
    assert missing == []
    for message in messages:
        assert re.findall(r"%\(\w+\)s", message) == re.findall(r"%\(\w+\)s", UK[message])


async def pbx(config: Path, clock: FixedClock, *args: str, stdin: str | None = None) -> Result:
    obj = CliState(config=None, clock=clock)
    return await asyncio.to_thread(
        CliRunner().invoke, cli, ["--config", str(config), *args], input=stdin, obj=obj
    )


async def test_users_from_the_cli(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    config = tmp_path / "pbxbridge.toml"
    config.write_text(f'[database]\nurl = "{sqlite_database.url}"\n', encoding="utf-8")
    made = await pbx(
        config,
        clock,
        "users",
        "add",
        "root",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    short = await pbx(
        config, clock, "users", "add", "x", "--role", "admin", "--password-stdin", stdin="short\n"
    )
    assert short.exit_code != 0
    assert "too short" in short.output
    prompted = await pbx(
        config,
        clock,
        "users",
        "add",
        "ivanka",
        "--role",
        "operator",
        stdin="operator-pass-1\noperator-pass-1\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert "operator-pass-1" not in prompted.output
    changed = await pbx(
        config, clock, "users", "passwd", "ivanka", "--password-stdin", stdin="operator-pass-2\n"
    )
    assert changed.exit_code == 0, changed.output
    disabled = await pbx(config, clock, "users", "disable", "ivanka")
    assert disabled.exit_code == 0
    listed = await pbx(config, clock, "users", "list")
    lines = listed.output.splitlines()
    assert any(line.startswith("ivanka") and "operator" in line for line in lines)
    assert any(line.startswith("root") and "admin" in line for line in lines)
    twice = await pbx(config, clock, "users", "disable", "ivanka")
    assert twice.exit_code != 0
    assert "disabled already" in twice.output
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("root")
        await browser.page("/admin/users")
        disabled_one = Staff(await aiohttp_client(rig.app))
        await disabled_one.log_in("ivanka", "operator-pass-2", status=200)
    assert csrf_of(f'name="csrf_token" value="{"a" * 64}"') == "a" * 64
