"""The remoteapi face's own rules: the envelope and its key, money moves by the IVR's rules,
callbacks, billing failures, and secrets kept out of logs and bodies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from billing_client.audit import AuditRecord
from billing_client.outcomes import BillingResult
from callfile_spooler.models import DoNotCall
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from pbxbridge.webserver import web_parts
from primitives.clock import FixedClock
from tests.askozia_api.conftest import KEY, reference_billing
from tests.conftest import Database
from tests.fakes.ubilling import FakeUbilling, Fault
from tests.web.conftest import Rig, web_rig
from web.app import build_app
from web.server import WebServer

Client = TestClient[web.Request, web.Application]

ASK = f"/?module=remoteapi&key={KEY}"


def status_url(number: str, extra: str = "") -> str:
    return f"{ASK}&action=asterisk&number={number}&param=userstatus{extra}"


@asynccontextmanager
async def face(
    database: Database, clock: FixedClock, folder: Path, aiohttp_client: Any, **http: Any
) -> AsyncIterator[tuple[Rig, Client]]:
    async with web_rig(database, clock, folder, remoteapi_key=KEY, **http) as rig:
        await reference_billing(rig.core)
        client: Client = await aiohttp_client(rig.app)
        yield rig, client


async def credits(rig: Rig, login: str) -> list[AuditRecord]:
    return [r for r in await rig.core.audit.records(login=login) if r.kind == "credit"]


async def body(client: Client, url: str, **kwargs: Any) -> tuple[int, str]:
    answer = await client.get(url, **kwargs)
    return answer.status, await answer.text()


# ------------------------------------------------------------------ the envelope


async def test_the_key_is_compared_after_ubillings_stripping(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with face(sqlite_database, clock, tmp_path, aiohttp_client) as (_, client):
        number = "&action=asterisk&number=0501110001&param=userstatus"
        # vf() drops ~@+?%/;=*><"'- before comparing: these are the key to Ubilling too
        for given in (KEY, f"{KEY[:4]}-{KEY[4:]}", f"%2B{KEY}%27", f"{KEY[:2]}~~{KEY[2:]}"):
            assert await body(client, f"/?module=remoteapi&key={given}{number}") == (200, "1")
        for given in ("", KEY.lower(), KEY[:-1], f"{KEY}x", f"%20{KEY}", "0" * 34):
            assert await body(client, f"/?module=remoteapi&key={given}{number}") == (
                200,
                "ERROR:GET_WRONG_KEY",
            ), given
        assert await body(client, f"/?module=remoteapi{number}") == (200, "ERROR:GET_NO_KEY")
        assert await body(client, f"/?module=remoteapi&key={KEY}") == (200, "ERROR:GET_NO_ACTION")
        assert await body(client, f"{ASK}&action=") == (200, "")
        assert await body(client, f"{ASK}&action=reset&param=testuser1") == (200, "")
        # Not a remoteapi request: nothing else lives at / here.
        assert (await client.get("/")).status == 404
        assert (await client.get(f"/?module=userprofile&key={KEY}")).status == 404


async def test_flags_are_php_empty(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    """getmoney=0 and ignorecache=0 are not set (PHP empty()); any other value sets them."""
    async with face(sqlite_database, clock, tmp_path, aiohttp_client) as (_, client):
        plain = await body(client, status_url("0501110001", "&getmoney=0&ignorecache=0"))
        assert plain == (200, "1")
        blob = "YTozOntpOjA7czoxOiIxIjtpOjE7ZDoxNTA7aToyO2Q6MTAwO30="
        assert await body(client, status_url("0501110001", "&getmoney=yes")) == (200, blob)
        assert await body(client, status_url("0501110001", "&getmoney=00")) == (200, blob)
        # A number is trimmed as PHP trim() does; Asterisk's raw + arrives as a space.
        assert await body(client, status_url("%0A%20+380501110002%09")) == (200, "2")
        assert await body(client, status_url("not-a-number")) == (200, "0")
        assert await body(client, status_url("0" * 300)) == (200, "0")


async def test_askozianum_and_telepony(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with face(sqlite_database, clock, tmp_path, aiohttp_client) as (_, client):
        for number, code in [("0501110003", "3"), ("0501110004", "1"), ("0509999999", "0")]:
            assert await body(client, f"{ASK}&action=askozianum&param={number}") == (200, code)
            assert await body(client, f"{ASK}&action=telepony&number={number}") == (200, code)
        assert await body(client, f"{ASK}&action=askozianum") == (200, "ERROR: EMPTY PARAM")
        assert await body(client, f"{ASK}&action=askozianum&param=0") == (
            200,
            "ERROR: EMPTY PARAM",
        )


async def test_a_dialplan_curl_gets_the_status(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    """`${CURL(http://127.0.0.1:8080/?module=remoteapi&key=…&action=asterisk&number=
    ${CALLERID(num)}&param=userstatus)}`: libcurl (the curl tool here) on a real socket,
    the caller's number with its + unencoded, as the dialplan substitutes it."""
    async with web_rig(sqlite_database, clock, tmp_path, remoteapi_key=KEY) as rig:
        await reference_billing(rig.core)
        server = WebServer(rig.core.settings.http, rig.app)
        await server.start()
        try:
            url = (
                f"http://127.0.0.1:{server.port}/?module=remoteapi&key={KEY}&action=asterisk"
                "&number=+380501110002&param=userstatus"
            )
            process = await asyncio.create_subprocess_exec(
                "curl", "-s", "-g", url, stdout=asyncio.subprocess.PIPE
            )
            out, _ = await process.communicate()
        finally:
            await server.stop()
        assert (process.returncode, out) == (0, b"2")


