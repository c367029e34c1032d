"""The application's guards: who may reach what, the headers every answer carries, body
limits, the client address behind proxies, and secrets kept out of logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.web.conftest import OWNER, web_rig
from web.addresses import resolve_client
from web.settings import parse_networks

PUBLIC = {"/healthz", "/metrics", "/api/v1/openapi.json", "/callback", "/static"}
"""Everything else answers an anonymous request with 401 (or 404 where a face is off),
but the admin pages (ADMIN)."""

ADMIN = "/admin/"
"""The staff pages: an anonymous request to any of them, any method, known path or not,
gets 303 to the login form; the form itself (ADMIN_LOGIN) is open to GET, and a POST to it
without the form's CSRF token is 403."""
ADMIN_LOGIN = "/admin/login"

STATIC_FILE = "/static/pbxbridge.css"
"""What the walk asks of /static (a folder of public files): one of them."""

FACE_PATHS = ["/", "/billing/", "/status_cdr.php", "/external_get_info.php"]
"""Where the Ubilling/Askozia faces (off here: no key, no password) are: 404."""


async def expect_admin_guard(client: Any, method: str, path: str) -> None:
    """What the anonymous get from an admin route (see ADMIN)."""
    answer = await client.request(method, concrete(path), allow_redirects=False)
    if path == ADMIN_LOGIN:
        assert answer.status == (200 if method == "GET" else 403), (method, path, answer.status)
        return
    assert answer.status == 303, (method, path, answer.status)
    assert answer.headers["Location"].startswith(ADMIN_LOGIN), (method, path)


def concrete(path: str) -> str:
    """A URL for a route's canonical path: every {parameter} filled in."""
    if path == "/static":
        return STATIC_FILE
    return re.sub(r"\{[^}]+\}", "0501110001", path)


def every_route(app: web.Application) -> list[AbstractRoute]:
    return list(app.router.routes())


async def callback_placeholder(request: web.Request) -> web.Response:
    return web.Response(text="<form>…</form>", content_type="text/html")


def mount_callback(app: web.Application) -> None:
    app.router.add_route("GET", "/callback", callback_placeholder)
    app.router.add_route("POST", "/callback", callback_placeholder)


async def test_every_route_is_closed_to_the_anonymous_but_the_public_ones(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path, callback=mount_callback) as rig:
        client = await aiohttp_client(rig.app)
        routes = every_route(rig.app)
        seen = set()
        for route in routes:
            resource = route.resource
            assert resource is not None
            path = resource.canonical
            seen.add(path)
            for method in {route.method, "GET"}:
                if path.startswith(ADMIN):
                    await expect_admin_guard(client, method, path)
                    continue
                answer = await client.request(method, concrete(path))
                if path in PUBLIC:
                    # Open (the health may be 503 here: nothing was started).
                    assert answer.status in {200, 405, 503}, (method, path, answer.status)
                else:
                    assert answer.status == 401, (method, path, answer.status)
                    body = await answer.json()
                    assert body["error"]["code"] == "unauthorized"
                    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        # The walk saw the API and the admin pages, and every public route exists.
        assert "/api/v1/subscribers/{number}" in seen
        assert {"/admin/", ADMIN_LOGIN, "/admin/users", "/admin/tokens", "/admin/feed"} <= seen
        assert {"/api/v1/calls", "/api/v1/calls/{id}"} <= seen
        assert {
            "/admin/missed", "/admin/missed/{id}/callback", "/admin/callbacks",
            "/admin/callbacks/{id}/cancel", "/admin/sms", "/admin/calls", "/admin/subscribers",
            "/admin/subscribers/edit", "/admin/subscribers/freeze", "/admin/subscribers/payment",
        } <= seen  # fmt: skip
        assert seen >= PUBLIC
        # Unknown paths and methods under the API: 401 too, never a hint of what exists.
        for method, url in [("GET", "/api/v1/nothing"), ("DELETE", "/api/v1/subscribers/1")]:
            answer = await client.request(method, url)
            assert answer.status == 401, (method, url)
        for url in FACE_PATHS:
            assert (await client.get(url)).status == 404, url
        for method, url in [
            ("GET", "/admin/nothing"),
            ("DELETE", "/admin/users/x"),
            ("GET", "/admin"),
        ]:
            await expect_admin_guard(client, method, url)
        assert (await client.get("/?module=remoteapi&key=x&action=userstatus")).status == 404


