"""/metrics moves when the thing it counts happens: billing requests and their errors (a
Ubilling that really fails, an embedded billing whose table is gone), SMS by state, call
attempts by status, missed and recalled calls, callback form outcomes. Scrapes are parsed
with prometheus_client's own text parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text

from missed_calls.calls import Missed
from missed_calls.store import MissedCallStore
from pbxbridge.app import Service, open_core
from pbxbridge.settings import Settings
from pbxbridge.webserver import web_parts
from primitives.clock import FixedClock
from sms.types import InboundSms
from tests.conftest import Database
from tests.fakes.ubilling import FakeUbilling, Fault
from tests.web.conftest import OWNER, Client, web_rig
from web.app import build_app

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: Client) -> Samples:
    answer = await client.get("/metrics")
    assert answer.status == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(await answer.text()):
        for s in family.samples:
            samples[s.name, frozenset(s.labels.items())] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@asynccontextmanager
async def ubilling_service(
    database: Database, clock: FixedClock, ubilling: FakeUbilling, folder: Path
) -> AsyncIterator[Service]:
    settings = Settings(
        database={"url": database.url},
        agi={"port": 0},
        ami={"enabled": False},
        http={"port": 0},
        spool={"dir": folder / "spool", "sounds_dir": folder / "sounds"},
        billing={
            "backend": "ubilling",
            "url": ubilling.url,
            "key": SecretStr(ubilling.serial or ""),
            "breaker_failures": 3,
            "breaker_reset": 600,
        },
    )
    async with open_core(settings, clock=clock) as core:
        yield Service(core)


async def test_ubilling_requests_and_each_kind_of_failure_are_counted(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    requests, errors = "pbxbridge_billing_requests_total", "pbxbridge_billing_errors_total"
    async with (
        FakeUbilling(clock=clock) as ubilling,
        ubilling_service(sqlite_database, clock, ubilling, tmp_path) as service,
    ):
        client = await aiohttp_client(build_app(web_parts(service)))
        billing = service.core.billing
        before = await scrape(client)
        assert value(before, requests, backend="ubilling", kind="userstatus") is None

        # details=False: the status alone, one request a lookup (userstatus).
        assert (await billing.lookup_call("0501110001", details=False)).source == "live"
        ok = await scrape(client)
        assert value(ok, requests, backend="ubilling", kind="userstatus") == 1
        assert not [k for k in ok if k[0] == errors]

        # Ubilling answers 500: sent, fate unknown.
        ubilling.add_fault(Fault(status=500, when={"param": "userstatus"}, times=1))
        await billing.lookup_call("0501110002", details=False)
        failed = await scrape(client)
        assert value(failed, requests, backend="ubilling", kind="userstatus") == 2
        fate = {"backend": "ubilling", "kind": "userstatus", "error": "fate_unknown"}
        assert value(failed, errors, **fate) == 1

        # A 404: Ubilling is not where billing.url says.
        ubilling.add_fault(Fault(status=404, when={"param": "userstatus"}, times=1))
        await billing.lookup_call("0501110003", details=False)
        misplaced = await scrape(client)
        status = {"backend": "ubilling", "kind": "userstatus", "error": "http_status"}
        assert value(misplaced, errors, **status) == 1
        assert value(misplaced, errors, **fate) == 1

        # Two more 500s open the breaker (3 in a row); the next is refused unsent.
        ubilling.add_fault(Fault(status=500, when={"param": "userstatus"}, times=2))
        await billing.lookup_call("0501110004", details=False)
        await billing.lookup_call("0501110005", details=False)
        await billing.lookup_call("0501110006", details=False)
        opened = await scrape(client)
        assert value(opened, errors, **fate) == 3
        refused = {"backend": "ubilling", "kind": "userstatus", "error": "breaker_open"}
        assert value(opened, errors, **refused) == 1
        assert value(opened, requests, backend="ubilling", kind="userstatus") == 6
        assert value(opened, "pbxbridge_billing_breaker_state", state="open") == 1


async def test_embedded_billing_lookups_and_database_errors_are_counted(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    requests, errors = "pbxbridge_billing_requests_total", "pbxbridge_billing_errors_total"
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        billing = rig.core.billing
        assert (await billing.find(OWNER)).subscriber is not None
        assert (await billing.find("ivan")).subscriber is not None  # a login: no number asked
        await billing.lookup_call(OWNER)
        seen = await scrape(client)
        assert value(seen, requests, backend="local", kind="lookup_number") == 1
        assert value(seen, requests, backend="local", kind="lookup_login") == 1
        assert value(seen, requests, backend="local", kind="lookup_call") == 1
        # The subscribers' table gone from under it: a database error, counted.
        async with sqlite_database.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE billing_subscribers RENAME TO gone"))
        assert (await billing.find("0501110002")).error is not None
        broken = await scrape(client)
        database = {"backend": "local", "kind": "lookup_number", "error": "database"}
        assert value(broken, errors, **database) == 1
        assert value(broken, requests, backend="local", kind="lookup_number") == 2


async def test_sms_attempts_missed_calls_and_form_outcomes_follow_the_database(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        service = rig.service
        client = await aiohttp_client(build_app(web_parts(service)))  # with the real form
        empty = await scrape(client)
        assert value(empty, "pbxbridge_sms_outbox_messages", state="queued") == 0
        assert value(empty, "pbxbridge_sms_outbox_messages", state="delivered") == 0
        assert value(empty, "pbxbridge_sms_inbox_messages", stage="stored") == 0
        assert value(empty, "pbxbridge_spool_attempts", status="queued") == 0
        assert value(empty, "pbxbridge_spool_attempts", status="answered") == 0
        assert value(empty, "pbxbridge_missed_calls_total") == 0
        assert value(empty, "pbxbridge_missed_calls_recalled_total") == 0
        form = "pbxbridge_callback_form_submissions_total"
        assert value(empty, form, outcome="accepted") == 0

        await service.outbox.queue("0501234567", "Your balance is low", actor="test")
        await service.inbox.receive(
            InboundSms(device="dongle0", sender="+380671234567", text="balance?", source="lines")
        )
        answer = await client.post("/callback", data={"number": "0931234567"})
        assert answer.status == 200
        honeypot = await client.post("/callback", data={"number": "0931234567", "website": "x"})
        assert honeypot.status == 200
        missed_at = clock.now() - timedelta(minutes=5)
        store = MissedCallStore(rig.core.sessions, clock)
        await store.insert(
            "1764000000.1",
            Missed("+380661234567", "0661234567", True, "support", 1, 40),
            at=missed_at,
            ended_at=missed_at + timedelta(seconds=40),
        )
        await store.insert(
            "1764000000.2",
            Missed("+380681234567", "0681234567", True, "support", 1, 10),
            at=missed_at,
            ended_at=missed_at + timedelta(seconds=10),
        )
        assert service.missed is not None
        assert await service.missed.mark_recalled("0661234567", by="1764000100.9") == 1

        moved = await scrape(client)
        assert value(moved, "pbxbridge_sms_outbox_messages", state="queued") == 1
        inbox = sum(v for (name, _), v in moved.items() if name == "pbxbridge_sms_inbox_messages")
        assert inbox == 1
        assert value(moved, "pbxbridge_spool_attempts", status="queued") == 1
        assert value(moved, "pbxbridge_missed_calls_total") == 2
        assert value(moved, "pbxbridge_missed_calls_recalled_total") == 1
        assert value(moved, form, outcome="accepted") == 1
        assert value(moved, form, outcome="honeypot") == 1