# ------------------------------------------------------------------ money moves


async def test_money_moves_are_off_unless_switched_on(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with face(database, clock, tmp_path, aiohttp_client) as (rig, client):
        credit = f"{ASK}&action=asterisk&param=setcredit&login=testuser2&money=100&expiredays=5"
        card = f"{ASK}&action=asterisk&param=paycardpay&login=testuser1&paycardnum=1111222233334444"
        for url in (credit, card):
            assert await body(client, url) == (200, "ERROR: REMOTEAPI MONEY DISABLED")
        journal = await rig.core.audit.records()
        assert [r for r in journal if r.source.startswith("remoteapi")] == []
        assert await body(client, status_url("0501110002")) == (200, "2")
        assert await body(client, status_url("0501110001", "&getmoney=1")) == (
            200,
            "YTozOntpOjA7czoxOiIxIjtpOjE7ZDoxNTA7aToyO2Q6MTAwO30=",  # Cash still 150
        )


async def test_setcredit_journalled_once_with_the_client_address(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with face(
        database,
        clock,
        tmp_path,
        aiohttp_client,
        remoteapi_money=True,
        trusted_proxies=["127.0.0.1/32"],
    ) as (rig, client):
        url = f"{ASK}&action=asterisk&param=setcredit&login=testuser2&money=100&expiredays=5"
        proxied = {"X-Forwarded-For": "203.0.113.9"}
        assert await body(client, url, headers=proxied) == (200, "ASTERISK CREDIT SET SUCCESSFULY")
        again = await body(client, url, headers=proxied)
        assert again == (200, "ASTERISK CREDIT NOT AVAILABLE: CREDIT IS CURRENTLY ACTIVE")
        moves = await credits(rig, "testuser2")
        assert [(m.source, m.amount, m.outcome, m.detail) for m in moves] == [
            ("remoteapi from 203.0.113.9", Decimal("100.00"), "ok", "until 2026-11-27")
        ]
        lookup = await rig.core.billing.by_login("testuser2")
        assert lookup.subscriber is not None
        assert (lookup.subscriber.credit, lookup.subscriber.status) == (Decimal("100.00"), 1)


async def test_setcredit_never_more_than_the_ivr_gives(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    """The IVR's credit is billing.credit_amount, else the tariff fee (100 for testuser2):
    money= may ask for less, never more, and must be an amount."""
    async with face(sqlite_database, clock, tmp_path, aiohttp_client, remoteapi_money=True) as (
        rig,
        client,
    ):
        base = f"{ASK}&action=asterisk&param=setcredit&login=testuser2&expiredays=5"
        refused = "ASTERISK CREDIT NOT AVAILABLE: NOT ALLOWED FOR TARIFF"
        for money in ("100.01", "1000", "-100", "1e3", "abc", "100.001"):
            assert await body(client, f"{base}&money={money}") == (200, refused), money
        assert await credits(rig, "testuser2") == []
        # frozen: refused as the IVR refuses it (Ubilling has no frozen check, nor sentence)
        assert rig.core.local is not None
        await rig.core.local.set_frozen("testuser2", True, actor="test")
        assert await body(client, f"{base}&money=100") == (200, refused)
        await rig.core.local.set_frozen("testuser2", False, actor="test")
        assert await credits(rig, "testuser2") == []
        # no money=: the IVR's own amount
        assert await body(client, base) == (200, "ASTERISK CREDIT SET SUCCESSFULY")
        moves = await credits(rig, "testuser2")
        assert [(m.amount, m.outcome) for m in moves] == [(Decimal("100.00"), "ok")]


async def test_paycard_guessing_locks_the_login_as_on_the_phone(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with face(sqlite_database, clock, tmp_path, aiohttp_client, remoteapi_money=True) as (
        rig,
        client,
    ):
        base = f"{ASK}&action=asterisk&param=paycardpay&login=testuser1&paycardnum="
        not_exists = (200, "ASTERISK PAYCARD NOT EXISTS")
        failures = rig.core.settings.agi.lockout_failures
        for n in range(failures):
            assert await body(client, f"{base}00000000000{n}") == not_exists
        lockout = rig.service.routes.lockout
        assert await lockout.locked_until(None, "testuser1") is not None
        # a good card now: refused as any other, nothing paid
        assert await body(client, f"{base}1111222233334444") == not_exists
        assert await body(client, status_url("0501110001", "&getmoney=1")) == (
            200,
            "YTozOntpOjA7czoxOiIxIjtpOjE7ZDoxNTA7aToyO2Q6MTAwO30=",  # still 150
        )
        # the caller's phone is locked with it: the IVR reads the same lock by login
        assert await lockout.locked_until("+380501110001", "testuser1") is not None
        clock.instant += timedelta(seconds=rig.core.settings.agi.lockout_window + 1)
        assert await body(client, f"{base}1111222233334444") == (
            200,
            "ASTERISK PAYCARD PAYMENT SUCCESSFUL",
        )
        paid = [r for r in await rig.core.audit.records(login="testuser1") if r.kind == "paycard"]
        assert [(p.source, p.amount, p.after) for p in paid] == [
            ("remoteapi from 127.0.0.1", Decimal("50.00"), Decimal("200.00"))
        ]
        # an unknown login is no lockout subject and gets Ubilling's sentence
        assert await body(
            client,
            f"{ASK}&action=asterisk&param=paycardpay&login=nobody&paycardnum=5555666677778888",
        ) == (200, "ASTERISK PAYCARD PAYMENT UNSUCCESSFUL: EMPTY USERDATA")


# ------------------------------------------------------------------ callmeback


async def test_callmeback_creates_a_callback_by_its_usual_rules(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with face(database, clock, tmp_path, aiohttp_client) as (rig, client):
        callbacks = rig.service.callbacks
        ok = (200, "OK:CALLMEBACK")
        assert await body(client, f"{ASK}&action=callmeback&param=%2B38%20(050)%20111-00-02") == ok
        [made] = await callbacks.list_requests()
        assert (made.number, made.source, made.status, made.login) == (
            "+380501110002",
            "remoteapi 127.0.0.1",
            "queued",
            "testuser2",
        )
        # no digits, or digits that are no phone number: Ubilling's answer, nothing recorded
        assert await body(client, f"{ASK}&action=callmeback&param=abc") == ok
        assert await body(client, f"{ASK}&action=callmeback&param=12") == ok
        assert len(await callbacks.list_requests()) == 1
        # the usual checks still apply: a number on the do-not-call list is refused
        async with rig.core.sessions.begin() as session:
            session.add(DoNotCall(number="+380501110003", added_at=clock.now(), note="test"))
        assert await body(client, f"{ASK}&action=callmeback&param=0501110003") == ok
        refused = (await callbacks.list_requests())[0]
        assert (refused.number, refused.status) == ("+380501110003", "refused")
        assert await body(client, f"{ASK}&action=callmeback") == (200, "ERROR:EMPTY_PARAM")
        assert await body(client, f"{ASK}&action=callmeback&param=0") == (200, "ERROR:EMPTY_PARAM")


async def test_callmeback_off_with_callbacks(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    settings = Settings(
        database={"url": sqlite_database.url},
        agi={"port": 0},
        ami={"enabled": False},
        http={"port": 0, "remoteapi_key": KEY},
        callback={"enabled": False},
        spool={"dir": tmp_path / "spool", "sounds_dir": tmp_path / "sounds"},
    )
    async with web_rig(sqlite_database, clock, tmp_path, settings=settings) as rig:
        client = await aiohttp_client(rig.app)
        assert await body(client, f"{ASK}&action=callmeback&param=0501110001") == (
            200,
            "ERROR:CALLMEBACK_DISABLED",
        )


# ------------------------------------------------------------------ a billing that fails


async def test_a_failing_billing_is_503_never_not_our_user(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    """Behind the face a Ubilling that fails (HTTP 500): the face says so, with 503."""
    async with FakeUbilling(clock=clock) as upstream:
        settings = Settings(
            database={"url": sqlite_database.url},
            billing={
                "backend": "ubilling",
                "url": upstream.url,
                "key": upstream.serial,
                "breaker_failures": 100,
                "stale_ttl": 0,
            },
            agi={"port": 0},
            ami={"enabled": False},
            http={"port": 0, "remoteapi_key": "UB" + "1" * 32},
            spool={"dir": tmp_path / "spool", "sounds_dir": tmp_path / "sounds"},
        )
        async with open_core(settings, clock=clock) as core:
            app = build_app(web_parts(Service(core)))
            client: Client = await aiohttp_client(app)
            ask = f"/?module=remoteapi&key=UB{'1' * 32}"
            # Ubilling answering: the face passes its answers on
            assert await body(client, f"{ask}&action=telepony&number=0501110002") == (200, "2")
            upstream.add_fault(Fault(status=500))
            for url in (
                f"{ask}&action=telepony&number=0501110002",
                f"{ask}&action=asterisk&number=0501110002&param=login",
                f"{ask}&action=userbynum&number=0501110002",
            ):
                assert await body(client, url) == (503, "ERROR: BILLING UNAVAILABLE"), url
            lookup = await core.billing.by_number("0501110002")
            assert lookup.result == BillingResult.ERROR


# ------------------------------------------------------------------ secrets and failures


async def test_secrets_stay_out_of_logs_and_bodies_and_failures_log_once(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On the server the service runs (aiohttp's own access log, which would print the
    query and its key, is off there), every log line of every request is looked at:
    pbxbridge's own at DEBUG, the libraries' from INFO (aiosqlite's DEBUG echoes SQL
    parameters; the service runs it at WARNING)."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="pbxbridge")
    bodies: list[tuple[int, str]] = []
    async with web_rig(
        sqlite_database, clock, tmp_path, remoteapi_key=KEY, remoteapi_money=True
    ) as rig:
        await reference_billing(rig.core)
        server = WebServer(rig.core.settings.http, rig.app)
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        try:
            async with aiohttp.ClientSession() as session:

                async def get(url: str) -> tuple[int, str]:
                    async with session.get(base + url) as answer:
                        return answer.status, await answer.text()

                for _ in range(50):
                    bodies.append(await get(f"/?module=remoteapi&key={KEY[:-1]}X&action=x"))
                refusals = [r for r in caplog.records if "refused a request" in r.getMessage()]
                assert len(refusals) == 1
                clock.instant += timedelta(seconds=61)
                await get(f"/?module=remoteapi&key={KEY[:-1]}X&action=x")
                lines = [r.getMessage() for r in caplog.records]
                refused = [line for line in lines if "refused a request" in line]
                assert len(refused) == 2
                assert "49 more failed since the last line" in refused[1]
                # good requests of every kind, money moves among them
                for url in (
                    status_url("0501110001", "&getmoney=1"),
                    f"{ASK}&action=userbynum&number=0501110001",
                    f"{ASK}&action=asterisk&param=getuserdatabylogin&login=testuser1",
                    f"{ASK}&action=asterisk&param=setcredit&login=testuser2&money=100",
                    f"{ASK}&action=asterisk&param=paycardpay&login=testuser1"
                    "&paycardnum=1111222233334444",
                ):
                    bodies.append(await get(url))
        finally:
            await server.stop()
    assert bodies[-1] == (200, "ASTERISK PAYCARD PAYMENT SUCCESSFUL")
    for _, text in bodies:
        assert KEY not in text
        assert "Password" not in text
        assert "pass000" not in text
    assert "HTTP " in caplog.text  # the requests were logged…
    assert KEY not in caplog.text  # …never the key
    assert KEY[:-1] not in caplog.text  # nor what a guesser sent
    assert "1111222233334444" not in caplog.text  # nor a whole pay card


async def test_the_failure_log_is_bounded(clock: FixedClock) -> None:
    from askozia_api.auth_log import AuthFailures

    failures = AuthFailures(clock, interval=60, max_clients=100)
    logged = [
        failures.note("remoteapi", f"10.0.{n // 256}.{n % 256}", "wrong key") for n in range(5000)
    ]
    assert all(logged)  # every client's first
    assert failures.clients == 100
    assert not failures.note("remoteapi", "10.0.19.135", "wrong key")  # still remembered


def test_secretstr_in_settings_secrets() -> None:
    settings = Settings(
        http={"remoteapi_key": KEY}, askozia={"password": SecretStr("basic-secret")}
    )
    assert {KEY, "basic-secret"} <= set(settings.secrets())


def test_a_key_the_face_could_never_match_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ubilling's vf() strips `-` (and ~@+?%/;=*><"') from the key a client sends: a key
    holding one could never be matched, so the settings refuse it, saying why, not what."""
    from pbxbridge.settings import SettingsError, load_settings

    for bad in (f"{KEY[:10]}-{KEY[10:]}", "short-key", f"{KEY} x"):
        monkeypatch.setenv("PBXBRIDGE_HTTP__REMOTEAPI_KEY", bad)
        with pytest.raises(SettingsError) as refused:
            load_settings()
        assert "remoteapi_key: at least 16 characters" in str(refused.value)
        assert bad not in str(refused.value)
    monkeypatch.setenv("PBXBRIDGE_HTTP__REMOTEAPI_KEY", KEY)
    settings, _ = load_settings()
    assert settings.http.remoteapi_key.get_secret_value() == KEY
