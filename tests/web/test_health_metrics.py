"""/healthz and /metrics of a running service, and the health of parts that fail for real
(a PostgreSQL nobody listens for, a Ubilling on a closed port, an Asterisk that is not there)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from pbxbridge.app import Service, open_core
from pbxbridge.health import BillingCheck, DatabaseCheck
from pbxbridge.settings import Settings
from pbxbridge.webserver import web_parts
from primitives.clock import FixedClock
from primitives.health import Health, HealthStatus
from storage import DatabaseSettings, create_engine
from tests.agi.routes_rig import route_rig
from tests.conftest import Database
from tests.fakes.ubilling import FakeUbilling, Fault
from tests.web.conftest import settings_for, web_rig
from web.app import build_app
from web.health import HealthChecks


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def get(port: int, path: str, **kwargs: Any) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}", **kwargs) as answer,
    ):
        return answer.status, await answer.text()


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text (labels in any order)."""
    for line in metrics.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


async def test_a_running_service_answers_health_and_metrics(
    sqlite_database: Database, clock: FixedClock
) -> None:
    async with route_rig(sqlite_database.url, clock) as rig:
        web = rig.service.web
        assert web is not None
        port = web.port
        assert port != 0
        status, body = await get(port, "/healthz")
        assert status == 200, body
        health = json.loads(body)
        components = health["components"]
        assert list(components) == [
            "database",
            "billing",
            "agi",
            "ami",
            "spool",
            "telegram",
            "scheduler",
            "telepony",
            "webhooks",
        ]
        assert components["telepony"] == {"status": "ok", "reason": "off"}
        assert components["webhooks"] == {"status": "ok", "reason": "off"}
        assert components["scheduler"]["status"] == "ok"
        assert "job(s) scheduled" in components["scheduler"]["reason"]
        assert components["database"] == {"status": "ok", "reason": ""}
        assert components["billing"] == {"status": "ok", "reason": ""}
        assert components["agi"] == {"status": "ok", "reason": "0 session(s), 0 pending"}
        assert components["ami"] == {"status": "ok", "reason": "off"}
        assert components["telegram"] == {"status": "ok", "reason": "off"}
        # The spool waits for Asterisk's outgoing/ (the rig has none): degraded, not down.
        assert components["spool"]["status"] == "degraded"
        assert health["status"] == "degraded"

        await rig.call("ping")
        await get(port, "/api/v1/subscribers/0501110001")  # anonymous: 401
        await get(port, "/no/such/page/xyzzy-raw")
        status, metrics = await get(port, "/metrics")
        assert status == 200
        assert sample(metrics, "pbxbridge_agi_sessions_total", route="ping", result="ok") == 1
        assert sample(metrics, "pbxbridge_agi_sessions_total", route="ping", result="hangup") == 0
        assert sample(metrics, "pbxbridge_agi_session_seconds_count", route="ping") == 1
        assert sample(metrics, "pbxbridge_agi_session_seconds_bucket", route="ping", le="+Inf") == 1
        assert sample(metrics, "pbxbridge_agi_connections_total", outcome="accepted") == 1
        assert sample(metrics, "pbxbridge_agi_sessions_active") == 0
        http = "pbxbridge_http_requests_total"
        assert sample(metrics, http, route="/healthz", method="GET", status="200") == 1
        api = "/api/v1/subscribers/{number}"
        assert sample(metrics, http, route=api, method="GET", status="401") == 1
        assert sample(metrics, http, route="unmatched", method="GET", status="404") == 1
        assert "xyzzy" not in metrics  # raw URLs never become labels (letters: no float has them)
        assert sample(metrics, "pbxbridge_billing_stale_numbers") == 0
        assert "pbxbridge_ami_up" not in metrics  # AMI is off


@asynccontextmanager
async def service_with_ami_nowhere(
    database: Database, clock: FixedClock, folder: Path
) -> AsyncIterator[Service]:
    base = settings_for(database, folder)
    settings = base.model_copy(
        update={
            "ami": base.ami.model_copy(
                update={"enabled": True, "port": closed_port(), "backoff_initial": 0.05}
            )
        }
    )
    (folder / "spool" / "outgoing").mkdir(parents=True)
    async with open_core(settings, clock=clock) as core:
        service = Service(core)
        await service.start()
        try:
            yield service
        finally:
            await service.stop()


async def test_asterisk_unreachable_is_degraded_not_down(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with service_with_ami_nowhere(sqlite_database, clock, tmp_path) as service:
        assert service.web is not None
        status, body = await get(service.web.port, "/healthz")
        health = json.loads(body)
        assert status == 200
        assert health["status"] == "degraded"
        assert health["components"]["ami"]["status"] == "down"
        assert health["components"]["spool"]["status"] == "ok"
        _, metrics = await get(service.web.port, "/metrics")
        assert sample(metrics, "pbxbridge_ami_up") == 0
        assert sample(metrics, "pbxbridge_ami_state", state="connected") == 0


async def test_database_down_is_503(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    nowhere = create_engine(
        DatabaseSettings(url=f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/none")
    )
    try:
        async with web_rig(sqlite_database, clock, tmp_path) as rig:
            checks = HealthChecks(timeout=5)
            checks.add(DatabaseCheck(nowhere), critical=True)
            app = build_app(replace(web_parts(rig.service), health=checks))
            client = await aiohttp_client(app)
            answer = await client.get("/healthz")
            assert answer.status == 503
            assert await answer.json() == {
                "status": "down",
                "components": {
                    "database": {
                        "status": "down",
                        "reason": "ConnectionRefusedError: the database does not answer",
                    }
                },
            }
    finally:
        await nowhere.dispose()


class Stuck:
    name = "stuck"

    async def health(self) -> Health:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class Broken:
    name = "broken"

    async def health(self) -> Health:
        raise RuntimeError("a bug")


async def test_a_check_that_hangs_or_raises_is_down_not_a_hang() -> None:
    checks = HealthChecks(timeout=0.2)
    checks.add(Stuck(), critical=False)
    checks.add(Broken(), critical=False)
    report = await checks.report()
    assert report.status is HealthStatus.DEGRADED  # neither is critical
    assert report.components == {
        "stuck": Health.down("no answer within 0.2 s"),
        "broken": Health.down("check failed: RuntimeError"),
    }


async def test_ubilling_down_is_down_unless_stale_answers_stand_in(
    sqlite_database: Database, clock: FixedClock
) -> None:
    for stale_ttl, expected in ((0.0, HealthStatus.DOWN), (600.0, HealthStatus.DEGRADED)):
        async with FakeUbilling(clock=clock) as ubilling:
            settings = Settings(
                database={"url": sqlite_database.url},
                billing={
                    "backend": "ubilling",
                    "url": ubilling.url,
                    "key": SecretStr(ubilling.serial or ""),
                    "breaker_failures": 1,
                    "breaker_reset": 600,
                    "stale_ttl": stale_ttl,
                },
            )
            async with open_core(settings, clock=clock) as core:
                check = BillingCheck(core.billing, DatabaseCheck(core.engine))
                seen = await core.billing.lookup_call("0501110001")  # Ubilling answers
                assert seen.source == "live"
                assert await check.health() == Health.ok()
                ubilling.add_fault(Fault(status=500))  # and then fails, every time
                failed = await core.billing.lookup_call("0501110001")
                assert failed.source == ("stale" if stale_ttl else "none")
                health = await check.health()
                assert health.status is expected, health
                assert health.reason.startswith(
                    "Ubilling failing (breaker open, 1 failures in a row)"
                )
