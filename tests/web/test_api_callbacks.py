"""`/api/v1/callbacks`: the CLI's rules over HTTP, on SQLite and PostgreSQL; cancelling, down
to the call files the spooler writes and what the fake call-file Asterisk does with them."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from primitives.clock import FixedClock
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate
from tests.conftest import Database
from tests.web.apiclient import Api, make_spool
from tests.web.conftest import web_rig
from web.tokens import Scope

NUMBER = "+380501234567"


async def test_request_list_and_read_callbacks(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        api = Api(client, await rig.token(Scope.CALLBACKS))
        made = await api.call(
            "POST",
            "/callbacks",
            201,
            json={"number": "050 123 45 67", "name": "Іван", "comment": "router"},
        )
        assert made.headers["Location"] == "/api/v1/callbacks/1"
        requested = "2026-11-22T10:00:00Z"
        assert made.body == {
            "id": 1,
            "number": NUMBER,
            "name": "Іван",
            "comment": "router",
            "state": "pending",
            "reason": "",
            "source": "api:test",  # who asked, as the CLI records cli:<user>
            "client_ip": None,  # only the web form's requests have one
            "requested_at": requested,
            "not_before": requested,
            "attempts": 0,
            "last_outcome": None,
            "login": None,
            "subscriber_name": None,
            "ubilling": None,
        }
        assert await api.get("/callbacks/1") == made.body

        # One callback per number at a time: refused, recorded, 409.
        again = await api.call("POST", "/callbacks", 409, json={"number": "0501234567"})
        assert again.error == ("conflict", "number")
        assert again.body["error"]["message"] == (
            f"callback #2 to {NUMBER} refused: callback #1 to this number is still under way"
        )
        # Later, at a time of the service's timezone (Kyiv is UTC+2 in November).
        later = await api.post(
            "/callbacks", 201, json={"number": "0501110002", "when": "2026-11-23T09:00:00"}
        )
        assert later["not_before"] == "2026-11-23T07:00:00Z"

        listed = await api.get("/callbacks")
        assert [(c["id"], c["state"]) for c in listed["items"]] == [
            (3, "pending"),
            (2, "refused"),
            (1, "pending"),
        ]
        assert listed["next"] is None
        refused = await api.get("/callbacks?state=refused")
        assert [c["id"] for c in refused["items"]] == [2]
        assert refused["items"][0]["reason"] == "callback #1 to this number is still under way"
        first = await api.get("/callbacks?limit=2")
        assert [c["id"] for c in first["items"]] == [3, 2]
        rest = await api.get(f"/callbacks?limit=2&cursor={first['next']}")
        assert ([c["id"] for c in rest["items"]], rest["next"]) == ([1], None)

        # Dates are days of the service's timezone.
        clock.instant += timedelta(days=1)
        await api.post("/callbacks", 201, json={"number": "0501110004"})
        today = await api.get("/callbacks?since=2026-11-23")
        assert [c["id"] for c in today["items"]] == [4]
        before = await api.get("/callbacks?until=2026-11-22")
        assert [c["id"] for c in before["items"]] == [3, 2, 1]
        window = await api.get("/callbacks?since=2026-11-22T11:59:00&until=2026-11-22T12:01:00")
        assert [c["id"] for c in window["items"]] == [3, 2, 1]

        assert await api.fails("GET", "/callbacks/99", 404) == ("not_found", None)
        assert await api.fails("GET", "/callbacks/0", 422) == ("invalid", "id")
        assert await api.fails("GET", f"/callbacks/{2**31}", 422) == ("invalid", "id")
        assert await api.fails("GET", "/callbacks?state=lost", 422) == ("invalid", "state")
        assert await api.fails("GET", "/callbacks?limit=%205", 422) == ("invalid", "limit")

        sms_only = Api(client, await rig.token(Scope.SMS, name="sms-only"))
        for method, path in (
            ("GET", "/callbacks"),
            ("POST", "/callbacks"),
            ("GET", "/callbacks/1"),
        ):
            assert await sms_only.fails(method, path, 403) == ("forbidden", None)


async def test_what_a_request_may_be(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        api = Api(client, await rig.token(Scope.CALLBACKS))

        async def refused(body: object, status: int = 422, **options: Any) -> tuple[str, Any]:
            return await api.fails("POST", "/callbacks", status, json=body, **options)

        assert await refused({"number": "12"}) == ("invalid", "number")  # no phone number
        assert await refused({"number": "ivan"}) == ("invalid", "number")
        assert await refused({}) == ("invalid", "number")
        assert await refused({"number": "0501234567", "name": "x" * 81}) == ("invalid", "name")
        assert await refused({"number": "0501234567", "extra": 1}) == ("invalid", "extra")
        for when in ("2027-01-01T10:00:00", "1700000000", "2026-11-23", 1700000000):
            body = {"number": "0501234567", "when": when}
            assert await refused(body) == ("invalid", "when"), when
        edge = {"number": "0501234567", "when": "9999-12-31T23:59:59-12:00"}
        assert await refused(edge) == ("invalid", "when")
        not_json = await api.call(
            "POST", "/callbacks", 400, data=b"{", headers={"Content-Type": "application/json"}
        )
        assert not_json.error == ("bad_request", None)
        assert await api.fails("POST", "/callbacks", 415, data=b"number=1") == (
            "unsupported_media_type",
            None,
        )
        assert await api.get("/callbacks") == {"items": [], "next": None}  # none recorded
    async with web_rig(
        sqlite_database, clock, tmp_path, sections={"callback": {"enabled": False}}
    ) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token(name="off"))
        answer = await api.call("POST", "/callbacks", 409, json={"number": "0501234567"})
        assert answer.body["error"]["message"] == "callbacks are off (callback.enabled = false)"


async def test_refusals_limits_and_cancelling(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    spool = make_spool(tmp_path)
    async with web_rig(
        database, clock, tmp_path, sections={"callback": {"max_per_hour": 1}}
    ) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token(Scope.CALLBACKS))
        spooler = rig.service.spooler
        await spooler.campaigns.dnc_add("0507777777", "asked us")
        dnc = await api.call("POST", "/callbacks", 409, json={"number": "0507777777"})
        assert dnc.body["error"]["message"] == (
            "callback #1 to +380507777777 refused: the number is on the do-not-call list"
        )

        await api.post("/callbacks", 201, json={"number": NUMBER})  # #2
        cancelled = await api.post("/callbacks/2/cancel")
        assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "cancelled by api:test")
        await spooler.tick()
        assert os.listdir(spool / "outgoing") == []  # its call was never placed
        assert await api.fails("POST", "/callbacks/2/cancel", 409) == ("conflict", None)
        assert await api.fails("POST", "/callbacks/1/cancel", 409) == ("conflict", None)
        assert await api.fails("POST", "/callbacks/99/cancel", 404) == ("not_found", None)

        # A cancelled request still counts for callback.max_per_hour; the answer says when
        # one more would pass.
        limited = await api.call("POST", "/callbacks", 429, json={"number": NUMBER})
        assert limited.error == ("rate_limited", None)
        assert limited.headers["Retry-After"] == "3600"
        clock.instant += timedelta(minutes=45)
        limited = await api.call("POST", "/callbacks", 429, json={"number": NUMBER})
        assert limited.headers["Retry-After"] == "900"
        clock.instant += timedelta(minutes=15, seconds=1)
        await api.post("/callbacks", 201, json={"number": NUMBER})  # #5

        # Cancelled while its call rings: that call goes on, no other attempt follows.
        await spooler.tick()
        assert len(os.listdir(spool / "outgoing")) == 1
        asterisk = FakeAsterisk(spool, lambda _call: Fate(20, reason=3))  # no answer
        asterisk.step(clock.now())
        cancelled = await api.post("/callbacks/5/cancel")
        assert cancelled["reason"] == (
            "cancelled by api:test; the call under way then was not stopped"
        )
        clock.instant += timedelta(seconds=30)
        asterisk.step(clock.now())
        for event in asterisk.take_events():
            await spooler.on_ami_event(event)
        await spooler.tick()
        clock.instant += timedelta(hours=2)  # past every retry delay
        await spooler.tick()
        assert os.listdir(spool / "outgoing") == []  # no second attempt
        final = await api.get("/callbacks/5")
        assert (final["state"], final["attempts"], final["last_outcome"]) == (
            "cancelled",
            1,
            "noanswer",
        )
        assert datetime.fromisoformat(final["requested_at"]) == datetime(
            2026, 11, 22, 11, 0, 1, tzinfo=UTC
        )
