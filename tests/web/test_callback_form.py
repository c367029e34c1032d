"""The public callback form, as a visitor and as an abuser meet it: real database, the real
callbacks service, the application as the service builds it (only `/callback`'s form is
made here, so its log clock can be moved)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest
from aiohttp import web
from jinja2.ext import extract_from_ast

from callfile_spooler.callbacks import CallbackInfo
from callfile_spooler.campaigns import CampaignManager
from pbxbridge.app import Core, Service, open_core
from pbxbridge.webserver import web_parts
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.web.conftest import Client, settings_for
from web.app import build_app
from web.callback_form import ANSWERS, CallbackForm, Outcome
from web.i18n import UK, negotiate
from web.pages import TEMPLATES, relative_root
from web.rate_limits import RateLimits

NUMBER = "+380501234567"
UK_BROWSER = "uk-UA,uk;q=0.9,ru;q=0.8,en-US;q=0.6,en;q=0.5"
EN_BROWSER = "en-GB,en;q=0.9,uk;q=0.3"


@dataclass
class FormRig:
    core: Core
    service: Service
    form: CallbackForm
    app: web.Application
    ticks: list[float]
    """The form's log clock (monotonic seconds): move it with `ticks[0] += …`."""

    async def requests(self) -> list[CallbackInfo]:
        return await self.service.callbacks.list_requests()


@asynccontextmanager
async def form_rig(
    database: Database, clock: FixedClock, folder: Path, **http: Any
) -> AsyncIterator[FormRig]:
    settings = settings_for(database, folder, **http)
    async with open_core(settings, clock=clock) as core:
        service = Service(core)
        ticks = [1000.0]
        form = CallbackForm(
            service.callbacks,
            RateLimits(core.sessions, clock),
            settings.http,
            monotonic=lambda: ticks[0],
            log_every=60.0,
        )
        app = build_app(replace(web_parts(service), callback=form.mount))
        yield FormRig(core, service, form, app, ticks)


async def post(
    client: Client, data: dict[str, str], *, language: str = EN_BROWSER, ip: str | None = None
) -> tuple[int, str, Any]:
    headers = {"Accept-Language": language}
    if ip is not None:
        headers["X-Forwarded-For"] = ip
    answer = await client.post("/callback", data=data, headers=headers)
    return answer.status, await answer.text(), answer.headers


def visible_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# ---------------------------------------------------------------------------- the page