FACES = {"/", "/billing/", "/status_cdr.php", "/external_get_info.php"}
"""The Ubilling remoteapi face and the Askozia face, each with its own auth."""


async def test_faces_switched_on_answer_the_anonymous_by_their_own_rules(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    """The remoteapi face answers as Ubilling does (HTTP 200, ERROR:GET_NO_KEY or
    ERROR:GET_WRONG_KEY); the Askozia face wants Basic credentials (401); the rest of the
    application is as closed as with the faces off."""
    settings = Settings(
        database={"url": database.url},
        agi={"port": 0},
        ami={"enabled": False},
        http={"port": 0, "remoteapi_key": "UB" + "a" * 32},
        askozia={"password": "basic-secret"},
        spool={"dir": tmp_path / "spool", "sounds_dir": tmp_path / "sounds"},
    )
    async with web_rig(database, clock, tmp_path, settings=settings) as rig:
        client = await aiohttp_client(rig.app)
        seen = set()
        for route in every_route(rig.app):
            resource = route.resource
            assert resource is not None
            path = resource.canonical
            seen.add(path)
            methods = {"GET", "POST", "PUT"} if route.method == "*" else {route.method, "GET"}
            for method in methods:
                url = concrete(path)
                if path.startswith(ADMIN):
                    await expect_admin_guard(client, method, path)
                    continue
                answer = await client.request(method, url)
                if path in {"/", "/billing/"}:
                    assert answer.status == 404, (method, path)  # only ?module=remoteapi
                    for query, body in (
                        ("?module=remoteapi", "ERROR:GET_NO_KEY"),
                        ("?module=remoteapi&action=asterisk", "ERROR:GET_NO_KEY"),
                        ("?module=remoteapi&key=UBx&action=telepony", "ERROR:GET_WRONG_KEY"),
                    ):
                        answer = await client.request(method, url + query)
                        assert answer.status == 200, (method, path, query)
                        assert await answer.text() == body
                elif path in FACES:
                    assert answer.status == 401, (method, path, answer.status)
                    assert answer.headers["WWW-Authenticate"].startswith("Basic ")
                elif path in PUBLIC:
                    assert answer.status in {200, 405, 503}, (method, path, answer.status)
                else:
                    assert answer.status == 401, (method, path, answer.status)
                    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert seen >= FACES


async def test_security_headers_on_every_answer(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path, callback=mount_callback) as rig:
        client = await aiohttp_client(rig.app)
        for url in ["/healthz", "/api/v1/openapi.json", "/api/v1/subscribers/1", "/nowhere"]:
            answer = await client.get(url)
            headers = answer.headers
            assert headers["X-Content-Type-Options"] == "nosniff", url
            assert headers["Referrer-Policy"] == "no-referrer", url
            assert headers["Content-Security-Policy"] == (
                "default-src 'self'; frame-ancestors 'none'"
            ), url
            assert headers["X-Frame-Options"] == "DENY", url
            assert re.fullmatch(r"[0-9a-f]{16}", headers["X-Request-Id"]), url
        api = await client.get("/api/v1/subscribers/1")
        assert api.headers["Cache-Control"] == "no-store"
        # The callback form may be framed by pbxbridge's own pages only, by default.
        form = await client.get("/callback")
        assert form.headers["Content-Security-Policy"] == (
            "default-src 'self'; frame-ancestors 'self'"
        )
        assert form.headers["X-Frame-Options"] == "SAMEORIGIN"


async def test_callback_frame_ancestors_come_from_the_settings(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    sites = ["https://isp.example", "https://www.isp.example"]
    async with web_rig(
        sqlite_database, clock, tmp_path, callback=mount_callback, callback_frame_ancestors=sites
    ) as rig:
        client = await aiohttp_client(rig.app)
        form = await client.post("/callback")
        assert form.headers["Content-Security-Policy"] == (
            "default-src 'self'; frame-ancestors 'self' https://isp.example https://www.isp.example"
        )
        assert "X-Frame-Options" not in form.headers  # it cannot name other sites
        other = await client.get("/healthz")
        assert other.headers["X-Frame-Options"] == "DENY"


def test_a_frame_ancestor_cannot_add_a_directive() -> None:
    from pydantic import ValidationError

    from web.settings import HttpSettings

    for bad in ["https://a.example; script-src *", "https://a.example https://b", "'none'"]:
        with pytest.raises(ValidationError):
            HttpSettings(callback_frame_ancestors=[bad])


async def test_a_body_over_the_limit_is_413_in_the_error_shape(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path, max_body_bytes=2048) as rig:
        client = await aiohttp_client(rig.app)
        token = await rig.token()
        answer = await client.get(
            f"/api/v1/subscribers/{OWNER}",
            data=b"x" * 4096,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status == 413
        assert (await answer.json())["error"] == {
            "code": "payload_too_large",
            "message": "request body too large (limit 2,048 bytes)",
            "field": None,
        }
        small = await client.get(
            f"/api/v1/subscribers/{OWNER}",
            data=b"x" * 100,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert small.status == 200


def test_client_address_rightmost_untrusted() -> None:
    proxies = parse_networks(["10.0.0.0/8", "127.0.0.1/32"])
    # Not from a proxy: the header is the client's own writing, ignored.
    assert resolve_client("198.51.100.7", ["127.0.0.1"], proxies) == "198.51.100.7"
    assert resolve_client("198.51.100.7", ["1.2.3.4"], ()) == "198.51.100.7"
    # From a proxy: the rightmost address that is not a proxy.
    assert resolve_client("127.0.0.1", ["203.0.113.5"], proxies) == "203.0.113.5"
    assert resolve_client("127.0.0.1", ["6.6.6.6, 203.0.113.5, 10.1.2.3"], proxies) == (
        "203.0.113.5"
    )
    assert resolve_client("127.0.0.1", ["6.6.6.6", "203.0.113.5"], proxies) == "203.0.113.5"
    # Garbage left of what the proxies wrote: the last hop they vouch for stands.
    assert resolve_client("127.0.0.1", ["<script>, 10.0.0.9"], proxies) == "10.0.0.9"
    # No header, or only proxies: the proxy itself.
    assert resolve_client("127.0.0.1", [], proxies) == "127.0.0.1"
    assert resolve_client("::ffff:127.0.0.1", ["[2001:db8::1]"], proxies) == "2001:db8::1"


async def test_metrics_allowlist_judges_the_resolved_client(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    scraper = "198.51.100.7"
    # The test client connects from 127.0.0.1, not a trusted proxy here: a forged
    # X-Forwarded-For naming the scraper must not open /metrics.
    async with web_rig(
        sqlite_database, clock, tmp_path, metrics_allow=[scraper], trusted_proxies=["10.0.0.0/8"]
    ) as rig:
        client = await aiohttp_client(rig.app)
        forged = await client.get("/metrics", headers={"X-Forwarded-For": scraper})
        assert forged.status == 403
    # Behind a trusted proxy (127.0.0.1) the header is believed, rightmost first.
    async with web_rig(
        sqlite_database, clock, tmp_path, metrics_allow=[scraper], trusted_proxies=["127.0.0.1"]
    ) as rig:
        client = await aiohttp_client(rig.app)
        proxied = await client.get("/metrics", headers={"X-Forwarded-For": scraper})
        assert proxied.status == 200
        smuggled = await client.get(
            "/metrics", headers={"X-Forwarded-For": f"{scraper}, 203.0.113.5"}
        )
        assert smuggled.status == 403
        direct = await client.get("/metrics")
        assert direct.status == 403  # 127.0.0.1 itself is not in this allowlist


async def test_tokens_never_reach_the_logs(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        token = await rig.token()
        wrong = token[:-4] + "AAAA"
        for presented in (token, wrong, "pbx_short"):
            answer = await client.get(
                f"/api/v1/subscribers/{OWNER}", headers={"Authorization": f"Bearer {presented}"}
            )
            assert presented not in await answer.text()
        await rig.tokens.revoke("test", actor="cli:test")
        revoked = await client.get(
            f"/api/v1/subscribers/{OWNER}", headers={"Authorization": f"Bearer {token}"}
        )
        assert revoked.status == 401
    assert "HTTP " in caplog.text  # requests were logged…
    for secret in (token, wrong, token[4:]):
        assert secret not in caplog.text  # …without the tokens
