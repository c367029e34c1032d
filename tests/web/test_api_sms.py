"""`/api/v1/sms`: send (queued through the outbox, 202), the inbox and the outbox in pages,
one message; every refusal of the outbox answered 422 naming its field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from primitives.clock import FixedClock
from sms.types import InboundSms
from tests.conftest import Database
from tests.web.apiclient import Api
from tests.web.conftest import web_rig
from web.tokens import Scope


async def test_send_then_read_the_outbox_and_the_inbox(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        api = Api(client, await rig.token(Scope.SMS))
        sent = await api.call(
            "POST", "/sms", 202, json={"number": "050 123 45 67", "text": "Баланс: 12.50"}
        )
        assert sent.headers["Location"] == "/api/v1/sms/out/1"
        assert (sent.body["id"], sent.body["state"]) == (1, "queued")
        (part,) = sent.body["parts"]
        assert {k: part[k] for k in ("box", "number", "text", "transport", "actor")} == {
            "box": "out",
            "number": "+380501234567",
            "text": "Баланс: 12.50",
            "transport": "dongle",
            "actor": "api:test",  # who sent it, as the CLI records cli:<user>
        }
        assert await api.get("/sms/out/1") == part
        # The outbox holds it for the running service: nothing was sent from here.
        assert (await rig.service.outbox.get(1)).state.value == "queued"  # type: ignore[union-attr]

        clock.instant += timedelta(days=1)
        sip = await api.post(
            "/sms",
            202,
            json={
                "number": "0501234567",
                "text": "hi",
                "transport": "pjsip",
                "transliterate": False,
            },
        )
        assert (sip["parts"][0]["transport"], sip["parts"][0]["device"]) == ("pjsip", "pjsip")

        stored = await rig.service.inbox.receive(
            InboundSms(device="dongle0", sender="+380501112233", text="Дякую", source="lines")
        )
        await rig.service.inbox.drain()  # its subscriber lookup
        assert stored is not None
        received = await api.get("/sms?box=in")
        assert [(m["box"], m["id"], m["sender"], m["text"]) for m in received["items"]] == [
            ("in", stored.id, "+380501112233", "Дякую")
        ]
        assert await api.get(f"/sms/in/{stored.id}") == received["items"][0]

        outbox = await api.get("/sms?box=out")
        assert [m["id"] for m in outbox["items"]] == [2, 1]
        assert [m["id"] for m in (await api.get("/sms?box=out&state=queued"))["items"]] == [2, 1]
        assert (await api.get("/sms?box=out&state=sent"))["items"] == []
        assert [m["id"] for m in (await api.get("/sms?box=out&since=2026-11-23"))["items"]] == [2]
        assert [m["id"] for m in (await api.get("/sms?box=out&until=2026-11-22"))["items"]] == [1]
        first = await api.get("/sms?box=out&limit=1")
        rest = await api.get(f"/sms?box=out&limit=1&cursor={first['next']}")
        assert ([m["id"] for m in rest["items"]], rest["next"]) == ([1], None)

        assert await api.fails("GET", "/sms?box=in&state=queued", 422) == ("invalid", "state")
        assert await api.fails("GET", "/sms", 422) == ("invalid", "box")
        assert await api.fails("GET", "/sms/out/99", 404) == ("not_found", None)
        assert await api.fails("GET", "/sms/in/99", 404) == ("not_found", None)

        campaigns_only = Api(client, await rig.token(Scope.CAMPAIGNS, name="campaigns"))
        for method, path in (("POST", "/sms"), ("GET", "/sms?box=in"), ("GET", "/sms/out/1")):
            assert await campaigns_only.fails(method, path, 403) == ("forbidden", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "0501234567", "text": "   "}, "text"),  # the text is empty
        ({"number": "0501234567", "text": "x" * 4001}, "text"),
        ({"number": "0501234567", "text": "щ" * 600, "transport": "pjsip"}, "text"),
        ({"number": "not a number", "text": "hi"}, "number"),
        ({"number": "+1 (555) <x>", "text": "hi", "transport": "pjsip"}, "number"),
        ({"number": "0501234567", "text": "hi", "device": "dongle\t0"}, "device"),
        ({"number": "0501234567", "text": "hi", "transport": "fax"}, "transport"),
        ({"number": "0501234567", "text": "hi", "transliterate": "yes"}, "transliterate"),
        ({"number": "0501234567"}, "text"),
    ],
)
async def test_what_the_outbox_refuses(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    body: dict[str, Any],
    field: str,
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token(Scope.SMS))
        assert await api.fails("POST", "/sms", 422, json=body) == ("invalid", field)
        assert await api.get("/sms?box=out") == {"items": [], "next": None}