async def test_the_form_speaks_the_browsers_language(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        uk = await client.get("/callback", headers={"Accept-Language": UK_BROWSER})
        body = await uk.text()
        assert uk.status == 200
        assert uk.headers["Content-Type"] == "text/html; charset=utf-8"
        assert uk.headers["Content-Language"] == "uk"
        assert "Accept-Language" in uk.headers["Vary"]
        assert '<html lang="uk">' in body
        assert "<h1>Передзвоніть мені</h1>" in body
        assert "Номер телефону" in body
        # The switch link to the other language, and none to the current one.
        assert '<a href="?lang=en" lang="en" hreflang="en">English</a>' in body
        assert 'href="?lang=uk"' not in body

        en = await client.get("/callback", headers={"Accept-Language": EN_BROWSER})
        body = await en.text()
        assert (en.headers["Content-Language"], '<html lang="en">' in body) == ("en", True)
        assert "<h1>Call me back</h1>" in body
        assert '<a href="?lang=uk" lang="uk" hreflang="uk">Українська</a>' in body

        # ?lang= wins over the browser; a browser that asks for neither gets http.language.
        switched = await client.get("/callback?lang=en", headers={"Accept-Language": UK_BROWSER})
        assert switched.headers["Content-Language"] == "en"
        russian = await client.get("/callback", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
        assert russian.headers["Content-Language"] == "uk"
        bogus = await client.get("/callback?lang=xx", headers={"Accept-Language": "en"})
        assert bogus.headers["Content-Language"] == "en"
    async with form_rig(sqlite_database, clock, tmp_path, language="en") as rig:
        client = await aiohttp_client(rig.app)
        nothing = await client.get("/callback")
        assert nothing.headers["Content-Language"] == "en"


async def test_the_form_has_its_stable_fields_and_no_inline_code(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        body = await (await client.get("/callback")).text()
        names = re.findall(r'<(?:input|textarea)[^>]* name="([a-z]+)"', body)
        assert names == ["lang", "number", "name", "comment", "website"]
        assert re.search(r'<input id="number" name="number" type="tel"[^>]* required', body)
        assert '<form method="post" class="callback"' in body  # posts back where it is
        # CSP is default-src 'self': nothing inline, nothing from elsewhere.
        for inline in ("<script", "<style", "style="):
            assert inline not in body
        assert re.findall(r'(?:href|src)="([^"?]+)"', body) == ["static/pbxbridge.css"]
        css = await client.get("/static/pbxbridge.css")
        assert css.status == 200
        assert css.headers["Content-Type"].startswith("text/css")
        assert ".trap" in await css.text()


# ---------------------------------------------------------------------------- requests


async def test_a_request_is_confirmed_and_recorded(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(database, clock, tmp_path, trusted_proxies=["127.0.0.1/32"]) as rig:
        client = await aiohttp_client(rig.app)
        status, body, headers = await post(
            client,
            {"number": "050 123-45-67", "name": "Олена", "comment": "No internet", "website": ""},
            language=UK_BROWSER,
            ip="203.0.113.9",
        )
        assert status == 200, body
        assert headers["Content-Language"] == "uk"
        text = visible_text(body)
        assert "Дякуємо!" in text
        assert f"Ми невдовзі передзвонимо вам на номер {NUMBER}." in text
        assert "<form" not in body
        [request] = await rig.requests()
        assert (request.number, request.name, request.comment) == (NUMBER, "Олена", "No internet")
        assert (request.source, request.client_ip, request.status) == (
            "web",
            "203.0.113.9",
            "queued",
        )
        assert request.call == "pending"  # a callback campaign waits for the spooler
        assert rig.form.stats.outcomes[Outcome.ACCEPTED] == 1


async def test_ubillings_own_form_posts_unchanged(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    """docs/callmeback/form.html: the number in `callmebackmobile`, the honeypot
    `lastname` present and empty, nothing else."""
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        status, body, _ = await post(client, {"callmebackmobile": "0501234567", "lastname": ""})
        assert status == 200, body
        assert f"We will call you back at {NUMBER} shortly." in visible_text(body)
        [request] = await rig.requests()
        assert (request.number, request.source, request.name) == (NUMBER, "web", None)


async def test_a_filled_honeypot_is_dropped_behind_the_same_confirmation(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pbxbridge.web.callback")
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        bots = [
            {"number": "0501234567", "website": "http://spam.example"},
            {"callmebackmobile": "0501234567", "lastname": "Smith"},
            {"number": "0501234567", "lastname": "x", "name": "bot"},
        ]
        bodies = []
        for data in bots:
            status, body, _ = await post(client, data)
            assert status == 200
            bodies.append(body)
        assert await rig.requests() == []
        assert rig.form.stats.outcomes[Outcome.HONEYPOT] == 3
        # Logged once for the three, not once each.
        dropped = [r for r in caplog.records if "honeypot" in r.getMessage()]
        assert [r.getMessage() for r in dropped] == [
            "callback form: 1 honeypot submission(s) dropped (latest: from 127.0.0.1)"
        ]
        # A minute on, the next drop says how many came meanwhile.
        rig.ticks[0] += 61
        await post(client, bots[0])
        assert dropped[-1] is not caplog.records[-1]
        assert caplog.records[-1].getMessage() == (
            "callback form: 3 honeypot submission(s) dropped in the last 61 s "
            "(latest: from 127.0.0.1)"
        )
        # What a real request for the same number is answered: the very same page.
        status, real, _ = await post(client, {"number": "0501234567", "website": ""})
        assert status == 200
        assert len(await rig.requests()) == 1
        assert bodies == [real, real, real]


async def test_an_invalid_or_missing_number_is_422_in_the_pages_language(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        status, body, headers = await post(
            client, {"number": "12345", "name": "Ann"}, language=UK_BROWSER
        )
        assert (status, headers["Content-Language"]) == (422, "uk")
        text = visible_text(body)
        assert "Запит не надіслано:" in text
        assert "12345 — не номер телефону, на який ми можемо подзвонити." in text
        # The form again, with what was typed, to correct it.
        assert 'value="12345"' in body
        assert 'value="Ann"' in body
        assert 'aria-invalid="true"' in body

        status, body, _ = await post(client, {"number": "12345"}, language=EN_BROWSER)
        assert status == 422
        assert "12345 is not a phone number we can call. Please check it." in visible_text(body)
        # The page's own choice (the form's hidden lang) wins over the browser.
        status, body, _ = await post(client, {"number": " ", "lang": "uk"}, language=EN_BROWSER)
        assert status == 422
        assert "Будь ласка, вкажіть номер телефону." in visible_text(body)
        assert await rig.requests() == []
        assert rig.form.stats.outcomes[Outcome.INVALID] == 2
        assert rig.form.stats.outcomes[Outcome.MISSING] == 1


async def test_values_are_escaped(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        status, body, _ = await post(
            client,
            {
                "number": '"><script>alert(1)</script>',
                "name": "<script>alert(2)</script>",
                "comment": "</textarea><img src=x onerror=alert(3)>",
            },
        )
        assert status == 422
        assert "<script>" not in body
        assert "<img" not in body
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in body
        assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; is not a phone number" in body
        assert "&lt;/textarea&gt;&lt;img src=x onerror=alert(3)&gt;</textarea>" in body
        # Accepted, the name is stored as written and never shown back as markup.
        status, body, _ = await post(
            client, {"number": "0501234567", "name": "<b>Bob</b> & co"}, language=UK_BROWSER
        )
        assert status == 200
        assert "<b>" not in body
        [request] = await rig.requests()
        assert request.name == "<b>Bob</b> & co"


async def test_the_same_number_twice_is_told_it_is_under_way(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        assert (await post(client, {"number": "0501234567"}))[0] == 200
        status, body, _ = await post(client, {"number": "+38 050 123 45 67"})
        assert status == 200
        assert f"We already have your request and will call {NUMBER} soon." in visible_text(body)
        statuses = [r.status for r in await rig.requests()]
        assert statuses == ["refused", "queued"]  # newest first; one call, not two


async def test_a_do_not_call_number_is_refused(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(database, clock, tmp_path) as rig:
        await CampaignManager(rig.core.sessions, clock, rig.core.phones).dnc_add("0501234567")
        client = await aiohttp_client(rig.app)
        status, body, _ = await post(client, {"number": "0501234567"}, language=UK_BROWSER)
        assert status == 403
        assert "Ми не можемо передзвонити на цей номер." in visible_text(body)
        [request] = await rig.requests()
        assert (request.status, request.reason) == (
            "refused",
            "the number is on the do-not-call list",
        )
        assert (request.source, request.client_ip, request.call) == ("web", "127.0.0.1", None)


# ---------------------------------------------------------------------------- limits


async def test_one_address_gets_its_hourly_share_then_429(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(
        database, clock, tmp_path, callback_ip_per_hour=2, trusted_proxies=["127.0.0.1/32"]
    ) as rig:
        client = await aiohttp_client(rig.app)
        numbers = ["0501234567", "0671234567", "0931234567"]
        answers = [await post(client, {"number": n}, ip="198.51.100.4") for n in numbers]
        assert [a[0] for a in answers] == [200, 200, 429]
        _, body, headers = answers[2]
        assert "Too many requests from your network." in visible_text(body)
        assert 0 < int(headers["Retry-After"]) <= 7200
        assert "<form" not in body
        assert len(await rig.requests()) == 2  # the third never reached the service
        # Another address is not held up; an IPv6 client counts by its /64.
        assert (await post(client, {"number": numbers[2]}, ip="198.51.100.5"))[0] == 200
        for host, expected in [("2001:db8:1:1::a", 200), ("2001:db8:1:1::b", 200)]:
            number = "0661234567" if host.endswith("a") else "0681234567"
            assert (await post(client, {"number": number}, ip=host))[0] == expected
        assert (await post(client, {"number": "0991234567"}, ip="2001:db8:1:1::c"))[0] == 429
        assert (await post(client, {"number": "0991234567"}, ip="2001:db8:1:2::c"))[0] == 200
        # Two hours on, the first address may ask again.
        clock.instant += timedelta(hours=2)
        assert (await post(client, {"number": "0631234567"}, ip="198.51.100.4"))[0] == 200
        assert rig.form.stats.outcomes[Outcome.LIMITED_IP] == 2


async def test_one_number_gets_its_daily_share_whoever_asks(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(
        database,
        clock,
        tmp_path,
        callback_number_per_day=2,
        trusted_proxies=["127.0.0.1/32"],
    ) as rig:
        client = await aiohttp_client(rig.app)
        first = await post(client, {"number": "0501234567"}, ip="198.51.100.1")
        second = await post(client, {"number": "+380501234567"}, ip="198.51.100.2")
        third = await post(
            client, {"number": "050-123-45-67"}, ip="198.51.100.3", language=UK_BROWSER
        )
        assert [first[0], second[0], third[0]] == [200, 200, 429]
        assert "Сьогодні для цього номера вже забагато запитів." in visible_text(third[1])
        assert int(third[2]["Retry-After"]) > 0
        # The second was the service's (under way), the third never reached it.
        assert [r.status for r in await rig.requests()] == ["refused", "queued"]
        # Another number is not held up.
        assert (await post(client, {"number": "0671234567"}, ip="198.51.100.3"))[0] == 200
        assert rig.form.stats.outcomes[Outcome.LIMITED_NUMBER] == 1


async def test_limit_refusals_are_logged_once_per_interval(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pbxbridge.web.callback")
    async with form_rig(sqlite_database, clock, tmp_path, callback_ip_per_hour=1) as rig:
        client = await aiohttp_client(rig.app)
        statuses = [(await post(client, {"number": "0501234567"}))[0] for _ in range(6)]
        assert statuses == [200, 429, 429, 429, 429, 429]
        lines = [r.getMessage() for r in caplog.records if "over a limit" in r.getMessage()]
        assert lines == [
            "callback form: 1 request(s) over a limit refused "
            "(latest: 127.0.0.1: over http.callback_ip_per_hour)"
        ]


# ---------------------------------------------------------------------------- framing


async def test_the_form_may_be_framed_by_the_configured_sites_only(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with form_rig(
        sqlite_database, clock, tmp_path, callback_frame_ancestors=["https://isp.example"]
    ) as rig:
        client = await aiohttp_client(rig.app)
        csp = "default-src 'self'; frame-ancestors 'self' https://isp.example"
        page = await client.get("/callback")
        refused = await client.post("/callback", data={"number": "1"})
        for answer in (page, refused):
            assert answer.headers["Content-Security-Policy"] == csp
            assert "X-Frame-Options" not in answer.headers
        css = await client.get("/static/pbxbridge.css")
        assert css.headers["X-Frame-Options"] == "DENY"
    async with form_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        page = await client.get("/callback")
        assert page.headers["Content-Security-Policy"] == (
            "default-src 'self'; frame-ancestors 'self'"
        )
        assert page.headers["X-Frame-Options"] == "SAMEORIGIN"


# ---------------------------------------------------------------------------- the words


def test_every_message_has_its_ukrainian() -> None:
    env = jinja2.Environment(autoescape=True)
    messages = set(ANSWERS.values())
    for template in TEMPLATES.rglob("*.html"):
        tree = env.parse(template.read_text(encoding="utf-8"))
        messages |= {m for _line, _fn, m in extract_from_ast(tree) if isinstance(m, str)}
    assert len(messages) > 20
    missing = sorted(m for m in messages if m not in UK)
    assert missing == []
    # A placeholder translated away would show the visitor a bare "%(number)s" or lose it.
    for message in messages:
        assert re.findall(r"%\(\w+\)s", message) == re.findall(r"%\(\w+\)s", UK[message])


def test_accept_language() -> None:
    assert negotiate("uk-UA,uk;q=0.9,en;q=0.8") == "uk"
    assert negotiate("en-US,en;q=0.9,uk;q=0.8") == "en"
    assert negotiate("ru,en;q=0.5,uk;q=0.7") == "uk"  # q decides, not the order
    assert negotiate("uk;q=0.5,en;q=0.5") == "uk"  # a tie: the first listed
    assert negotiate("EN") == "en"
    assert negotiate("uk;q=0,en;q=0.1") == "en"  # q=0: not acceptable at all
    assert negotiate("ru-RU,ru;q=0.9") is None
    assert negotiate("*") is None
    assert negotiate("uk;q=bad,en;q=2,en;q=0.3") == "en"  # nonsense q: that entry skipped
    assert negotiate("") is None
    assert negotiate(None) is None
    assert negotiate("ru," * 10_000 + "uk") is None  # only the first 32 entries are read


def test_static_urls_are_relative_to_the_page() -> None:
    assert relative_root("/callback") == ""
    assert relative_root("/admin/") == "../"
    assert relative_root("/admin/calls/7") == "../../"
