"""`/api/v1/calls` and `/api/v1/calls/{id}`: the call log in pages with date, number,
direction and disposition filters; rows recorded by the real recorder from the capture
and hand-made calls; the token's scope."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from missed_calls import MissedCallSettings, MissedCallTracker
from primitives.clock import FixedClock
from tests.call_log.conftest import internal_call, outgoing_call, recorded_call
from tests.conftest import Database
from tests.missed_calls.conftest import capture_messages
from tests.web.apiclient import Api
from tests.web.conftest import web_rig
from web.tokens import Scope


async def test_the_call_log_over_the_api(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        async with MissedCallTracker(
            rig.core.sessions, clock, rig.core.billing, MissedCallSettings()
        ) as tracker:
            for message in capture_messages():  # ids 1-3, 2026-11-22 12:00 Kyiv
                await tracker.on_ami_event(message)
            await tracker.flush()
            clock.instant += timedelta(days=1)  # ids 4-6 the day after
            for message in [*outgoing_call(), *internal_call(), *recorded_call()]:
                await tracker.on_ami_event(message)
            await tracker.flush()
        client = await aiohttp_client(rig.app)
        api = Api(client, await rig.token(Scope.CALLS_READ))

        async def ids(query: str = "") -> list[int]:
            return [c["id"] for c in (await api.get(f"/calls?{query}"))["items"]]

        assert await ids() == [6, 5, 4, 3, 2, 1]
        assert await ids("since=2026-11-23") == [6, 5, 4]
        assert await ids("until=2026-11-22") == [3, 2, 1]
        assert await ids("direction=outgoing") == [4]
        assert await ids("direction=internal") == [5]
        assert await ids("disposition=NO%20ANSWER") == [3, 1]
        assert await ids("disposition=ANSWERED&direction=incoming") == [6, 2]
        assert await ids("number=067%20123%2045%2067") == [4, 1]  # any written form
        assert await ids("number=102") == [5, 3]  # an extension, as Asterisk wrote it
        page = await api.get("/calls?limit=4")
        assert await ids(f"limit=4&cursor={page['next']}") == [2, 1]

        recorded = await api.get("/calls/6")
        assert recorded == {
            "id": 6,
            "linkedid": "1795400200.1",
            "caller": "0501234567",
            "callee": "100",
            "number": "+380501234567",
            "direction": "incoming",
            "disposition": "ANSWERED",
            "started_at": "2026-11-23T10:00:00Z",
            "answered_at": "2026-11-23T10:00:08Z",
            "ended_at": "2026-11-23T10:02:08Z",
            "duration": 128,
            "billsec": 120,
            "queue": None,
            "answered_by": "PJSIP/104-0000000f",
            "recording": "/var/spool/asterisk/monitor/20261122-120000-0501234567.wav",
            "login": None,
            "name": None,
            "status": None,
            "lookup": "notfound",
            "missed": False,
            "recalled_at": None,
        }
        missed = await api.get("/calls/1")
        assert (missed["missed"], missed["disposition"]) == (True, "NO ANSWER")
        assert await api.fails("GET", "/calls/99", 404) == ("not_found", None)
        assert (await api.fails("GET", "/calls?direction=sideways", 422))[1] == "direction"
        assert (await api.fails("GET", "/calls?number=abc", 422))[1] == "number"
        # a token for SMS only may not read calls
        sms_only = Api(client, await rig.token(Scope.SMS, name="sms"))
        assert (await sms_only.fails("GET", "/calls", 403))[0] == "forbidden"
